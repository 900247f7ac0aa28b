"""The run loop: virtual time advanced in CPU slices that end exactly at the next scheduled event.

Time is reference cycles at the platform frequency; the core executes one instruction per core
cycle at the live HCLK, which clock.py maps to time exactly. `run()` executes the CPU in slices
of at most `SLICE_CAP` instructions that end at the first core edge at or after the next event,
so SysTick and peripheral timers fire on time; WFI skips to the next event. When the RCC changes
HCLK (CFGR.SWS or HPRE), the instruction that did it completes at the old rate and the slice ends
there: the new rate applies from that boundary, for the core and for SysTick. Exceptions are taken
at instruction boundaries: at slice boundaries, inside the SVC/exception-return hooks
(tail-chaining), and right after the firmware lowers an interrupt mask (masks.py). No wall
clock is read anywhere.

Inside a slice the budget is unicorn's instruction count (cpu.py); a callback ends the slice
early by lowering it (`stop_after_current`: the current instruction completes) or by stopping
before the current instruction (`stop_before_current`). An exception raised by a callback -
Ctrl-C included - stops the slice at once and is re-raised from run()/step() once the cycles of
the slice are accounted for. While run() holds the main thread, Ctrl-C (SIGINT) does not raise
inside a callback at all: it ends the slice after the current instruction and run() raises
KeyboardInterrupt at that boundary (a second Ctrl-C raises at once; see _defer_sigint).
"""

from __future__ import annotations

import _signal                   # the C functions behind `signal` (its getsignal costs ~2.5 us)
import signal
import threading
from typing import TYPE_CHECKING, Callable

import unicorn

from sim.backend import FaultReport, RunResult, StopReason
from sim.event_queue import Event

from .bus import BusFault
from .cpu import CoreError
from .exceptions import ExceptionError
from .scs import BUSFAULT, HARDFAULT, MEMMANAGE, NMI, USAGEFAULT

if TYPE_CHECKING:  # pragma: no cover
    from .machine import Machine

FAULT_HANDLERS = (1 << NMI) | (1 << HARDFAULT) | (1 << MEMMANAGE) | (1 << BUSFAULT) | (1 << USAGEFAULT)
_WFI_16, _WFI_32 = 0xBF30, 0xF3AF8003
# longest slice: bounds how late a stuck CPU is noticed (6 ms of virtual time) at ~1% of speed
SLICE_CAP = 1_000_000


