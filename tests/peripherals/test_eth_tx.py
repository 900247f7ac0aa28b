"""Ethernet MAC transmit path: descriptor walks, checksum insertion, status and interrupts.

Checksums are verified by dpkt, which recomputes them independently of the model."""

from __future__ import annotations

import pytest

from ethkit import (AIS, FBES, IC, ETH_IRQ, LS, NIS, NISE, OWN, TBUS, TIE, TS, Driver,
                    dpkt_checksums, icmp_frame, tcp_frame, udp_frame)

SRAM = 0x2000_0000
TX_DESC, TX_BUF = SRAM + 0x100, SRAM + 0x1000


@pytest.mark.parametrize("enhanced", [True, False], ids=["enhanced", "normal"])
@pytest.mark.parametrize("chained", [True, False], ids=["chained", "ring"])
def test_frame_spanning_descriptors_with_full_checksum_insertion(machine, enhanced, chained):
    drv = Driver(machine, enhanced=enhanced)
    drv.init()
    drv.setup_tx(TX_DESC, 4, TX_BUF, 1024, chained=chained)
    drv.start()
    frame = tcp_frame(bytes(range(256)) * 6)            # 1514 bytes: two buffers of 1024
    drv.send(frame, cic=3)
    assert len(drv.sent) == 1
    sent = drv.sent[0]
    assert len(sent.data) == len(frame) == 14 + 20 + 20 + 1536
    assert dpkt_checksums(sent.data) == (True, True)
    assert sent.data[:24] == frame[:24] and sent.data[54:] == frame[54:]
    assert [(s.descriptor, s.buffer, s.frame_offset, s.length) for s in sent.segments] == [
        (drv.tx_descs[0], drv.tx_bufs[0], 0, 1024), (drv.tx_descs[1], drv.tx_bufs[1], 1024, 566)]
    assert sent.checksum_insertion == 3
    for d in drv.tx_descs[:2]:
        assert not machine.r32(d) & OWN
    assert machine.stop_requests == 1


def test_ring_mode_wraps_at_ter_and_honours_dsl(machine):
    drv = Driver(machine, enhanced=False)
    drv.init(dsl=2)                                     # 2 words skipped: 24-byte spacing
    drv.setup_tx(TX_DESC, 3, TX_BUF, 256, chained=False, stride=16 + 8)
    drv.start()
    for n in range(5):                                  # goes round the 3-descriptor ring
        drv.send(udp_frame(bytes([n]) * 100), cic=3)
    assert [f.data[42] for f in drv.sent] == [0, 1, 2, 3, 4]
    assert all(dpkt_checksums(f.data) == (True, True) for f in drv.sent)


def test_checksum_is_valid_over_the_bytes_in_the_buffers(machine):
    """The seedbug geometry: the copy loop fills only 1020 bytes of a 1024-byte buffer but the
    descriptor declares TBS1 = 1024. The MAC sends the 4 stale bytes and computes a *valid* TCP
    checksum over them, because it sums what the DMA read - as on silicon."""
    drv = Driver(machine)
    drv.init()
    drv.setup_tx(TX_DESC, 4, TX_BUF, 1024)
    drv.start()
    machine.write(drv.tx_bufs[0] + 1020, b"STAL")
    frame = tcp_frame(b"x" * 1346)                         # 1400 bytes
    drv.send_buffers([(frame[:1020], 1024), (frame[1020:], len(frame) - 1024)], cic=3)
    sent = drv.sent[0].data
    assert len(sent) == len(frame)
    checksums = (slice(24, 26), slice(50, 52))          # the fields the MAC rewrites
    masked = bytearray(sent)
    for field in checksums:
        masked[field] = frame[field]
    assert masked[:1020] == frame[:1020] and sent[1020:1024] == b"STAL"
    assert sent[1024:] == frame[1020:1396]
    assert dpkt_checksums(sent) == (True, True)


