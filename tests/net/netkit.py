"""Test kit for sim.net: a scapy-driven stand-in for the device, a recording StreamHandler, and
a tiny TCP client built from our codecs (for end-to-end runs through a Link)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

logging.getLogger("scapy").setLevel(logging.ERROR)

from scapy.layers.inet import IP, TCP  # noqa: E402
from scapy.layers.l2 import Ether  # noqa: E402
from scapy.packet import Raw  # noqa: E402

from sim.net import frames as F  # noqa: E402
from sim.net.hoststack import HostStack  # noqa: E402
from sim.seed import SeededRandom  # noqa: E402
from sim.vtime import NS_PER_MS, EventQueue  # noqa: E402

HOST_MAC, HOST_IP = "02:00:00:00:00:01", "192.0.2.1"
DEV_MAC, DEV_IP = "02:00:00:00:00:0a", "192.0.2.10"
PORT = 443


class Recorder:
    """A StreamHandler that records what happens; optional callbacks let a test react."""

    def __init__(self, on_data: Callable[["Recorder", bytes], None] | None = None,
                 on_eof: Callable[["Recorder"], None] | None = None) -> None:
        self.conn = None
        self.data = bytearray()
        self.events: list = []
        self._on_data = on_data
        self._on_eof = on_eof

    def connection_made(self, conn) -> None:
        self.conn = conn
        self.events.append("made")

    def data_received(self, data: bytes) -> None:
        self.data += data
        self.events.append(("data", len(data)))
        if self._on_data:
            self._on_data(self, data)

    def eof_received(self) -> None:
        self.events.append("eof")
        if self._on_eof:
            self._on_eof(self)

    def connection_lost(self, reason) -> None:
        self.events.append(("lost", reason))


class ScapyDevice:
    """Drives a HostStack directly with frames built by scapy, and decodes its output with scapy."""

    def __init__(self, seed: int = 7, handler_factory=None, **tcp_options) -> None:
        self.queue = EventQueue()
        self.sent: list[tuple[int, bytes]] = []
        self.stack = HostStack(self.queue, mac=HOST_MAC, ip=HOST_IP, rng=SeededRandom(seed, "test"),
                               transmit=self._transmit, **tcp_options)
        self.handlers: list[Recorder] = []
        factory = handler_factory or Recorder

        def make():
            h = factory()
            self.handlers.append(h)
            return h
        self.stack.listen(PORT, make)
        self._cursor = 0
        self.sport = 49153
        self.seq = 1000            # device's next sequence number
        self.rcv = 0               # device's next expected sequence number (host ISN + 1 + ...)

    def _transmit(self, frame: bytes) -> None:
        self.sent.append((self.queue.now_ns, frame))

    # time
    def run_ms(self, ms: float) -> None:
        self.queue.advance_to(self.queue.now_ns + int(ms * NS_PER_MS))

    def flush(self) -> None:
        self.queue.advance_to(self.queue.now_ns)

    # frames
    def inject(self, pkt) -> None:
        self.stack.handle_frame(bytes(pkt))

    def take(self) -> list:
        """Frames the host sent since the last take(), decoded by scapy."""
        self.flush()
        out = [Ether(f) for _, f in self.sent[self._cursor:]]
        self._cursor = len(self.sent)
        return out

    def take_timed(self) -> list[tuple[int, object]]:
        self.flush()
        out = [(t, Ether(f)) for t, f in self.sent[self._cursor:]]
        self._cursor = len(self.sent)
        return out

    def tcp(self, flags: str, payload: bytes = b"", *, seq: int | None = None, ack: int | None = None,
            window: int = 8192, options=None, sport: int | None = None, dport: int = PORT):
        pkt = (Ether(src=DEV_MAC, dst=HOST_MAC) / IP(src=DEV_IP, dst=HOST_IP) /
               TCP(sport=sport or self.sport, dport=dport, flags=flags, seq=self.seq if seq is None else seq,
                   ack=self.rcv if ack is None else ack, window=window, options=options or []))
        if payload:
            pkt = pkt / Raw(payload)
        return pkt

    def send(self, flags: str, payload: bytes = b"", **kw) -> None:
        self.inject(self.tcp(flags, payload, **kw))
        if "seq" not in kw:
            self.seq += len(payload) + ("S" in flags) + ("F" in flags)

    def handshake(self, mss: int = 1460, window: int = 8192, options=None):
        self.send("S", options=options if options is not None else [("MSS", mss)], window=window)
        synack = self.take()
        assert len(synack) == 1 and synack[0][TCP].flags == "SA", synack
        self.rcv = synack[0][TCP].seq + 1
        self.send("A", window=window)
        return synack[0]

    def ack(self, window: int = 8192, **kw) -> None:
        self.send("A", window=window, **kw)

    def consume(self, pkts) -> bytes:
        """Take the in-order TCP payload the host sent and advance the device's ACK point."""
        data = b""
        for p in pkts:
            if TCP in p and (p[TCP].seq == self.rcv) and p[TCP].payload:
                raw = bytes(p[TCP].payload)
                raw = raw[:p[IP].len - p[IP].ihl * 4 - p[TCP].dataofs * 4]
                data += raw
                self.rcv += len(raw)
        return data


def tcp_payload(p) -> bytes:
    raw = bytes(p[TCP].payload)
    return raw[:p[IP].len - p[IP].ihl * 4 - p[TCP].dataofs * 4]