class RunLoop:
    """Slices, scheduling and the CPU's exception traps (`machine.loop`)."""

    def __init__(self, machine: "Machine") -> None:
        self.m = machine
        self.core = machine.core
        self.clock = machine.clock
        self.scs = machine.scs
        self.exceptions = machine.exceptions
        self.state = machine.run_state
        self.probe_cycles = machine.options.probe_cycles

    # =====================================================================================
    # time and the running slice (what callbacks and models see)
    # =====================================================================================
    def now(self) -> int:
        """Exact virtual time (reference cycles), also in the middle of a slice (inside an MMIO
        access): the time the current instruction began."""
        state = self.state
        if state.in_slice:
            clock = self.clock
            if clock.unit:
                return state.slice_start + self.core.counter + state.in_block - 1
            return clock.time_at(state.slice_cycles + self.core.counter + state.in_block - 1)
        return self.clock.now

    def core_cycles(self) -> int:
        """The core's cycle count now (what SysTick counts), exact also inside a slice."""
        state = self.state
        if state.in_slice:
            return state.slice_cycles + self.core.counter + state.in_block - 1
        return self.clock.cycles

    def time_at_cycle(self, cycles: int) -> int:
        return self.clock.time_at(cycles)

    def core_clock_changed(self) -> None:
        """HCLK may have changed (the RCC said so). Inside a slice the current instruction ends
        at the old rate and the slice ends after it; the new rate applies from that boundary."""
        rate = self.m.clocks.rate("HCLK")
        if rate == self.clock.core_rate and self.state.pending_core_rate is None:
            return
        if self.state.in_slice:
            self.state.pending_core_rate = rate
            self.stop_after_current()
        else:
            self._apply_core_rate(rate)

    def _apply_core_rate(self, rate) -> None:
        self.state.pending_core_rate = None
        if rate != self.clock.core_rate:
            self.clock.set_core_rate(rate)
            self.scs.core_clock_changed()

    def begun(self) -> int:
        """Instructions begun in this slice, the current one included (a code or MMIO hook runs
        after the counter counted its instruction, a block hook before)."""
        return self.core.counter + self.state.in_block

    def instructions_retired(self) -> int:
        state = self.state
        if state.in_slice:
            return state.instructions + self.begun() - 1
        return state.instructions

    def stop_after_current(self) -> None:
        """End the running slice cleanly after the current instruction."""
        self.core.end_slice_at(self.begun())

    def stop_before_current(self) -> None:
        if self.state.in_block:
            self.core.end_slice_at(self.core.counter)   # before the block's first instruction
        else:
            self.core.stop_now()

    def schedule_at(self, time: int, callback: Callable[[], None]) -> Event:
        event = self.clock.at(time, callback)
        state = self.state
        if state.in_slice:
            # end the running slice at the event's time, so it fires exactly on time
            clock = self.clock
            count = time - state.slice_start if clock.unit else clock.cycles_at(time) - state.slice_cycles
            self.core.end_slice_at(max(count, self.begun()))
        return event

    def request_stop(self) -> None:
        self.state.stop_requested = True
        if self.state.in_slice:
            self.stop_after_current()

    def request_system_reset(self) -> None:
        self.state.reset_requested = True
        if self.state.in_slice:
            self.state.slice_break = True
            self.stop_after_current()

    def exception_state_changed(self) -> None:
        if self.state.in_slice and self.scs.candidates() and self.exceptions.takeable() is not None:
            self.state.slice_break = True
            self.stop_after_current()

    def callback_failed(self, exc: BaseException) -> int:
        """A callback raised: a bus fault becomes a CPU fault, anything else (Ctrl-C included)
        is re-raised from run() once the CPU has stopped cleanly. Stops before the current
        instruction. Returns 0 (what a failed MMIO read yields)."""
        state = self.state
        if isinstance(exc, BusFault):
            if state.cpu_fault is None:
                state.cpu_fault = self.m.faults.bus_fault(exc)
        elif state.callback_error is None:
            state.callback_error = exc
        self.stop_before_current()
        return 0

    def write_failed(self, exc: BaseException) -> None:
        """An MMIO write callback raised. A bus fault stops before the store (it did not
        happen); anything else after it, since the model (or a listener it called, such as a
        UART output callback) may already have acted on it and running the store again would
        repeat that."""
        if isinstance(exc, BusFault):
            self.callback_failed(exc)
            return
        state = self.state
        if state.callback_error is None:
            state.callback_error = exc
        self.stop_after_current()

    # =====================================================================================
    # run() and step()
    # =====================================================================================
    def run(self, limit: int) -> RunResult:
        if not _defer_sigint():
            return self._run(limit)
        _running.append(self)
        try:
            result = self._run(limit)
        finally:
            _running.pop()
        if self.state.interrupt_pending:         # Ctrl-C after the last slice boundary
            self._raise_interrupt()
        return result

    def step(self) -> RunResult:
        if not _defer_sigint():
            return self._step()
        _running.append(self)
        try:
            result = self._step()
        finally:
            _running.pop()
        if self.state.interrupt_pending:
            self._raise_interrupt()
        return result

    def _run(self, limit: int) -> RunResult:
        state, clock, scs = self.state, self.clock, self.scs
        start = clock.now
        end = start + limit
        self._begin()
        while True:
            clock.fire_due()
            if state.interrupt_pending:
                self._raise_interrupt()
            if state.reset_requested:
                self.m.reset()
            if state.stop_requested:
                return RunResult(StopReason.REQUESTED, clock.now - start)
            if state.sleeping and not self._sleep_until(end):
                if clock.now >= end:
                    return RunResult(StopReason.LIMIT, clock.now - start)
                continue
            handler = None                       # the PC an exception entry just set
            if scs.candidates():
                fault = self._take_pending()
                if fault is not None:
                    return RunResult(StopReason.FAULT, clock.now - start, fault=fault)
                handler = state.entered_at
            now = clock.now
            if now >= end:
                return RunResult(StopReason.LIMIT, now - start)
            nxt = clock.next_time()
            target = end if nxt is None else min(end, nxt)
            budget = target - now if clock.unit else clock.cycles_at(target) - clock.cycles
            if budget <= 0:
                continue
            in_fault_handler = bool(scs.active & FAULT_HANDLERS)
            budget = min(budget, self.probe_cycles if in_fault_handler else SLICE_CAP)
            wfi = self._slice(budget, handler)
            result = self._after_slice(start, wfi, in_fault_handler, end)
            if result is not None:
                return result

    def _step(self) -> RunResult:
        state, clock = self.state, self.clock
        start = clock.now
        self._begin(stepping=True)
        state.sleeping = False                   # a debug step wakes the core from WFI
        clock.fire_due()
        if state.interrupt_pending:
            self._raise_interrupt()
        if state.reset_requested:
            self.m.reset()
            return RunResult(StopReason.STEP, 0)
        if self.scs.candidates():
            before = self.m.pc()
            fault = self._take_pending()
            if fault is not None:
                return RunResult(StopReason.FAULT, 0, fault=fault)
            if self.m.pc() != before:
                return RunResult(StopReason.STEP, 0)
        self._slice(1)
        result = self._after_slice(start, False, False, start + 1, stepping=True)
        return result if result is not None else RunResult(StopReason.STEP, clock.now - start)

    def _begin(self, stepping: bool = False) -> None:
        state = self.state
        state.stop_requested = False
        pc = self.m.pc()
        kind, at = state.stopped_at or ("", None)
        # continuing from a breakpoint/watchpoint stop must not stop again at the same place;
        # a step always ignores a breakpoint where it starts (what GDB expects)
        state.skip_break = pc if stepping or (kind == "breakpoint" and at == pc) else None
        state.skip_watch = pc if kind == "watchpoint" and at == pc else None
        state.stopped_at = None

    def _raise_interrupt(self) -> None:
        """Deliver the deferred Ctrl-C now, at a slice boundary, to the handler the program had
        (Python's default raises KeyboardInterrupt; Robot Framework's raises its own error)."""
        self.state.interrupt_pending = False
        _program_handler(signal.SIGINT, None)

    # =====================================================================================
    # one slice
    # =====================================================================================
    def _slice(self, budget: int, pc: int | None = None) -> bool:
        """Run the CPU for at most `budget` instructions from `pc` (default: the PC register);
        True if it stopped in WFI."""
        state, core = self.state, self.core
        sites = self.m.sites
        if sites.invalidations_pending:
            sites.flush_invalidations()
        if pc is None:
            pc = self.m.pc()
        state.slice_start = self.clock.now
        state.slice_cycles = self.clock.cycles
        state.slice_break = False
        state.debug_stop = None
        state.cpu_fault = None
        state.last_hint = None
        state.in_slice = True
        error = None
        try:
            core.start(pc, budget)
        except unicorn.UcError as exc:
            error = exc
        finally:
            state.in_slice = False
        counter = core.counter
        limit = core.budget                      # the budget, or less if the slice was shortened
        if core.callback_error is not None:      # raised inside the TLB fill
            if state.callback_error is None:
                state.callback_error = core.callback_error
            core.callback_error = None
        wfi = False
        flash_store = error is not None and self.m.bus.flash_stores.trapped is not None
        if flash_store:
            error = None                         # not a fault: the instruction is replayed below
            state.slice_break = True
        # counter = instructions begun + 1 at a stop. unicorn defers a count stop that falls
        # inside an IT block to the block's end and does not count IT instructions whose
        # condition failed, so a slice can run a few instructions past its count
        if error is not None:
            executed = counter - 1
            if state.cpu_fault is None:
                state.cpu_fault = self.m.faults.from_uc_error(error)
        elif counter > limit:
            executed = counter - 1               # ran to the (possibly lowered) instruction count
        elif (state.slice_break or state.debug_stop or state.cpu_fault or state.fault
              or state.callback_error):
            executed = counter - 1               # emu_stop before the current instruction
        elif self._after_wfi(self.m.pc()):
            executed = counter                   # WFI ends the run early, having retired
            wfi = True
        else:
            raise CoreError(f"unicorn stopped after {counter} of {limit} instructions at "
                            f"pc=0x{self.m.pc():08x} for no reason the machine knows (not WFI); "
                            f"this unicorn build ({unicorn.__version__}) behaves unlike 2.1.4")
        executed = max(0, executed)
        self.clock.advance(executed)
        state.instructions += executed
        if executed:
            state.skip_break = state.skip_watch = None
        if state.pending_core_rate is not None:   # HCLK changed during the last instruction
            self._apply_core_rate(state.pending_core_rate)
        if flash_store:                          # a store into flash stopped the CPU before it
            return self.m.bus.flash_stores.replay(lambda: self._slice(1))
        return wfi

    def _after_wfi(self, pc: int) -> bool:
        raw = self.m.bus.read_ram(pc - 4, 4)
        if raw is None:
            return False
        return (raw[2] | raw[3] << 8) == _WFI_16 or \
            ((raw[0] | raw[1] << 8) << 16 | raw[2] | raw[3] << 8) == _WFI_32

    def _after_slice(self, start: int, wfi: bool, in_fault_handler: bool, end: int,
                     stepping: bool = False) -> RunResult | None:
        state = self.state
        elapsed = lambda: self.clock.now - start  # noqa: E731
        if state.callback_error is not None:
            err = state.callback_error
            state.clear_slice_outcome()
            raise err
        if state.interrupt_pending:
            state.clear_slice_outcome()
            self._raise_interrupt()
        if state.cpu_fault is not None:
            cpu_fault, state.cpu_fault = state.cpu_fault, None
            report = self.m.faults.handle(cpu_fault)
            if report is not None:
                return RunResult(StopReason.FAULT, elapsed(), fault=report)
            return RunResult(StopReason.STEP, elapsed()) if stepping else None
        if state.fault is not None:
            report, state.fault = state.fault, None
            return RunResult(StopReason.FAULT, elapsed(), fault=report)
        if state.debug_stop is not None:
            kind, address, *rest = state.debug_stop
            state.debug_stop = None
            state.stopped_at = (kind, self.m.pc())
            if kind == "watchpoint":
                return RunResult(StopReason.WATCHPOINT, elapsed(), address=address, watch_kind=rest[0])
            return RunResult(StopReason.BREAKPOINT, elapsed(), address=address)
        if stepping:
            return None
        if wfi:
            report = self._idle(in_fault_handler)
            if report is not None:
                return RunResult(StopReason.FAULT, elapsed(), fault=report)
        else:
            report = self._check_stuck(in_fault_handler)
            if report is not None:
                return RunResult(StopReason.FAULT, elapsed(), fault=report)
        return None

    # =====================================================================================
    # exceptions, sleep and stuck code
    # =====================================================================================
    def _take_pending(self) -> FaultReport | None:
        """Enter the exception that is takeable now, if any (its handler's address, or None,
        is left in state.entered_at)."""
        state, exceptions = self.state, self.exceptions
        state.entered_at = None
        ctx = exceptions.ctx.read()
        nxt = exceptions.takeable(ctx)
        if nxt is None:
            return None
        try:
            state.entered_at = exceptions.enter(nxt, ctx=ctx)
        except ExceptionError as exc:
            return self.m.faults.exception_failed(exc)
        return None

    def _wakes_from_wfi(self) -> bool:
        """WFI ends when an exception could preempt if PRIMASK were clear (ARMv7-M ARM B1.5.19)."""
        scs = self.scs
        return bool(scs.candidates()) and scs.best_pending(
            self.exceptions.execution_priority(ignore_primask=True)) is not None

    def _idle(self, in_fault_handler: bool) -> FaultReport | None:
        """The CPU executed WFI: it sleeps until it wakes (see _sleep_until)."""
        if self._wakes_from_wfi():
            return None
        if in_fault_handler:
            return self.m.faults.stuck_report("waits in WFI inside its fault handler, where no "
                                              "interrupt can wake it")
        self.state.sleeping = True
        return None

    def _sleep_until(self, end: int) -> bool:
        """While asleep, skip virtual time event by event (events that pend nothing leave the
        core asleep). True once it is awake. The sleep survives the end of a run() call, so how a
        caller slices its runs never changes what the firmware executes."""
        if self._wakes_from_wfi():
            self.state.sleeping = False
            return True
        clock = self.clock
        nxt = clock.next_time()
        target = end if nxt is None else min(nxt, end)
        before = clock.cycles
        self.state.idle_cycles += clock.skip_to(target)
        self.state.idle_core_cycles += clock.cycles - before
        return False

    def _check_stuck(self, in_fault_handler: bool) -> FaultReport | None:
        """Code that can never continue ends the run with a report instead of waiting for the
        limit: a branch to itself in a handler, or in Thread mode with PRIMASK/FAULTMASK set
        (nothing can interrupt it); a fault handler whose registers stop changing."""
        m = self.m
        code = m.bus.read_ram(m.pc(), 4)
        if code is not None:
            hw = code[0] | code[1] << 8
            word = hw << 16 | code[2] | code[3] << 8
            if hw == 0xE7FE or word == 0xF7FFBFFE:
                if self.scs.active:
                    return m.faults.stuck_report("branches to itself forever")
                primask, _, faultmask = self.exceptions.masks.read()
                if primask & 1 or faultmask & 1:
                    return m.faults.stuck_report("branches to itself forever with "
                                                 f"{'PRIMASK' if primask & 1 else 'FAULTMASK'} set, "
                                                 "so no interrupt can ever take it out")
        if in_fault_handler:
            regs = tuple(m.faults.regs.read())
            if regs == self.state.stuck_regs:
                return m.faults.stuck_report(f"made no progress in {self.probe_cycles} cycles "
                                             f"(registers unchanged)")
            self.state.stuck_regs = regs
        return None

    # =====================================================================================
    # the CPU's exception traps: SVC, exception return, BKPT
    # =====================================================================================
    def on_interrupt(self, _uch, intno: int, _user) -> None:
        """unicorn's UC_HOOK_INTR: QEMU exception numbers (qemu/target/arm/cpu.h, EXCP_*)."""
        try:
            if intno == 8:                                        # EXCP_EXCEPTION_EXIT
                self.exceptions.exception_return()
                return
            if intno == 2:                                        # EXCP_SWI: PC is past the svc
                self.exceptions.supervisor_call()
                return
            pc = self.m.pc()
            if intno == 3 and pc >= 0xFFFF_FF00:                  # the same, with stale hflags
                self.exceptions.exception_return(pc | 1)
            elif intno == 7:                                      # EXCP_BKPT: a debug halt
                self.state.debug_stop = ("breakpoint", pc)
                self.core.stop_now()
            else:
                self.state.fault = self.m.faults.report("cpu-exception", pc, f"unexpected CPU exception "
                                                        f"(QEMU EXCP {intno}) at pc=0x{pc:08x}")
                self.core.stop_now()
        except ExceptionError as exc:
            self.state.fault = self.m.faults.exception_failed(exc)
            self.core.stop_now()
        except BaseException as exc:
            self.callback_failed(exc)


