"""The memory map and MMIO dispatch built from the real platform file."""

from __future__ import annotations

import pytest
from fwresult import run_to_finish

from machine_paths import REAL_PLATFORM
from sim.machine import Machine
from sim.machine.peripherals.base import DmaError


def test_bit_band_aliases_and_tags(core_machine):
    m = core_machine("core_bus", platform=REAL_PLATFORM)
    run, r = run_to_finish(m, 5_000_000)
    assert r.passed, r.describe()
    assert r.values[0] & (1 << 16)                     # HSEON set through the alias
    assert r.values[2] == 0x8
    assert r.values[3] == 0                            # SYSCFG is a tag: the write was dropped
    assert r.values[4] == 0x100


def test_dma_reaches_sram_but_not_ccm_or_flash_writes():
    m = Machine(REAL_PLATFORM)
    m.dma_write(0x20001000, b"abcd")
    assert m.dma_read(0x20001000, 4) == b"abcd"
    with pytest.raises(DmaError):
        m.dma_read(0x10000000, 4)                      # CCM: CPU only
    with pytest.raises(DmaError):
        m.dma_write(0x08000000, b"x")                  # flash is not writable
    with pytest.raises(DmaError):
        m.dma_read(0x40011000, 4)                      # peripherals are not memory


def test_peripherals_get_their_irq_lines_and_the_phy_is_on_the_mac():
    m = Machine(REAL_PLATFORM)
    assert m.bus.irq_routes["usart6"] == {"": 71}
    assert m.bus.irq_routes["ethernet"] == {"": 61}
    exti = m.bus.irq_routes["exti"]
    assert exti["0"] == 6 and exti["5"] == 23 and exti["9"] == 23 and exti["15"] == 40
    assert exti["22"] == 3
    assert m.ethernet is m.peripherals["ethernet"]
    assert m.uart("usart2") is m.uart("usart2")
    assert m.frequency == 168_000_000


def test_test_firmware_startup_copies_data_and_zeroes_bss_and_ccm(core_machine):
    m = core_machine("smoke")
    run, r = run_to_finish(m, 1_000_000)
    assert r.passed, r.describe()
    assert (r.values[0], r.values[1]) == (42, 0x10000000)
