"""The machine's one clock: CPU cycles since reset at the platform frequency, and the queue of
events (SysTick wraps, peripheral timers) that fire at exact cycle counts.

Time advances only by executed instructions (one cycle each) and by WFI skips to the next event;
nothing here reads a wall clock. Events at equal times fire in the order they were scheduled.
"""

from __future__ import annotations

import heapq
from typing import Callable


class Event:
    """Handle of a scheduled callback; `cancel()` is idempotent."""

    __slots__ = ("time", "seq", "callback", "cancelled")

    def __init__(self, time: int, seq: int, callback: Callable[[], None]) -> None:
        self.time = time
        self.seq = seq
        self.callback = callback
        self.cancelled = False

    def __lt__(self, other: "Event") -> bool:
        return (self.time, self.seq) < (other.time, other.seq)

    def cancel(self) -> None:
        self.cancelled = True

    def __repr__(self) -> str:
        state = " cancelled" if self.cancelled else ""
        return f"<Event at {self.time} {getattr(self.callback, '__qualname__', self.callback)}{state}>"


class Clock:
    def __init__(self, frequency: int) -> None:
        if frequency <= 0:
            raise ValueError(f"clock frequency must be positive, got {frequency}")
        self.frequency = frequency
        self.now = 0                    # cycles at the last slice boundary
        self._queue: list[Event] = []
        self._seq = 0

    def at(self, time: int, callback: Callable[[], None]) -> Event:
        """Schedule `callback` at absolute cycle `time` (never earlier than the current time)."""
        event = Event(max(time, 0), self._seq, callback)
        self._seq += 1
        heapq.heappush(self._queue, event)
        return event

    def next_time(self) -> int | None:
        q = self._queue
        while q and q[0].cancelled:
            heapq.heappop(q)
        return q[0].time if q else None

    def fire_due(self) -> int:
        """Run every event due at or before `now` (including ones those callbacks schedule)."""
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

    def pending(self) -> list[Event]:
        return sorted(e for e in self._queue if not e.cancelled)

    def seconds(self, cycles: int | None = None) -> float:
        return (self.now if cycles is None else cycles) / self.frequency
