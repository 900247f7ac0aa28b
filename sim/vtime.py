"""Virtual time on the host side of the link.

The machine counts CPU cycles at its platform frequency; the host side (link, TCP stack, TLS peer
timers, scenario limits) counts integer nanoseconds. Nothing here reads a wall clock.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from typing import Callable

NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000
NS_PER_US = 1_000


def cycles_to_ns(cycles: int, frequency_hz: int) -> int:
    """Floor of the time `cycles` take at `frequency_hz`, in ns (exact integer arithmetic)."""
    return cycles * NS_PER_S // frequency_hz


def ns_to_cycles(ns: int, frequency_hz: int) -> int:
    """Smallest cycle count that covers `ns` (ceiling), so an event is never run early."""
    return -(-ns * frequency_hz // NS_PER_S)


@dataclass(order=True)
class _Entry:
    time_ns: int
    seq: int
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)


class Timer:
    """Handle returned by `EventQueue.call_at`; `cancel()` is idempotent."""

    __slots__ = ("_entry",)

    def __init__(self, entry: _Entry) -> None:
        self._entry = entry

    @property
    def time_ns(self) -> int:
        return self._entry.time_ns

    @property
    def active(self) -> bool:
        return not self._entry.cancelled

    def cancel(self) -> None:
        self._entry.cancelled = True


class EventQueue:
    """Host-side event queue in virtual nanoseconds.

    Events at equal times run in the order they were scheduled (the sequence number breaks ties),
    which keeps runs deterministic.
    """

    def __init__(self, now_ns: int = 0) -> None:
        self._now = now_ns
        self._heap: list[_Entry] = []
        self._seq = itertools.count()

    @property
    def now_ns(self) -> int:
        return self._now

    def call_at(self, time_ns: int, callback: Callable[[], None]) -> Timer:
        if time_ns < self._now:
            time_ns = self._now
        entry = _Entry(time_ns, next(self._seq), callback)
        heapq.heappush(self._heap, entry)
        return Timer(entry)

    def call_later(self, delay_ns: int, callback: Callable[[], None]) -> Timer:
        return self.call_at(self._now + max(0, delay_ns), callback)

    def next_time_ns(self) -> int | None:
        while self._heap and self._heap[0].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0].time_ns if self._heap else None

    def advance_to(self, time_ns: int) -> int:
        """Run every event due at or before `time_ns`, then set the clock to `time_ns`.

        Returns the number of callbacks run. Callbacks may schedule further events; those that
        fall inside the window run too.
        """
        if time_ns < self._now:
            raise ValueError(f"virtual time cannot go backwards ({time_ns} < {self._now})")
        ran = 0
        while True:
            nxt = self.next_time_ns()
            if nxt is None or nxt > time_ns:
                break
            entry = heapq.heappop(self._heap)
            self._now = entry.time_ns
            ran += 1
            entry.callback()
        self._now = time_ns
        return ran

    def __len__(self) -> int:
        return sum(1 for e in self._heap if not e.cancelled)