def test_cic_modes(machine):
    drv = Driver(machine)
    drv.init()
    drv.setup_tx(TX_DESC, 4, TX_BUF, 1536)
    drv.start()
    frame = tcp_frame(b"data" * 50, tcp_sum=0xBEEF, ip_sum=0xDEAD)
    drv.send(frame, cic=0)
    assert drv.sent[-1].data == frame                   # bypass: untouched
    drv.send(frame, cic=1)
    assert dpkt_checksums(drv.sent[-1].data) == (True, False)
    # CIC 10: the pseudo-header sum must already be in the field
    proper = drv.sent[-1].data
    import dpkt
    ip = dpkt.ethernet.Ethernet(frame).data
    pseudo = ip.src + ip.dst + bytes([0, 6]) + len(bytes(ip.data)).to_bytes(2, "big")
    partial = sum(int.from_bytes(pseudo[i:i + 2], "big") for i in range(0, 12, 2))
    while partial > 0xFFFF:
        partial = (partial & 0xFFFF) + (partial >> 16)
    with_pseudo = bytearray(frame)
    with_pseudo[50:52] = partial.to_bytes(2, "big")
    drv.send(bytes(with_pseudo), cic=2)
    assert dpkt_checksums(drv.sent[-1].data) == (True, True)
    drv.send(frame, cic=3)
    assert dpkt_checksums(drv.sent[-1].data) == (True, True)
    assert proper[:24] == drv.sent[-1].data[:24]


def test_icmp_and_udp_insertion(machine):
    drv = Driver(machine)
    drv.init()
    drv.setup_tx(TX_DESC, 4, TX_BUF, 1536)
    drv.start()
    drv.send(icmp_frame(b"ping" * 8), cic=3)
    assert dpkt_checksums(drv.sent[-1].data) == (True, True)
    drv.send(icmp_frame(b"ping" * 8, field=0x0101), cic=3)  # field must be 0, as RM0090 says
    assert dpkt_checksums(drv.sent[-1].data) == (True, False)
    drv.send(udp_frame(b"u" * 33), cic=3)
    assert dpkt_checksums(drv.sent[-1].data) == (True, True)


def test_no_insertion_without_store_and_forward(machine):
    drv = Driver(machine)
    drv.init(omr=0)                                     # TSF = 0: threshold mode
    drv.setup_tx(TX_DESC, 4, TX_BUF, 1536)
    drv.start()
    frame = tcp_frame(b"t" * 100)
    drv.send(frame, cic=3)
    assert drv.sent[-1].data == frame


def test_short_frames_are_padded_unless_dp(machine):
    drv = Driver(machine)
    drv.init()
    drv.setup_tx(TX_DESC, 4, TX_BUF, 1536)
    drv.start()
    arp = bytes(42)
    drv.send(arp)
    assert drv.sent[-1].data == arp + bytes(18)
    drv.send(arp, extra=IC | (1 << 26))
    assert drv.sent[-1].data == arp


def test_tbus_ts_and_interrupt_summaries(machine):
    drv = Driver(machine)
    drv.init(ier=NISE | TIE)
    drv.setup_tx(TX_DESC, 4, TX_BUF, 1536)
    drv.start()
    drv.send(udp_frame(b"a"), extra=0)                  # no IC: no TS
    sr = drv.r["DMASR"]
    assert not sr & TS and sr & TBUS, "meeting OWN=0 after the frame suspends with TBUS"
    assert (sr >> 20) & 7 == 6                          # TPS = suspended
    assert not sr & NIS and not machine.irq(ETH_IRQ), "TBUS is not enabled in DMAIER"
    drv.send(udp_frame(b"b"), extra=IC)
    assert drv.r["DMASR"] & (TS | NIS) == TS | NIS and machine.irq(ETH_IRQ)
    drv.clear_status(TS)
    assert drv.r["DMASR"] & NIS and machine.irq(ETH_IRQ), "NIS is sticky: it needs its own w1c"
    drv.clear_status(NIS)
    assert not machine.irq(ETH_IRQ)


