"""Link: serialization timing, fault injection per kind, fault log and capture comments."""

from __future__ import annotations

import io

import pytest
from netkit import DEV_IP, DEV_MAC, HOST_IP, HOST_MAC
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import PcapNgReader

from sim.frame_types import DmaSegment, TxFrame
from sim.net import faults
from sim.net.link import DEVICE_TO_HOST, HOST_TO_DEVICE, Link
from sim.net.pcapng import PcapngWriter
from sim.seed import SeededRandom
from sim.vtime import EventQueue


class Bench:
    def __init__(self, seed: int = 3, **link_kw):
        self.queue = EventQueue()
        self.capture = PcapngWriter()
        self.link = Link(self.queue, rng=SeededRandom(seed, "link"), capture=self.capture, **link_kw)
        self.at_host: list[tuple[int, bytes, int]] = []
        self.at_device: list[tuple[int, bytes]] = []
        self.link.attach_host(lambda f, fid: self.at_host.append((self.queue.now_ns, f, fid)))
        self.link.attach_device(lambda f: self.at_device.append((self.queue.now_ns, f)))

    def run(self, ns: int = 10**9) -> None:
        self.queue.advance_to(self.queue.now_ns + ns)

    def packets(self):
        return list(PcapNgReader(io.BytesIO(self.capture.to_bytes())))


def frame(payload: bytes = b"x" * 100, sport: int = 40000) -> bytes:
    return bytes(Ether(src=DEV_MAC, dst=HOST_MAC) / IP(src=DEV_IP, dst=HOST_IP) /
                 TCP(sport=sport, dport=443, flags="PA", seq=1, ack=1) / Raw(payload))


def test_frames_serialize_back_to_back_and_then_propagate():
    b = Bench(propagation_ns=500)
    big, small = frame(b"x" * 1460), b"\x01" * 42
    assert len(big) == 1514
    b.link.from_device(big)
    b.link.from_device(small)
    b.run()
    (t1, f1, _), (t2, f2, _) = b.at_host
    assert t1 == (1514 + 24) * 80 + 500                  # 80 ns per byte at 100 Mbit/s
    assert t2 == (1514 + 24) * 80 + (60 + 24) * 80 + 500  # short frames count as 60 bytes
    assert (f1, f2) == (big, small)


def test_frame_ids_are_capture_numbers_with_direction_and_dma_info():
    b = Bench()
    tx = TxFrame(frame(), cycles=123, segments=(DmaSegment(0x20000000, 0x20001000, 0, 154),))
    fid = b.link.from_device(tx.data, tx)
    b.link.from_host(b"\x02" * 60)
    b.run()
    assert b.at_host[0][2] == fid == 1
    info = b.link.frame_info(1)
    assert info.direction == DEVICE_TO_HOST and info.tx is tx and info.role == "wire"
    assert b.link.frame_info(2).direction == HOST_TO_DEVICE
    pkts = b.packets()
    assert [p.direction for p in pkts] == [1, 2]          # inbound = device->host
    assert bytes(pkts[0]) == tx.data
    with pytest.raises(KeyError, match="no frame 9"):
        b.link.frame_info(9)


def test_drop_by_index():
    b = Bench()
    b.link.add_fault(DEVICE_TO_HOST, faults.drop(at=1))
    sent = [frame(bytes([i]) * 50) for i in range(3)]
    for f in sent:
        b.link.from_device(f)
    b.run()
    assert [f for _, f, _ in b.at_host] == [sent[0], sent[2]]
    (rec,) = b.link.fault_log
    assert (rec.direction, rec.frame_index, rec.kind) == (DEVICE_TO_HOST, 1, "drop")
    assert rec.packet_before == 2 and rec.packets_after == []
    assert rec.frame.startswith(f"TCP {DEV_IP}:40000 > {HOST_IP}:443 [PA]") and rec.frame.endswith("len=50")
    pkts = b.packets()
    assert len(pkts) == 3
    assert pkts[1].comment.decode().startswith("as sent by the device, before fault injection (dropped")


def test_corrupt_flips_the_chosen_bits_and_both_versions_are_captured():
    b = Bench()
    b.link.add_fault(DEVICE_TO_HOST, faults.corrupt(offset=100, mask=0x04, at=0))
    original = frame()
    b.link.from_device(original)
    b.run()
    (_, got, fid), = b.at_host
    assert got[100] == original[100] ^ 0x04 and got[:100] == original[:100] and got[101:] == original[101:]
    (rec,) = b.link.fault_log
    assert rec.details == "flipped bits 0x04 at offset 100"
    assert rec.packets_after == [fid] and rec.packet_before == 1
    before, after = b.packets()
    assert bytes(before) == original and bytes(after) == got
    assert after.comment == b"corrupted: flipped bits 0x04 at offset 100"
    assert before.comment == b"as sent by the device, before fault injection (corrupted: flipped bits 0x04 at offset 100)"
    assert b.link.frame_info(fid).sent_as == 1


