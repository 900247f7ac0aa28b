"""STM32F4 external interrupt/event controller (Renode type `IRQControllers.STM32F4_EXTI`).

Registers IMR, EMR, RTSR, FTSR, SWIER, PR (RM0090 §12.3, 23 lines on the F407). An edge on a
line (`set_line(line, level)`, e.g. from a GPIO pin) that matches RTSR/FTSR sets its PR bit;
writing 1 to SWIER while the line is unmasked sets it too. PR bits clear by writing 1 (which
also clears SWIER). Output line n is high while PR[n] & IMR[n].

Several EXTI outputs share NVIC lines on the F407 (5-9 -> 23, 10-15 -> 40); the .repl connects
them through CombinedInput entries. The machine may hand this model such a flattened mapping
(output name -> NVIC line, several outputs on one line) and the model ORs the outputs of each
NVIC line itself, so a shared line stays high while any of its sources is pending.

Not modelled: events (EMR) - there is no WFE wake-up source modelling.
"""

from __future__ import annotations

from sim.machine.peripherals.base import Peripheral, model
from sim.machine.peripherals.registers import RW, W1C, Access, Field, Register

LINES = 23                      # EXTI lines 0..22 on the F407 (RM0090 §12.3)


def _lines(prefix: str, access: Access = RW) -> list[Field]:
    """One bit per line, named as RM0090 names them (MR0, TR0, SWIER0, PR0, ...)."""
    return [Field(f"{prefix}{n}", n, access=access) for n in range(LINES)]


IMR = Register("IMR", 0x00, _lines("MR"), on_write="_masks_written")
EMR = Register("EMR", 0x04, _lines("MR"))
RTSR = Register("RTSR", 0x08, _lines("TR"))
FTSR = Register("FTSR", 0x0C, _lines("TR"))
SWIER = Register("SWIER", 0x10, _lines("SWIER"), on_write="_swier_written")
PR = Register("PR", 0x14, _lines("PR", W1C), on_write="_pr_written")


@model("IRQControllers.STM32F4_EXTI")
class STM32F4_EXTI(Peripheral):
    SIZE = 0x400
    REGISTERS = (IMR, EMR, RTSR, FTSR, SWIER, PR)

    def __init__(self, services, name, params=None, irqs=None, **kwargs) -> None:
        lines = int((params or {}).get("numberOfOutputLines", 23))
        self._levels = 0                 # input line levels: driven from outside, kept across resets
        self.line_mask = (1 << lines) - 1
        # NVIC line -> bit mask of the EXTI outputs that drive it
        self._nvic_sources: dict[int, int] = {}
        for output, nvic_line in (irqs or {}).items():
            if str(output).isdigit():
                self._nvic_sources[nvic_line] = self._nvic_sources.get(nvic_line, 0) | (1 << int(output))
        super().__init__(services, name, params, irqs, **kwargs)

    def reset(self) -> None:
        super().reset()
        self._nvic_levels = {line: False for line in self._nvic_sources}

    # --- register callbacks ------------------------------------------------------------------
    def _masks_written(self, old: int, new: int) -> None:
        self._update_outputs()

    def _swier_written(self, old: int, new: int) -> None:
        rising = new & ~old & self[IMR] & self.line_mask
        self[PR] |= rising
        self[SWIER] = new & self.line_mask
        self._update_outputs()

    def _pr_written(self, old: int, new: int) -> None:
        cleared = old & ~new
        self[SWIER] &= ~cleared                 # clearing PR also clears the software request
        self._update_outputs()

    # --- lines ---------------------------------------------------------------------------------
    def set_line(self, line: int, level: bool) -> None:
        """An input line changed (GPIO pin, or an internal source such as the ETH wake-up)."""
        if line < 0 or not (self.line_mask >> line) & 1:
            raise ValueError(f"{self.name}: EXTI line {line} does not exist")
        bit = 1 << line
        was = bool(self._levels & bit)
        if level == was:
            return
        self._levels ^= bit
        edge_enabled = self[RTSR] if level else self[FTSR]
        if edge_enabled & bit:
            self[PR] |= bit
            self._update_outputs()

    def gpio_input(self, line: int, level: bool) -> None:
        """Input `line` driven by another model (a GPIO pin: the platform file's `n -> exti@n`)."""
        self.set_line(line, level)

    def pending_outputs(self) -> int:
        return self[PR] & self[IMR] & self.line_mask

    def _update_outputs(self) -> None:
        active = self.pending_outputs()
        for nvic_line, sources in self._nvic_sources.items():
            level = bool(active & sources)
            if level != self._nvic_levels[nvic_line]:
                self._nvic_levels[nvic_line] = level
                self.services.set_irq(nvic_line, level)
