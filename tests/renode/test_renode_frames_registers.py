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
    assert [registers.register_index(n) for n in CORE_REGISTERS] == list(range(16)) + [25]
    assert registers.register_index("basepri") == 19
    assert registers.register_index("control") == 18


@pytest.mark.parametrize("control, xpsr, msp, psp", [
    (0x0, 0x0100_0000, registers.CURRENT_SP, registers.OTHER_SP),   # thread mode on MSP
    (0x2, 0x0100_0000, registers.OTHER_SP, registers.CURRENT_SP),   # thread mode, SPSEL: PSP
    (0x2, 0x0100_000F, registers.CURRENT_SP, registers.OTHER_SP),   # handler (SysTick): MSP
])
def test_banked_stack_pointers_follow_spsel_and_the_mode(control, xpsr, msp, psp):
    assert registers.banked_sp_index("msp", control, xpsr) == msp
    assert registers.banked_sp_index("psp", control, xpsr) == psp


def test_registers_renode_does_not_expose_point_to_gdb():
    for name in ("primask", "faultmask", "s0", "fpscr"):
        with pytest.raises(BackendError, match="start_gdb_server"):
            registers.register_index(name)
