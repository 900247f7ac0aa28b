"""The built-in STM32F407 machine: a unicorn Cortex-M4F, the System Control Space, the exception
engine and the peripherals of a platform file, run in virtual time (implements
`sim.backend.Backend`).

`Machine` is the facade; each job has its own room and the facade hands calls on:
- runloop.py      `machine.loop`: run()/step() in slices that end at the next event, time and
                  scheduling for models, the CPU's SVC/exception-return/BKPT traps;
- fault_report.py `machine.faults`: CPU traps -> the firmware's fault handler or a report;
- code_sites.py   `machine.sites`: hooks, breakpoints, watchpoints and mask-lowering sites;
- run_state.py    `machine.run_state`: where the run stands, one value a snapshot copies whole.
Register and memory access, ports, snapshots and stats stay here.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import unicorn
from unicorn import arm_const as A

from sim.backend import HookContext, RunResult
from sim.errors import BackendError
from sim.platform import DEFAULT_REPL, Entry, PlatformError, PlatformSpec, load_platform
from sim.seed import SeededRandom

from .bus import Bus
from .clock import Clock, Event
from .code_sites import CodeSites
from .cpu import RegBatch, UnicornCore
from .elf import ElfImage, SymbolTable, read_elf
from .exceptions import ExceptionEngine
from .fault_report import FaultReporter
from .options import MachineOptions
from .run_state import RunState
from .runloop import RunLoop
from .scs import SystemControlSpace, exception_name
from .snapshot import Snapshot

__all__ = ["Machine", "MachineOptions", "Snapshot", "DEFAULT_REPL"]

_REGISTER_IDS: dict[str, int] = {f"r{i}": getattr(A, f"UC_ARM_REG_R{i}") for i in range(13)}
_REGISTER_IDS.update(sp=A.UC_ARM_REG_SP, lr=A.UC_ARM_REG_LR, pc=A.UC_ARM_REG_PC,
                     xpsr=A.UC_ARM_REG_XPSR, msp=A.UC_ARM_REG_MSP, psp=A.UC_ARM_REG_PSP,
                     primask=A.UC_ARM_REG_PRIMASK, basepri=A.UC_ARM_REG_BASEPRI,
                     faultmask=A.UC_ARM_REG_FAULTMASK, control=A.UC_ARM_REG_CONTROL,
                     fpscr=A.UC_ARM_REG_FPSCR, ipsr=A.UC_ARM_REG_IPSR)
_REGISTER_IDS.update({f"s{i}": A.UC_ARM_REG_S0 + i for i in range(32)})
_REGISTER_IDS.update({f"d{i}": A.UC_ARM_REG_D0 + i for i in range(16)})
# what the compiled exception engine reads and writes
_EXCEPTION_REGISTER_IDS = {name: _REGISTER_IDS[name] for name in (
    "control", "xpsr", "msp", "psp", "r0", "r1", "r2", "r3", "r12", "lr", "pc", "primask", "basepri",
    "faultmask", "fpscr", *(f"s{i}" for i in range(16)))}
_EXCEPTION_REGISTER_IDS["apsr_nzcv"] = A.UC_ARM_REG_APSR_NZCV


class Machine:
    """`Machine(repl_path, seed=1, fault_mode=..., extended_frames=...)`, then `load_elf(path)`."""

    name = "builtin"

    def __init__(self, repl_path: str | Path | None = None, seed: int = 1,
                 options: MachineOptions | None = None, **option_overrides: Any) -> None:
        self.options = options or MachineOptions(**option_overrides)
        if options is not None and option_overrides:
            raise TypeError("give either options=MachineOptions(...) or keyword options, not both")
        self.repl_path = Path(repl_path) if repl_path is not None else DEFAULT_REPL
        self.spec = load_platform(self.repl_path)
        self.seed = seed
        self.random_root = SeededRandom(seed)     # models take child streams of it (random())
        self.frequency, systick, prio_mask = _clocks_from(self.spec)
        nvic = self.spec.one_of_type("IRQControllers.NVIC")
        self.core = UnicornCore()
        self.clock = Clock(self.frequency)
        try:
            self.scs = SystemControlSpace(self, self.frequency, systick, prio_mask)
        except ValueError as exc:
            raise PlatformError(f"{nvic.location}: {exc}") from None
        self.exceptions = ExceptionEngine(self)
        self.exceptions.extended_frames = self.options.extended_frames
        self.run_state = RunState()
        self.loop = RunLoop(self)
        self.faults = FaultReporter(self)
        self.sites = CodeSites(self)
        self._uart_ports: dict[str, Any] = {}
        self.image: ElfImage | None = None
        self.symbols = SymbolTable([])
        self._pc_reg = RegBatch(self.core.uc, (A.UC_ARM_REG_PC,))
        self._ipsr_reg = RegBatch(self.core.uc, (A.UC_ARM_REG_IPSR,))   # ICSR reads (FreeRTOS asserts)
        from . import peripherals  # noqa: F401  (importing the package registers every model)
        from .peripherals.base import MODEL_TYPES
        from .peripherals.clocks import FixedClocks
        self.peripherals: dict[str, Any] = {}
        self.clocks = FixedClocks(self.frequency)        # the RCC's live tree once it is built
        self.bus = Bus(self.spec, self)
        self.bus.build_peripherals(MODEL_TYPES)
        self.peripherals = self.bus.peripherals
        rcc = next((p for p in self.peripherals.values()
                    if getattr(p, "RENODE_TYPE", "") == "Miscellaneous.STM32F4_RCC"), None)
        if rcc is not None:
            # the core and SysTick run at the RCC's HCLK (the .repl's systickFrequency is
            # Renode's fixed SysTick clock); without an RCC, at the platform frequency
            self.clocks = rcc
            self.scs.cycles_per_count = 1
        # the services models call most, bound straight to the run loop (no facade frame)
        self.now = self.loop.now
        self.schedule_at = self.loop.schedule_at
        self.exception_state_changed = self.loop.exception_state_changed
        self.core_cycles = self.loop.core_cycles
        self.time_at_cycle = self.loop.time_at_cycle
        self.loop.core_clock_changed()               # the core starts on the reset clock (HSI)
        core = self.core
        if core.timebase.native:             # SVC and exception return in C (native/exceptions.c)
            core.timebase.bind_exceptions(self.scs, self.exceptions, self.run_state, self.loop, self.bus,
                                          _EXCEPTION_REGISTER_IDS)
        else:
            core.hook_interrupt(self.loop.on_interrupt)
        core.hook_invalid_instruction(self.faults.on_invalid_instruction)
        core.hook_bad_access(self.faults.on_bad_access)

    # =====================================================================================
    # MachineServices (for peripheral models) and the SCS host interface
    # =====================================================================================
    def now(self) -> int:
        """Exact virtual time in cycles, also in the middle of a slice (inside an MMIO access)."""
        return self.loop.now()

    @property
    def cycles(self) -> int:
        return self.loop.now()

    @property
    def instructions_retired(self) -> int:
        """Instructions retired so far, exact also inside hooks and MMIO callbacks."""
        return self.loop.instructions_retired()

    def schedule(self, delay_cycles: int, callback: Callable[[], None]) -> Event:
        return self.loop.schedule_at(self.loop.now() + max(0, int(delay_cycles)), callback)

    def schedule_at(self, time: int, callback: Callable[[], None]) -> Event:
        return self.loop.schedule_at(time, callback)

    def cancel(self, handle: object) -> None:
        if isinstance(handle, Event):
            handle.cancel()

    def set_irq(self, irq: int, level: bool) -> None:
        self.scs.set_irq_level(irq, level)

    def dma_read(self, address: int, size: int) -> bytes:
        return self.bus.dma_read(address, size)

    def dma_write(self, address: int, data: bytes) -> None:
        self.bus.dma_write(address, data)

    def request_stop(self) -> None:
        self.loop.request_stop()

    def random(self, label: str) -> SeededRandom:
        return self.random_root.child(label)

    def clocks_changed(self) -> None:
        """The RCC changed a rate (at this instant): the core and SysTick follow HCLK, and every
        model that derives timing from the clock tree follows its own clock."""
        self.loop.core_clock_changed()
        for p in self.peripherals.values():
            follow = getattr(p, "clocks_changed", None)
            if follow is not None:
                follow()

    def read_ipsr(self) -> int:
        return self._ipsr_reg.read()[0]

    def request_system_reset(self) -> None:
        self.loop.request_system_reset()

    def exception_state_changed(self) -> None:
        self.loop.exception_state_changed()

    def exception_entered(self, exc: int) -> None:
        self.run_state.stuck_regs = None
        self.loop.control_transfer()

    def exception_returned(self, exc: int) -> None:
        ctx = self.exceptions.fault_context
        if ctx is not None and exc == ctx.exception:
            self.exceptions.fault_context = None
        self.loop.control_transfer()

    def pc(self) -> int:
        """The PC register as unicorn holds it (Thumb bit set)."""
        return self._pc_reg.read()[0]

    # =====================================================================================
    # image and lifecycle
    # =====================================================================================
    def load_elf(self, path: str | Path) -> None:
        image = read_elf(path)
        self.bus.load_image(image)        # ElfError naming segment and region if it does not fit
        self.image = image
        self.symbols = image.symbols
        for region in self.bus.memories:
            self.core.uc.ctl_remove_cache(region.base, region.end)
        self.core.timebase.forget_code()
        self.sites.load_image(image, self.bus.read_ram)
        self.reset()

    def reset(self) -> None:
        """System reset: peripherals and the SCS to their reset state, the core from the vector
        table at 0x0 (RAM contents survive, as on silicon). Virtual time keeps counting."""
        for event in self.clock.pending():
            event.cancel()
        self.scs.reset()
        for p in self.peripherals.values():
            reset = getattr(p, "reset", None)
            if reset is not None:
                reset()
        self.loop.core_clock_changed()               # back on the reset clock (the HSI)
        self.exceptions.fault_context = None
        state = self.run_state
        state.reset_requested = False
        state.sleeping = False
        state.at_boundary = True                  # execution begins a block at the reset vector
        state.block_cycles = self.clock.cycles
        state.resets += 1
        state.stuck_regs = None
        sp = self.bus.read_word(0)
        pc = self.bus.read_word(4)
        if sp is None or pc is None:
            raise BackendError("no memory at 0x0 for the vector table: register flash also at 0x0 "
                               "in the platform file (the boot alias)")
        uc = self.core.uc
        uc.reg_write(A.UC_ARM_REG_XPSR, 0x0100_0000)
        uc.reg_write(A.UC_ARM_REG_CONTROL, 0)
        for name in ("primask", "basepri", "faultmask", "fpscr", "lr", *(f"r{i}" for i in range(13))):
            uc.reg_write(_REGISTER_IDS[name], 0xFFFF_FFFF if name == "lr" else 0)
        for i in range(32):
            uc.reg_write(A.UC_ARM_REG_S0 + i, 0)
        uc.reg_write(A.UC_ARM_REG_MSP, sp & ~3)
        uc.reg_write(A.UC_ARM_REG_PSP, 0)
        uc.reg_write(A.UC_ARM_REG_APSR_NZCV, 0)
        if not pc & 1:
            raise BackendError(f"the reset vector at 0x4 is 0x{pc:08x}, which has no Thumb bit: "
                               f"is the vector table at the start of flash?")
        uc.reg_write(A.UC_ARM_REG_PC, pc | 1)

    # =====================================================================================
    # running
    # =====================================================================================
    def run(self, max_cycles: int | None = None, *, until: str | int | None = None,
            max_virtual: float | None = None) -> RunResult:
        """Run for at most `max_cycles` (or `max_virtual` seconds) of virtual time. Returns early
        on request_stop, a breakpoint (or `until`, a symbol or address), a watchpoint or a fault.
        A KeyboardInterrupt (Ctrl-C) or any exception a callback raised is raised from here, with
        the machine stopped at an instruction boundary and its time accounted for."""
        if max_cycles is None and max_virtual is None:
            raise ValueError("run() needs a limit: max_cycles or max_virtual (seconds)")
        limit = max_cycles if max_cycles is not None else int(max_virtual * self.frequency)
        if max_virtual is not None and max_cycles is not None:
            limit = min(max_cycles, int(max_virtual * self.frequency))
        if self.image is None:
            raise BackendError("no firmware loaded: call load_elf(path) before run()")
        temp_bp = None
        if until is not None:
            temp_bp = self._resolve(until)
            if not self.sites.has_breakpoint(temp_bp):
                self.sites.add_breakpoint(temp_bp)
            else:
                temp_bp = None
        try:
            return self.loop.run(max(0, int(limit)))
        finally:
            if temp_bp is not None:
                self.sites.remove_breakpoint(temp_bp)

    def step(self, *, mask_interrupts: bool = False) -> RunResult:
        """Retire exactly one instruction, or take a pending exception and stop at the first
        instruction of its handler. With `mask_interrupts` (what a debugger sets through
        DHCSR.C_MASKINTS, as OpenOCD's `maskisr auto` does) PendSV, SysTick and IRQs stay pending
        during the step, so stepping through code never lands in an interrupt handler."""
        if self.image is None:
            raise BackendError("no firmware loaded: call load_elf(path) before step()")
        self.exceptions.mask_interrupts = mask_interrupts
        try:
            return self.loop.step()
        finally:
            self.exceptions.mask_interrupts = False

    def handler_name(self, exc: int) -> str:
        """`IRQ6 (EXTI0_IRQHandler)`: the exception and the symbol of its vector."""
        vector = self.bus.read_word(self.scs.vtor + 4 * exc)
        sym = self.symbols.symbolize(vector & ~1) if vector else None
        return f"{exception_name(exc)} ({sym})" if sym else exception_name(exc)

    def _resolve(self, target: str | int) -> int:
        if isinstance(target, int):
            return target & ~1
        return self.symbols.address(target)

    # =====================================================================================
    # inspection and debugging (Backend)
    # =====================================================================================
    def symbol_address(self, name: str) -> int:
        return self.symbols.address(name)

    def symbolize(self, address: int) -> str | None:
        return self.symbols.symbolize(address)

    def hook(self, target: str | int, callback: Callable[[HookContext], None]) -> int:
        return self.sites.hook(self._resolve(target), callback)

    def unhook(self, handle: int) -> None:
        self.sites.unhook(handle)

    def hook_kind(self, address: int) -> str | None:
        """How the site at `address` is hooked: "block", "code" or None (for tests and bench)."""
        return self.sites.hook_kind(address)

    def add_breakpoint(self, address: int) -> None:
        self.sites.add_breakpoint(address)

    def remove_breakpoint(self, address: int) -> None:
        self.sites.remove_breakpoint(address)

    def add_watchpoint(self, address: int, length: int, kind: str) -> None:
        self.sites.add_watchpoint(address, length, kind)

    def remove_watchpoint(self, address: int, length: int, kind: str) -> None:
        self.sites.remove_watchpoint(address, length, kind)

    def trace_writes(self, ranges, *, context_word: int | None = None):
        """Record every write into `ranges` ([(start, end), ...] in RAM) from now on, with PC, LR,
        SP, IPSR, virtual time and the value of `context_word` (e.g. an RTOS's current-task
        pointer): a `provenance.WriteTrace`; its `stop()` ends it. Slows the whole CPU down
        while it runs (provenance.py)."""
        from .provenance import WriteTrace
        return WriteTrace(self, ranges, context_word=context_word)

    def read_memory(self, address: int, size: int) -> bytes:
        raw = self.bus.read_ram(address, size)
        if raw is not None:
            return raw
        try:
            return bytes(self.core.uc.mem_read(address, size))
        except unicorn.UcError:
            raise BackendError(f"cannot read {size} bytes at 0x{address:08x}: "
                               f"{self.faults.describe_address(address)}") from None

    def write_memory(self, address: int, data: bytes) -> None:
        r = self.bus.memory_at(address, len(data))
        if r is not None:
            off = address - r.base
            r.view[off:off + len(data)] = data
            self.core.uc.ctl_remove_cache(address, address + len(data))   # code may have changed
            if not r.writable:
                self.core.timebase.forget_code()   # it keeps what it decoded of read-only code
            return
        try:
            self.core.uc.mem_write(address, bytes(data))
        except unicorn.UcError:
            raise BackendError(f"cannot write {len(data)} bytes at 0x{address:08x}: "
                               f"{self.faults.describe_address(address)}") from None

    def read_register(self, name: str) -> int:
        reg = _REGISTER_IDS.get(name.lower())
        if reg is None:
            raise BackendError(f"unknown register {name!r}; known: {', '.join(_REGISTER_IDS)}")
        if name.lower() in ("msp", "psp"):
            msp, psp = self.exceptions.banked_stack_pointers()
            return msp if name.lower() == "msp" else psp
        value = self.core.uc.reg_read(reg)
        if name.lower() == "pc":
            value &= ~1
        elif name.lower() == "xpsr":
            value |= 1 << 24                       # the T bit: M-profile code is always Thumb
        return value

    def write_register(self, name: str, value: int) -> None:
        key = name.lower()
        reg = _REGISTER_IDS.get(key)
        if reg is None:
            raise BackendError(f"unknown register {name!r}; known: {', '.join(_REGISTER_IDS)}")
        uc = self.core.uc
        if key == "pc":
            uc.reg_write(reg, value | 1)           # stays Thumb whatever bit 0 says
            self.loop.control_transfer()           # a jump: a new straight-line block begins
        elif key in ("xpsr", "ipsr"):
            uc.reg_write(reg, value | (1 << 24) if key == "xpsr" else value)
            uc.reg_write(A.UC_ARM_REG_APSR_NZCV, uc.reg_read(A.UC_ARM_REG_APSR_NZCV))
        else:
            uc.reg_write(reg, value)
        if key in ("primask", "basepri", "faultmask"):
            self.exception_state_changed()

    # --- ports ----------------------------------------------------------------------------------------------
    def uart(self, name: str = "usart1"):
        """The `sim.backend.UartPort` of UART `name` (the same object on every call)."""
        port = self._uart_ports.get(name)
        if port is None:
            p = self.peripherals.get(name)
            if p is None or not hasattr(p, "transcript"):
                names = [n for n, q in self.peripherals.items() if hasattr(q, "transcript")]
                raise BackendError(f"no UART named {name!r} in {self.repl_path}; "
                                   f"UARTs: {', '.join(names) or 'none'}")
            port = self._uart_ports[name] = getattr(p, "port", p)
        return port

    @property
    def ethernet(self):
        macs = [p for p in self.peripherals.values()
                if getattr(p, "RENODE_TYPE", "") == "Network.SynopsysEthernetMAC"]
        if not macs:
            raise BackendError(f"the platform {self.repl_path} has no Network.SynopsysEthernetMAC")
        return macs[0]

    # --- state ----------------------------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        from .snapshot import take_snapshot
        return take_snapshot(self)

    def restore(self, snapshot: object) -> None:
        from .snapshot import restore_snapshot
        restore_snapshot(self, snapshot)
        self.bus.unmodelled.clear()          # the record is of the run from the snapshot on

    # =====================================================================================
    # what a scenario sets and reads beyond the Backend interface
    # =====================================================================================
    def set_calendar(self, unix_ns: int) -> None:
        """Every RTC of the platform reads this calendar time now and runs on from it."""
        for p in self.peripherals.values():
            set_calendar = getattr(p, "set_calendar", None)
            if set_calendar is not None:
                set_calendar(unix_ns)

    def unmodelled_accesses(self) -> list[dict]:
        """Accesses to addresses nothing is modelled at (on_unmapped="warn"), since the last
        restore: address, block, read/write, function, count."""
        out = [e.to_dict() for e in self.bus.unmodelled.report()]
        if self.bus.unmodelled.not_recorded:
            out.append({"address": None, "not_recorded": self.bus.unmodelled.not_recorded})
        return out

    @property
    def instructions(self) -> int:
        return self.run_state.instructions

    @property
    def idle_cycles(self) -> int:
        return self.run_state.idle_cycles

    @property
    def mmio_accesses(self) -> int:
        return self.counted().mmio_accesses

    def counted(self) -> RunState:
        """The run state with every counter up to date (the compiled time base counts MMIO
        accesses on its side; they are added here and at every slice end)."""
        tb = self.core.timebase
        if tb.native:
            self.run_state.mmio_accesses += tb.take_mmio_count()
        return self.run_state

    @property
    def resets(self) -> int:
        return self.run_state.resets

    @property
    def stats(self) -> dict[str, int]:
        state = self.counted()
        out = {
            "instructions": state.instructions,
            "cycles": self.clock.now,
            "idle_cycles": state.idle_cycles,
            "core_cycles": self.clock.cycles,
            "idle_core_cycles": state.idle_core_cycles,
            "exceptions": self.exceptions.entries,
            "exception_returns": self.exceptions.returns,
            "tail_chains": self.exceptions.tail_chains,
            "mmio_accesses": state.mmio_accesses,
            "systick_wraps": self.scs.systick_wraps,
            "resets": state.resets,
        }
        for p in self.peripherals.values():
            pstats = getattr(p, "stats", None)
            if isinstance(pstats, dict):
                for k, v in pstats.items():
                    if isinstance(v, int):
                        out[k] = out.get(k, 0) + v
        return out


# --- what the machine reads from the platform file ------------------------------------------------

def _clocks_from(spec: PlatformSpec) -> tuple[int, int, int]:
    """(CPU frequency in Hz, SysTick frequency in Hz, NVIC priority mask), checked."""
    cpu = spec.one_of_type("CPU.CortexM")
    cpu_type = cpu.attributes.get("cpuType")
    if cpu_type not in ("cortex-m4", "cortex-m4f"):
        raise PlatformError(f"{cpu.location}: the built-in machine emulates a Cortex-M4 "
                            f"(cpuType \"cortex-m4\"), not {cpu_type!r}")
    nvic = spec.one_of_type("IRQControllers.NVIC")
    mips = _positive(cpu, "PerformanceInMips", "the CPU clock in MHz, one instruction per cycle, "
                                               "e.g. 'PerformanceInMips: 168'")
    systick = _positive(nvic, "systickFrequency", "SysTick's clock in Hz, e.g. "
                                                  "'systickFrequency: 168000000'", integer=True)
    if mips is not None:
        frequency = int(mips * 1_000_000)
        if frequency <= 0:
            raise PlatformError(f"{_where(cpu, 'PerformanceInMips')}: PerformanceInMips {mips} is "
                                f"below one cycle per second; give the CPU clock in MHz, e.g. 168")
    elif systick is not None:
        frequency = systick
    else:
        raise PlatformError(f"{cpu.location}: give the CPU clock as 'PerformanceInMips: 168' "
                            f"(one instruction per cycle)")
    mask = nvic.attributes.get("priorityMask", 0xF0)
    if isinstance(mask, bool) or not isinstance(mask, int) or not 0 <= mask <= 0xFF:
        raise PlatformError(f"{_where(nvic, 'priorityMask')}: {nvic.name} priorityMask must be a byte "
                            f"(0xF0: 4 implemented priority bits), not {_shown(mask)}")
    return frequency, systick if systick is not None else frequency, mask


def _positive(entry: Entry, name: str, hint: str, integer: bool = False) -> int | float | None:
    """Attribute `name` of `entry` as a positive finite number, None when absent."""
    value = entry.attributes.get(name)
    if value is None:
        return None
    ok = (not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
          and value > 0 and (not integer or value == int(value)))
    if not ok:
        kind = "a positive whole number" if integer else "a positive number"
        raise PlatformError(f"{_where(entry, name)}: {entry.name} {name} must be {kind} ({hint}), "
                            f"not {_shown(value)}")
    return int(value) if integer else value


def _where(entry: Entry, name: str):
    return entry.attribute_locations.get(name, entry.location)


def _shown(value: object) -> str:
    text = getattr(value, "name", None) or getattr(value, "text", None)
    return text if isinstance(text, str) else repr(value)
