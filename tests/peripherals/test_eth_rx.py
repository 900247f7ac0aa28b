"""Ethernet MAC receive path: FCS and FL, spanning descriptors, exhaustion and resume, address
filtering, checksum status (RM0090 §33.6.8 receive DMA and RX descriptors, §33.5 filtering)."""

from __future__ import annotations

import zlib

import pytest

from ethkit import (ETH_IRQ, NIS, OMR_DFRF, OMR_OSF, OMR_RSF, OMR_TSF, OWN, PEER, RBUS,
                    RDES0_DE, RDES0_FS, RDES0_FT, RDES0_LS, RS, CSTF, DM, FES, IPCO, Driver,
                    tcp_frame, udp_frame)

SRAM = 0x2000_0000
RX_DESC, RX_BUF = SRAM + 0x200, SRAM + 0x4000
BROADCAST = b"\xff" * 6


def started(machine, *, count=4, size=1524, chained=True, enhanced=True, omr=OMR_TSF | OMR_RSF | OMR_OSF,
            maccr=DM | FES, dic=False):
    drv = Driver(machine, enhanced=enhanced)
    drv.init(omr=omr, maccr=maccr)
    drv.setup_rx(RX_DESC, count, RX_BUF, size, chained=chained, dic=dic)
    drv.setup_tx(SRAM + 0x100, 2, SRAM + 0x1000, 1536)
    drv.start()
    return drv


@pytest.mark.parametrize("chained", [True, False], ids=["chained", "ring"])
@pytest.mark.parametrize("enhanced", [True, False], ids=["enhanced", "normal"])
def test_frame_lands_with_fcs_counted_in_fl(machine, chained, enhanced):
    drv = started(machine, chained=chained, enhanced=enhanced)
    frame = tcp_frame(b"hello" * 20)
    assert drv.mac.receive(frame)
    [(data, rdes0)] = drv.receive_all()
    assert rdes0 & (RDES0_FS | RDES0_LS | RDES0_FT) == RDES0_FS | RDES0_LS | RDES0_FT
    assert (rdes0 >> 16) & 0x3FFF == len(frame) + 4, "FL includes the FCS, as on silicon"
    assert data == frame + zlib.crc32(frame).to_bytes(4, "little")
    assert drv.r["DMASR"] & (RS | NIS) == RS | NIS and machine.irq(ETH_IRQ)


def test_crc_strip_for_type_frames(machine):
    drv = started(machine, maccr=DM | FES | CSTF)
    frame = udp_frame(b"abc" * 30)
    drv.mac.receive(frame)
    [(data, rdes0)] = drv.receive_all()
    assert (rdes0 >> 16) & 0x3FFF == len(frame) and data == frame


def test_short_frames_arrive_padded_to_the_ethernet_minimum(machine):
    drv = started(machine)
    arp = BROADCAST + PEER + b"\x08\x06" + bytes(28)
    drv.mac.receive(arp)
    [(data, rdes0)] = drv.receive_all()
    assert (rdes0 >> 16) & 0x3FFF == 64 and data[:42] == arp


@pytest.mark.parametrize("chained", [True, False], ids=["chained", "ring"])
def test_frame_spanning_descriptors(machine, chained):
    drv = started(machine, size=256, chained=chained)
    frame = tcp_frame(bytes(range(256)) * 2)            # 566 bytes + FCS: three 256-byte buffers
    drv.mac.receive(frame)
    statuses = [machine.r32(d) for d in drv.rx_descs[:3]]
    assert statuses[0] & RDES0_FS and not statuses[0] & RDES0_LS
    assert not statuses[1] & (RDES0_FS | RDES0_LS)
    assert statuses[2] & RDES0_LS and (statuses[2] >> 16) & 0x3FFF == len(frame) + 4
    [(data, _)] = drv.receive_all()
    assert data[:-4] == frame


def test_fcs_spills_into_an_extra_descriptor(machine):
    """RIOT PR #15318: a frame that fills its buffers exactly needs one more descriptor for the
    4 FCS bytes; the model does what the DMA does."""
    drv = started(machine, size=256)
    frame = tcp_frame(b"q" * (512 - 54))                # exactly two 256-byte buffers of data
    drv.mac.receive(frame)
    statuses = [machine.r32(d) for d in drv.rx_descs[:3]]
    assert not statuses[1] & RDES0_LS and statuses[2] & RDES0_LS
    assert machine.read(drv.rx_bufs[2], 4) == zlib.crc32(frame).to_bytes(4, "little")


def test_dic_suppresses_rs(machine):
    drv = started(machine, dic=True)
    drv.mac.receive(udp_frame(b"x"))
    assert not drv.r["DMASR"] & RS
    assert len(drv.receive_all()) == 1


