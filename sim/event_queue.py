"""Callbacks at integer times, in one order: the event queue both sides of the simulation use.

The unit is the owner's: the machine counts CPU cycles (`sim.machine.clock.Clock`), the host side
counts nanoseconds (`sim.vtime.EventQueue`). Events at equal times fire in the order they were
scheduled (a sequence number breaks ties) and a cancelled event never fires; runs are
deterministic because of both rules. Nothing here reads a wall clock.
"""

from __future__ import annotations

import heapq
from typing import Callable


class Event:
    """Handle of a scheduled callback. `cancel()` is idempotent; an event that has fired counts
    as cancelled (it will not fire again)."""

    __slots__ = ("time", "seq", "callback", "cancelled")

    def __init__(self, time: int, seq: int, callback: Callable[[], None]) -> None:
        self.time = time
        self.seq = seq
        self.callback = callback
        self.cancelled = False

    def __lt__(self, other: "Event") -> bool:
        return (self.time, self.seq) < (other.time, other.seq)

    @property
    def active(self) -> bool:
        """True until the event fires or is cancelled."""
        return not self.cancelled

    def cancel(self) -> None:
        self.cancelled = True

    def __repr__(self) -> str:
        state = " cancelled" if self.cancelled else ""
        return f"<Event at {self.time} {getattr(self.callback, '__qualname__', self.callback)}{state}>"


class EventQueue:
    """A heap of `Event`s and the current time `now`, which only the owner moves forward.

    Two ways to drive it: `advance_to(t)` runs what is due up to `t`, each callback seeing `now`
    at its own event's time; `fire_due()` runs what is due at the `now` the owner already set
    (the machine sets it at slice boundaries, which end exactly at the next event)."""

    def __init__(self, now: int = 0) -> None:
        self.now = now
        self._queue: list[Event] = []
        self._seq = 0

    def at(self, time: int, callback: Callable[[], None]) -> Event:
        """Schedule `callback` at absolute `time` (as given: a time already past fires at the
        next `fire_due`/`advance_to`, in (time, order) position)."""
        event = Event(time, self._seq, callback)
        self._seq += 1
        heapq.heappush(self._queue, event)
        return event

    def after(self, delay: int, callback: Callable[[], None]) -> Event:
        return self.at(self.now + max(0, delay), callback)

    def next_time(self) -> int | None:
        """Time of the earliest event still to fire, or None."""
        q = self._queue
        while q and q[0].cancelled:
            heapq.heappop(q)
        return q[0].time if q else None

    def fire_due(self) -> int:
        """Run every event due at or before `now`, including ones those callbacks schedule.
        Returns how many ran."""
        ran = 0
        q = self._queue
        while q:
            event = q[0]
            if event.cancelled:
                heapq.heappop(q)
                continue
            if event.time > self.now:
                break
            heapq.heappop(q)
            event.cancelled = True
            ran += 1
            event.callback()
        return ran

    def advance_to(self, time: int) -> int:
        """Run every event due at or before `time` with `now` at the event's time (never moving
        back), then set `now` to `time`. Returns how many ran."""
        if time < self.now:
            raise ValueError(f"virtual time cannot go backwards ({time} < {self.now})")
        ran = 0
        q = self._queue
        while q:
            event = q[0]
            if event.cancelled:
                heapq.heappop(q)
                continue
            if event.time > time:
                break
            heapq.heappop(q)
            event.cancelled = True
            if event.time > self.now:
                self.now = event.time
            ran += 1
            event.callback()
        self.now = time
        return ran

    def pending(self) -> list[Event]:
        """The events still to fire, in firing order."""
        return sorted(e for e in self._queue if not e.cancelled)

    def __len__(self) -> int:
        return sum(1 for e in self._queue if not e.cancelled)
