"""Faults end the run with a report a developer can act on: unmapped access (PC, address, size,
symbol), undefined instruction, bad fetch, invalid EXC_RETURN, stack overflow;
in firmware mode the firmware's fault handler runs with CFSR/BFAR/HFSR set and its endless loop
is detected; a fault inside HardFault is a lockup; an endless loop in Thread mode just runs to
the limit. Nothing hangs. A store into flash is not a fault (the flash interface flags it)."""

from __future__ import annotations

import pytest

from sim.backend import StopReason
from machine_paths import REAL_PLATFORM

UNMAPPED, UNDEFINED, FLASH_WRITE, BAD_FETCH, BAD_EXC_RETURN, STACK_OVERFLOW, RUN_AWAY, DEAD_LOOP = range(1, 9)


def fault_of(m, limit=2_000_000):
    result = m.run(limit)
    assert result.reason is StopReason.FAULT, result
    return result.fault


def test_unmapped_read_names_pc_address_size_and_symbol(core_machine):
    m = core_machine("core_faults", {"SCENARIO": UNMAPPED})
    f = fault_of(m)
    assert f.kind == "unmapped-access"
    assert f.address == 0x30000004
    assert f.symbol.startswith("fault_unmapped_read+")
    assert f.pc == m.symbol_address("fault_unmapped_read") + int(f.symbol.split("+")[1], 16)
    assert "read of 4 bytes at 0x30000004" in f.message
    assert f"pc=0x{f.pc:08x}" in f.message
    assert "r0=" in f.message and "sp=" in f.message


def test_undefined_instruction(core_machine):
    m = core_machine("core_faults", {"SCENARIO": UNDEFINED})
    f = fault_of(m)
    assert f.kind == "invalid-instruction"
    assert f.symbol == "fault_undefined"
    assert "0xde07" in f.message                     # udf #7


def test_write_to_flash_is_not_performed_and_not_a_fault(core_machine):
    """RM0090 §3.6.2: a store into flash outside a programming sequence is not performed and sets
    FLASH_SR.PGSERR (PGPERR too: PSIZE is x8 after reset and this is a word store); no fault."""
    m = core_machine("core_faults", {"SCENARIO": FLASH_WRITE}, platform=REAL_PLATFORM)
    before = m.read_memory(0x08010000, 4)
    result = m.run(2_000_000)
    assert result.reason is StopReason.BREAKPOINT, result          # test_finish's BKPT: it ran on
    assert m.read_memory(0x08010000, 4) == before
    from sim.machine.peripherals.flash import SR
    assert m.peripherals["flash_controller"].peek(SR) & 0xC0 == 0xC0


def test_fetch_from_unmapped_code(core_machine):
    m = core_machine("core_faults", {"SCENARIO": BAD_FETCH})
    f = fault_of(m)
    assert f.kind == "unmapped-fetch"
    assert f.pc == 0x30000000
    assert "lr is in fault_jump_unmapped" in f.message


def test_invalid_exc_return_names_the_handler(core_machine):
    m = core_machine("core_faults", {"SCENARIO": BAD_EXC_RETURN})
    f = fault_of(m)
    assert f.kind == "invalid-exc-return"
    assert "0xfffffff5" in f.message
    assert "EXTI0_IRQHandler" in f.message


def test_stack_overflow_on_exception_entry(core_machine):
    m = core_machine("core_faults", {"SCENARIO": STACK_OVERFLOW})
    f = fault_of(m)
    assert f.kind == "stacking-fault"
    assert "SP=0x20000010" in f.message


def test_run_away_loop_stops_at_the_limit(core_machine):
    m = core_machine("core_faults", {"SCENARIO": RUN_AWAY})
    result = m.run(1_000_000)
    assert result.reason is StopReason.LIMIT
    assert result.cycles == 1_000_000
    assert m.cycles == 1_000_000


def test_endless_loop_with_interrupts_disabled_is_reported_not_run_to_the_limit(core_machine):
    m = core_machine("core_faults", {"SCENARIO": DEAD_LOOP})
    f = fault_of(m, limit=100_000_000)
    assert f.kind == "lockup"
    assert "main" in f.symbol and "PRIMASK set" in f.message
    assert m.cycles <= 1_000_000                     # noticed within one slice


def test_firmware_hardfault_report_decodes_the_frame_and_status(core_machine):
    m = core_machine("core_faults", {"SCENARIO": UNMAPPED}, fault_mode="firmware")
    f = fault_of(m, limit=50_000_000)
    assert f.kind == "hardfault"
    assert f.symbol.startswith("fault_unmapped_read+")
    assert f.address == 0x30000004
    msg = f.message
    assert "PRECISERR: precise data bus error, BFAR=0x30000004" in msg
    assert "FORCED" in msg and "HFSR=0x40000000" in msg
    assert "stacked frame at 0x" in msg and "xpsr=0x" in msg
    assert "HardFault_Handler" in msg
    assert m.read_memory(0xE000ED38, 4) == (0x30000004).to_bytes(4, "little")  # BFAR
    # the loop was noticed long before the limit
    assert m.cycles < 1_000_000


