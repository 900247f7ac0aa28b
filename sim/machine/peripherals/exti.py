"""STM32F4 external interrupt/event controller (Renode type `IRQControllers.STM32F4_EXTI`).

Registers IMR, EMR, RTSR, FTSR, SWIER, PR (RM0090 layout, 23 lines on the F407). An edge on a
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

from sim.machine.peripherals.base import Peripheral, Register, model


def _masks_written(self: "STM32F4_EXTI", old: int, new: int) -> None:
    self._update_outputs()


def _swier_written(self: "STM32F4_EXTI", old: int, new: int) -> None:
    rising = new & ~old & self.values["IMR"] & self.line_mask
    self.values["PR"] |= rising
    self.values["SWIER"] = new & self.line_mask
    self._update_outputs()


def _pr_written(self: "STM32F4_EXTI", old: int, new: int) -> None:
    cleared = old & ~new
    self.values["SWIER"] &= ~cleared
    self._update_outputs()


@model("IRQControllers.STM32F4_EXTI")
class STM32F4_EXTI(Peripheral):
    SIZE = 0x400
    REGISTERS = (
        Register("IMR", 0x00, 0, on_write=_masks_written),
        Register("EMR", 0x04, 0),
        Register("RTSR", 0x08, 0),
        Register("FTSR", 0x0C, 0),
        Register("SWIER", 0x10, 0, on_write=_swier_written),
        Register("PR", 0x14, 0, write_mask=0, w1c_mask=0xFFFF_FFFF, on_write=_pr_written),
    )

    def __init__(self, services, name, params=None, irqs=None) -> None:
        lines = int((params or {}).get("numberOfOutputLines", 23))
        self.line_mask = (1 << lines) - 1
        # NVIC line -> bit mask of the EXTI outputs that drive it
        self._nvic_sources: dict[int, int] = {}
        for output, nvic_line in (irqs or {}).items():
            if str(output).isdigit():
                self._nvic_sources[nvic_line] = self._nvic_sources.get(nvic_line, 0) | (1 << int(output))
        super().__init__(services, name, params, irqs)

    def reset(self) -> None:
        super().reset()
        self._levels = 0
        self._nvic_levels = {line: False for line in self._nvic_sources}

    def set_line(self, line: int, level: bool) -> None:
        """An input line changed (GPIO pin, or an internal source such as the ETH wake-up)."""
        if line < 0 or not (self.line_mask >> line) & 1:
            raise ValueError(f"{self.name}: EXTI line {line} does not exist")
        bit = 1 << line
        was = bool(self._levels & bit)
        if level == was:
            return
        self._levels ^= bit
        edge_enabled = self.values["RTSR"] if level else self.values["FTSR"]
        if edge_enabled & bit:
            self.values["PR"] |= bit
            self._update_outputs()

    def pending_outputs(self) -> int:
        return self.values["PR"] & self.values["IMR"] & self.line_mask

    def _update_outputs(self) -> None:
        active = self.pending_outputs()
        for nvic_line, sources in self._nvic_sources.items():
            level = bool(active & sources)
            if level != self._nvic_levels[nvic_line]:
                self._nvic_levels[nvic_line] = level
                self.services.set_irq(nvic_line, level)