def test_exhausted_descriptors_hold_frames_and_dmarpdr_resumes(machine):
    """DFRF = 1: no frame is lost while the CPU holds the descriptors; RBUS is set and a poll
    demand after returning them delivers the waiting frame."""
    drv = started(machine, count=2, omr=OMR_TSF | OMR_RSF | OMR_DFRF)
    frames = [udp_frame(bytes([n]) * 200) for n in range(3)]
    for f in frames:
        assert drv.mac.receive(f)
    sr = drv.r["DMASR"]
    assert sr & RBUS and (sr >> 17) & 7 == 4          # RPS = suspended
    assert drv.mac.rx_fifo_frames == 1
    got = drv.receive_all()                              # gives the descriptors back
    drv.resume_rx()                                      # clear RBUS, write DMARPDR
    got += drv.receive_all()
    assert [g[0][:-4] for g in got] == frames
    assert drv.r["DMAMFBOCR"] == 0


def test_returned_descriptors_are_picked_up_by_the_next_frame_without_a_poll(machine):
    drv = started(machine, count=2, omr=OMR_TSF | OMR_RSF)
    drv.mac.receive(udp_frame(b"1" * 100))
    drv.mac.receive(udp_frame(b"2" * 100))
    assert drv.r["DMASR"] & RBUS
    assert len(drv.receive_all()) == 2                  # descriptors back, no DMARPDR written
    assert drv.mac.receive(udp_frame(b"3" * 100)), "the DMA re-fetches when a frame arrives"
    assert len(drv.receive_all()) == 1


def test_flushing_enabled_drops_frames_while_no_descriptor_and_counts_mfc(machine):
    """DFRF = 0 (reset default): a frame that arrives while the current descriptor is still
    CPU-owned is flushed and counted in DMAMFBOCR.MFC (Synopsys Rx suspend behaviour)."""
    drv = started(machine, count=2, omr=OMR_TSF | OMR_RSF)
    for n in range(2):
        assert drv.mac.receive(udp_frame(bytes([n]) * 100))
    assert not drv.mac.receive(udp_frame(b"lost" * 25))
    assert not drv.mac.receive(udp_frame(b"lost" * 25))
    assert drv.r["DMAMFBOCR"] & 0xFFFF == 2
    assert drv.r["DMAMFBOCR"] == 0, "DMAMFBOCR clears on read"
    assert len(drv.receive_all()) == 2


def test_truncated_frame_when_descriptors_run_out_midway(machine):
    drv = started(machine, count=2, size=256, omr=OMR_TSF | OMR_RSF)
    drv.mac.receive(tcp_frame(b"z" * 900))              # needs 4 buffers, 2 available
    last = machine.r32(drv.rx_descs[1])
    assert last & RDES0_LS and last & RDES0_DE
    assert drv.mac.counters["rx_truncated"] == 1


def test_frame_resumes_in_later_descriptors_when_flushing_is_disabled(machine):
    drv = started(machine, count=2, size=256, omr=OMR_TSF | OMR_RSF | OMR_DFRF)
    frame = tcp_frame(b"z" * 700)                        # 754 + 4 bytes: 3 buffers
    drv.mac.receive(frame)
    assert drv.r["DMASR"] & RBUS
    first = [machine.read(b, 256) for b in drv.rx_bufs]
    for d in drv.rx_descs:                               # a driver that returns the intermediate
        machine.w32(d, OWN)                              # descriptors it consumed
    drv.resume_rx()
    last = machine.r32(drv.rx_descs[0])
    assert last & RDES0_LS and not last & RDES0_DE and (last >> 16) & 0x3FFF == len(frame) + 4
    assert first[0] + first[1] + machine.read(drv.rx_bufs[0], 758 - 512) == frame + zlib.crc32(frame).to_bytes(4, "little")


def test_address_filter(machine):
    drv = started(machine)

    def accepted(frame: bytes) -> bool:
        ok = drv.mac.receive(frame)
        drv.receive_all()                                # keep descriptors available
        return ok

    other = bytes.fromhex("020000000099")
    assert not accepted(udp_frame(b"x", dst=other)), "unicast to another station"
    assert accepted(udp_frame(b"x", dst=BROADCAST))
    drv.r["MACFFR"] = 1 << 5                             # BFD
    assert not accepted(udp_frame(b"x", dst=BROADCAST))
    multicast = bytes.fromhex("01005e000001")
    drv.r["MACFFR"] = 0
    assert not accepted(udp_frame(b"x", dst=multicast))
    drv.r["MACFFR"] = 1 << 4                             # PAM
    assert accepted(udp_frame(b"x", dst=multicast))
    # hash filter: bit = top 6 bits of the bit-reversed CRC-32 of the address (Linux stmmac)
    crc = zlib.crc32(multicast)
    bit = int(f"{crc:032b}"[::-1], 2) >> 26
    drv.r["MACHTHR" if bit >= 32 else "MACHTLR"] = 1 << (bit & 31)
    drv.r["MACFFR"] = 1 << 2                             # HM
    assert accepted(udp_frame(b"x", dst=multicast))
    drv.r["MACHTHR"] = drv.r["MACHTLR"] = 0
    assert not accepted(udp_frame(b"x", dst=multicast))
    drv.r["MACA1HR"] = (1 << 31) | int.from_bytes(other[4:], "little")   # perfect filter slot 1
    drv.r["MACA1LR"] = int.from_bytes(other[:4], "little")
    drv.r["MACFFR"] = 0
    assert accepted(udp_frame(b"x", dst=other))
    drv.r["MACFFR"] = 1                                  # promiscuous
    assert accepted(udp_frame(b"x", dst=bytes.fromhex("0a0b0c0d0e0f")))
    drv.r["MACFFR"] = 1 << 31                            # receive all, AFM marks the misfit
    assert drv.mac.receive(udp_frame(b"x", dst=bytes.fromhex("0a0b0c0d0e0f")))
    [(_, rdes0)] = drv.receive_all()
    assert rdes0 & (1 << 30)
    assert drv.mac.counters["rx_filtered"] == 4