def test_duplicate_delivers_extra_copies():
    b = Bench()
    b.link.add_fault(DEVICE_TO_HOST, faults.duplicate(2, at=0))
    f = frame()
    b.link.from_device(f)
    b.run()
    assert [x for _, x, _ in b.at_host] == [f, f, f]
    times = [t for t, _, _ in b.at_host]
    assert times[1] - times[0] == times[2] - times[1] == b.link.serialization_ns(len(f))
    assert b.link.fault_log[0].packets_after == [2, 3, 4]
    assert [p.comment for p in b.packets()][1:] == [b"duplicated: 2 extra copies"] * 3


def test_reorder_lets_the_next_frame_overtake():
    b = Bench()
    b.link.add_fault(DEVICE_TO_HOST, faults.reorder(at=0))
    a, c, d = frame(b"A" * 60), frame(b"C" * 60), frame(b"D" * 60)
    for f in (a, c, d):
        b.link.from_device(f)
    b.run()
    assert [x for _, x, _ in b.at_host] == [c, a, d]
    (rec,) = b.link.fault_log
    assert rec.kind == "reorder" and rec.packet_before == 1 and rec.packets_after == [4]
    comments = [p.comment for p in b.packets()]
    assert comments[0].startswith(b"as sent by the device, before fault injection (reordered")
    assert comments[3].startswith(b"reordered: held back until 1 later frame passed")


def test_reorder_releases_a_lonely_frame_after_max_hold():
    b = Bench()
    b.link.add_fault(DEVICE_TO_HOST, faults.reorder(at=0, max_hold_ns=5_000_000))
    b.link.from_device(frame())
    b.run(4_000_000)
    assert b.at_host == [] and b.link.in_flight == 1
    b.run(2_000_000)
    assert len(b.at_host) == 1 and b.link.in_flight == 0


def test_truncate_keeps_the_first_bytes():
    b = Bench()
    b.link.add_fault(HOST_TO_DEVICE, faults.truncate(30, at=0))
    f = frame()
    b.link.from_host(f)
    b.run()
    assert b.at_device[0][1] == f[:30]
    assert b.link.fault_log[0].details == f"truncated from {len(f)} to 30 bytes"
    assert b.packets()[1].comment.startswith(b"truncated:")


def test_predicate_and_limit_select_frames():
    b = Bench()
    b.link.add_fault(DEVICE_TO_HOST, faults.drop(when=lambda f: b"secret" in f, limit=1))
    frames = [frame(b"plain"), frame(b"secret"), frame(b"secret again")]
    for f in frames:
        b.link.from_device(f)
    b.run()
    assert [x for _, x, _ in b.at_host] == [frames[0], frames[2]]


def _dropped_indices(seed: int) -> list[int]:
    b = Bench(seed=seed)
    b.link.add_fault(DEVICE_TO_HOST, faults.drop(probability=0.3))
    for i in range(200):
        b.link.from_device(frame(i.to_bytes(2, "big")))
    b.run()
    return [r.frame_index for r in b.link.fault_log]


def test_probability_selection_follows_the_seed():
    first = _dropped_indices(5)
    assert 30 < len(first) < 90
    assert _dropped_indices(5) == first
    assert _dropped_indices(6) != first


def test_corrupt_stream_byte_hits_the_segment_carrying_it():
    from netkit import ScapyDevice
    dev = ScapyDevice()
    link = Link(dev.queue, rng=SeededRandom(1), capture=None)
    link.add_fault(DEVICE_TO_HOST, faults.corrupt_stream_byte(1500, 0x80, dst_port=443))
    arrived = []
    link.attach_host(lambda f, fid: (arrived.append(f), dev.stack.handle_frame(f, fid)))
    link.from_device(bytes(dev.tcp("S", options=[("MSS", 1460)])))
    dev.seq += 1
    chunks = [b"a" * 1000, b"b" * 1000]
    for chunk in chunks:
        link.from_device(bytes(dev.tcp("PA", chunk)))
        dev.seq += len(chunk)
    dev.run_ms(1)
    (rec,) = link.fault_log
    assert rec.frame_index == 2
    sent = link.frame_info(rec.packet_before).data
    got = arrived[2]
    diff = [i for i in range(len(sent)) if sent[i] != got[i]]
    assert diff == [54 + 500] and got[554] == sent[554] ^ 0x80
    assert dev.stack.stats["bad_checksum_tcp"] == 1      # the host stack notices and drops it


def test_bad_rules_and_directions_are_explained():
    b = Bench()
    with pytest.raises(ValueError, match="unknown link direction 'up'"):
        b.link.add_fault("up", faults.drop(at=0))
    with pytest.raises(ValueError, match="needs a selector"):
        faults.drop()
    with pytest.raises(ValueError, match="unknown fault kind"):
        faults.FaultRule("melt", at=frozenset({1}))
    assert faults.FaultRule("drop", at=3).at == frozenset({3})          # as the scenario spec passes it
    with pytest.raises(ValueError, match="frame index or a list"):
        faults.FaultRule("drop", at="x")
    with pytest.raises(ValueError, match="non-zero byte"):
        faults.corrupt(offset=3, mask=0x100, at=0)


def test_corrupt_past_the_end_is_skipped_not_recorded():
    b = Bench()
    b.link.add_fault(DEVICE_TO_HOST, faults.corrupt(offset=5000, mask=1, at=0))
    b.link.from_device(frame())
    b.run()
    assert b.link.fault_log == [] and b.link.stats["faults_skipped"] == 1 and len(b.at_host) == 1
