"""Throughput of the host side: frames per second through Link + HostStack (wall clock).

A scripted device uploads a bulk TCP stream to a listening HostStack over a Link (100 Mbit/s,
capture on), as the firmware's large POST does. The device's frames are built before the clock
starts, so the figure is the cost of the link (serialization, capture, fault check) and the host
stack (decode, checksums, TCP receive, ACKs) per frame, both directions counted.
`scripts/bench` reports it as `link_frames_per_s`.
"""

from __future__ import annotations

import struct
import time

from sim.net import frames as F
from sim.net.hoststack import HostStack
from sim.net.link import Link
from sim.net.pcapng import PcapngWriter
from sim.seed import SeededRandom
from sim.vtime import EventQueue

DEVICE_MAC, DEVICE_IP = F.mac_bytes("02:00:00:00:00:0a"), F.ip_bytes("192.0.2.10")
HOST_MAC, HOST_IP = "02:00:00:00:00:01", "192.0.2.1"


class _Sink:
    def __init__(self) -> None:
        self.received = 0

    def connection_made(self, conn) -> None:
        pass

    def data_received(self, data: bytes) -> None:
        self.received += len(data)

    def eof_received(self) -> None:
        pass

    def connection_lost(self, reason) -> None:
        pass


def link_frames_per_second(total_bytes: int = 4 << 20, mss: int = 1460, capture: bool = True) -> dict:
    queue = EventQueue()
    link = Link(queue, rng=SeededRandom(1, "bench/link"), capture=PcapngWriter() if capture else None)
    stack = HostStack(queue, mac=HOST_MAC, ip=HOST_IP, rng=SeededRandom(1, "bench/host"), transmit=link.from_host)
    link.attach_host(stack.handle_frame)
    sink = _Sink()
    stack.listen(443, lambda: sink)
    host_ip = F.ip_bytes(HOST_IP)
    host_mac = F.mac_bytes(HOST_MAC)
    isn, sport = 1000, 40000
    state = {"ack": None, "acked": isn + 1, "window": 0}

    def device_receive(frame: bytes) -> None:
        if len(frame) < 54 or frame[12:14] != b"\x08\x00" or frame[23] != F.IPPROTO_TCP:
            return
        seq, ack = struct.unpack_from("!II", frame, 38)
        flags, window = frame[47], struct.unpack_from("!H", frame, 48)[0]
        if flags & F.SYN:
            state["ack"] = (seq + 1) & 0xFFFFFFFF
        if flags & F.ACK:
            state["acked"], state["window"] = ack, window

    link.attach_device(device_receive)

    def tcp(seq: int, flags: int, payload: bytes = b"", options: bytes = b"") -> bytes:
        seg = F.encode_tcp(DEVICE_IP, host_ip, sport, 443, seq, state["ack"] or 0, flags, 65535, payload, options)
        return F.encode_ethernet(host_mac, DEVICE_MAC, F.ETHERTYPE_IPV4,
                                 F.encode_ipv4(DEVICE_IP, host_ip, F.IPPROTO_TCP, seg))

    stack.add_neighbor(DEVICE_IP, DEVICE_MAC)           # as if the device had ARPed
    link.from_device(tcp(isn, F.SYN, options=F.encode_tcp_options(mss=mss)))
    queue.advance_to(queue.next_time_ns())
    queue.advance_to(queue.next_time_ns())
    link.from_device(tcp(isn + 1, F.ACK))
    chunk = bytes(range(256)) * (mss // 256 + 1)
    count = total_bytes // mss
    segments = [tcp(isn + 1 + i * mss, F.ACK | F.PSH, chunk[:mss]) for i in range(count)]
    end_seq = isn + 1 + count * mss

    frames_before = link.stats["frames_device_to_host"] + link.stats["frames_host_to_device"]
    start = time.perf_counter()
    sent = 0
    while state["acked"] != end_seq:
        in_flight = isn + 1 + sent * mss - state["acked"]
        while sent < count and in_flight + mss <= state["window"]:
            link.from_device(segments[sent])
            sent += 1
            in_flight += mss
        nxt = queue.next_time_ns()
        if nxt is None:
            raise RuntimeError("bench stalled: the host stack stopped acknowledging")
        queue.advance_to(nxt)
    elapsed = time.perf_counter() - start
    frames = link.stats["frames_device_to_host"] + link.stats["frames_host_to_device"] - frames_before
    assert sink.received == count * mss
    return {"link_frames_per_s": frames / elapsed, "frames": frames, "wall_s": elapsed,
            "payload_bytes": count * mss, "virtual_s": queue.now_ns / 1e9,
            "payload_mib_per_wall_s": count * mss / elapsed / (1 << 20)}


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(link_frames_per_second(capture="--no-capture" not in sys.argv), indent=2))