def test_rx_checksum_offload_status(machine):
    drv = started(machine, maccr=DM | FES | IPCO, omr=OMR_TSF | OMR_RSF | (1 << 26))   # DTCEFD
    good = tcp_frame(b"ok" * 30)
    import dpkt
    good = bytes(dpkt.ethernet.Ethernet(good))          # dpkt fills in valid sums
    good_eth = dpkt.ethernet.Ethernet(good)
    good_eth.data.sum = 0
    good_eth.data.data.sum = 0
    good = bytes(good_eth)
    bad = bytearray(good)
    bad[-1] ^= 0xFF
    drv.mac.receive(good)
    drv.mac.receive(bytes(bad))
    [(_, ok), (_, broken)] = drv.receive_all()
    assert ok & 1 and not ok & (1 << 7)                  # ESA, no header error
    rdes4_ok = machine.r32(drv.rx_descs[0] + 16)
    rdes4_bad = machine.r32(drv.rx_descs[1] + 16)
    assert rdes4_ok & 0x7 == 2 and rdes4_ok & (1 << 6) and not rdes4_ok & (1 << 4)  # TCP, IPv4
    assert rdes4_bad & (1 << 4)                          # IPPE
    drv.r["DMAOMR"] = OMR_TSF | OMR_RSF | (1 << 1) | (1 << 13)  # checksum-error frames dropped
    assert not drv.mac.receive(bytes(bad))
    assert drv.mac.receive(good)


def test_receiver_off_and_link_down_drop(machine):
    drv = started(machine)
    drv.r["MACCR"] = DM | FES | (1 << 3)                 # RE cleared
    assert not drv.mac.receive(udp_frame(b"x"))
    drv.r["MACCR"] = DM | FES | (1 << 3) | (1 << 2)
    drv.phy.set_link(False)
    assert not drv.mac.receive(udp_frame(b"x"))
    assert drv.mac.counters["rx_mac_disabled"] == 1 and drv.mac.counters["rx_link_down"] == 1


def test_bad_fcs_counts_a_crc_error(machine):
    drv = started(machine)
    assert not drv.mac.receive(udp_frame(b"x"), fcs=b"\0\0\0\0")
    assert drv.r["MMCRFCECR"] == 1


def test_rx_descriptor_in_ccm_is_a_bus_error(machine):
    drv = started(machine)
    drv.r["DMAOMR"] = OMR_TSF | OMR_RSF
    drv.r["DMARDLAR"] = 0x1000_0000
    drv.r["DMAOMR"] = OMR_TSF | OMR_RSF | (1 << 1)
    assert drv.r["DMASR"] & (1 << 13)
    assert (drv.r["DMASR"] >> 23) & 7 == 0b110           # RX, read, descriptor
    assert drv.mac.receive(udp_frame(b"x")) is True      # sits in the FIFO of a stopped DMA


def test_ring_mode_fills_buffer_2_and_rounds_sizes_down_to_words(machine):
    drv = started(machine, count=2, chained=False)
    d = drv.rx_descs[0]
    machine.w32(d + 4, (258 << 16) | 130)                # RBS2 258 -> 256, RBS1 130 -> 128
    machine.w32(d + 12, RX_BUF + 0x2000)
    frame = udp_frame(b"r" * 300)
    drv.mac.receive(frame)
    rdes0 = machine.r32(d)
    assert rdes0 & RDES0_LS and (rdes0 >> 16) & 0x3FFF == len(frame) + 4
    stored = frame + zlib.crc32(frame).to_bytes(4, "little")
    assert machine.read(RX_BUF, 128) == stored[:128]
    assert machine.read(RX_BUF + 0x2000, len(stored) - 128) == stored[128:]
