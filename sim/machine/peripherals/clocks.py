"""Clock rates for peripheral models: the clock tree a model asks for its kernel clock, and the
exact conversion between counts of a clock and virtual time.

Virtual time is counted in reference cycles: cycles of the platform's nominal core clock
(`MachineServices.frequency`, the .repl's `PerformanceInMips`, 168 MHz on the STM32F407). A clock
at another rate - the 16 MHz HSI, a 42 MHz PCLK1, a timer's 84 MHz - advances by rate/frequency
counts per reference cycle, which need not be a whole number (the HSI is 10.5 reference cycles a
count). So a model never adds rounded periods up: it keeps an anchor (the time and count at which
its clock last started or changed rate) and computes every later time or count from it in
integer arithmetic, rounded once. No error accumulates, and the same events give the same
result on every run (docs/clock-tree.md).

The live rates come from the RCC (`STM32F4_RCC`, which implements `ClockTree`). A platform
without an RCC gets `FixedClocks`: every clock at the nominal frequency, as before the RCC drove
anything.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Protocol

# The clocks a model may ask for (RM0090 §6.2, Figure 21): the system clock, the AHB clock, the
# two APB clocks, the timer clocks of each APB and the 48 MHz domain (USB OTG FS, SDIO, RNG).
CLOCK_NAMES = ("SYSCLK", "HCLK", "PCLK1", "PCLK2", "TIMCLK1", "TIMCLK2", "PLL48CLK")

# Which bus a peripheral sits on, by address (RM0090 §2.3, Table 1: APB1 from 0x4000_0000, APB2
# from 0x4001_0000, AHB1 from 0x4002_0000).
APB1_BASE, APB2_BASE, AHB1_BASE = 0x4000_0000, 0x4001_0000, 0x4002_0000


class ClockTree(Protocol):
    """What a model asks the clock controller."""

    def rate(self, clock: str) -> Fraction:
        """The live rate of `clock` (one of CLOCK_NAMES) in Hz, exact."""


class FixedClocks:
    """The clock tree of a platform without an RCC: everything at the nominal frequency."""

    def __init__(self, frequency: int) -> None:
        self.frequency = Fraction(frequency)

    def rate(self, clock: str) -> Fraction:
        if clock not in CLOCK_NAMES:
            raise KeyError(f"no clock named {clock!r} (clocks: {', '.join(CLOCK_NAMES)})")
        return self.frequency


def apb_of(address: int | None) -> int | None:
    """1 or 2 for a peripheral on APB1/APB2, None elsewhere (or for an unknown address)."""
    if address is None:
        return None
    if APB1_BASE <= address < APB2_BASE:
        return 1
    if APB2_BASE <= address < AHB1_BASE:
        return 2
    return None


def time_of(count: int, rate: Fraction, reference_hz: int) -> int:
    """Reference cycles that `count` cycles of a clock at `rate` Hz last, rounded up (the first
    reference cycle at or after the count's edge: an event is never early)."""
    numerator = count * reference_hz * rate.denominator
    return -(-numerator // rate.numerator)


def count_in(elapsed: int, rate: Fraction, reference_hz: int) -> int:
    """Whole cycles of a clock at `rate` Hz in `elapsed` reference cycles (rounded down: a count
    happens only once its edge has passed)."""
    return elapsed * rate.numerator // (reference_hz * rate.denominator)


def describe_rate(rate: Fraction) -> str:
    """`168 MHz`, `16 MHz`, `89.6 MHz`, `6.349206 MHz` for messages and dumps."""
    mhz = rate / 1_000_000
    if mhz.denominator == 1:
        return f"{mhz.numerator} MHz"
    return f"{float(mhz):.7g} MHz"


__all__ = ["CLOCK_NAMES", "ClockTree", "FixedClocks", "apb_of", "time_of", "count_in", "describe_rate"]
