"""Hardware the platform does not model, and stores into flash, handled as silicon and Renode do:

- on_unmapped="warn": a data access to an address nothing is modelled at reads 0, a write is
  ignored, the run goes on, and every access is listed by address, block, direction, function
  and count (the block named from RM0090's memory map, checked against ST's SVD);
- on_unmapped="fault" (the default): the same access is a bus fault;
- a store into flash is never a fault: outside a programming sequence it is not performed and
  FLASH_SR says why (RM0090 §3.6.2), inside one it programs the word - whatever on_unmapped says.

The image (tests/firmware_src/unmodelled_touch.c) reports what each access gave through RECORD()."""

from __future__ import annotations

import pytest

from sim.backend import StopReason
from sim.machine.unmodelled import block_name

from fwresult import run_to_finish
from machine_paths import REAL_PLATFORM


@pytest.fixture
def touch(core_machine):
    def make(**options):
        return core_machine("unmodelled_touch", platform=REAL_PLATFORM, **options)
    return make


def test_warn_reads_zero_ignores_writes_and_lists_every_access(touch):
    m = touch(on_unmapped="warn")
    run, result = run_to_finish(m)
    assert result.passed, result.describe()
    v = result.values
    assert v[0] == 0 and v[1] == 100                 # TIM1: CR1 reads 0; SR.UIF never comes
    assert v[2] == 0 and v[3] == 0                   # FSMC write ignored; a gap in USART1's page reads 0
    assert [(a["address"], a["block"], a["access"], a["function"], a["count"])
            for a in m.unmodelled_accesses()] == [
        ("0x40010000", "TIM1", "read", "main", 1),
        ("0x40010010", "TIM1", "read", "main", 101),
        ("0x40011200", "USART1", "read", "main", 1),
        ("0x60000004", "FSMC banks (external memory)", "read", "main", 1),
        ("0x60000004", "FSMC banks (external memory)", "write", "main", 1),
    ]


def test_stores_into_flash_are_judged_by_the_flash_interface(touch):
    m = touch(on_unmapped="warn")
    vectors = m.read_memory(0x0800_0000, 8)
    run, result = run_to_finish(m)
    v = result.values
    assert v[4] == 0xC0                  # NULL store (flash's boot alias): PGSERR | PGPERR, as on silicon
    assert v[5] == 1 and v[6] == 0xC0    # a copy loop with writeback: not performed, and it terminated
    assert v[7] == 1 and m.read_memory(0x0800_0000, 8) == vectors
    assert v[8] == 0x5A5A_A5A5 and v[9] == 0                # programmed with KEYR, PG and PSIZE x32
    assert m.read_memory(0x080C_0000, 4) == (0x5A5A_A5A5).to_bytes(4, "little")
    assert m.bus.flash_stores.stores == 6 and m.bus.flash_stores.refused == 5


def test_fault_mode_stops_at_the_first_unmodelled_access(touch):
    m = touch()
    result = m.run(2_000_000)
    assert result.reason is StopReason.FAULT
    assert result.fault.kind == "unmapped-access" and result.fault.address == 0x4001_0000
    assert m.unmodelled_accesses() == []


def test_a_run_from_a_snapshot_is_the_same_run(touch):
    """The first touch maps a recording page; a run restored to before it takes the same path."""
    m = touch(on_unmapped="warn")
    snapshot = m.snapshot()
    runs = []
    for _ in range(2):
        m.restore(snapshot)
        run, result = run_to_finish(m)
        runs.append((m.instructions, result.values, m.unmodelled_accesses()))
    assert runs[0] == runs[1]


def test_block_names_cover_every_peripheral_in_st_svd():
    from cmsis_svd.parser import SVDParser

    device = SVDParser.for_packaged_svd("STMicro", "STM32F40x.svd").get_device()
    missing = [p.name for p in device.peripherals if p.name != "NVIC" and block_name(p.base_address) is None]
    assert missing == []
    for name in ("TIM6", "USART2", "SPI1", "DMA2", "CRC", "RNG", "DCMI", "GPIOE"):
        [svd] = [p for p in device.peripherals if p.name == name]
        assert name in block_name(svd.base_address)
    assert block_name(0x4000_2400) is None          # reserved between TIM14 and the RTC
