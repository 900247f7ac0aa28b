"""The machine's one clock: CPU cycles since reset and the events (SysTick wraps, peripheral
timers) that fire at exact cycle counts, on the shared integer-time queue (`sim.event_queue`).

Time advances only by executed instructions (one cycle each, set by the run loop at slice
boundaries) and by WFI skips to the next event; nothing here reads a wall clock. `frequency` maps
cycles to seconds.
"""

from __future__ import annotations

from sim.event_queue import Event, EventQueue

__all__ = ["Clock", "Event"]


class Clock(EventQueue):
    """`now` is the cycle count at the last slice boundary (the run loop keeps it); events due at
    or before it run with `fire_due()`."""

    def __init__(self, frequency: int) -> None:
        if frequency <= 0:
            raise ValueError(f"clock frequency must be positive, got {frequency}")
        super().__init__(0)
        self.frequency = frequency

    def seconds(self, cycles: int | None = None) -> float:
        return (self.now if cycles is None else cycles) / self.frequency
