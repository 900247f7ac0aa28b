"""The built-in STM32F407 machine: a unicorn Cortex-M4F, the System Control Space, the exception
engine and the peripherals of a platform file, run in virtual time (implements
`sim.backend.Backend`).

Time is CPU cycles at the platform frequency (CPI = 1). `run()` executes the CPU in slices that
end exactly at the next scheduled event, so SysTick and peripheral timers fire at exact cycle
counts; WFI skips to the next event. Exceptions are taken at instruction boundaries: at slice
boundaries, inside the SVC/exception-return hooks (tail-chaining), and right after the firmware
lowers an interrupt mask (see masks.py). No wall clock is read anywhere.

Hooked addresses (mask sites, `hook()`) use a block hook where every execution of the address
begins a translation block (blocks.py), else an exact code hook - as breakpoints always do. Code
hooks halve the speed of the whole CPU, block hooks cost nothing where they are not.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import unicorn
from unicorn import arm_const as A
from unicorn import unicorn_const as U

from sim.backend import FaultReport, HookContext, RunResult, StopReason
from sim.errors import BackendError
from sim.platform import DEFAULT_REPL, PlatformError, load_platform
from sim.seed import SeededRandom

from .blocks import BlockStarts
from .bus import Bus, BusFault
from .clock import Clock, Event
from .cpu import CoreError, RegBatch, UnicornCore
from .elf import ElfImage, SymbolTable, read_elf
from .exceptions import ExceptionEngine, ExceptionError
from .faults import CFSR, firmware_fault_report, format_registers
from .masks import mask_lowering_sites
from .scs import BUSFAULT, HARDFAULT, MEMMANAGE, NMI, USAGEFAULT, SystemControlSpace, exception_name

FAULT_HANDLERS = (1 << NMI) | (1 << HARDFAULT) | (1 << MEMMANAGE) | (1 << BUSFAULT) | (1 << USAGEFAULT)
_HINTS_16 = {0xBF10, 0xBF20, 0xBF40}                # yield, wfe, sev (unicorn: "invalid")
_HINTS_32 = {0xF3AF8001, 0xF3AF8002, 0xF3AF8004}
_WFI_16, _WFI_32 = 0xBF30, 0xF3AF8003
# longest slice: bounds how late a stuck CPU is noticed (6 ms of virtual time) at ~1% of speed
SLICE_CAP = 1_000_000

_REGISTER_IDS: dict[str, int] = {f"r{i}": getattr(A, f"UC_ARM_REG_R{i}") for i in range(13)}
_REGISTER_IDS.update(sp=A.UC_ARM_REG_SP, lr=A.UC_ARM_REG_LR, pc=A.UC_ARM_REG_PC,
                     xpsr=A.UC_ARM_REG_XPSR, msp=A.UC_ARM_REG_MSP, psp=A.UC_ARM_REG_PSP,
                     primask=A.UC_ARM_REG_PRIMASK, basepri=A.UC_ARM_REG_BASEPRI,
                     faultmask=A.UC_ARM_REG_FAULTMASK, control=A.UC_ARM_REG_CONTROL,
                     fpscr=A.UC_ARM_REG_FPSCR, ipsr=A.UC_ARM_REG_IPSR)
_REGISTER_IDS.update({f"s{i}": A.UC_ARM_REG_S0 + i for i in range(32)})
_REGISTER_IDS.update({f"d{i}": A.UC_ARM_REG_D0 + i for i in range(16)})
_REPORT_REGS = ("r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12",
                "sp", "lr", "pc", "xpsr", "msp", "psp", "control", "primask", "basepri", "faultmask")


@dataclass
class MachineOptions:
    """Behaviour switches (all default to the silicon's behaviour where there is a choice).

    fault_mode:      "report" - an unmapped access, undefined instruction or bad EXC_RETURN ends
                     the run with a FaultReport; "firmware" - it enters the firmware's
                     BusFault/UsageFault/HardFault handler with CFSR/BFAR/HFSR set, and the run
                     ends with a report when that handler loops forever (or on lockup).
    extended_frames: False never stacks FP state on exception entry (a negative control for
                     tests of FP context switching; real silicon always does).
    probe_cycles:    slice length while a fault handler runs, to notice it looping.
    block_hooks:     False serves every hooked address with an exact code hook, as before
                     blocks.py (the same results, at half the speed or less: for comparisons).
    """
    fault_mode: str = "report"
    extended_frames: bool = True
    probe_cycles: int = 20_000
    block_hooks: bool = True

    def __post_init__(self) -> None:
        if self.fault_mode not in ("report", "firmware"):
            raise ValueError(f"fault_mode must be 'report' or 'firmware', not {self.fault_mode!r}")


@dataclass
class _CodeSite:
    """Everything hooked at one instruction address, served by one unicorn hook: a block hook
    where the address begins every block that executes it, else (and for breakpoints) a code hook."""
    address: int
    symbol: str | None
    breakpoint: bool = False
    mask: bool = False
    hooks: dict[int, Callable[[HookContext], None]] = field(default_factory=dict)
    uc_hook: int | None = None                # UC_HOOK_CODE
    block_hook: int | None = None             # UC_HOOK_BLOCK
    block_handler: Any = None                 # the machine method it calls
    guard_hook: int | None = None             # UC_HOOK_BLOCK on the padding before it (blocks.py)


@dataclass
class _Watchpoint:
    address: int
    length: int
    kind: str                 # "write" | "read" | "access"
    uc_hook: int


@dataclass
class Snapshot:
    """Whole-machine state (see snapshot.py); restore it with Machine.restore()."""
    cpu: Any
    memories: dict[int, bytes]
    objects: dict[str, Any]
    scalars: dict[str, Any]
    # what restore() shares rather than copies; the saved objects never change, so it is
    # computed on the first restore and reused (snapshot.py)
    shared: dict[int, Any] | None = field(default=None, repr=False, compare=False)


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
        self._random_root = SeededRandom(seed)
        self.frequency = self._frequency_from(self.spec)
        nvic = self.spec.one_of_type("IRQControllers.NVIC")
        systick = nvic.attributes.get("systickFrequency", self.frequency)
        prio_mask = nvic.attributes.get("priorityMask", 0xF0)
        self.core = UnicornCore()
        self.clock = Clock(self.frequency)
        try:
            self.scs = SystemControlSpace(self, self.frequency, systick, prio_mask)
        except ValueError as exc:
            raise PlatformError(f"{nvic.location}: {exc}") from None
        self.exceptions = ExceptionEngine(self)
        self.exceptions.extended_frames = self.options.extended_frames
        # run state
        self.mmio_accesses = 0
        self.instructions = 0
        self.idle_cycles = 0
        self._in_slice = False
        self._slice_start = 0
        self._stop_requested = False
        self._slice_break = False
        self._break: tuple | None = None
        self._cpu_fault: tuple | None = None
        self._fault: FaultReport | None = None
        self._callback_error: BaseException | None = None
        self._reset_requested = False
        self._sleeping = False                   # in WFI, until an exception could preempt
        self._skip_break: int | None = None      # first instruction: ignore a breakpoint here
        self._skip_watch: int | None = None      # ... or the watchpoint it stopped at
        self._stopped_at: tuple[str, int] | None = None   # (kind, PC) of the last debug stop
        self._last_hint: tuple[int, int] | None = None
        self._stuck_regs: tuple | None = None
        self._sites: dict[int, _CodeSite] = {}
        self._blocks: BlockStarts | None = None
        self._block_safe: dict[int, tuple] = {}       # address -> BlockStarts.classify()
        self._padding_before: dict[int, int] = {}     # padding address -> hooked address after it
        self._in_block = False                        # inside a block hook: its first insn is not counted yet
        self._entered_at: int | None = None           # handler address of the last _take_pending
        self._hook_ids: dict[int, int] = {}           # user hook handle -> site address
        self._next_hook_id = 1
        self._watchpoints: list[_Watchpoint] = []
        self._invalidate: list[tuple[int, int]] = []
        self._uart_ports: dict[str, Any] = {}
        self.resets = 0
        self.image: ElfImage | None = None
        self.symbols = SymbolTable([])
        self._pc_reg = RegBatch(self.core.uc, (A.UC_ARM_REG_PC,))
        self._ipsr_reg = RegBatch(self.core.uc, (A.UC_ARM_REG_IPSR,))   # ICSR reads (FreeRTOS asserts)
        self._report_regs = RegBatch(self.core.uc, [_REGISTER_IDS[n] for n in _REPORT_REGS])
        from . import peripherals  # noqa: F401  (importing the package registers every model)
        from .peripherals.base import MODEL_TYPES
        from .peripherals.clocks import FixedClocks
        self.peripherals: dict[str, Any] = {}
        self.clocks = FixedClocks(self.frequency)        # the RCC's live tree once it is built
        self.bus = Bus(self.spec, self)
        self.bus.build_peripherals(MODEL_TYPES)
        self.peripherals = self.bus.peripherals
        self.clocks = next((p for p in self.peripherals.values()
                            if getattr(p, "RENODE_TYPE", "") == "Miscellaneous.STM32F4_RCC"), self.clocks)
        self._install_cpu_hooks()

    @staticmethod
    def _frequency_from(spec) -> int:
        cpu = spec.one_of_type("CPU.CortexM")
        cpu_type = cpu.attributes.get("cpuType")
        if cpu_type not in ("cortex-m4", "cortex-m4f"):
            raise PlatformError(f"{cpu.location}: the built-in machine emulates a Cortex-M4 "
                                f"(cpuType \"cortex-m4\"), not {cpu_type!r}")
        mips = cpu.attributes.get("PerformanceInMips")
        if isinstance(mips, (int, float)) and mips > 0:
            return int(mips * 1_000_000)
        nvic = spec.one_of_type("IRQControllers.NVIC")
        freq = nvic.attributes.get("systickFrequency")
        if isinstance(freq, int) and freq > 0:
            return freq
        raise PlatformError(f"{cpu.location}: give the CPU clock as 'PerformanceInMips: 168' "
                            f"(one instruction per cycle)")

    # =====================================================================================
    # MachineServices (for peripheral models) and the SCS host interface
    # =====================================================================================
    def now(self) -> int:
        """Exact virtual time in cycles, also in the middle of a slice (inside an MMIO access)."""
        if self._in_slice:
            return self._slice_start + self._begun() - 1
        return self.clock.now

    def _begun(self) -> int:
        """Instructions begun in this slice, the current one included (a code or MMIO hook runs
        after the counter counted its instruction, a block hook before)."""
        return self.core.counter + self._in_block

    def _stop_after_current(self) -> None:
        """End the running slice cleanly after the current instruction (the count trick)."""
        count = self.core._count
        count.value = min(count.value, self._begun())

    def _stop_before_current(self) -> None:
        if self._in_block:
            count = self.core._count            # the count hook stops before the block's first insn
            count.value = min(count.value, self.core.counter)
        else:
            self.core.stop_now()

    @property
    def cycles(self) -> int:
        return self.now()

    @property
    def instructions_retired(self) -> int:
        """Instructions retired so far, exact also inside hooks and MMIO callbacks."""
        if self._in_slice:
            return self.instructions + self._begun() - 1
        return self.instructions

    def schedule(self, delay_cycles: int, callback: Callable[[], None]) -> Event:
        return self.schedule_at(self.now() + max(0, int(delay_cycles)), callback)

    def schedule_at(self, time: int, callback: Callable[[], None]) -> Event:
        event = self.clock.at(time, callback)
        if self._in_slice:
            # end the running slice at the event's time, so it fires exactly on time
            target = max(time - self._slice_start, self._begun())
            if target < self.core._count.value:
                self.core._count.value = target
        return event

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
        self._stop_requested = True
        if self._in_slice:
            self._stop_after_current()

    def random(self, label: str) -> SeededRandom:
        return self._random_root.child(label)

    def clocks_changed(self) -> None:
        """The RCC changed a rate: the models that derive timing from the clock tree follow."""
        for p in self.peripherals.values():
            follow = getattr(p, "clocks_changed", None)
            if follow is not None:
                follow()

    def read_ipsr(self) -> int:
        return self._ipsr_reg.read()[0]

    def request_system_reset(self) -> None:
        self._reset_requested = True
        if self._in_slice:
            self._slice_break = True
            self._stop_after_current()

    def exception_state_changed(self) -> None:
        if self._in_slice and self.scs.candidates() and self.exceptions.takeable() is not None:
            self._slice_break = True
            self._stop_after_current()

    def exception_entered(self, exc: int) -> None:
        self._stuck_regs = None

    def exception_returned(self, exc: int) -> None:
        ctx = self.exceptions.fault_context
        if ctx is not None and exc == ctx.exception:
            self.exceptions.fault_context = None

    def callback_failed(self, exc: BaseException) -> int:
        """An MMIO/hook callback raised: a bus fault becomes a CPU fault, anything else a Python
        error re-raised from run() once the CPU has stopped cleanly."""
        if isinstance(exc, BusFault):
            if self._cpu_fault is None:
                pc = self._pc()
                size = exc.size
                self._cpu_fault = ("data_bus", pc, exc.address, size, exc.write,
                                   f"{'write' if exc.write else 'read'} of {size} byte"
                                   f"{'s' if size != 1 else ''} at 0x{exc.address:08x}: "
                                   f"{self._describe_bus_fault(exc.address, exc.reason)}")
        elif self._callback_error is None:
            self._callback_error = exc
        self._stop_before_current()
        return 0

    # =====================================================================================
    # image and lifecycle
    # =====================================================================================
    def load_elf(self, path: str | Path) -> None:
        image = read_elf(path)
        self.bus.load_image(image)        # raises PlatformError naming segment and region
        self.image = image
        self.symbols = image.symbols
        for region in self.bus.memories:
            self.core.uc.ctl_remove_cache(region.base, region.end)
        self._blocks = BlockStarts(image, self.bus.read_ram)
        self._block_safe.clear()
        self._padding_before.clear()
        for site in self._sites.values():
            site.mask = False
            if site.guard_hook is not None:          # the padding before it may have moved
                self.core.unhook(site.guard_hook)
                site.guard_hook = None
        for address in mask_lowering_sites(image, self.bus.read_ram):
            self._site(address).mask = True
        for site in list(self._sites.values()):
            self._sync_site(site)
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
        self.exceptions.fault_context = None
        self._reset_requested = False
        self._sleeping = False
        self.resets += 1
        self._stuck_regs = None
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
        on request_stop, a breakpoint (or `until`, a symbol or address), a watchpoint or a fault."""
        if max_cycles is None and max_virtual is None:
            raise ValueError("run() needs a limit: max_cycles or max_virtual (seconds)")
        limit = max_cycles if max_cycles is not None else int(max_virtual * self.frequency)
        if max_virtual is not None and max_cycles is not None:
            limit = min(max_cycles, int(max_virtual * self.frequency))
        temp_bp = None
        if until is not None:
            temp_bp = self._resolve(until)
            if not self._sites.get(temp_bp, _CodeSite(0, None)).breakpoint:
                self.add_breakpoint(temp_bp)
            else:
                temp_bp = None
        try:
            return self._run(max(0, int(limit)))
        finally:
            if temp_bp is not None:
                self.remove_breakpoint(temp_bp)

    def _run(self, limit: int) -> RunResult:
        if self.image is None:
            raise BackendError("no firmware loaded: call load_elf(path) before run()")
        start = self.clock.now
        end = start + limit
        self._begin()
        while True:
            self.clock.fire_due()
            if self._reset_requested:
                self.reset()
            if self._stop_requested:
                return RunResult(StopReason.REQUESTED, self.clock.now - start)
            if self._sleeping and not self._sleep_until(end):
                if self.clock.now >= end:
                    return RunResult(StopReason.LIMIT, self.clock.now - start)
                continue
            handler = None                       # the PC an exception entry just set
            if self.scs.candidates():
                fault = self._take_pending()
                if fault is not None:
                    return RunResult(StopReason.FAULT, self.clock.now - start, fault=fault)
                handler = self._entered_at
            now = self.clock.now
            if now >= end:
                return RunResult(StopReason.LIMIT, now - start)
            nxt = self.clock.next_time()
            budget = (end if nxt is None else min(end, nxt)) - now
            if budget <= 0:
                continue
            in_fault_handler = bool(self.scs.active & FAULT_HANDLERS)
            budget = min(budget, self.options.probe_cycles if in_fault_handler else SLICE_CAP)
            wfi = self._slice(budget, handler)
            result = self._after_slice(start, wfi, in_fault_handler, end)
            if result is not None:
                return result

    def step(self, *, mask_interrupts: bool = False) -> RunResult:
        """Retire exactly one instruction, or take a pending exception and stop at the first
        instruction of its handler. With `mask_interrupts` (what a debugger sets through
        DHCSR.C_MASKINTS, as OpenOCD's `maskisr auto` does) PendSV, SysTick and IRQs stay pending
        during the step, so stepping through code never lands in an interrupt handler."""
        if self.image is None:
            raise BackendError("no firmware loaded: call load_elf(path) before step()")
        self.exceptions.mask_interrupts = mask_interrupts
        try:
            return self._step()
        finally:
            self.exceptions.mask_interrupts = False

    def _step(self) -> RunResult:
        start = self.clock.now
        self._begin(stepping=True)
        self._sleeping = False                   # a debug step wakes the core from WFI
        self.clock.fire_due()
        if self._reset_requested:
            self.reset()
            return RunResult(StopReason.STEP, 0)
        if self.scs.candidates():
            before = self._pc()
            fault = self._take_pending()
            if fault is not None:
                return RunResult(StopReason.FAULT, 0, fault=fault)
            if self._pc() != before:
                return RunResult(StopReason.STEP, 0)
        self._slice(1)
        result = self._after_slice(start, False, False, start + 1, stepping=True)
        return result if result is not None else RunResult(StopReason.STEP, self.clock.now - start)

    def _begin(self, stepping: bool = False) -> None:
        self._stop_requested = False
        pc = self._pc()
        kind, at = self._stopped_at or ("", None)
        # continuing from a breakpoint/watchpoint stop must not stop again at the same place;
        # a step always ignores a breakpoint where it starts (what GDB expects)
        self._skip_break = pc if stepping or (kind == "breakpoint" and at == pc) else None
        self._skip_watch = pc if kind == "watchpoint" and at == pc else None
        self._stopped_at = None

    def _slice(self, budget: int, pc: int | None = None) -> bool:
        """Run the CPU for at most `budget` instructions from `pc` (default: the PC register);
        True if it stopped in WFI."""
        if self._invalidate:
            for lo, hi in self._invalidate:
                if hi - lo >= 1 << 32:
                    self.core.uc.ctl_flush_tb()
                else:
                    self.core.uc.ctl_remove_cache(lo, hi)
            self._invalidate.clear()
        if pc is None:
            pc = self._pc()
        self._slice_start = self.clock.now
        self._slice_break = False
        self._break = None
        self._cpu_fault = None
        self._in_slice = True
        error = None
        try:
            self.core.start(pc, budget)
        except unicorn.UcError as exc:
            error = exc
        finally:
            self._in_slice = False
        counter = self.core.counter
        limit = self.core._count.value           # the budget, or less if the slice was shortened
        wfi = False
        # counter = instructions begun + 1 at a stop. unicorn defers a count stop that falls
        # inside an IT block to the block's end and does not count IT instructions whose
        # condition failed, so a slice can run a few instructions past its count
        if error is not None:
            executed = counter - 1
            if self._cpu_fault is None:
                self._cpu_fault = self._classify_uc_error(error)
        elif counter > limit:
            executed = counter - 1               # ran to the (possibly lowered) instruction count
        elif (self._slice_break or self._break or self._cpu_fault or self._fault
              or self._callback_error):
            executed = counter - 1               # emu_stop before the current instruction
        elif self._after_wfi(self._pc()):
            executed = counter                   # WFI ends the run early, having retired
            wfi = True
        else:
            raise CoreError(f"unicorn stopped after {counter} of {limit} instructions at "
                            f"pc=0x{self._pc():08x} for no reason the machine knows (not WFI); "
                            f"this unicorn build ({unicorn.__version__}) behaves unlike 2.1.4")
        executed = max(0, executed)
        self.clock.now += executed
        self.instructions += executed
        if executed:
            self._skip_break = self._skip_watch = None
        return wfi

    def _after_wfi(self, pc: int) -> bool:
        raw = self.bus.read_ram(pc - 4, 4)
        if raw is None:
            return False
        return (raw[2] | raw[3] << 8) == _WFI_16 or \
            ((raw[0] | raw[1] << 8) << 16 | raw[2] | raw[3] << 8) == _WFI_32

    def _after_slice(self, start: int, wfi: bool, in_fault_handler: bool, end: int,
                     stepping: bool = False) -> RunResult | None:
        elapsed = lambda: self.clock.now - start  # noqa: E731
        if self._callback_error is not None:
            err, self._callback_error = self._callback_error, None
            raise err
        if self._cpu_fault is not None:
            cpu_fault, self._cpu_fault = self._cpu_fault, None
            report = self._handle_cpu_fault(*cpu_fault)
            if report is not None:
                return RunResult(StopReason.FAULT, elapsed(), fault=report)
            return RunResult(StopReason.STEP, elapsed()) if stepping else None
        if self._fault is not None:
            report, self._fault = self._fault, None
            return RunResult(StopReason.FAULT, elapsed(), fault=report)
        if self._break is not None:
            kind, address, *rest = self._break
            self._break = None
            self._stopped_at = (kind, self._pc())
            if kind == "watchpoint":
                return RunResult(StopReason.WATCHPOINT, elapsed(), address=address, watch_kind=rest[0])
            return RunResult(StopReason.BREAKPOINT, elapsed(), address=address)
        if stepping:
            return None
        if wfi:
            report = self._idle(end, in_fault_handler)
            if report is not None:
                return RunResult(StopReason.FAULT, elapsed(), fault=report)
        else:
            report = self._check_stuck(in_fault_handler)
            if report is not None:
                return RunResult(StopReason.FAULT, elapsed(), fault=report)
        return None

    def _take_pending(self) -> FaultReport | None:
        """Enter the exception that is takeable now, if any (its handler's address, or None,
        is left in _entered_at)."""
        self._entered_at = None
        ctx = self.exceptions.ctx.read()
        nxt = self.exceptions.takeable(ctx)
        if nxt is None:
            return None
        try:
            self._entered_at = self.exceptions.enter(nxt, ctx=ctx)
        except ExceptionError as exc:
            return self._report(exc.kind, exc.pc, str(exc), exc.address)
        return None

    def _wakes_from_wfi(self) -> bool:
        """WFI ends when an exception could preempt if PRIMASK were clear (ARMv7-M B1.5.19)."""
        scs = self.scs
        return bool(scs.candidates()) and scs.best_pending(
            self.exceptions.execution_priority(ignore_primask=True)) is not None

    def _idle(self, end: int, in_fault_handler: bool) -> FaultReport | None:
        """The CPU executed WFI: it sleeps until it wakes (see _sleep_until)."""
        if self._wakes_from_wfi():
            return None
        if in_fault_handler:
            return self._stuck_report("waits in WFI inside its fault handler, where no interrupt can wake it")
        self._sleeping = True
        return None

    def _sleep_until(self, end: int) -> bool:
        """While asleep, skip virtual time event by event (events that pend nothing leave the
        core asleep). True once it is awake. The sleep survives the end of a run() call, so how a
        caller slices its runs never changes what the firmware executes."""
        if self._wakes_from_wfi():
            self._sleeping = False
            return True
        nxt = self.clock.next_time()
        target = end if nxt is None else min(nxt, end)
        if target > self.clock.now:
            self.idle_cycles += target - self.clock.now
            self.clock.now = target
        return False

    def _check_stuck(self, in_fault_handler: bool) -> FaultReport | None:
        """Code that can never continue ends the run with a report instead of waiting for the
        limit: a branch to itself in a handler, or in Thread mode with PRIMASK/FAULTMASK set
        (nothing can interrupt it); a fault handler whose registers stop changing."""
        pc = self._pc()
        code = self.bus.read_ram(pc, 4)
        if code is not None:
            hw = code[0] | code[1] << 8
            word = hw << 16 | code[2] | code[3] << 8
            if hw == 0xE7FE or word == 0xF7FFBFFE:
                if self.scs.active:
                    return self._stuck_report("branches to itself forever")
                primask, _, faultmask = self.exceptions.masks.read()
                if primask & 1 or faultmask & 1:
                    return self._stuck_report("branches to itself forever with "
                                              f"{'PRIMASK' if primask & 1 else 'FAULTMASK'} set, "
                                              "so no interrupt can ever take it out")
        if in_fault_handler:
            regs = tuple(self._report_regs.read())
            if regs == self._stuck_regs:
                return self._stuck_report(f"made no progress in {self.options.probe_cycles} cycles "
                                          f"(registers unchanged)")
            self._stuck_regs = regs
        return None

    def _stuck_report(self, how: str) -> FaultReport:
        regs = self._registers_for_report()
        ipsr = regs["xpsr"] & 0x1FF
        ctx = self.exceptions.fault_context
        text = format_registers(regs, self.symbols.symbolize)
        if ctx is not None:
            report = firmware_fault_report(ctx, regs["pc"], self.symbols.symbolize,
                                           self.clock.seconds(), text, exception_name(ctx.exception))
            report.message += f"\n(the handler {how})"
            return report
        where = self.symbols.symbolize(regs["pc"]) or f"0x{regs['pc']:08x}"
        frame = self._stacked_frame_text(regs) if ipsr else ""
        context = f"the {exception_name(ipsr)} handler" if ipsr else "Thread mode"
        message = (f"lockup: the firmware is stuck in {where} ({context}): it {how}\n"
                   f"  virtual time {self.clock.seconds():.6f} s, {self.instructions} instructions\n"
                   f"{frame}registers:\n{text}")
        return FaultReport("lockup", regs["pc"], message, symbol=where)

    def _stacked_frame_text(self, regs: dict[str, int]) -> str:
        lr = regs["lr"]
        if lr < 0xFFFF_FFE0:
            return ""
        sp = regs["psp"] if lr & 4 else regs["msp"]
        raw = self.bus.read_ram(sp, 32)
        if raw is None:
            return ""
        r0, r1, r2, r3, r12, slr, spc, sxpsr = struct.unpack("<8I", raw)
        sym = self.symbols.symbolize(spc) or "?"
        return (f"  interrupted code (stacked frame at 0x{sp:08x}): pc=0x{spc:08x} in {sym}, "
                f"lr=0x{slr:08x}, xpsr=0x{sxpsr:08x}\n")

    # =====================================================================================
    # CPU hooks: SVC / exception return / BKPT, hint instructions, bad accesses, code sites
    # =====================================================================================
    def _install_cpu_hooks(self) -> None:
        core = self.core
        core.hook_interrupt(self._on_interrupt)
        core.hook_invalid_instruction(self._on_invalid_instruction)
        core.hook_bad_access(self._on_bad_access)

    def _pc(self) -> int:
        return self._pc_reg.read()[0]

    def _on_interrupt(self, _uch, intno: int, _user) -> None:
        try:
            if intno == 8:                                        # branch to EXC_RETURN
                self.exceptions.exception_return()
                return
            if intno == 2:                                        # SVC: PC is past the svc
                self.exceptions.supervisor_call()
                return
            pc = self._pc()
            if intno == 3 and pc >= 0xFFFF_FF00:                  # the same, with stale hflags
                self.exceptions.exception_return(pc | 1)
            elif intno == 7:                                      # BKPT: a debug halt
                self._break = ("breakpoint", pc)
                self.core.stop_now()
            else:
                self._fault = self._report("cpu-exception", pc, f"unexpected CPU exception "
                                           f"(QEMU EXCP {intno}) at pc=0x{pc:08x}")
                self.core.stop_now()
        except ExceptionError as exc:
            self._fault = self._report(exc.kind, exc.pc, str(exc), exc.address)
            self.core.stop_now()
        except BaseException as exc:
            self.callback_failed(exc)

    def _on_invalid_instruction(self, _uch, _user) -> bool:
        try:
            pc = self._pc()
            before = self.bus.read_ram(pc - 4, 4) or b"\0\0\0\0"
            hw = before[2] | before[3] << 8
            word = (before[0] | before[1] << 8) << 16 | hw
            if (hw in _HINTS_16 or word in _HINTS_32) and self._last_hint != (pc, self.core.counter - 1):
                # WFE/SEV/YIELD: unicorn calls them invalid with PC already past them: a NOP here
                self._last_hint = (pc, self.core.counter)
                return True
            self._cpu_fault = ("undefined", pc, None, None, False,
                               f"undefined instruction {self._code_at(pc)}")
        except BaseException as exc:
            self.callback_failed(exc)
        return False

    def _code_at(self, pc: int) -> str:
        raw = self.bus.read_ram(pc, 4)
        if raw is None:
            return "(not readable)"
        hw = raw[0] | raw[1] << 8
        if hw >> 11 in (0b11101, 0b11110, 0b11111):
            return f"0x{hw:04x} 0x{raw[2] | raw[3] << 8:04x}"
        return f"0x{hw:04x}"

    def _on_bad_access(self, _uch, access: int, address: int, size: int, value: int, _user) -> bool:
        try:
            pc = self._pc()
            if access in (U.UC_MEM_FETCH_UNMAPPED, U.UC_MEM_FETCH_PROT):
                self._cpu_fault = ("fetch_bus", pc, address, size, False,
                                   f"instruction fetch from 0x{address:08x}: "
                                   f"{self._describe_address(address)}")
            else:
                write = access in (U.UC_MEM_WRITE_UNMAPPED, U.UC_MEM_WRITE_PROT)
                if access == U.UC_MEM_WRITE_PROT:
                    why = ("flash is read-only (programming it through FLASH_CR is not emulated)"
                           if self.bus.memory_at(address) is not None else "write-protected")
                else:
                    why = self._describe_address(address)
                self._cpu_fault = ("data_bus", pc, address, size, write,
                                   f"{'write' if write else 'read'} of {size} byte{'s' if size != 1 else ''} "
                                   f"at 0x{address:08x}: {why}")
        except BaseException as exc:
            self.callback_failed(exc)
        return False

    def _describe_address(self, address: int) -> str:
        best = None
        for w in self.bus.windows:
            gap = min(abs(address - w.start), abs(address - (w.end - 1)))
            if best is None or gap < best[0]:
                best = (gap, w)
        near = ""
        if best is not None and best[0] < 0x10000:
            w = best[1]
            near = f"; nearest block: {w.name} at 0x{w.start:08x}-0x{w.end - 1:08x}"
        return f"nothing is mapped there{near} (memories: {self.bus.describe_map()})"

    def _describe_bus_fault(self, address: int, reason: str) -> str:
        w = self.bus.window_at(address)
        if w is not None:
            return f"{reason} in {w.name} (0x{w.start:08x}-0x{w.end - 1:08x})"
        page = address & ~0x3FF
        for w in self.bus.windows:
            if w.start <= page + 0x3FF and w.end > page and address >= w.end:
                return (f"no register there: past the end of {w.name} "
                        f"(0x{w.start:08x}-0x{w.end - 1:08x})")
        return self._describe_address(address)

    def _classify_uc_error(self, error: unicorn.UcError) -> tuple:
        pc = self._pc()
        if error.errno in (U.UC_ERR_READ_UNALIGNED, U.UC_ERR_WRITE_UNALIGNED, U.UC_ERR_FETCH_UNALIGNED):
            return ("unaligned", pc, None, None, False, f"unaligned access ({error})")
        if error.errno == U.UC_ERR_INSN_INVALID:
            return ("undefined", pc, None, None, False, f"undefined instruction {self._code_at(pc)}")
        return ("cpu-error", pc, None, None, False, f"the CPU stopped: {error}")

    def _handle_cpu_fault(self, kind: str, pc: int, address: int | None, size: int | None,
                          write: bool, reason: str) -> FaultReport | None:
        if self.options.fault_mode == "firmware" and kind != "cpu-error":
            target, bits, bfar = {
                "data_bus": (BUSFAULT, CFSR["PRECISERR"], address),
                "fetch_bus": (BUSFAULT, CFSR["IBUSERR"], None),
                "undefined": (USAGEFAULT, CFSR["UNDEFINSTR"], None),
                "unaligned": (USAGEFAULT, CFSR["UNALIGNED"], None),
            }[kind]
            try:
                self.exceptions.raise_fault(target, bits, pc, reason, bfar=bfar)
                return None
            except ExceptionError as exc:
                return self._report(exc.kind, exc.pc, str(exc), exc.address)
        names = {"data_bus": "unmapped-access", "fetch_bus": "unmapped-fetch",
                 "undefined": "invalid-instruction", "unaligned": "unaligned-access"}
        return self._report(names.get(kind, kind), pc, reason, address)

    def _registers_for_report(self) -> dict[str, int]:
        regs = dict(zip(_REPORT_REGS, self._report_regs.read()))
        regs["msp"], regs["psp"] = self.exceptions.banked_stack_pointers()
        return regs

    def _report(self, kind: str, pc: int, headline: str, address: int | None = None) -> FaultReport:
        regs = self._registers_for_report()
        sym = self.symbols.symbolize(pc)
        where = f"pc=0x{pc:08x}" + (f" ({sym})" if sym else "")
        ipsr = regs["xpsr"] & 0x1FF
        mode = "thread mode" if ipsr == 0 else f"the {exception_name(ipsr)} handler"
        message = (f"{kind}: {headline}\n"
                   f"  at {where} in {mode}, virtual time {self.clock.seconds():.6f} s "
                   f"({self.clock.now} cycles, {self.instructions} instructions)\n"
                   f"{self._stacked_frame_text(regs) if ipsr else ''}"
                   f"registers:\n{format_registers(regs, self.symbols.symbolize)}")
        return FaultReport(kind, pc, message, address=address, symbol=sym)

    # --- code sites: breakpoints, user hooks, mask-lowering checks ---------------------------------------------
    def _site(self, address: int) -> _CodeSite:
        """The site at `address` (created empty; call _sync_site after changing it)."""
        site = self._sites.get(address)
        if site is None:
            site = self._sites[address] = _CodeSite(address, self.symbols.symbolize(address))
        return site

    def _block_class(self, address: int) -> tuple[bool, tuple[int, int] | None]:
        found = self._block_safe.get(address)
        if found is None:
            found = self._blocks.classify(address) if self._blocks is not None else (False, None)
            self._block_safe[address] = found
        return found

    def _sync_site(self, site: _CodeSite) -> None:
        """Give the site the unicorn hook its uses need (none, block or code) and drop it when
        unused. Breakpoints stay exact at any address; mask sites follow an MSR/CPS, which
        always ends a block."""
        if not self.options.block_hooks:
            safe, padding = False, None
        elif site.mask:
            safe, padding = True, None
        else:
            safe, padding = self._block_class(site.address)
        want_code = site.breakpoint or (bool(site.hooks) or site.mask) and not safe
        want_block = not want_code and (site.mask or bool(site.hooks))
        want_guard = want_block and padding is not None
        changed = False
        if want_guard != (site.guard_hook is not None):
            if want_guard:
                site.guard_hook = self.core.hook_block(self._on_padding, padding[0], padding[1] - 1)
                self._padding_before.update((a, site.address) for a in range(*padding, 2))
                self._invalidate_code(padding[0], padding[1])
            else:
                self.core.unhook(site.guard_hook)
                site.guard_hook = None
                for a in [a for a, x in self._padding_before.items() if x == site.address]:
                    del self._padding_before[a]
        if want_code != (site.uc_hook is not None):
            if want_code:
                site.uc_hook = self.core.hook_code(self._on_code, site.address, site.address)
            else:
                self.core.unhook(site.uc_hook)
                site.uc_hook = None
            changed = True
        handler = self._on_block if site.hooks else self._on_mask_block
        if site.block_hook is not None and (not want_block or site.block_handler != handler):
            self.core.unhook(site.block_hook)
            site.block_hook = None
            changed = True
        if want_block and site.block_hook is None:
            site.block_hook = self.core.hook_block(handler, site.address, site.address)
            site.block_handler = handler
            changed = True
        if not (want_code or want_block):
            self._sites.pop(site.address, None)
        if changed:
            self._invalidate_code(site.address)

    def hook_kind(self, address: int) -> str | None:
        """How the site at `address` is hooked: "block", "code" or None (for tests and bench)."""
        site = self._sites.get(address & ~1)
        if site is None:
            return None
        return "code" if site.uc_hook is not None else "block" if site.block_hook is not None else None

    def _invalidate_code(self, address: int, end: int | None = None) -> None:
        """Retranslate the code at `address`: unicorn checks hooks only when it translates."""
        end = address + 4 if end is None else end
        if self._in_slice:
            # not from inside a callback: at the slice boundary, which we make the next instruction
            self._invalidate.append((address, end))
            self._stop_after_current()
        else:
            self.core.uc.ctl_remove_cache(address, end)


    def _on_mask_block(self, _uch, address: int, _size: int, _user) -> None:
        """Block hook of a site that is only a mask site (most of them): nothing to do unless
        an exception is pending."""
        if self.scs.pending:
            self._on_block(_uch, address, _size, _user)

    def _on_block(self, _uch, address: int, _size: int, _user) -> None:
        core = self.core
        if core.counter >= core._count.value:
            return       # the slice ends before this block's first instruction; the next begins here
        self._in_block = True
        try:
            site = self._sites.get(address)
            if site is None or site.block_hook is None:
                return
            self._visit_site(site, address, self._stop_before_current)
        except BaseException as exc:
            self.callback_failed(exc)
        finally:
            self._in_block = False

    def _on_padding(self, _uch, address: int, _size: int, _user) -> None:
        """A jump into the alignment padding before a hooked address: end the slice right after
        the padding (16-bit instructions), so the hooked address begins the next block."""
        hooked = self._padding_before.get(address)
        if hooked is not None:
            count = self.core._count
            count.value = min(count.value, self.core.counter + (hooked - address) // 2)

    def _on_code(self, _uch, address: int, _size: int, _user) -> None:
        try:
            site = self._sites.get(address)
            if site is None:
                return
            if site.breakpoint and not (self._skip_break == address and self.core.counter == 1):
                self._break = ("breakpoint", address)
                self.core.stop_now()
                return
            self._visit_site(site, address, self.core.stop_now)
        except BaseException as exc:
            self.callback_failed(exc)

    def _visit_site(self, site: _CodeSite, address: int, stop_before: Callable[[], None]) -> None:
        """What a hooked address does before its instruction runs, whichever hook kind got there:
        at a mask site with an exception now takeable, end the slice so it is taken first;
        otherwise run the user hooks."""
        if site.mask and self.scs.candidates() and self.exceptions.takeable() is not None:
            self._slice_break = True                     # taken before this instruction runs
            stop_before()
            return
        if site.hooks:
            ctx = HookContext(self, address, site.symbol)
            for callback in list(site.hooks.values()):
                callback(ctx)

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
        address = self._resolve(target)
        handle = self._next_hook_id
        self._next_hook_id += 1
        site = self._site(address)
        site.hooks[handle] = callback
        self._hook_ids[handle] = address
        self._sync_site(site)
        return handle

    def unhook(self, handle: int) -> None:
        address = self._hook_ids.pop(handle, None)
        if address is None:
            raise BackendError(f"no hook with handle {handle}")
        site = self._sites[address]
        del site.hooks[handle]
        self._sync_site(site)

    def add_breakpoint(self, address: int) -> None:
        site = self._site(address & ~1)
        site.breakpoint = True
        self._sync_site(site)

    def remove_breakpoint(self, address: int) -> None:
        site = self._sites.get(address & ~1)
        if site is not None and site.breakpoint:
            site.breakpoint = False
            self._sync_site(site)

    def add_watchpoint(self, address: int, length: int, kind: str) -> None:
        types = {"write": U.UC_HOOK_MEM_WRITE, "read": U.UC_HOOK_MEM_READ,
                 "access": U.UC_HOOK_MEM_READ | U.UC_HOOK_MEM_WRITE}
        if kind not in types:
            raise BackendError(f"watchpoint kind must be write, read or access, not {kind!r}")
        if length <= 0:
            raise BackendError("watchpoint length must be positive")

        def hit(_uch, access: int, addr: int, size: int, value: int, _user) -> None:
            try:
                if self._skip_watch is not None and self.core.counter == 1 and self._skip_watch == self._pc():
                    return                 # re-executing the access we stopped at
                if self._break is None:
                    self._break = ("watchpoint", address, kind)
                    self.core.stop_now()
            except BaseException as exc:
                self.callback_failed(exc)

        handle = self.core.hook_memory(types[kind], hit, address, address + length - 1)
        self._watchpoints.append(_Watchpoint(address, length, kind, handle))
        self._retranslate_all()

    def remove_watchpoint(self, address: int, length: int, kind: str) -> None:
        for wp in self._watchpoints:
            if (wp.address, wp.length, wp.kind) == (address, length, kind):
                self.core.unhook(wp.uc_hook)
                self._watchpoints.remove(wp)
                self._retranslate_all()          # back to the fast memory path
                return

    def _retranslate_all(self) -> None:
        """unicorn decides per block, when it translates it, whether loads and stores call the
        memory hooks (tcg_uc_has_hookmem): code translated before a watchpoint existed would
        never see it."""
        if self._in_slice:
            self._invalidate.append((0, 1 << 32))        # at the slice boundary, made the next insn
            self._stop_after_current()
        else:
            self.core.uc.ctl_flush_tb()

    def read_memory(self, address: int, size: int) -> bytes:
        raw = self.bus.read_ram(address, size)
        if raw is not None:
            return raw
        try:
            return bytes(self.core.uc.mem_read(address, size))
        except unicorn.UcError:
            raise BackendError(f"cannot read {size} bytes at 0x{address:08x}: "
                               f"{self._describe_address(address)}") from None

    def write_memory(self, address: int, data: bytes) -> None:
        r = self.bus.memory_at(address, len(data))
        if r is not None:
            off = address - r.base
            r.view[off:off + len(data)] = data
            self.core.uc.ctl_remove_cache(address, address + len(data))   # code may have changed
            return
        try:
            self.core.uc.mem_write(address, bytes(data))
        except unicorn.UcError:
            raise BackendError(f"cannot write {len(data)} bytes at 0x{address:08x}: "
                               f"{self._describe_address(address)}") from None

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

    @property
    def stats(self) -> dict[str, int]:
        out = {
            "instructions": self.instructions,
            "cycles": self.clock.now,
            "idle_cycles": self.idle_cycles,
            "exceptions": self.exceptions.entries,
            "exception_returns": self.exceptions.returns,
            "tail_chains": self.exceptions.tail_chains,
            "mmio_accesses": self.mmio_accesses,
            "systick_wraps": self.scs.systick_wraps,
            "resets": self.resets,
        }
        for p in self.peripherals.values():
            pstats = getattr(p, "stats", None)
            if isinstance(pstats, dict):
                for k, v in pstats.items():
                    if isinstance(v, int):
                        out[k] = out.get(k, 0) + v
        return out
