"""STM32F4 power controller (Renode type `Miscellaneous.STM32_PWR`).

Registers as RM0090 §5.4 describes them for the STM32F405/407. PWR_CR resets to 0x0000_4000:
VOS (bit 14, regulator scale 1) is 1 after reset on these parts, a bit ST's SVD leaves out
together with the reset value. CWUF/CSBF are write-only actions that clear CSR.WUF/SBF and read
0. CSR.BRR follows BRE (backup regulator ready) and VOSRDY reads 1: the regulator is always ready
in the model.

Not modelled: low-power modes (the CPU's WFI/WFE handling is the core's), the PVD, wake-up pins.
"""

from __future__ import annotations

from sim.machine.peripherals.base import Peripheral, model
from sim.machine.peripherals.registers import RO, WO, Field, Register

CR = Register("CR", 0x00, reset=0x0000_4000, fields=[
    Field("LPDS", 0), Field("PDDS", 1),
    Field("CWUF", 2, access=WO, on_write="_clear_wakeup_flag"),
    Field("CSBF", 3, access=WO, on_write="_clear_standby_flag"),
    Field("PVDE", 4), Field("PLS", 5, 3), Field("DBP", 8), Field("FPDS", 9), Field("VOS", 14)])

CSR = Register("CSR", 0x04, reset=0x0000_4000, fields=[
    Field("WUF", 0, access=RO), Field("SBF", 1, access=RO), Field("PVDO", 2, access=RO),
    Field("BRR", 3, access=RO, value="_backup_regulator_ready"),
    Field("EWUP", 8), Field("BRE", 9), Field("VOSRDY", 14, access=RO)])


@model("Miscellaneous.STM32_PWR")
class STM32_PWR(Peripheral):
    SIZE = 0x400
    REGISTERS = (CR, CSR)

    def _clear_wakeup_flag(self, old: int, new: int) -> None:
        if new:
            self[CSR.WUF] = 0

    def _clear_standby_flag(self, old: int, new: int) -> None:
        if new:
            self[CSR.SBF] = 0

    def _backup_regulator_ready(self) -> int:
        return self[CSR.BRE]

    @property
    def voltage_scale(self) -> int:
        """1 = scale 1 (HCLK up to 168 MHz), 2 = scale 2 (up to 144 MHz)."""
        return 1 if self[CR.VOS] else 2