# --- Ctrl-C at instruction boundaries ---------------------------------------------------------------
# The run loops running on the main thread, innermost last: SIGINT goes to the last one.
_running: list[RunLoop] = []
_MAIN_THREAD = threading.main_thread().ident


# What SIGINT does outside run(): the handler the program had installed before ours (Python's
# default, or e.g. Robot Framework's, which stops a test run gracefully).
_program_handler: Callable = signal.default_int_handler


def _on_sigint(signum, frame) -> None:
    """SIGINT while a run loop runs: end its slice after the current instruction; run() hands the
    signal to the program's handler at that boundary (a second Ctrl-C before it does so at once).
    Outside run() this is the program's handler."""
    if not _running:
        _program_handler(signum, frame)
        return
    loop = _running[-1]
    state = loop.state
    if state.interrupt_pending:
        state.interrupt_pending = False
        _program_handler(signum, frame)
        return
    state.interrupt_pending = True
    if state.in_slice:
        loop.stop_after_current()


def _defer_sigint() -> bool:
    """True if SIGINT is ours for this run: on the main thread, where the program's handler is a
    Python callable (Python's default or the program's own, such as Robot Framework's; a handler
    raising inside a unicorn callback would be swallowed by ctypes). Ours wraps it and stays
    installed, since outside run() it calls the program's handler: swapping handlers around every
    run() call cost two system calls each, about 2% of a scenario. SIG_IGN and SIG_DFL are left
    alone (Ctrl-C then does not raise in Python at all)."""
    global _program_handler
    if threading.get_ident() != _MAIN_THREAD:
        return False
    handler = _signal.getsignal(signal.SIGINT)
    if handler is _on_sigint:
        return True
    if callable(handler):
        _program_handler = handler
        signal.signal(signal.SIGINT, _on_sigint)
        return True
    return False
    handler = _signal.getsignal(signal.SIGINT)
    if handler is _on_sigint:
        return True
    if handler is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_sigint)
        return True
    return False
