"""The run loop: virtual time advanced in CPU slices that end at the first block boundary at or
after the next scheduled event.

Time is reference cycles at the platform frequency; the core executes one instruction per core
cycle at the live HCLK, which clock.py maps to time exactly. Instructions are counted per
translated block by the time base (timebase.py; docs/machine.md "Time"), in core cycles. A block
boundary is where a straight-line block of code begins: after a branch, any write of the PC, or
an instruction that always ends unicorn's blocks - a property of the code, never of how unicorn
split it. Slices end at the first boundary at or after the next event, events fire and
exceptions are taken there, and inside a slice the peripherals see the time at which the current
straight-line block began; so the same image, inputs and seed give the same run, however the
caller slices its run() calls and whether or not the translated code was warm. When the RCC
changes HCLK, the slice ends at the next boundary and the new rate applies from there, for the
core and for SysTick. Exact stops - breakpoints, single steps, watchpoints, a hook's exception -
stop at their instruction; the run goes on from there as if never stopped. No wall
clock is read anywhere.

An exception raised by a callback - Ctrl-C included - stops the slice (before a hook's
instruction, else at the next boundary) and is re-raised from run()/step() once the cycles of the
slice are accounted for. While run() holds the main thread, Ctrl-C (SIGINT) does not raise inside
a callback at all: it ends the slice at the next boundary and run() raises KeyboardInterrupt there
(a second Ctrl-C raises at once; see _defer_sigint).
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
from .timebase import STOP_NONE

if TYPE_CHECKING:  # pragma: no cover
    from .machine import Machine

FAULT_HANDLERS = (1 << NMI) | (1 << HARDFAULT) | (1 << MEMMANAGE) | (1 << BUSFAULT) | (1 << USAGEFAULT)
_WFI_16, _WFI_32 = 0xBF30, 0xF3AF8003
# longest slice: bounds how late a stuck CPU is noticed (6 ms of virtual time) at ~1% of speed
SLICE_CAP = 1_000_000
_FOREVER = (1 << 64) - 1


class RunLoop:
    """Slices, scheduling and the CPU's exception traps (`machine.loop`)."""

    def __init__(self, machine: "Machine") -> None:
        self.m = machine
        self.core = machine.core
        self.tb = machine.core.timebase
        self.clock = machine.clock
        self.scs = machine.scs
        self.exceptions = machine.exceptions
        self.state = machine.run_state
        self.probe_cycles = machine.options.probe_cycles
        self.exact_wanted = False                # watchpoints: stops right after the access
        self._hook_pc: int | None = None         # the instruction a running code hook is at
        self._in_block_hook = False              # a hook runs at a block start (before counting it)
        self.stopped_pc = 0                      # where the last slice stopped (Thumb bit clear)
        self._executed = 0                       # and how many instructions it ran

    # =====================================================================================
    # time and the running slice (what callbacks and models see)
    # =====================================================================================
    def now(self) -> int:
        """Virtual time (reference cycles). Inside a slice: exact in a hook (at its instruction),
        else (an MMIO access) the time at which the current straight-line block began."""
        if self.state.in_slice:
            return self.clock.time_at(self.tb.now())
        return self.clock.now

    def time_of_instruction(self, pc: int) -> int:
        """Virtual time at which the instruction at `pc` began, `pc` in the straight-line block
        running now (what a memory hook knows of its access: the PC); outside a slice, now()."""
        if self.state.in_slice:
            return self.clock.time_at(self.tb.time_at(pc))
        return self.clock.now

    def core_cycles(self) -> int:
        """The core's cycle count now (what SysTick counts), as now() sees it inside a slice."""
        if self.state.in_slice:
            return self.tb.now()
        return self.clock.cycles

    def time_at_cycle(self, cycles: int) -> int:
        return self.clock.time_at(cycles)

    def core_clock_changed(self) -> None:
        """HCLK may have changed (the RCC said so). Inside a slice the slice ends at the next block
        boundary; the new rate applies from there."""
        rate = self.m.clocks.rate("HCLK")
        if rate == self.clock.core_rate and self.state.pending_core_rate is None:
            return
        if self.state.in_slice:
            self.state.pending_core_rate = rate
            self.stop_at_boundary()
        else:
            self._apply_core_rate(rate)

    def _apply_core_rate(self, rate) -> None:
        self.state.pending_core_rate = None
        if rate != self.clock.core_rate:
            self.clock.set_core_rate(rate)
            self.scs.core_clock_changed()

    def instructions_retired(self) -> int:
        state = self.state
        if state.in_slice:
            return state.instructions + self.tb.now() - state.slice_cycles
        return state.instructions

    def enter_code_hook(self, address: int) -> None:
        """A code hook at `address` runs (before its instruction): exact time, exact stops."""
        self._hook_pc = address
        self.tb.enter_hook(address)

    def enter_block_hook(self) -> None:
        """A hook dispatched by the time base at a block start runs."""
        self._in_block_hook = True

    def leave_hook(self) -> None:
        if self._hook_pc is not None:
            self._hook_pc = None
            self.tb.leave_hook()
        self._in_block_hook = False

    def stop_at_boundary(self) -> None:
        """End the running slice at the next block boundary."""
        self.tb.stop_at_boundary()

    def stop_before_current(self) -> None:
        """From a hook: end the slice before its instruction runs; from anywhere else (an MMIO
        access, the TLB fill): at the next block boundary."""
        if self._hook_pc is not None:
            self.tb.stop_before(self._hook_pc)
        elif self._in_block_hook:
            self.tb.stop_before_block()
        else:
            self.tb.stop_at_boundary()

    def schedule_at(self, time: int, callback: Callable[[], None]) -> Event:
        event = self.clock.at(time, callback)
        if self.state.in_slice:
            # the slice ends at the first boundary at or after the event's time (a core edge)
            self.tb.set_deadline(self.clock.cycles_at(time))
        return event

    def request_stop(self) -> None:
        self.state.stop_requested = True
        if self.state.in_slice:
            self.stop_at_boundary()

    def request_system_reset(self) -> None:
        self.state.reset_requested = True
        if self.state.in_slice:
            self.state.slice_break = True
            self.stop_at_boundary()

    def exception_state_changed(self) -> None:
        if self.state.in_slice and self.scs.candidates():
            self.tb.set_exception_pending(True)
            if self._takeable() is not None:
                self.state.slice_break = True
                self.stop_at_boundary()

    def _takeable(self) -> int | None:
        return self.tb.takeable() if self.tb.native else self.exceptions.takeable()

    def control_transfer(self) -> None:
        """The exception engine wrote the PC (entry, return): a new straight-line block begins
        there."""
        state = self.state
        if state.in_slice:
            self.tb.control_transfer()
        else:
            state.at_boundary = True
            state.block_cycles = self.clock.cycles

    def on_mask_lowered(self) -> bool:
        """The time base, at the block after an MSR/CPSIE that lowered a mask while an exception
        was pending: True ends the slice there, so it is taken first (as on silicon: ARMv7-M ARM
        B5.2.3, the new mask applies from the next instruction)."""
        try:
            if self.scs.candidates() and self._takeable() is not None:
                self.state.slice_break = True
                return True
        except BaseException as exc:
            self.callback_failed(exc)
        return False

    def callback_failed(self, exc: BaseException) -> int:
        """A callback raised: a bus fault becomes a CPU fault, anything else (Ctrl-C included)
        is re-raised from run() once the CPU has stopped cleanly (before a hook's instruction,
        else at the next block boundary). Returns 0 (what a failed MMIO read yields)."""
        state = self.state
        if isinstance(exc, BusFault):
            if state.cpu_fault is None:
                state.cpu_fault = self.m.faults.bus_fault(exc)
        elif state.callback_error is None:
            state.callback_error = exc
        self.stop_before_current()
        return 0

    def write_failed(self, exc: BaseException) -> None:
        """An MMIO write callback raised: the store has happened (the model, or a listener it
        called, may already have acted on it), so the slice ends at the next boundary."""
        self.callback_failed(exc)

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
            if state.at_boundary:
                clock.fire_due()
            if state.interrupt_pending:
                self._raise_interrupt()
            if state.reset_requested and state.at_boundary:
                self.m.reset()
            if state.stop_requested:
                return RunResult(StopReason.REQUESTED, clock.now - start)
            if state.sleeping and not self._sleep_until(end):
                if clock.now >= end:
                    return RunResult(StopReason.LIMIT, clock.now - start)
                continue
            handler = None                       # the PC an exception entry just set
            if state.at_boundary and scs.candidates():
                fault = self._take_pending()
                if fault is not None:
                    return RunResult(StopReason.FAULT, clock.now - start, fault=fault)
                handler = state.entered_at
            now = clock.now
            if now >= end and state.at_boundary:
                return RunResult(StopReason.LIMIT, now - start)
            nxt = clock.next_time()
            target = end if nxt is None else min(end, nxt)
            deadline = clock.cycles_at(target)   # the time base counts core cycles
            in_fault_handler = bool(scs.active & FAULT_HANDLERS)
            deadline = min(deadline, clock.cycles + (self.probe_cycles if in_fault_handler else SLICE_CAP))
            first = handler if handler is not None else self.m.pc()
            wfi = self._slice(deadline, first)
            result = self._after_slice(start, wfi, in_fault_handler, end, first)
            if result is not None:
                return result

    def _step(self) -> RunResult:
        """One instruction, exactly. Events fire and exceptions are taken only where a free run
        would take them (at block boundaries), so stepping never changes what the firmware does."""
        state, clock = self.state, self.clock
        start = clock.now
        self._begin(stepping=True)
        state.sleeping = False                   # a debug step wakes the core from WFI
        if state.at_boundary:
            clock.fire_due()
        if state.interrupt_pending:
            self._raise_interrupt()
        if state.reset_requested and state.at_boundary:
            self.m.reset()
            return RunResult(StopReason.STEP, 0)
        if state.at_boundary and self.scs.candidates():
            before = self.m.pc()
            fault = self._take_pending()
            if fault is not None:
                return RunResult(StopReason.FAULT, 0, fault=fault)
            if self.m.pc() != before:
                return RunResult(StopReason.STEP, 0)
        self._slice(_FOREVER, exact_left=1)
        result = self._after_slice(start, False, False, start + 1, stepping=True)
        return result if result is not None else RunResult(StopReason.STEP, clock.now - start)

    def _begin(self, stepping: bool = False) -> None:
        state = self.state
        state.stop_requested = False
        pc = self.m.pc()
        kind, at = state.stopped_at or ("", None)
        # continuing from a breakpoint stop must not stop again at the same place; a step always
        # ignores a breakpoint where it starts (what GDB expects)
        state.skip_break = pc if stepping or (kind == "breakpoint" and at == pc) else None
        state.stopped_at = None

    def _raise_interrupt(self) -> None:
        """Deliver the deferred Ctrl-C now, at a slice boundary, to the handler the program had
        (Python's default raises KeyboardInterrupt; Robot Framework's raises its own error)."""
        self.state.interrupt_pending = False
        _program_handler(signal.SIGINT, None)

    # =====================================================================================
    # one slice
    # =====================================================================================
    def _slice(self, deadline: int, pc: int | None = None, exact_left: int = -1) -> bool:
        """Run the CPU from `pc` (default: the PC register) until the first block boundary at
        or after core cycle `deadline`, or `exact_left` instructions; True if it stopped in WFI."""
        state, core, clock = self.state, self.core, self.clock
        sites = self.m.sites
        if sites.invalidations_pending:
            sites.flush_invalidations()
        exact = self.exact_wanted or exact_left >= 0
        if core.exact != exact:
            core.set_exact(exact)
        if pc is None:
            pc = self.m.pc()
        tb = self.tb
        state.slice_start = clock.now
        state.slice_cycles = clock.cycles
        state.slice_break = False
        state.debug_stop = None
        state.cpu_fault = None
        state.last_hint = None
        tb.set_exception_pending(bool(self.scs.candidates()))
        state.in_slice = True
        try:
            err, executed, at_boundary, block_cycles, reason, self.stopped_pc = tb.run(
                pc, clock.cycles, deadline, state.at_boundary, state.block_cycles, exact_left)
        finally:
            state.in_slice = False
            self._hook_pc = None
            self._in_block_hook = False
        escaped = tb.take_error()
        if escaped is not None and state.callback_error is None:
            state.callback_error = escaped
        if core.callback_error is not None:      # raised inside the TLB fill
            if state.callback_error is None:
                state.callback_error = core.callback_error
            core.callback_error = None
        clock.advance(executed)
        self._executed = executed
        state.instructions += executed
        if tb.native:
            state.mmio_accesses += tb.take_mmio_count()
        state.at_boundary = at_boundary
        state.block_cycles = block_cycles
        if executed:
            state.skip_break = None
        if state.pending_core_rate is not None:   # HCLK changed in this slice: from here on
            self._apply_core_rate(state.pending_core_rate)
        if err and self.m.bus.flash_stores.trapped is not None:
            # a store into flash stopped the CPU before it (not a fault): replayed, one instruction
            state.slice_break = True
            return self.m.bus.flash_stores.replay(lambda: self._slice(_FOREVER, exact_left=1))
        if err:
            if state.cpu_fault is None:
                state.cpu_fault = self.m.faults.from_uc_error(unicorn.UcError(err))
            return False
        if (reason != STOP_NONE or state.slice_break or state.debug_stop or state.cpu_fault
                or state.fault or state.callback_error or state.stop_requested
                or state.interrupt_pending or state.reset_requested):
            return False
        if self._after_wfi(self.stopped_pc):
            return True
        raise CoreError(f"unicorn stopped at pc=0x{self.stopped_pc:08x} after {executed} instructions "
                        f"for no reason the machine knows (not WFI); this unicorn build "
                        f"({unicorn.__version__}) behaves unlike the tested ones")

    def _after_wfi(self, pc: int) -> bool:
        raw = self.m.bus.read_ram(pc - 4, 4)
        if raw is None:
            return False
        return (raw[2] | raw[3] << 8) == _WFI_16 or \
            ((raw[0] | raw[1] << 8) << 16 | raw[2] | raw[3] << 8) == _WFI_32

    def _after_slice(self, start: int, wfi: bool, in_fault_handler: bool, end: int,
                     first_pc: int | None = None, stepping: bool = False) -> RunResult | None:
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
        elif in_fault_handler or self.stopped_pc == (first_pc or 0) & ~1 or self._executed >= SLICE_CAP:
            # code that cannot go on stops where it began (a branch to itself), or runs a whole
            # slice into such a loop; a fault handler's probe slice compares its registers
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
        if self.tb.native:
            handler = self.tb.take_pending()
            if handler is None:
                return None
            if handler >= 0:                     # entered in C
                state.entered_at = handler
                state.at_boundary = True         # (loop.control_transfer outside a slice)
                state.block_cycles = self.clock.cycles
                return None
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
        if not scs.candidates():
            return False
        if self.tb.native:
            return self.tb.wakes_from_wfi()
        return scs.best_pending(self.exceptions.execution_priority(ignore_primask=True)) is not None

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
    def tail_chain(self, exc: int, return_pc: int) -> None:
        """The compiled engine returned from an exception and could not enter the next one
        itself (unusual state): enter it here, as exception_return's tail-chaining does."""
        try:
            self.exceptions.enter(exc, return_pc)
        except ExceptionError as exc_error:
            self.state.fault = self.m.faults.exception_failed(exc_error)
            self.tb.stop_before(self.m.pc())
        except BaseException as error:
            self.callback_failed(error)

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
                self.tb.stop_before(pc)
            else:
                self.state.fault = self.m.faults.report("cpu-exception", pc, f"unexpected CPU exception "
                                                        f"(QEMU EXCP {intno}) at pc=0x{pc:08x}")
                self.tb.stop_before(pc)
        except ExceptionError as exc:
            self.state.fault = self.m.faults.exception_failed(exc)
            self.tb.stop_before(self.m.pc())
        except BaseException as exc:
            self.callback_failed(exc)


# --- Ctrl-C at block boundaries ---------------------------------------------------------------
# The run loops running on the main thread, innermost last: SIGINT goes to the last one.
_running: list[RunLoop] = []
_MAIN_THREAD = threading.main_thread().ident


# What SIGINT does outside run(): the handler the program had installed before ours (Python's
# default, or e.g. Robot Framework's, which stops a test run gracefully).
_program_handler: Callable = signal.default_int_handler


def _on_sigint(signum, frame) -> None:
    """SIGINT while a run loop runs: end its slice at the next block boundary; run() hands the
    signal to the program's handler there (a second Ctrl-C before it does so at once).
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
        loop.stop_at_boundary()


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
