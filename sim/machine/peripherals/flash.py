"""STM32F4 flash interface registers (Renode type `MTD.STM32F4_FlashController`).

Registers as RM0090 §3.9 describes them for the STM32F405/407. ACR (LATENCY, PRFTEN, ICEN,
DCEN, ICRST, DCRST) reads back what was written, so firmware that programs LATENCY = 5 before
switching to 168 MHz and checks the read-back works. The key registers implement the unlock
sequences (RM0090 §3.9, FLASH_KEYR and FLASH_OPTKEYR): KEY1 then KEY2 clears CR.LOCK, OPTKEY1
then OPTKEY2 clears OPTCR.OPTLOCK; a wrong key locks until reset. CR and OPTCR ignore writes while locked.
SR error/EOP bits are write-1-to-clear.

CPU stores into the flash array are judged here (`store_allowed`, called by the machine for every
store the CPU makes into flash; RM0090 §3.6.2): with CR unlocked, PG set and the store as wide as
PSIZE says, to a sector nWRP leaves writable, the bytes are programmed and SR.EOP is set when
EOPIE asks for it. Any other store is not
performed, as on silicon, and sets the error flags RM0090 §3.9.4 gives for it: PGSERR (no
programming sequence: locked, or PG clear), PGPERR (width other than PSIZE), WRPERR (write-
protected sector). No fault is raised: firmware finds out from SR, if it looks.

Not modelled: erasing (SER/MER with STRT complete at once and change nothing), wait states
(every instruction costs one cycle whatever LATENCY says), option-byte loading (OPTCR resets to the
option bytes as shipped), the 128-bit row alignment check (PGAERR). The array beyond the image
holds 0, not the erased 0xFF, so programming writes the value as given.
"""

from __future__ import annotations

from sim.machine.peripherals.base import Peripheral, model
from sim.machine.peripherals.registers import RO, W1C, W1S, WO, Field, Register

KEY1, KEY2 = 0x4567_0123, 0xCDEF_89AB
OPTKEY1, OPTKEY2 = 0x0819_2A3B, 0x4C5D_6E7F

ACR = Register("ACR", 0x00, fields=[
    Field("LATENCY", 0, 3), Field("PRFTEN", 8), Field("ICEN", 9), Field("DCEN", 10),
    Field("ICRST", 11), Field("DCRST", 12)])
KEYR = Register("KEYR", 0x04, fields=[Field("KEY", 0, 32, WO, on_write="_key_written")])
OPTKEYR = Register("OPTKEYR", 0x08, fields=[Field("OPTKEY", 0, 32, WO, on_write="_optkey_written")])
SR = Register("SR", 0x0C, fields=[
    Field("EOP", 0, access=W1C), Field("OPERR", 1, access=W1C), Field("WRPERR", 4, access=W1C),
    Field("PGAERR", 5, access=W1C), Field("PGPERR", 6, access=W1C), Field("PGSERR", 7, access=W1C),
    Field("BSY", 16, access=RO)])
CR = Register("CR", 0x10, reset=0x8000_0000, on_write="_cr_written", fields=[
    Field("PG", 0), Field("SER", 1), Field("MER", 2), Field("SNB", 3, 4), Field("PSIZE", 8, 2),
    Field("STRT", 16, access=W1S), Field("EOPIE", 24), Field("ERRIE", 25),
    Field("LOCK", 31, access=W1S)])
# reset: the option bytes as shipped, loaded at reset (RM0090 §3.9.10, FLASH_OPTCR: 0x0FFF AAED):
# no sector write-protected, read protection level 0, OPTLOCK set
OPTCR = Register("OPTCR", 0x14, reset=0x0FFF_AAED, on_write="_optcr_written", fields=[
    Field("OPTLOCK", 0, access=W1S), Field("OPTSTRT", 1, access=W1S), Field("BOR_LEV", 2, 2),
    Field("WDG_SW", 5), Field("nRST_STOP", 6), Field("nRST_STDBY", 7), Field("RDP", 8, 8),
    Field("nWRP", 16, 12)])


PSIZE_BYTES = (1, 2, 4, 8)            # CR.PSIZE: x8, x16, x32, x64 (RM0090 §3.9.8)
# sector boundaries of the 1 MiB array (RM0090 §3.3, Table 5): 4 x 16 KiB, 64 KiB, 7 x 128 KiB
_SECTOR_ENDS = (0x4000, 0x8000, 0xC000, 0x1_0000, 0x2_0000) + tuple(0x2_0000 * n for n in range(2, 9))


def sector_of(offset: int) -> int:
    """The sector of a byte `offset` into the flash array."""
    for sector, end in enumerate(_SECTOR_ENDS):
        if offset < end:
            return sector
    return len(_SECTOR_ENDS) - 1


@model("MTD.STM32F4_FlashController")
class STM32F4_FlashController(Peripheral):
    SIZE = 0x400
    REGISTERS = (ACR, KEYR, OPTKEYR, SR, CR, OPTCR)

    def reset(self) -> None:
        super().reset()
        self._cr_key_state = 0          # 0: locked, 1: KEY1 seen, 2: unlocked, -1: bad key (stuck)
        self._opt_key_state = 0
        self.rejected_stores = 0        # CPU stores into flash that were not performed

    def _key_written(self, old: int, key: int) -> None:
        self._cr_key_state = self._advance_key(self._cr_key_state, key, KEY1, KEY2)
        if self._cr_key_state == 2:
            self[CR.LOCK] = 0

    def _optkey_written(self, old: int, key: int) -> None:
        self._opt_key_state = self._advance_key(self._opt_key_state, key, OPTKEY1, OPTKEY2)
        if self._opt_key_state == 2:
            self[OPTCR.OPTLOCK] = 0

    def _cr_written(self, old: int, new: int) -> None:
        if CR.LOCK.get(old):
            self[CR] = old                          # locked: writes are ignored
            return
        if CR.LOCK.get(new):
            self._cr_key_state = 0                  # relocking restarts the key sequence
        self[CR.STRT] = 0                           # no flash operation is modelled: done at once

    def _optcr_written(self, old: int, new: int) -> None:
        if OPTCR.OPTLOCK.get(old):
            self[OPTCR] = old
            return
        if OPTCR.OPTLOCK.get(new):
            self._opt_key_state = 0
        self[OPTCR.OPTSTRT] = 0                     # option-byte loading completes at once

    @staticmethod
    def _advance_key(state: int, value: int, first: int, second: int) -> int:
        if state == 0 and value == first:
            return 1
        if state == 1 and value == second:
            return 2
        return -1                       # a wrong key locks the register until reset

    @property
    def latency(self) -> int:
        return self[ACR.LATENCY]

    # --- CPU stores into the flash array ---------------------------------------------------------
    def store_allowed(self, offset: int, size: int) -> bool:
        """A CPU store of `size` bytes at `offset` into the flash array: True if the programming
        sequence allows it (the bus then programs it); False if it is not performed, with the SR
        error flags set as on silicon."""
        errors = []
        if self[CR.LOCK] or not self[CR.PG]:
            errors.append(SR.PGSERR)
        if size != PSIZE_BYTES[self[CR.PSIZE]]:
            errors.append(SR.PGPERR)
        if not (self[OPTCR.nWRP] >> sector_of(offset)) & 1:
            errors.append(SR.WRPERR)
        for flag in errors:
            self[flag] = 1
        self.rejected_stores += bool(errors)
        if errors:
            return False
        if self[CR.EOPIE]:
            self[SR.EOP] = 1
        return True
