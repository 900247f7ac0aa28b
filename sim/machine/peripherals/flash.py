"""STM32F4 flash interface registers (Renode type `MTD.STM32F4_FlashController`).

Facts §4: ACR (LATENCY, PRFTEN, ICEN, DCEN, ICRST, DCRST) reads back what was written, so
firmware that programs LATENCY=5 before switching to 168 MHz and checks the read-back works.
The key registers implement the unlock sequences: KEY1 then KEY2 clears CR.LOCK, OPTKEY1 then
OPTKEY2 clears OPTCR.OPTLOCK; a wrong key locks until reset. CR and OPTCR ignore writes while
locked. SR error/EOP bits are write-1-to-clear.

Not modelled: programming and erasing the flash array (the array is read-only memory of the
machine), wait states (every instruction costs one cycle whatever LATENCY says), option-byte
loading.
"""

from __future__ import annotations

from sim.machine.peripherals.base import Field, Peripheral, Register, model

KEY1, KEY2 = 0x4567_0123, 0xCDEF_89AB
OPTKEY1, OPTKEY2 = 0x0819_2A3B, 0x4C5D_6E7F
CR_LOCK = 1 << 31
OPTCR_OPTLOCK = 1 << 0


def _keyr_written(self: "STM32F4_FlashController", old: int, new: int) -> None:
    self._cr_key_state = self._advance_key(self._cr_key_state, new, KEY1, KEY2)
    if self._cr_key_state == 2:
        self.values["CR"] &= ~CR_LOCK
    self.values["KEYR"] = 0


def _optkeyr_written(self: "STM32F4_FlashController", old: int, new: int) -> None:
    self._opt_key_state = self._advance_key(self._opt_key_state, new, OPTKEY1, OPTKEY2)
    if self._opt_key_state == 2:
        self.values["OPTCR"] &= ~OPTCR_OPTLOCK
    self.values["OPTKEYR"] = 0


def _cr_written(self: "STM32F4_FlashController", old: int, new: int) -> None:
    if old & CR_LOCK:
        self.values["CR"] = old                     # locked: writes are ignored
        return
    if new & CR_LOCK:
        self._cr_key_state = 0                      # relocking restarts the key sequence
    self.values["CR"] = new & ~(1 << 16)            # STRT: no flash operation is modelled


def _optcr_written(self: "STM32F4_FlashController", old: int, new: int) -> None:
    if old & OPTCR_OPTLOCK:
        self.values["OPTCR"] = old
        return
    if new & OPTCR_OPTLOCK:
        self._opt_key_state = 0
    self.values["OPTCR"] = new & ~(1 << 1)          # OPTSTRT completes at once


@model("MTD.STM32F4_FlashController")
class STM32F4_FlashController(Peripheral):
    SIZE = 0x400
    REGISTERS = (
        Register("ACR", 0x00, 0, fields=(
            Field("LATENCY", 0, 3), Field("PRFTEN", 8), Field("ICEN", 9), Field("DCEN", 10),
            Field("ICRST", 11), Field("DCRST", 12)), write_mask=0x0000_1F07),
        Register("KEYR", 0x04, 0, on_write=_keyr_written),
        Register("OPTKEYR", 0x08, 0, on_write=_optkeyr_written),
        Register("SR", 0x0C, 0, w1c_mask=0x0000_00F3, write_mask=0),
        Register("CR", 0x10, CR_LOCK, write_mask=0x8301_03FF, on_write=_cr_written),
        Register("OPTCR", 0x14, 0x0000_0014 | OPTCR_OPTLOCK, write_mask=0x0FFF_FFEF,
                 on_write=_optcr_written),
    )

    def reset(self) -> None:
        super().reset()
        self._cr_key_state = 0          # 0: locked, 1: KEY1 seen, 2: unlocked, -1: bad key (stuck)
        self._opt_key_state = 0

    @staticmethod
    def _advance_key(state: int, value: int, first: int, second: int) -> int:
        if state == 0 and value == first:
            return 1
        if state == 1 and value == second:
            return 2
        return -1                       # a wrong key locks the register until reset

    @property
    def latency(self) -> int:
        return self.get_field("ACR", "LATENCY")
