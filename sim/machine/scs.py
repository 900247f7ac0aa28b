"""The System Control Space (0xE000E000-0xE000EFFF): NVIC, SCB, SysTick and the FPU control
registers, plus the NVIC's exception state (enabled, pending, active, priorities, IRQ line levels)
that the exception engine decides with.

Exception numbers follow ARMv7-M: 1 Reset, 2 NMI, 3 HardFault, 4 MemManage, 5 BusFault,
6 UsageFault, 11 SVCall, 12 DebugMonitor, 14 PendSV, 15 SysTick, 16+n IRQ n. The STM32F407 has
82 IRQs (RM0090 §12.1.3, the vector table: positions 0-81). IRQ inputs are level-sensitive: a
line that is high pends its IRQ, and pends it again on exception return if it is still high.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # pragma: no cover
    from .clock import Event

IRQ_COUNT = 82                       # STM32F405/407 vector positions 0..81
EXCEPTION_COUNT = 16 + IRQ_COUNT
NMI, HARDFAULT, MEMMANAGE, BUSFAULT, USAGEFAULT = 2, 3, 4, 5, 6
SVCALL, DEBUGMONITOR, PENDSV, SYSTICK = 11, 12, 14, 15
FIXED_PRIORITY = {1: -3, NMI: -2, HARDFAULT: -1}
SYSTEM_EXCEPTIONS_MASK = sum(1 << e for e in (NMI, HARDFAULT, MEMMANAGE, BUSFAULT, USAGEFAULT,
                                              SVCALL, DEBUGMONITOR, PENDSV, SYSTICK))
EXCEPTION_NAMES = {1: "Reset", NMI: "NMI", HARDFAULT: "HardFault", MEMMANAGE: "MemManage",
                   BUSFAULT: "BusFault", USAGEFAULT: "UsageFault", SVCALL: "SVCall",
                   DEBUGMONITOR: "DebugMonitor", PENDSV: "PendSV", SYSTICK: "SysTick"}

CPUID_CORTEX_M4_R0P1 = 0x410FC241
CCR_RESET = 0x0000_0200              # STKALIGN: 8-byte stack alignment on exception entry
FPCCR_RESET = 0xC000_0000            # ASPEN | LSPEN
FPCCR_ASPEN = 1 << 31
CONTROL_FPCA = 1 << 2

# SHCSR bit positions
_SHCSR_ACTIVE = {MEMMANAGE: 0, BUSFAULT: 1, USAGEFAULT: 3, SVCALL: 7, DEBUGMONITOR: 8,
                 PENDSV: 10, SYSTICK: 11}
_SHCSR_PENDED = {USAGEFAULT: 12, MEMMANAGE: 13, BUSFAULT: 14, SVCALL: 15}
SHCSR_ENABLE = {MEMMANAGE: 1 << 16, BUSFAULT: 1 << 17, USAGEFAULT: 1 << 18}


def exception_name(exc: int) -> str:
    if exc >= 16:
        return f"IRQ{exc - 16}"
    return EXCEPTION_NAMES.get(exc, f"exception {exc}")


class SystemControlSpace:
    """Register file and NVIC state. `host` is the machine: it supplies `core_cycles()`,
    `time_at_cycle(cycles)`, `schedule_at(time, cb)`, `cancel(event)`, `read_ipsr()`,
    `request_system_reset()` and `exception_state_changed()` (called whenever something may
    have become takeable)."""

    def __init__(self, host, frequency: int, systick_frequency: int, priority_mask: int = 0xF0) -> None:
        self.host = host
        if systick_frequency <= 0 or frequency % systick_frequency:
            raise ValueError(f"nvic systickFrequency {systick_frequency} must divide the CPU "
                             f"frequency {frequency} (one SysTick count per whole number of cycles)")
        self.cycles_per_count = frequency // systick_frequency
        self.priority_mask = priority_mask & 0xFF
        self.unknown_accesses = 0
        self.reset()

    # --- state ---------------------------------------------------------------------------------------
    def reset(self) -> None:
        self.enabled = 0                 # bit n: IRQ n enabled
        self.pending = 0                 # bit e: exception e pending
        self.active = 0                  # bit e: exception e active
        self.levels = 0                  # bit n: IRQ n input line high
        self.priority = [0] * EXCEPTION_COUNT
        for exc, prio in FIXED_PRIORITY.items():
            self.priority[exc] = prio
        self.prigroup = 0
        self.group_mask = 0xFF
        self.vtor = 0
        self.scr = 0
        self.ccr = CCR_RESET
        self.shcsr_enables = 0
        self.cfsr = 0
        self.hfsr = 0
        self.dfsr = 0
        self.mmfar = 0
        self.bfar = 0
        self.afsr = 0
        self.cpacr = 0
        self.fpccr = FPCCR_RESET
        self.fpcar = 0
        self.fpdscr = 0
        self.actlr = 0
        self.mpu = {}
        self.debug = {}
        # SysTick
        self.syst_csr = 0                # ENABLE 0, TICKINT 1, CLKSOURCE 2, COUNTFLAG 16
        self.syst_rvr = 0
        self.syst_cvr = 0                # value while stopped
        self._syst_zero = 0              # core cycle at which the running counter next reaches 0
        self._syst_event: "Event | None" = None
        self.systick_wraps = 0

    # --- priorities and masking (used by the exception engine) --------------------------------------
    def group_priority(self, exc: int) -> int:
        p = self.priority[exc]
        return p if p < 0 else p & self.group_mask

    def active_priority(self) -> int:
        """Lowest group priority among active exceptions (256 when none is active)."""
        best = 256
        bits = self.active
        while bits:
            low = bits & -bits
            exc = low.bit_length() - 1
            p = self.group_priority(exc)
            if p < best:
                best = p
            bits ^= low
        return best

    def execution_priority(self, primask: int, basepri: int, faultmask: int) -> int:
        prio = self.active_priority()
        if basepri & self.priority_mask:
            prio = min(prio, basepri & self.priority_mask & self.group_mask)
        if primask & 1:
            prio = min(prio, 0)
        if faultmask & 1:
            prio = min(prio, -1)
        return prio

    def candidates(self) -> int:
        """Pending exceptions that are enabled (system exceptions are always enabled here)."""
        return self.pending & ((self.enabled << 16) | SYSTEM_EXCEPTIONS_MASK)

    def best_pending(self, below: int) -> int | None:
        """The pending enabled exception with the highest priority whose group priority is
        numerically lower than `below`; ties go to the lower exception number."""
        bits = self.candidates()
        best, best_key = None, None
        while bits:
            low = bits & -bits
            exc = low.bit_length() - 1
            bits ^= low
            if self.group_priority(exc) < below:
                key = (self.priority[exc], exc)
                if best_key is None or key < best_key:
                    best, best_key = exc, key
        return best

    def set_pending(self, exc: int) -> None:
        bit = 1 << exc
        if not self.pending & bit:
            self.pending |= bit
            self.host.exception_state_changed()

    def clear_pending(self, exc: int) -> None:
        self.pending &= ~(1 << exc)

    # --- IRQ inputs (level-sensitive) -----------------------------------------------------------------
    def set_irq_level(self, irq: int, level: bool) -> None:
        if not 0 <= irq < IRQ_COUNT:
            raise ValueError(f"IRQ {irq} does not exist on the STM32F407 (0..{IRQ_COUNT - 1})")
        bit = 1 << irq
        if level:
            was_high = self.levels & bit
            self.levels |= bit
            exc_bit = 1 << (16 + irq)
            # a rising edge pends; a line held high pends again once the handler is not active
            if not was_high or not (self.active & exc_bit):
                self.set_pending(16 + irq)
        else:
            self.levels &= ~bit

    def exception_returned(self, exc: int) -> None:
        """Deactivate `exc`; a level IRQ whose line is still high becomes pending again."""
        self.active &= ~(1 << exc)
        if exc >= 16 and self.levels & (1 << (exc - 16)):
            self.pending |= 1 << exc

    # --- SysTick ----------------------------------------------------------------------------------------
    # SysTick counts the processor clock (CTRL.CLKSOURCE = 1) or the STM32's external reference,
    # HCLK/8 (CLKSOURCE = 0; RM0090 §6.2), so its counts are core cycles: `_syst_zero` is the core
    # cycle at which the counter next reaches 0, and the host maps it to virtual time at the live
    # rate. When HCLK changes, the counts left keep counting at the new rate (core_clock_changed).
    def _systick_running(self) -> bool:
        return bool(self.syst_csr & 1)

    def _systick_counts_cycles(self) -> int:
        """Core cycles per SysTick count."""
        return self.cycles_per_count * (1 if self.syst_csr & 4 else 8)

    def _systick_schedule(self, start_value: int) -> None:
        if self._syst_event is not None:
            self.host.cancel(self._syst_event)
            self._syst_event = None
        if not self._systick_running():
            return
        counts = start_value if start_value else self.syst_rvr + 1
        if self.syst_rvr == 0 and start_value == 0:
            return                      # LOAD 0: the counter stays at 0, no wrap events
        self._syst_zero = self.host.core_cycles() + counts * self._systick_counts_cycles()
        self._syst_event = self.host.schedule_at(self.host.time_at_cycle(self._syst_zero), self._systick_wrap)

    def _systick_wrap(self) -> None:
        self._syst_event = None
        self.syst_csr |= 1 << 16
        self.systick_wraps += 1
        if self.syst_csr & 2:
            self.set_pending(SYSTICK)
        if self.syst_rvr and self._systick_running():
            self._syst_zero += (self.syst_rvr + 1) * self._systick_counts_cycles()
            self._syst_event = self.host.schedule_at(self.host.time_at_cycle(self._syst_zero),
                                                     self._systick_wrap)

    def _systick_value(self) -> int:
        if not self._systick_running() or self._syst_event is None:
            return self.syst_cvr
        cpc = self._systick_counts_cycles()
        remaining = (self._syst_zero - self.host.core_cycles() + cpc - 1) // cpc
        return 0 if remaining > self.syst_rvr else remaining

    def core_clock_changed(self) -> None:
        """HCLK changed (at a core clock edge): the next wrap moves to where its core cycle now
        falls in virtual time."""
        if self._syst_event is not None:
            self.host.cancel(self._syst_event)
            self._syst_event = self.host.schedule_at(self.host.time_at_cycle(self._syst_zero),
                                                     self._systick_wrap)

    # --- register access ----------------------------------------------------------------------------
    def read(self, offset: int, size: int) -> int:
        base = offset & ~3
        shift = (offset & 3) * 8
        if 0x400 <= base < 0x400 + IRQ_COUNT + 2 or 0xD18 <= base < 0xD24:
            return self._read_priority_bytes(offset, size)
        value = self._read_word(base)
        return (value >> shift) & ((1 << (size * 8)) - 1)

    def write(self, offset: int, size: int, value: int) -> None:
        base = offset & ~3
        shift = (offset & 3) * 8
        if 0x400 <= base < 0x400 + IRQ_COUNT + 2 or 0xD18 <= base < 0xD24:
            self._write_priority_bytes(offset, size, value)
            self.host.exception_state_changed()
            return
        lane = ((1 << (size * 8)) - 1) << shift
        value = (value << shift) & lane
        if size != 4 and base not in _W1_OR_SET_REGISTERS:
            value |= self._read_word(base) & ~lane      # read-modify-write of the other lanes
        self._write_word(base, value & 0xFFFF_FFFF, lane)

    def _priority_byte_exc(self, offset: int) -> int | None:
        if 0x400 <= offset < 0x400 + IRQ_COUNT:
            return 16 + offset - 0x400
        if 0xD18 <= offset < 0xD24:
            return 4 + offset - 0xD18
        return None

    def _read_priority_bytes(self, offset: int, size: int) -> int:
        out = 0
        for i in range(size):
            exc = self._priority_byte_exc(offset + i)
            if exc is not None and exc not in FIXED_PRIORITY:
                out |= (self.priority[exc] & 0xFF) << (8 * i)
        return out

    def _write_priority_bytes(self, offset: int, size: int, value: int) -> None:
        for i in range(size):
            exc = self._priority_byte_exc(offset + i)
            # SHPR entries for reserved exceptions (7-10, 13) are RAZ/WI
            if exc is None or exc in FIXED_PRIORITY or exc in (7, 8, 9, 10, 13):
                continue
            self.priority[exc] = ((value >> (8 * i)) & 0xFF) & self.priority_mask

    def _read_word(self, off: int) -> int:
        if 0x100 <= off < 0x120:
            return self._irq_word(self.enabled, off - 0x100)
        if 0x180 <= off < 0x1A0:
            return self._irq_word(self.enabled, off - 0x180)
        if 0x200 <= off < 0x220:
            return self._irq_word(self.pending >> 16, off - 0x200)
        if 0x280 <= off < 0x2A0:
            return self._irq_word(self.pending >> 16, off - 0x280)
        if 0x300 <= off < 0x320:
            return self._irq_word(self.active >> 16, off - 0x300)
        reader = _READERS.get(off)
        if reader is not None:
            return reader(self)
        if 0xD90 <= off < 0xDBC:
            return self.mpu.get(off, 0x800 if off == 0xD90 else 0)
        if 0xDF0 <= off < 0xE00:
            return self.debug.get(off, 0)
        self.unknown_accesses += 1
        return 0

    @staticmethod
    def _irq_word(bits: int, byte_offset: int) -> int:
        n = byte_offset // 4
        valid = (1 << IRQ_COUNT) - 1
        return ((bits & valid) >> (32 * n)) & 0xFFFF_FFFF

    def _write_word(self, off: int, value: int, lane: int) -> None:
        host = self.host
        if 0x100 <= off < 0x120:
            self.enabled |= (value << (32 * ((off - 0x100) // 4))) & ((1 << IRQ_COUNT) - 1)
            host.exception_state_changed()
        elif 0x180 <= off < 0x1A0:
            self.enabled &= ~(value << (32 * ((off - 0x180) // 4)))
        elif 0x200 <= off < 0x220:
            bits = (value << (32 * ((off - 0x200) // 4))) & ((1 << IRQ_COUNT) - 1)
            if bits & ~(self.pending >> 16):
                self.pending |= bits << 16
                host.exception_state_changed()
        elif 0x280 <= off < 0x2A0:
            bits = (value << (32 * ((off - 0x280) // 4))) & ((1 << IRQ_COUNT) - 1)
            self.pending &= ~(bits << 16)
            # a line that is still high pends again at once (level-sensitive input)
            again = bits & self.levels & ~(self.active >> 16)
            if again:
                self.pending |= again << 16
        elif off == 0xF00:                               # STIR
            irq = value & 0x1FF
            if irq < IRQ_COUNT:
                self.set_pending(16 + irq)
        else:
            writer = _WRITERS.get(off)
            if writer is not None:
                writer(self, value)
            elif 0xD90 <= off < 0xDBC:
                self.mpu[off] = value
            elif 0xDF0 <= off < 0xE00:
                self.debug[off] = value
            else:
                self.unknown_accesses += 1

    # --- individual registers ---------------------------------------------------------------------------
    def _icsr(self) -> int:
        ipsr = self.host.read_ipsr()
        value = ipsr & 0x1FF
        best = self.best_pending(below=1 << 9)
        if best is not None:
            value |= (best & 0x1FF) << 12
        if self.pending & ~((1 << 16) - 1) & (self.enabled << 16):
            value |= 1 << 22                                   # ISRPENDING
        if bin(self.active).count("1") <= 1:
            value |= 1 << 11                                   # RETTOBASE
        if self.pending & (1 << SYSTICK):
            value |= 1 << 26
        if self.pending & (1 << PENDSV):
            value |= 1 << 28
        if self.pending & (1 << NMI):
            value |= 1 << 31
        return value

    def _write_icsr(self, value: int) -> None:
        if value & (1 << 31):
            self.set_pending(NMI)
        if value & (1 << 27):
            self.clear_pending(PENDSV)
        if value & (1 << 28):
            self.set_pending(PENDSV)
        if value & (1 << 25):
            self.clear_pending(SYSTICK)
        if value & (1 << 26):
            self.set_pending(SYSTICK)

    def _aircr(self) -> int:
        return 0xFA05_0000 | (self.prigroup << 8)

    def _write_aircr(self, value: int) -> None:
        if value >> 16 != 0x05FA:
            return                                            # wrong VECTKEY: ignored
        self.prigroup = (value >> 8) & 7
        self.group_mask = (0xFF << (self.prigroup + 1)) & 0xFF if self.prigroup < 7 else 0
        if value & (1 << 2):                                  # SYSRESETREQ
            self.host.request_system_reset()
        self.host.exception_state_changed()

    def _shcsr(self) -> int:
        value = self.shcsr_enables
        for exc, bit in _SHCSR_ACTIVE.items():
            if self.active & (1 << exc):
                value |= 1 << bit
        for exc, bit in _SHCSR_PENDED.items():
            if self.pending & (1 << exc):
                value |= 1 << bit
        return value

    def _write_shcsr(self, value: int) -> None:
        self.shcsr_enables = value & (0x7 << 16)
        self.host.exception_state_changed()

    def _syst_csr(self) -> int:
        value = self.syst_csr
        self.syst_csr &= ~(1 << 16)                           # COUNTFLAG clears on read
        return value

    def _write_syst_csr(self, value: int) -> None:
        was_running = self._systick_running()
        current = self._systick_value()
        self.syst_csr = (self.syst_csr & (1 << 16)) | (value & 0x7)
        if self._systick_running() and not was_running:
            self._systick_schedule(self.syst_cvr)
        elif not self._systick_running() and was_running:
            self.syst_cvr = current
            self._systick_schedule(0)
        elif self._systick_running():
            self._systick_schedule(current)                   # CLKSOURCE may have changed

    def _write_syst_rvr(self, value: int) -> None:
        self.syst_rvr = value & 0x00FF_FFFF
        if self._systick_running() and self._syst_event is None:
            self._systick_schedule(0)                         # LOAD was 0: starts counting now

    def _write_syst_cvr(self, value: int) -> None:
        # any write clears the counter and COUNTFLAG; it reloads from RVR on the next count
        self.syst_cvr = 0
        self.syst_csr &= ~(1 << 16)
        if self._systick_running():
            self._systick_schedule(0)

    def _write_fpccr(self, value: int) -> None:
        self.fpccr = value & 0xC000_0000

    def _write_vtor(self, value: int) -> None:
        self.vtor = value & 0xFFFF_FF80


def _setter(name: str, mask: int = 0xFFFF_FFFF) -> Callable[[SystemControlSpace, int], None]:
    def write(self: SystemControlSpace, value: int) -> None:
        setattr(self, name, value & mask)
    return write


def _w1c(name: str) -> Callable[[SystemControlSpace, int], None]:
    def write(self: SystemControlSpace, value: int) -> None:
        setattr(self, name, getattr(self, name) & ~value)
    return write


# Registers whose sub-word writes must not be merged with the current value (set/clear semantics)
_W1_OR_SET_REGISTERS = set(range(0x100, 0x320, 4)) | {0xD04, 0xD28, 0xD2C, 0xF00}

_READERS: dict[int, Callable[[SystemControlSpace], int]] = {
    0x004: lambda s: (IRQ_COUNT + 31) // 32 - 1,                      # ICTR.INTLINESNUM
    0x008: lambda s: s.actlr,
    0x010: SystemControlSpace._syst_csr,
    0x014: lambda s: s.syst_rvr,
    0x018: SystemControlSpace._systick_value,
    0x01C: lambda s: 0x4000_0000,                                     # CALIB: SKEW, no TENMS
    0xD00: lambda s: CPUID_CORTEX_M4_R0P1,
    0xD04: SystemControlSpace._icsr,
    0xD08: lambda s: s.vtor,
    0xD0C: SystemControlSpace._aircr,
    0xD10: lambda s: s.scr,
    0xD14: lambda s: s.ccr,
    0xD24: SystemControlSpace._shcsr,
    0xD28: lambda s: s.cfsr,
    0xD2C: lambda s: s.hfsr,
    0xD30: lambda s: s.dfsr,
    0xD34: lambda s: s.mmfar,
    0xD38: lambda s: s.bfar,
    0xD3C: lambda s: s.afsr,
    0xD88: lambda s: s.cpacr,
    0xF34: lambda s: s.fpccr,
    0xF38: lambda s: s.fpcar,
    0xF3C: lambda s: s.fpdscr,
    0xF40: lambda s: 0x1011_0021,                                     # MVFR0: single precision VFP
    0xF44: lambda s: 0x1100_0011,                                     # MVFR1
}

_WRITERS: dict[int, Callable[[SystemControlSpace, int], None]] = {
    0x008: _setter("actlr"),
    0x010: SystemControlSpace._write_syst_csr,
    0x014: SystemControlSpace._write_syst_rvr,
    0x018: SystemControlSpace._write_syst_cvr,
    0xD04: SystemControlSpace._write_icsr,
    0xD08: SystemControlSpace._write_vtor,
    0xD0C: SystemControlSpace._write_aircr,
    0xD10: _setter("scr", 0x16),
    0xD14: _setter("ccr", 0x31B),
    0xD24: SystemControlSpace._write_shcsr,
    0xD28: _w1c("cfsr"),
    0xD2C: _w1c("hfsr"),
    0xD30: _w1c("dfsr"),
    0xD34: _setter("mmfar"),
    0xD38: _setter("bfar"),
    0xD3C: _setter("afsr"),
    0xD88: _setter("cpacr", 0x00F0_0000),
    0xF34: SystemControlSpace._write_fpccr,
    0xF38: _setter("fpcar", 0xFFFF_FFF8),
    0xF3C: _setter("fpdscr", 0x07C0_0000),
}
