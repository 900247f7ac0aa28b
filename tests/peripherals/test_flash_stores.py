"""CPU stores into the flash array, judged by the flash interface as RM0090 §3.6.2 and §3.9.4
describe: programmed only inside a programming sequence (unlocked, PG set, the width PSIZE
names, a sector nWRP leaves writable), otherwise not performed and flagged in FLASH_SR."""

from __future__ import annotations

from sim.machine.peripherals.flash import KEY1, KEY2, STM32F4_FlashController

from periphkit import Regs

PGSERR, PGPERR, WRPERR, EOP = 1 << 7, 1 << 6, 1 << 4, 1 << 0


def controller(machine):
    model = STM32F4_FlashController(machine, "flash_controller", {}, {})
    return model, Regs(model)


def test_a_stray_store_is_not_performed_and_sets_the_sequence_error(machine):
    model, r = controller(machine)
    assert r["OPTCR"] == 0x0FFF_AAED                       # option bytes as shipped: nothing protected
    assert not model.store_allowed(0x1_0000, 4)            # locked, PG clear, PSIZE x8
    assert r["SR"] == PGSERR | PGPERR                      # what a stray word store leaves on silicon
    r["SR"] = PGSERR | PGPERR                              # rc_w1
    assert r["SR"] == 0 and model.rejected_stores == 1


def test_a_store_in_a_programming_sequence_is_programmed(machine):
    model, r = controller(machine)
    r["KEYR"] = KEY1
    r["KEYR"] = KEY2
    r["CR"] = (2 << 8) | 1 | (1 << 24)                     # PSIZE x32, PG, EOPIE
    assert model.store_allowed(0x8_0000, 4)
    assert r["SR"] == EOP
    assert not model.store_allowed(0x8_0000, 2)            # half-word with PSIZE x32
    assert r["SR"] & PGPERR and not r["SR"] & PGSERR


def test_a_write_protected_sector_refuses_programming(machine):
    model, r = controller(machine)
    r["OPTKEYR"] = 0x0819_2A3B
    r["OPTKEYR"] = 0x4C5D_6E7F
    r["OPTCR"] = r["OPTCR"] & ~(1 << (16 + 5))             # nWRP5 = 0: sector 5 (0x20000-0x3FFFF) protected
    r["KEYR"] = KEY1
    r["KEYR"] = KEY2
    r["CR"] = (2 << 8) | 1
    assert model.store_allowed(0x1_0000, 4)                # sector 4: fine
    assert not model.store_allowed(0x2_0004, 4)
    assert r["SR"] & WRPERR