# --- a tiny device-side TCP client from our own codecs, for end-to-end runs -------------------------

@dataclass
class MiniClient:
    """One active TCP connection, enough for tests: in-order only (anything else gets a duplicate
    ACK), immediate ACKs, no retransmission of its own data. Sends through `send_frame`."""

    queue: EventQueue
    send_frame: Callable[[bytes], object]
    mac: bytes = F.mac_bytes(DEV_MAC)
    ip: bytes = F.ip_bytes(DEV_IP)
    server_ip: bytes = F.ip_bytes(HOST_IP)
    sport: int = 40001
    dport: int = PORT
    isn: int = 5000
    mss: int = 1460
    window: int = 16384
    on_data: Callable[[bytes], None] | None = None
    on_established: Callable[[], None] | None = None
    close_on_eof: bool = True
    server_mac: bytes | None = None
    state: str = "CLOSED"
    received: bytearray = field(default_factory=bytearray)
    eof: bool = False
    reset: bool = False
    snd_nxt: int = 0
    snd_una: int = 0
    rcv_nxt: int = 0
    peer_window: int = 0
    _unsent: bytearray = field(default_factory=bytearray)
    _fin_wanted: bool = False

    def connect(self) -> None:
        self.snd_nxt = self.snd_una = self.isn
        if self.server_mac is None:
            self.send_frame(F.encode_ethernet(F.BROADCAST_MAC, self.mac, F.ETHERTYPE_ARP,
                                              F.encode_arp(F.ARP_REQUEST, self.mac, self.ip, bytes(6), self.server_ip)))
        else:
            self._syn()

    def _syn(self) -> None:
        self.state = "SYN_SENT"
        self._segment(F.SYN, b"", F.encode_tcp_options(mss=self.mss), seq=self.isn)
        self.snd_nxt = self.isn + 1

    def _segment(self, flags: int, payload: bytes = b"", options: bytes = b"", seq: int | None = None) -> None:
        seg = F.encode_tcp(self.ip, self.server_ip, self.sport, self.dport, self.snd_nxt if seq is None else seq,
                           self.rcv_nxt if flags & F.ACK else 0, flags, self.window, payload, options)
        self.send_frame(F.encode_ethernet(self.server_mac, self.mac, F.ETHERTYPE_IPV4,
                                          F.encode_ipv4(self.ip, self.server_ip, F.IPPROTO_TCP, seg)))

    def send(self, data: bytes) -> None:
        self._unsent += data
        self._pump()

    def close(self) -> None:
        self._fin_wanted = True
        self._pump()

    def _pump(self) -> None:
        if self.state != "ESTABLISHED":
            return
        while self._unsent and (self.snd_nxt - self.snd_una) < self.peer_window:
            room = self.peer_window - (self.snd_nxt - self.snd_una)
            chunk = bytes(self._unsent[:min(self.mss, room)])
            del self._unsent[:len(chunk)]
            self._segment(F.ACK | F.PSH, chunk)
            self.snd_nxt += len(chunk)
        if self._fin_wanted and not self._unsent:
            self._segment(F.ACK | F.FIN)
            self.snd_nxt += 1
            self._fin_wanted = False
            self.state = "FIN_SENT"

    def receive(self, frame: bytes) -> bool:
        eth = F.decode_ethernet(frame)
        if eth.ethertype == F.ETHERTYPE_ARP:
            arp = F.decode_arp(eth.payload)
            if arp.op == F.ARP_REPLY and arp.sender_ip == self.server_ip and self.server_mac is None:
                self.server_mac = arp.sender_mac
                self._syn()
            elif arp.op == F.ARP_REQUEST and arp.target_ip == self.ip:
                self.send_frame(F.encode_ethernet(arp.sender_mac, self.mac, F.ETHERTYPE_ARP,
                                                  F.encode_arp(F.ARP_REPLY, self.mac, self.ip, arp.sender_mac,
                                                               arp.sender_ip)))
            return True
        view = F.decode_tcp_frame(frame)
        if view is None:
            return False
        t = view.tcp
        if t.has(F.RST):
            self.reset, self.state = True, "CLOSED"
            return True
        if self.state == "SYN_SENT" and t.has(F.SYN) and t.has(F.ACK):
            self.rcv_nxt = (t.seq + 1) & 0xFFFFFFFF
            self.snd_una, self.peer_window, self.state = t.ack, t.window, "ESTABLISHED"
            self._segment(F.ACK)
            if self.on_established:
                self.on_established()
            self._pump()
            return True
        if t.has(F.ACK):
            if 0 < ((t.ack - self.snd_una) & 0xFFFFFFFF) <= ((self.snd_nxt - self.snd_una) & 0xFFFFFFFF):
                self.snd_una = t.ack
            self.peer_window = t.window
        if t.payload or t.has(F.FIN):
            in_order = t.seq == self.rcv_nxt and not self.eof
            if in_order:
                self.received += t.payload
                self.rcv_nxt = (self.rcv_nxt + len(t.payload) + t.has(F.FIN)) & 0xFFFFFFFF
                self.eof = t.has(F.FIN)
            self._segment(F.ACK)           # in order: ACK; otherwise a duplicate ACK
            if in_order and self.on_data and t.payload:
                self.on_data(bytes(t.payload))
            if in_order and self.eof and self.close_on_eof:
                self.close()
        self._pump()
        return True