def test_enabled_busfault_goes_to_the_busfault_handler(core_machine):
    m = core_machine("core_faults", {"SCENARIO": UNMAPPED, "ENABLE_BUSFAULT": 1}, fault_mode="firmware")
    f = fault_of(m, limit=50_000_000)
    assert f.kind == "busfault"
    assert "BusFault_Handler" in f.message
    assert "HFSR=0x00000000" in f.message


def test_undefined_instruction_in_firmware_mode_sets_undefinstr(core_machine):
    m = core_machine("core_faults", {"SCENARIO": UNDEFINED}, fault_mode="firmware")
    f = fault_of(m, limit=50_000_000)
    assert "UNDEFINSTR" in f.message
    assert f.symbol == "fault_undefined"


def test_fault_inside_hardfault_is_a_lockup(core_machine):
    m = core_machine("core_faults", {"SCENARIO": UNMAPPED, "DOUBLE_FAULT": 1}, fault_mode="firmware")
    f = fault_of(m)
    assert f.kind == "lockup"
    assert f.symbol.startswith("HardFault_Handler")
    assert "fault_unmapped_read" in f.message       # the interrupted code's stacked PC


def test_bad_fault_mode_is_rejected():
    from sim.machine import Machine
    with pytest.raises(ValueError, match="fault_mode"):
        Machine(fault_mode="ignore")


def test_read_past_the_end_of_a_register_window(core_machine):
    m = core_machine("core_bus", {"PAST_END": 1}, platform=REAL_PLATFORM)
    f = fault_of(m)
    assert f.kind == "unmapped-access"
    assert f.address == 0x40011104
    assert "read of 4 bytes at 0x40011104: no register there: past the end of usart1 (0x40011000-0x400110ff)" in f.message
    assert f.symbol.startswith("main+")


def test_floating_point_with_the_fpu_disabled_is_reported(core_machine):
    m = core_machine("core_nocp")
    f = fault_of(m)
    assert f.kind == "nocp"
    assert "CPACR=0x00000000" in f.message and "CP10/CP11" in f.message


@pytest.mark.parametrize("scenario, kind, cause", [
    (UNMAPPED, "unmapped-access", "read of 4 bytes at 0x30000004: nothing is mapped there"),
    (UNDEFINED, "invalid-instruction", "undefined instruction 0xde07"),
    (BAD_FETCH, "unmapped-fetch", "instruction fetch from 0x30000000: nothing is mapped there"),
])
def test_firmware_mode_without_a_handler_reports_the_cause_first(core_machine, scenario, kind, cause):
    """An image whose HardFault vector is 0 cannot handle the fault; the report still says what
    the fault was and where, exactly as fault_mode="report" does, and then why no handler ran."""
    reported = fault_of(core_machine("core_faults", {"SCENARIO": scenario}))
    m = core_machine("core_faults", {"SCENARIO": scenario}, fault_mode="firmware")
    m.write_memory(0x0800_000C, bytes(4))            # vector 3 (HardFault) = 0: no handler
    f = fault_of(m)
    assert (f.kind, f.pc, f.symbol, f.address) == (kind, reported.pc, reported.symbol, reported.address)
    lines = f.message.splitlines()
    assert lines[0].startswith(f"{kind}: {cause}")
    assert lines[:2] == reported.message.splitlines()[:2]      # what, where, when
    assert "could not be entered: vector-fault: the vector for HardFault at 0x0000000c is " \
           "0x00000000" in f.message


def test_firmware_mode_reports_keep_the_cause_when_the_handler_loops_or_faults(core_machine):
    looping = fault_of(core_machine("core_faults", {"SCENARIO": UNMAPPED}, fault_mode="firmware"),
                       limit=50_000_000)
    assert looping.message.startswith("firmware HardFault: read of 4 bytes at 0x30000004: nothing is mapped")
    assert "faulting instruction: pc=0x" in looping.message and "in fault_unmapped_read+" in looping.message
    locked = fault_of(core_machine("core_faults", {"SCENARIO": UNMAPPED, "DOUBLE_FAULT": 1},
                                   fault_mode="firmware"))
    assert locked.kind == "lockup" and "read of 4 bytes at 0x30000008" in locked.message
    assert "while the firmware's HardFault handler was handling: read of 4 bytes at 0x30000004" in locked.message
