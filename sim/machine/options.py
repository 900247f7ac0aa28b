"""Behaviour switches of the built-in machine."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class MachineOptions:
    """Behaviour switches (all default to the silicon's behaviour where there is a choice).

    fault_mode:      "report" - an unmapped access, undefined instruction or bad EXC_RETURN ends
                     the run with a FaultReport; "firmware" - it enters the firmware's
                     BusFault/UsageFault/HardFault handler with CFSR/BFAR/HFSR set, and the run
                     ends with a report (naming the original fault) when that handler loops
                     forever, cannot be entered, or the core locks up.
    extended_frames: False never stacks FP state on exception entry (a negative control for
                     tests of FP context switching; real silicon always does).
    probe_cycles:    slice length while a fault handler runs, to notice it looping.
    block_hooks:     False serves every hooked address with an exact code hook instead of a
                     dispatch at block starts (blocks.py): the same results, for comparisons.
    on_unmapped:     "fault" - a data access to an address nothing is modelled at is a bus fault
                     (handled as fault_mode says); "warn" - it reads 0 and a write is ignored,
                     and `Machine.unmodelled_accesses()` lists every one (as Renode logs them and
                     goes on). Instruction fetches from nowhere are faults either way.
    """
    fault_mode: str = "report"
    extended_frames: bool = True
    probe_cycles: int = 20_000
    block_hooks: bool = True
    on_unmapped: str = "fault"

    def __post_init__(self) -> None:
        if self.fault_mode not in ("report", "firmware"):
            raise ValueError(f"fault_mode must be 'report' or 'firmware', not {self.fault_mode!r}")
        if self.on_unmapped not in ("fault", "warn"):
            raise ValueError(f"on_unmapped must be 'fault' or 'warn', not {self.on_unmapped!r}")
