"""Virtual time on the host side of the link.

The machine counts CPU cycles at its platform frequency; the host side (link, TCP stack, TLS peer
timers, scenario limits) counts integer nanoseconds, on the same event queue design
(`sim.event_queue`). Nothing here reads a wall clock.
"""

from __future__ import annotations

from typing import Callable

from sim.event_queue import Event
from sim.event_queue import EventQueue as _IntegerTimeQueue

NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000
NS_PER_US = 1_000

# The handle `EventQueue.call_at` returns: `time`, `active`, `cancel()` (idempotent).
Timer = Event


def cycles_to_ns(cycles: int, frequency_hz: int) -> int:
    """Floor of the time `cycles` take at `frequency_hz`, in ns (exact integer arithmetic)."""
    return cycles * NS_PER_S // frequency_hz


def ns_to_cycles(ns: int, frequency_hz: int) -> int:
    """Smallest cycle count that covers `ns` (ceiling), so an event is never run early."""
    return -(-ns * frequency_hz // NS_PER_S)


class EventQueue(_IntegerTimeQueue):
    """The host side's event queue, in virtual nanoseconds.

    Events at equal times run in the order they were scheduled, which keeps runs deterministic.
    A time in the past is scheduled at `now_ns` (host time never goes back)."""

    def __init__(self, now_ns: int = 0) -> None:
        super().__init__(now_ns)

    @property
    def now_ns(self) -> int:
        return self.now

    def call_at(self, time_ns: int, callback: Callable[[], None]) -> Timer:
        return self.at(max(time_ns, self.now), callback)

    def call_later(self, delay_ns: int, callback: Callable[[], None]) -> Timer:
        return self.at(self.now + max(0, delay_ns), callback)

    def next_time_ns(self) -> int | None:
        return self.next_time()
