"""Where a run of the machine stands, as one value: the counters, the core's sleep and reset
requests, the bookkeeping of debug stops, and what the running slice has seen so far.

The run loop (runloop.py), the code sites (code_sites.py) and the fault reporter
(fault_report.py) read and write it; the bus counts MMIO accesses in it. A snapshot copies it
whole (`copy()`) and restore loads it back into the live object (`load()`), so callbacks that
hold the live object stay valid.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import NamedTuple

from sim.backend import FaultReport


class CpuFault(NamedTuple):
    """A fault the CPU raised in a slice, before the machine decides what it becomes (the
    firmware's fault handler or a report; see fault_report.py)."""
    kind: str                   # "data_bus" | "fetch_bus" | "undefined" | "unaligned" | "cpu-error"
    pc: int
    address: int | None
    size: int | None
    write: bool
    reason: str                 # "read of 4 bytes at 0x30000004: nothing is mapped there ..."


@dataclass(slots=True)
class RunState:
    # --- counters (Machine.stats) -------------------------------------------------------------
    instructions: int = 0
    idle_cycles: int = 0                    # virtual time slept in WFI (reference cycles)
    idle_core_cycles: int = 0               # the core cycles that time was at the live HCLK
    mmio_accesses: int = 0
    resets: int = 0

    # --- the core between run() calls ---------------------------------------------------------
    at_boundary: bool = True                # the PC begins a straight-line block (timebase.py)
    block_cycles: int = 0                   # the core cycle at which the current straight-line block began
    sleeping: bool = False                  # in WFI until an exception could preempt
    reset_requested: bool = False           # AIRCR.SYSRESETREQ: reset at the next boundary
    stuck_regs: tuple | None = None         # registers at the last probe of a fault handler

    # --- debug stops --------------------------------------------------------------------------
    stop_requested: bool = False
    stopped_at: tuple[str, int] | None = None   # (kind, PC) of the last breakpoint/watchpoint stop
    skip_break: int | None = None           # first instruction of a run: ignore a breakpoint here
    interrupt_pending: bool = False         # Ctrl-C arrived: run() raises KeyboardInterrupt

    # --- the running slice (all clear between run() calls) ------------------------------------
    in_slice: bool = False
    slice_start: int = 0                    # clock.now when the slice began
    slice_cycles: int = 0                   # clock.cycles (core cycles) when the slice began
    pending_core_rate: object = None        # HCLK changed mid-slice: applied at its end (Fraction)
    slice_break: bool = False               # an exception became takeable: end the slice
    debug_stop: tuple | None = None         # ("breakpoint", address) | ("watchpoint", address, kind)
    cpu_fault: CpuFault | None = None
    fault: FaultReport | None = None        # a fault already turned into a report
    callback_error: BaseException | None = None   # raised by a callback: re-raised from run()
    entered_at: int | None = None           # handler address of the last exception entry
    last_hint: tuple[int, int] | None = None     # (pc, counter) of the last WFE/SEV/YIELD

    def copy(self) -> "RunState":
        return RunState(*(getattr(self, f.name) for f in fields(self)))

    def load(self, saved: "RunState") -> None:
        """Take every value of `saved` (in place), then forget what only meant something
        before: debug stops and the stuck-handler probe."""
        for f in fields(self):
            setattr(self, f.name, getattr(saved, f.name))
        self.stopped_at = self.skip_break = None
        self.stuck_regs = None

    def clear_slice_outcome(self) -> None:
        """What one slice saw, dropped when run() ends by raising (nothing of it is reported)."""
        self.slice_break = False
        self.debug_stop = self.cpu_fault = self.fault = self.callback_error = None
