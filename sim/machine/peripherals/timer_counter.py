"""The counter of an STM32 timer as a function of how many counter clocks have passed (RM0090
§18.3.2, "Counter modes"): its value, its direction, where its update events are and where it
passes a compare value. timers.py keeps the anchor and the registers; this is the arithmetic.

A counting mode is reduced to a `phase` that grows by one per counter clock, offset so that the
update events fall where the phase crosses a positive multiple of the period: up-counting
0..ARR (period ARR + 1), down-counting ARR..0 (period ARR + 1), center-aligned 0..ARR..0
(an update at the top and at the bottom: every ARR clocks). A phase below 0 is the stretch
before the first wrap of a counter started above ARR (an up-counter runs to the top of its
range and wraps without an update; a down-counter runs down to ARR).
"""

from __future__ import annotations

from dataclasses import dataclass

UP, DOWN, CENTER = "up", "down", "center"


@dataclass(frozen=True)
class Counting:
    """How the counter moves, as a function of `phase`: the number of counter clocks since the
    anchor plus a start offset chosen so that updates happen where the phase crosses a multiple
    of `period` (a phase below 0 is the stretch before the first wrap: an up-counter above ARR
    running to the top of its range, a down-counter above ARR)."""
    mode: str
    arr: int
    width: int

    @property
    def blocked(self) -> bool:
        return self.arr == 0

    @property
    def period(self) -> int:
        """Counter clocks between two update events."""
        return self.arr if self.mode == CENTER else self.arr + 1

    def start_phase(self, cnt: int, counting_down: bool) -> int:
        if self.mode == UP:
            return cnt if cnt <= self.arr else cnt - (1 << self.width)
        if self.mode == DOWN:
            return self.arr - cnt
        cnt = min(cnt, self.arr)
        return 2 * self.arr - cnt if counting_down and cnt else cnt

    def value(self, phase: int) -> int:
        if self.mode == UP:
            return phase % (self.arr + 1) if phase >= 0 else phase + (1 << self.width)
        if self.mode == DOWN:
            return self.arr - phase % (self.arr + 1) if phase >= 0 else self.arr - phase
        p = phase % (2 * self.arr)
        return p if p <= self.arr else 2 * self.arr - p

    def counting_down(self, phase: int) -> bool:
        if self.mode == CENTER:
            return phase % (2 * self.arr) >= self.arr
        return self.mode == DOWN

    def updates(self, first: int, last: int) -> int:
        """Update events while the phase goes from `first` to `last` (first excluded)."""
        return max(last, 0) // self.period - max(first, 0) // self.period

    def next_update(self, phase: int) -> int:
        """The phase of the first update event after `phase` (updates are at the positive
        multiples of the period; reaching phase 0 from below is no update)."""
        return (max(phase, 0) // self.period + 1) * self.period

    def matches(self, ccr: int, cms: int) -> list[tuple[int, int]]:
        """The phases where the counter reaches `ccr`, as (residue, modulus) pairs (plus a
        one-off phase below 0 as (phase, 0))."""
        arr = self.arr
        if self.mode == UP:
            out = [(ccr, arr + 1)] if ccr <= arr else []
            if ccr > arr:
                out.append((ccr - (1 << self.width), 0))
            return out
        if self.mode == DOWN:
            return [(arr - ccr, arr + 1)] if ccr <= arr else [(arr - ccr, 0)]
        out = []
        if ccr < arr and cms in (2, 3):
            out.append((ccr, 2 * arr))                 # reached counting up
        if 0 < ccr <= arr and cms in (1, 3):
            out.append((2 * arr - ccr, 2 * arr))       # reached counting down
        return out


def hits(residue: int, modulus: int, first: int, last: int) -> int:
    """How many phases in (first, last] a (residue, modulus) pair names (periodic ones only
    from phase 0 on: below it the counter is in its first stretch)."""
    if modulus == 0:
        return 1 if first < residue <= last else 0
    first = max(first, -1)
    if last <= first:
        return 0
    return (last - residue) // modulus - (first - residue) // modulus


def next_hit(residue: int, modulus: int, after: int) -> int | None:
    """The first phase after `after` a (residue, modulus) pair names, or None."""
    if modulus == 0:
        return residue if residue > after else None
    after = max(after, -1)
    return after + 1 + (residue - after - 1) % modulus


__all__ = ["UP", "DOWN", "CENTER", "Counting", "hits", "next_hit"]
