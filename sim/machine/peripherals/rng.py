"""STM32F4 true random number generator (Renode type `Miscellaneous.STM32F4_RNG`).

Facts §8. Values come from the machine's seeded stream (`services.random(<name>)`), so the same
seed gives the same numbers. DRDY is low right after RNGEN is set and after each DR read, and
rises 40 RNG clocks (PLL48CLK, 48 MHz) later; two consecutive values are never equal (the FIPS
continuous test firmware runs must pass). Reading DR while DRDY = 0 returns the previous value
again and counts `reads_not_ready`, which is what makes a driver that skips the DRDY check fail
its own continuous test here as it would on silicon.

Seed/clock errors can be injected for driver tests: `inject_seed_error()` sets SECS and SEIS and
stops generation until software clears SEIS and toggles RNGEN; `inject_clock_error()` sets
CECS/CEIS until `clear_clock_error()`. The interrupt (IE) is DRDY | CEIS | SEIS.
"""

from __future__ import annotations

from sim.machine.peripherals.base import Field, Peripheral, Register, model
from sim.machine.peripherals.timing import Deadlines

CR_RNGEN, CR_IE = 1 << 2, 1 << 3
SR_DRDY, SR_CECS, SR_SECS, SR_CEIS, SR_SEIS = 1 << 0, 1 << 1, 1 << 2, 1 << 5, 1 << 6


def _cr_written(self: "STM32F4_RNG", old: int, new: int) -> None:
    if new & CR_RNGEN and not old & CR_RNGEN:
        self._enabled()
    elif old & CR_RNGEN and not new & CR_RNGEN:
        self.disarm("ready")
        self.values["SR"] &= ~SR_DRDY
    self._update_irq()


def _sr_written(self: "STM32F4_RNG", old: int, new: int) -> None:
    # CEIS/SEIS are rc_w0: writing 0 clears, writing 1 keeps; the other bits are read-only
    self.values["SR"] = old & (new | ~(SR_CEIS | SR_SEIS))
    self._update_irq()


def _dr_read(self: "STM32F4_RNG", value: int) -> int:
    sr = self.values["SR"]
    if not sr & SR_DRDY:
        self.counters["reads_not_ready"] += 1
        return self._last
    self.values["SR"] = sr & ~SR_DRDY
    value = self._next_value
    self._last = value
    self.counters["values"] += 1
    self._schedule_next()
    self._update_irq()
    return value


@model("Miscellaneous.STM32F4_RNG")
class STM32F4_RNG(Deadlines, Peripheral):
    SIZE = 0x400
    REGISTERS = (
        Register("CR", 0x00, 0, fields=(Field("RNGEN", 2), Field("IE", 3)),
                 write_mask=CR_RNGEN | CR_IE, on_write=_cr_written),
        Register("SR", 0x04, 0, fields=(
            Field("DRDY", 0), Field("CECS", 1), Field("SECS", 2), Field("CEIS", 5), Field("SEIS", 6)),
            write_mask=SR_CEIS | SR_SEIS, on_write=_sr_written),
        Register("DR", 0x08, 0, write_mask=0, on_read=_dr_read),
    )

    rng_clock_hz = 48_000_000            # PLL48CLK in the reference clock tree (facts §3.3)
    ready_rng_clocks = 40                # "a new value is ready within at most 40 RNG_CLK periods"

    def __init__(self, services, name, params=None, irqs=None) -> None:
        # one stream for the machine's life: a firmware reboot does not replay the same numbers
        self._stream = services.random(name)
        self.counters = {"values": 0, "reads_not_ready": 0}
        super().__init__(services, name, params, irqs)

    def reset(self) -> None:
        super().reset()
        self.clear_deadlines()
        self._last = 0
        self._next_value = 0
        self._seed_error = False
        self._irq_level = False

    @property
    def ready_cycles(self) -> int:
        return -(-self.ready_rng_clocks * self.services.frequency // self.rng_clock_hz)

    def _enabled(self) -> None:
        self.values["SR"] &= ~(SR_DRDY | SR_SECS)   # a restart clears a past seed error
        self._seed_error = False
        self._schedule_next()

    def _schedule_next(self) -> None:
        if self.values["CR"] & CR_RNGEN and not self._seed_error:
            self.arm("ready", self.ready_cycles, self._value_ready)

    def _value_ready(self) -> None:
        if not self.expire("ready"):
            return
        value = self._stream.u32()
        while value == self._last:              # never the same value twice in a row
            value = self._stream.u32()
        self._next_value = value
        self.values["SR"] |= SR_DRDY
        self._update_irq()

    def _update_irq(self) -> None:
        sr = self.values["SR"]
        level = bool(self.values["CR"] & CR_IE and sr & (SR_DRDY | SR_CEIS | SR_SEIS))
        if level != self._irq_level:
            self._irq_level = level
            self.drive_irq(level)

    # --- fault injection for driver tests -------------------------------------------------
    def inject_seed_error(self) -> None:
        """A bad seed sequence: SECS+SEIS set, no data until SEIS is cleared and RNGEN toggled."""
        self._seed_error = True
        self.disarm("ready")
        self.values["SR"] = (self.values["SR"] & ~SR_DRDY) | SR_SECS | SR_SEIS
        self._update_irq()

    def inject_clock_error(self) -> None:
        """The RNG clock is too slow: CECS+CEIS set until `clear_clock_error()`."""
        self.values["SR"] |= SR_CECS | SR_CEIS
        self._update_irq()

    def clear_clock_error(self) -> None:
        self.values["SR"] &= ~SR_CECS
        self._update_irq()
