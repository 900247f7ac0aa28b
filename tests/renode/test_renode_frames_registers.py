"""FCS at the Renode boundary, and our register names on Renode's CortexM."""

from __future__ import annotations

import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.backend import CORE_REGISTERS
from sim.errors import BackendError
from sim.renode import registers
from sim.renode.frames import fcs, split_fcs, with_fcs

ETHERNET_CRC_RESIDUE = 0x2144DF1C   # CRC-32 over frame + correct FCS, as a receiver checks it


def test_fcs_is_the_ieee_crc32_in_wire_order():
    # the CRC-32 check value of "123456789" is 0xCBF43926; Ethernet sends it LSB first
    assert fcs(b"123456789") == bytes.fromhex("2639f4cb")


@given(st.binary(min_size=14, max_size=1514))
def test_a_frame_with_our_fcs_passes_a_receivers_check_and_strips_back(frame):
    wire = with_fcs(frame)
    assert zlib.crc32(wire) == ETHERNET_CRC_RESIDUE
    assert split_fcs(wire) == (frame, True)


def test_a_corrupted_frame_is_reported_and_a_runt_refused():
    wire = bytearray(with_fcs(bytes(range(60))))
    wire[20] ^= 0x01
    data, ok = split_fcs(bytes(wire))
    assert not ok and len(data) == 60
    with pytest.raises(ValueError, match="at least 14 bytes"):
        with_fcs(b"\xff" * 13)


def test_core_registers_map_to_renode_cortexm_indices():
    # Renode 1.16.1's CortexMRegisters: r0-r15 = 0-15, CPSR (xPSR) 25, BASEPRI 19, PRIMASK 28,
    # FAULTMASK 30 (renode-infrastructure src/Emulator/Cores/Arm-M/CortexMRegisters.cs)
    assert [registers.register_index(n) for n in CORE_REGISTERS] == list(range(16)) + [25]
    assert [registers.register_index(n) for n in ("basepri", "primask", "faultmask")] == [19, 28, 30]


@pytest.mark.parametrize("process_sp_in_use, msp, psp", [
    (0, registers.SP, registers.INACTIVE_SP),     # on the main stack: r13 is MSP, 22 holds PSP
    (1, registers.INACTIVE_SP, registers.SP),     # a task on the process stack: r13 is PSP
])
def test_stack_pointers_follow_the_stack_in_use(process_sp_in_use, msp, psp):
    assert registers.stack_pointer_index("msp", process_sp_in_use) == msp
    assert registers.stack_pointer_index("psp", process_sp_in_use) == psp


def test_control_shows_spsel_exactly_while_the_process_stack_is_in_use():
    # tlib leaves its stored SPSEL at 0 after an exception return to the process stack
    assert registers.control_value(0x0, 1) == 0x2
    assert registers.control_value(0x4, 1) == 0x6          # FPCA kept
    assert registers.control_value(0x2, 0) == 0x0          # handler mode runs on MSP


def test_registers_renode_does_not_expose_point_to_gdb():
    for name in ("s0", "fpscr", "d3"):
        with pytest.raises(BackendError, match="start_gdb_server"):
            registers.register_index(name)
