"""STM32F4 power controller (Renode type `Miscellaneous.STM32_PWR`).

Facts §4: PWR_CR resets to 0x0000_4000 (VOS = 1, scale 1) on F405/F407 - the SVD's 0 and its
missing VOS field are SVD bugs. CWUF/CSBF are write-only actions that clear CSR.WUF/SBF and
read 0. CSR.BRR follows BRE (backup regulator ready) and VOSRDY reads 1: the regulator is
always ready in the model.

Not modelled: low-power modes (the CPU's WFI/WFE handling is the core's), the PVD, wake-up pins.
"""

from __future__ import annotations

from sim.machine.peripherals.base import Field, Peripheral, Register, model

CR_CWUF, CR_CSBF = 1 << 2, 1 << 3
CSR_WUF, CSR_SBF, CSR_BRR, CSR_BRE, CSR_VOSRDY = 1 << 0, 1 << 1, 1 << 3, 1 << 9, 1 << 14


def _cr_written(self: "STM32_PWR", old: int, new: int) -> None:
    if new & CR_CWUF:
        self.values["CSR"] &= ~CSR_WUF
    if new & CR_CSBF:
        self.values["CSR"] &= ~CSR_SBF
    self.values["CR"] = new & ~(CR_CWUF | CR_CSBF)


def _csr_written(self: "STM32_PWR", old: int, new: int) -> None:
    self.values["CSR"] = (new & ~CSR_BRR) | (CSR_BRR if new & CSR_BRE else 0)


@model("Miscellaneous.STM32_PWR")
class STM32_PWR(Peripheral):
    SIZE = 0x400
    REGISTERS = (
        Register("CR", 0x00, 0x0000_4000, fields=(
            Field("LPDS", 0), Field("PDDS", 1), Field("CWUF", 2), Field("CSBF", 3), Field("PVDE", 4),
            Field("PLS", 5, 3), Field("DBP", 8), Field("FPDS", 9), Field("VOS", 14)),
            write_mask=0x0000_43FF, on_write=_cr_written),
        Register("CSR", 0x04, CSR_VOSRDY, fields=(
            Field("WUF", 0), Field("SBF", 1), Field("PVDO", 2), Field("BRR", 3), Field("EWUP", 8),
            Field("BRE", 9), Field("VOSRDY", 14)),
            write_mask=CSR_BRE | (1 << 8), on_write=_csr_written),
    )

    @property
    def voltage_scale(self) -> int:
        """1 = scale 1 (HCLK up to 168 MHz), 2 = scale 2 (up to 144 MHz)."""
        return 1 if self.get_field("CR", "VOS") else 2