def test_descriptors_in_ccm_raise_fbes_instead_of_crashing(machine):
    drv = Driver(machine)
    drv.init(ier=NISE | (1 << 15) | (1 << 13))
    drv.setup_rx(SRAM + 0x8000, 2, SRAM + 0x9000, 1524)
    drv.r["DMATDLAR"] = 0x1000_0000                     # CCM: the DMA cannot reach it
    drv.start()
    drv.r["DMATPDR"] = 0
    sr = drv.r["DMASR"]
    assert sr & FBES and sr & AIS and machine.irq(ETH_IRQ)
    assert (sr >> 23) & 7 == 0b111                      # EBS: TX, read, descriptor
    assert any("cannot reach" in w for w in drv.mac.warnings)
    drv.r["DMATPDR"] = 0                                # stays stopped, still no exception
    assert drv.mac.counters["bus_errors"] == 1


def test_buffer_in_ccm_raises_fbes_for_a_data_read(machine):
    drv = Driver(machine)
    drv.init()
    drv.setup_rx(SRAM + 0x8000, 2, SRAM + 0x9000, 1524)
    drv.setup_tx(TX_DESC, 2, TX_BUF, 1536)
    machine.w32(drv.tx_descs[0] + 8, 0x1000_0100)
    drv.start()
    machine.w32(drv.tx_descs[0] + 4, 64)
    machine.w32(drv.tx_descs[0], machine.r32(drv.tx_descs[0]) | OWN | LS | (1 << 28))
    drv.r["DMATPDR"] = 0
    assert drv.r["DMASR"] & FBES and (drv.r["DMASR"] >> 23) & 7 == 0b011
    assert drv.sent == []


def test_tx_waits_for_te(machine):
    drv = Driver(machine)
    drv.init()
    drv.setup_tx(TX_DESC, 4, TX_BUF, 1536)
    drv.r["DMAOMR"] = drv.r["DMAOMR"] | (1 << 13)       # ST without MACCR.TE
    drv.send(udp_frame(b"w"))
    assert drv.sent == []
    drv.r["MACCR"] = drv.r["MACCR"] | (1 << 3)
    assert len(drv.sent) == 1


def test_mmc_counts_good_frames_and_its_interrupt_storms_unless_masked(machine):
    drv = Driver(machine)
    drv.init(ier=0)
    drv.setup_tx(TX_DESC, 4, TX_BUF, 1536)
    drv.start()
    drv.send(udp_frame(b"1"))
    assert drv.r["MMCTGFCR"] == 1
    drv.r["MMCCR"] = (1 << 4)                           # preset to almost half: 0x7FFFFFF0
    for _ in range(16):
        drv.send(udp_frame(b"2"))
    assert drv.r["MMCTIR"] & (1 << 21)                  # TGFS: half range reached
    assert machine.irq(ETH_IRQ), "unmasked MMC interrupt raises the ETH line (RM0090 §33.8.2: masks reset to 0)"
    assert drv.r["MACSR"] & (1 << 6) and drv.r["DMASR"] & (1 << 27)
    drv.r["MMCTGFCR"]                                   # reading the counter clears it
    assert not machine.irq(ETH_IRQ)
    drv.r["MMCTIMR"] = 1 << 21                          # ST's new HAL masks them
    drv.r["MMCCR"] = (1 << 4) | (1 << 5)                # preset to almost full
    for _ in range(16):
        drv.send(udp_frame(b"3"))
    assert drv.r["MMCTIR"] & (1 << 21) and not machine.irq(ETH_IRQ)


def test_ring_mode_uses_both_buffers_of_a_descriptor(machine):
    drv = Driver(machine, enhanced=False)
    drv.init()
    drv.setup_tx(TX_DESC, 2, TX_BUF, 1536, chained=False)
    drv.start()
    frame = udp_frame(b"b" * 200)
    d = drv.tx_descs[0]
    machine.write(TX_BUF, frame[:100])
    machine.write(TX_BUF + 0x800, frame[100:])
    machine.w32(d + 8, TX_BUF)
    machine.w32(d + 12, TX_BUF + 0x800)                  # ring mode: DES3 is buffer 2
    machine.w32(d + 4, ((len(frame) - 100) << 16) | 100)
    machine.w32(d, OWN | LS | (1 << 28) | IC | (3 << 22))
    drv.r["DMATPDR"] = 0
    sent = drv.sent[0]
    assert [(s.buffer, s.length) for s in sent.segments] == [(TX_BUF, 100), (TX_BUF + 0x800, len(frame) - 100)]
    assert dpkt_checksums(sent.data) == (True, True)
