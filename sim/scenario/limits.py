"""The one loop that runs a backend under a virtual-time and a wall-time limit.

`run_until(backend, until, ...)` runs slices of virtual time until `until()` holds, the virtual
deadline (in backend cycles) is reached, the wall-time limit expires, the firmware faults, or it
stops where only a debugger expects it to (BKPT, breakpoint, watchpoint). It returns how it ended;
callers (the boot, the runner, `python -m sim boot`) phrase the message.

The wall clock is read between slices only to decide when to give up: it never changes what the
simulation does, so the same input always gives the same run, however loaded the machine is.
A Ctrl-C (KeyboardInterrupt) raised inside `run()` passes through to the caller.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass
from typing import Callable

from sim.backend import Backend, RunResult, StopReason


class Ending(enum.Enum):
    DONE = "done"                        # until() holds
    VIRTUAL_LIMIT = "virtual-limit"      # the virtual deadline was reached first
    WALL_LIMIT = "wall-limit"            # the wall-time limit expired first
    FAULT = "fault"                      # the firmware cannot continue: Stop.result.fault says why
    DEBUG_HALT = "debug-halt"            # BKPT, breakpoint or watchpoint with nobody to take it


@dataclass(frozen=True)
class Stop:
    ending: Ending
    result: RunResult | None = None      # the run() that faulted or halted


class WallLimit:
    """Wall seconds since creation, less the time `paused()` reports (e.g. a GDB client holding
    the firmware halted: that is the user's time, not the run's)."""

    def __init__(self, seconds: float, paused: Callable[[], float] | None = None) -> None:
        self.seconds = seconds
        self.paused = paused
        self.started = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.started - (self.paused() if self.paused is not None else 0.0)

    @property
    def expired(self) -> bool:
        return self.elapsed() > self.seconds


def run_until(backend: Backend, until: Callable[[], bool], *, deadline: int, wall: WallLimit,
              slice_cycles: int | Callable[[], int],
              run_slice: Callable[[int], RunResult] | None = None,
              before_slice: Callable[[], None] | None = None,
              after_slice: Callable[[RunResult], None] | None = None) -> Stop:
    """Run `backend` until `until()` holds or a limit ends the wait.

    `deadline`: virtual time (backend cycles since reset) not to pass. `slice_cycles`: the most
    cycles one run() may take (capped at the deadline), or a function returning the next
    slice's budget. `run_slice` replaces `backend.run` (a debugger's run control);
    `before_slice` (progress reports) and `after_slice` (moving frames to the host side) frame
    each slice."""
    run = run_slice or backend.run
    while not until():
        if backend.cycles >= deadline:
            return Stop(Ending.VIRTUAL_LIMIT)
        if wall.expired:
            return Stop(Ending.WALL_LIMIT)
        if before_slice is not None:
            before_slice()
        if callable(slice_cycles):
            budget = slice_cycles()
        else:
            budget = min(slice_cycles, deadline - backend.cycles)
        result = run(budget)
        if after_slice is not None:
            after_slice(result)
        if result.reason is StopReason.FAULT:
            return Stop(Ending.FAULT, result)
        if result.reason in (StopReason.BREAKPOINT, StopReason.WATCHPOINT):
            return Stop(Ending.DEBUG_HALT, result)
    return Stop(Ending.DONE)


def describe_halt(backend: Backend, result: RunResult) -> str:
    """A stop only a debugger expects (BKPT instruction, breakpoint, watchpoint) with none attached."""
    pc = backend.read_register("pc")
    where = backend.symbolize(pc)
    what = "a watchpoint" if result.reason is StopReason.WATCHPOINT else "a BKPT instruction or breakpoint"
    return (f"the firmware stopped at {what} at pc 0x{pc:08x}" + (f" ({where})" if where else "")
            + " with no debugger attached (on hardware a BKPT without a debugger escalates to HardFault); "
            "attach GDB with --gdb PORT to inspect it")
