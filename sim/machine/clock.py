"""The machine's one clock: virtual time, the core's cycles and the events (SysTick wraps,
peripheral timers) that fire at exact times, on the shared integer-time queue (`sim.event_queue`).

Virtual time is counted in reference cycles: cycles of the platform's nominal core clock,
`frequency` (the .repl's PerformanceInMips, 168 MHz). The core itself runs at HCLK, which the
firmware changes (16 MHz HSI at reset, 168 MHz once it switches to the PLL): one instruction is
one core cycle, and a core cycle lasts `ratio` = frequency / HCLK reference cycles (10.5 at
16 MHz). The mapping between the two is kept exact by anchoring it: at every rate change the
clock notes the time and the core cycle count (`anchor_time`, `anchor_cycles`), and core cycle
c is at time anchor_time + floor((c - anchor_cycles) x ratio) - one rounding, never summed, so
no error accumulates. Virtual time always sits on a core clock edge; an event between two
edges takes effect at the next one. When HCLK equals `frequency` a core cycle is a reference
cycle and the arithmetic is the plain count it always was (docs/clock-tree.md).

Time advances only by executed instructions (set by the run loop at slice boundaries) and by
WFI skips to the next event; nothing here reads a wall clock.
"""

from __future__ import annotations

from fractions import Fraction

from sim.event_queue import Event, EventQueue

__all__ = ["Clock", "Event"]


class Clock(EventQueue):
    """`now` is virtual time (reference cycles) at the last slice boundary and `cycles` the
    core's cycle count there; the run loop moves both. Events due at or before `now` run with
    `fire_due()`."""

    def __init__(self, frequency: int) -> None:
        if frequency <= 0:
            raise ValueError(f"clock frequency must be positive, got {frequency}")
        super().__init__(0)
        self.frequency = frequency
        self.cycles = 0                       # core cycles since the machine was built
        self.core_rate = Fraction(frequency)  # HCLK, Hz
        self.anchor_time = 0
        self.anchor_cycles = 0
        self._num = self._den = 1             # reference cycles per core cycle, as num/den
        self.unit = True                      # the core runs at `frequency`: one cycle, one unit

    # --- the core clock -------------------------------------------------------------------
    def set_core_rate(self, rate: Fraction) -> None:
        """HCLK changes now (at a core clock edge): later cycles last frequency/rate."""
        if rate <= 0:
            raise ValueError(f"core clock rate must be positive, got {rate}")
        ratio = Fraction(self.frequency) / rate
        self.core_rate = Fraction(rate)
        self.anchor_time, self.anchor_cycles = self.now, self.cycles
        self._num, self._den = ratio.numerator, ratio.denominator
        self.unit = ratio == 1

    def time_at(self, cycles: int) -> int:
        """Virtual time of core cycle `cycles` (at the current rate)."""
        if self.unit:
            return self.anchor_time + cycles - self.anchor_cycles
        return self.anchor_time + (cycles - self.anchor_cycles) * self._num // self._den

    def cycles_at(self, time: int) -> int:
        """The first core cycle at or after virtual time `time` (not before the anchor)."""
        if time <= self.anchor_time:
            return self.anchor_cycles
        if self.unit:
            return self.anchor_cycles + time - self.anchor_time
        return self.anchor_cycles - (-(time - self.anchor_time) * self._den // self._num)

    def advance(self, executed: int) -> None:
        """`executed` core cycles have run."""
        self.cycles += executed
        self.now = self.time_at(self.cycles) if not self.unit else self.now + executed

    def skip_to(self, time: int) -> int:
        """Sleep until the first core edge at or after `time`; returns the time skipped."""
        before = self.now
        if time > before:
            self.cycles = max(self.cycles, self.cycles_at(time))
            self.now = self.time_at(self.cycles)
        return self.now - before

    def seconds(self, cycles: int | None = None) -> float:
        return (self.now if cycles is None else cycles) / self.frequency
