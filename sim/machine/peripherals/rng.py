"""STM32F4 true random number generator (Renode type `Miscellaneous.STM32F4_RNG`).

Registers and timing as RM0090 §24 describes them. Values come from the machine's seeded stream
(`services.random(<name>)`), so the same seed gives the same numbers. DRDY is low right after
RNGEN is set and after each DR read, and rises 40 RNG clocks (PLL48CLK, 48 MHz) later; two
consecutive values are never equal (the FIPS continuous test firmware runs must pass). Reading DR
while DRDY = 0 returns the previous value again and counts `reads_not_ready`, which is what makes
a driver that skips the DRDY check fail its own continuous test here as it would on silicon.

Seed/clock errors can be injected for driver tests: `inject_seed_error()` sets SECS and SEIS and
stops generation until software clears SEIS and toggles RNGEN; `inject_clock_error()` sets
CECS/CEIS until `clear_clock_error()`. The interrupt (IE) is DRDY | CEIS | SEIS.
"""

from __future__ import annotations

from sim.machine.peripherals.base import Peripheral, model
from sim.machine.peripherals.registers import RO, W0C, Field, Register
from sim.machine.peripherals.timing import Deadlines

CR = Register("CR", 0x00, on_write="_cr_written", fields=[Field("RNGEN", 2), Field("IE", 3)])
SR = Register("SR", 0x04, on_write="_sr_written", fields=[
    Field("DRDY", 0, access=RO), Field("CECS", 1, access=RO), Field("SECS", 2, access=RO),
    Field("CEIS", 5, access=W0C), Field("SEIS", 6, access=W0C)])
DR = Register("DR", 0x08, on_read="_dr_read", fields=[Field("RNDATA", 0, 32, RO)])
INTERRUPT_FLAGS = SR.mask_of("DRDY", "CEIS", "SEIS")


@model("Miscellaneous.STM32F4_RNG")
class STM32F4_RNG(Deadlines, Peripheral):
    SIZE = 0x400
    REGISTERS = (CR, SR, DR)

    rng_clock_hz = 48_000_000            # PLL48CLK of the 168 MHz clock tree (PLLQ = 7)
    ready_rng_clocks = 40                # a new value within 40 RNG_CLK periods (RM0090 §24.4.3)

    def __init__(self, services, name, params=None, irqs=None, **kwargs) -> None:
        # one stream for the machine's life: a firmware reboot does not replay the same numbers
        self._stream = services.random(name)
        self.counters = {"values": 0, "reads_not_ready": 0}
        super().__init__(services, name, params, irqs, **kwargs)

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

    # --- register callbacks ------------------------------------------------------------------
    def _cr_written(self, old: int, new: int) -> None:
        enabled, was = CR.RNGEN.get(new), CR.RNGEN.get(old)
        if enabled and not was:
            self._enabled()
        elif was and not enabled:
            self.disarm("ready")
            self[SR.DRDY] = 0
        self._update_irq()

    def _sr_written(self, old: int, new: int) -> None:
        self._update_irq()                       # CEIS/SEIS cleared by writing 0

    def _dr_read(self, value: int) -> int:
        if not self[SR.DRDY]:
            self.counters["reads_not_ready"] += 1
            return self._last
        self[SR.DRDY] = 0
        value = self._next_value
        self._last = value
        self.counters["values"] += 1
        self._schedule_next()
        self._update_irq()
        return value

    # --- generation ----------------------------------------------------------------------------
    def _enabled(self) -> None:
        self[SR.DRDY] = 0                          # a restart clears a past seed error
        self[SR.SECS] = 0
        self._seed_error = False
        self._schedule_next()

    def _schedule_next(self) -> None:
        if self[CR.RNGEN] and not self._seed_error:
            self.arm("ready", self.ready_cycles, self._value_ready)

    def _value_ready(self) -> None:
        if not self.expire("ready"):
            return
        value = self._stream.u32()
        while value == self._last:              # never the same value twice in a row
            value = self._stream.u32()
        self._next_value = value
        self[SR.DRDY] = 1
        self._update_irq()

    def _update_irq(self) -> None:
        level = bool(self[CR.IE] and self[SR] & INTERRUPT_FLAGS)
        if level != self._irq_level:
            self._irq_level = level
            self.drive_irq(level)

    # --- fault injection for driver tests -------------------------------------------------
    def inject_seed_error(self) -> None:
        """A bad seed sequence: SECS+SEIS set, no data until SEIS is cleared and RNGEN toggled."""
        self._seed_error = True
        self.disarm("ready")
        self[SR.DRDY] = 0
        self[SR.SECS] = self[SR.SEIS] = 1
        self._update_irq()

    def inject_clock_error(self) -> None:
        """The RNG clock is too slow: CECS+CEIS set until `clear_clock_error()`."""
        self[SR.CECS] = self[SR.CEIS] = 1
        self._update_irq()

    def clear_clock_error(self) -> None:
        self[SR.CECS] = 0
        self._update_irq()
