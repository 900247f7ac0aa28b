"""The host end of the emulated link: a sans-IO IPv4 endpoint driven by the scenario clock.

It answers ARP for its address and learns the device's MAC from the device's ARP traffic,
answers ICMP echo and can ping the device, and accepts TCP connections on listening ports (each
becomes a `TcpConnection` whose application is a `StreamHandler` from the listener's factory).
Frames go out through `transmit(frame)`, which may return the frame's capture id (as
`Link.from_host` does) so the connections' `tx_log` can name frames.

Robustness rule: a frame that cannot be decoded, fails a checksum or is not for us is counted in
`stats` and dropped; `handle_frame` never raises because of what arrived. Application errors
(exceptions from a StreamHandler) do propagate: they are bugs to see, not traffic to count.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass
from typing import Callable

from sim.net.frames import (ACK, ARP_REPLY, ARP_REQUEST, BROADCAST_MAC, ETH_HEADER_LEN, ETHERTYPE_ARP,
                            ETHERTYPE_IPV4, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, IPPROTO_ICMP, IPPROTO_TCP,
                            IPPROTO_UDP, RST, SYN, FrameError, Tcp, decode_arp, decode_ethernet, decode_icmp,
                            decode_ipv4, decode_tcp, encode_arp, encode_ethernet, encode_icmp_echo, encode_ipv4,
                            encode_tcp, ip_bytes, ip_str, mac_bytes, mac_str)
from sim.net.tcp import CLOSED, TIME_WAIT, StreamHandler, TcpConfig, TcpConnection, seq_lt
from sim.seed import SeededRandom
from sim.vtime import NS_PER_S, EventQueue, Timer

ARP_QUEUE_LIMIT = 16          # packets held per destination while its MAC is being resolved


@dataclass
class Ping:
    """One ICMP echo request sent by the host and what became of it."""

    dst: str
    ident: int
    sequence: int
    data: bytes
    sent_ns: int
    reply_ns: int | None = None
    timed_out: bool = False

    @property
    def replied(self) -> bool:
        return self.reply_ns is not None

    @property
    def rtt_ns(self) -> int | None:
        return None if self.reply_ns is None else self.reply_ns - self.sent_ns


@dataclass
class _Resolution:
    packets: list[tuple[int, bytes]]      # (ethertype, payload) waiting for the MAC
    tries: int = 0
    timer: Timer | None = None


class HostStack:
    def __init__(self, queue: EventQueue, *, mac: bytes | str, ip: str | bytes, rng: SeededRandom,
                 transmit: Callable[[bytes], int | None], tcp: TcpConfig | None = None,
                 arp_retry_ns: int = NS_PER_S, arp_max_tries: int = 5, **tcp_options: int) -> None:
        """`tcp_options` override fields of `TcpConfig` (mss, receive_buffer, delayed_ack_ns,
        rto_min_ns, rto_max_ns, time_wait_ns, ...)."""
        self.queue = queue
        self.mac = mac_bytes(mac)
        self.ip = ip_bytes(ip)
        self._transmit = transmit
        if tcp_options:
            known = {f.name for f in dataclasses.fields(TcpConfig)}
            unknown = sorted(set(tcp_options) - known)
            if unknown:
                raise TypeError(f"unknown TCP option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
            tcp = dataclasses.replace(tcp or TcpConfig(), **tcp_options)
        self.tcp_config = tcp or TcpConfig()
        self.arp_retry_ns = arp_retry_ns
        self.arp_max_tries = arp_max_tries
        self._isn_rng = rng.child("tcp-isn")
        self._ip_ident = rng.child("ip-id").getrandbits(16)
        self._ping_ident = rng.child("icmp-id").getrandbits(16)
        self._ping_seq = 0
        self._neighbors: dict[bytes, bytes] = {}
        self._resolving: dict[bytes, _Resolution] = {}
        self._listeners: dict[int, Callable[[], StreamHandler]] = {}
        self._active: dict[tuple[bytes, int, int], TcpConnection] = {}
        self.connections: list[TcpConnection] = []
        self.pings: list[Ping] = []
        self._pending_pings: dict[tuple[int, int], Ping] = {}
        self.stats: defaultdict[str, int] = defaultdict(int)
        for key in ("frames_in", "frames_out", "bytes_in", "bytes_out", "arp_in", "arp_out", "icmp_in",
                    "icmp_out", "tcp_in", "tcp_out", "bad_checksum_ipv4", "bad_checksum_icmp",
                    "bad_checksum_tcp", "malformed_ethernet", "malformed_arp", "malformed_ipv4",
                    "malformed_icmp", "malformed_tcp", "rst_sent"):
            self.stats[key] = 0

    # --- configuration and queries --------------------------------------------------------------

    def listen(self, port: int, factory: Callable[[], StreamHandler]) -> None:
        if not 0 < port < 65536:
            raise ValueError(f"TCP port must be 1..65535, got {port}")
        if port in self._listeners:
            raise ValueError(f"port {port} already has a listener")
        self._listeners[port] = factory

    def add_neighbor(self, ip: str | bytes, mac: str | bytes) -> None:
        """A static ARP entry (frames queued for `ip` leave at once)."""
        self._learn(ip_bytes(ip), mac_bytes(mac))

    def neighbor_mac(self, ip: str | bytes) -> bytes | None:
        """The MAC learned for `ip` (via ARP), or None while unresolved."""
        return self._neighbors.get(ip_bytes(ip))

    @property
    def neighbors(self) -> dict[str, str]:
        return {ip_str(ip): mac_str(mac) for ip, mac in self._neighbors.items()}

    def resolve(self, ip: str | bytes) -> None:
        """Ask for `ip`'s MAC now (it is learned from the device's own ARP request otherwise)."""
        target = ip_bytes(ip)
        if target not in self._neighbors and target not in self._resolving:
            self._resolving[target] = _Resolution([])
            self._arp_request(target)

    def ping(self, ip: str | bytes, data: bytes = b"tls-fw-sim ping", *, timeout_ns: int = NS_PER_S) -> Ping:
        """Send one ICMP echo request; the returned `Ping` fills in as the reply arrives."""
        dst = ip_bytes(ip)
        self._ping_seq = (self._ping_seq + 1) & 0xFFFF
        ping = Ping(ip_str(dst), self._ping_ident, self._ping_seq, bytes(data), self.queue.now_ns)
        self.pings.append(ping)
        self._pending_pings[(ping.ident, ping.sequence)] = ping

        def expire() -> None:
            if self._pending_pings.pop((ping.ident, ping.sequence), None) is not None:
                ping.timed_out = True
        self.queue.call_later(timeout_ns, expire)
        self._send_ip(dst, IPPROTO_ICMP, encode_icmp_echo(False, ping.ident, ping.sequence, ping.data))
        return ping

    # --- input ----------------------------------------------------------------------------------

    def handle_frame(self, frame: bytes, frame_id: int | None = None) -> None:
        """Process one frame from the wire (without FCS); never raises on bad input."""
        self.stats["frames_in"] += 1
        self.stats["bytes_in"] += len(frame)
        try:
            eth = decode_ethernet(frame)
            if eth.dst != self.mac and eth.dst != BROADCAST_MAC:
                self.stats["dropped_not_our_mac"] += 1
                return
            if eth.ethertype == ETHERTYPE_ARP:
                self._arp_in(decode_arp(eth.payload))
            elif eth.ethertype == ETHERTYPE_IPV4:
                self._ipv4_in(eth, frame_id)
            else:
                self.stats["dropped_ethertype"] += 1
        except FrameError as exc:
            self.stats[exc.counter] += 1

    def _arp_in(self, arp) -> None:
        self.stats["arp_in"] += 1
        known = arp.sender_ip in self._neighbors
        for_us = arp.target_ip == self.ip
        if arp.sender_ip != b"\0\0\0\0" and (known or for_us):        # RFC 826 merge rule
            self._learn(arp.sender_ip, arp.sender_mac)
        if arp.op == ARP_REQUEST and for_us:
            self._send_frame(arp.sender_mac, ETHERTYPE_ARP,
                             encode_arp(ARP_REPLY, self.mac, self.ip, arp.sender_mac, arp.sender_ip))
            self.stats["arp_out"] += 1
        elif not for_us:
            self.stats["dropped_arp_not_for_us"] += 1

    def _learn(self, ip: bytes, mac: bytes) -> None:
        self._neighbors[ip] = mac
        pending = self._resolving.pop(ip, None)
        if pending is not None:
            if pending.timer is not None:
                pending.timer.cancel()
            for ethertype, payload in pending.packets:
                self._send_frame(mac, ethertype, payload)

    def _ipv4_in(self, eth, frame_id: int | None) -> None:
        ip = decode_ipv4(eth.payload)
        if ip.dst != self.ip:
            self.stats["dropped_ip_not_for_us"] += 1
            return
        if ip.src not in self._neighbors and eth.src != BROADCAST_MAC:
            # a device with a static ARP entry for us never asks: take its MAC from its traffic
            self._learn(ip.src, eth.src)
        if ip.is_fragment:
            self.stats["dropped_fragment"] += 1
            return
        if ip.protocol == IPPROTO_TCP:
            seg = decode_tcp(ip.payload, ip.src, ip.dst)
            self.stats["tcp_in"] += 1
            self._tcp_in(ip.src, seg, frame_id, ETH_HEADER_LEN + ip.header_length + seg.header_length)
        elif ip.protocol == IPPROTO_ICMP:
            self._icmp_in(ip.src, decode_icmp(ip.payload))
        elif ip.protocol == IPPROTO_UDP:
            self.stats["dropped_udp"] += 1
        else:
            self.stats["dropped_ip_protocol"] += 1

    def _icmp_in(self, src: bytes, icmp) -> None:
        self.stats["icmp_in"] += 1
        if icmp.type == ICMP_ECHO_REQUEST and icmp.code == 0:
            self._send_ip(src, IPPROTO_ICMP, encode_icmp_echo(True, icmp.ident, icmp.sequence, icmp.data))
            self.stats["echo_replies_sent"] += 1
        elif icmp.type == ICMP_ECHO_REPLY:
            ping = self._pending_pings.pop((icmp.ident, icmp.sequence), None)
            if ping is None or ping.dst != ip_str(src) or ping.data != icmp.data:
                self.stats["dropped_unmatched_echo_reply"] += 1
                if ping is not None:
                    self._pending_pings[(icmp.ident, icmp.sequence)] = ping
                return
            ping.reply_ns = self.queue.now_ns
        else:
            self.stats["dropped_icmp_type"] += 1

    def _tcp_in(self, src: bytes, seg: Tcp, frame_id: int | None, payload_offset: int) -> None:
        key = (src, seg.src_port, seg.dst_port)
        conn = self._active.get(key)
        is_syn = seg.has(SYN) and not seg.has(ACK) and not seg.has(RST)
        if conn is not None and conn.state == TIME_WAIT and is_syn and seq_lt(conn.rcv_nxt, seg.seq):
            conn.end_time_wait()                   # RFC 9293 3.10.7.4: a new incarnation may start
            conn = None
        if conn is not None:
            conn.segment_arrived(seg, frame_id, payload_offset)
            return
        if is_syn and seg.dst_port in self._listeners:
            self._accept(src, seg)
            return
        self.stats["dropped_tcp_no_connection"] += 1
        if not seg.has(RST):                       # RFC 9293 3.10.7.1: answer with a reset
            if seg.has(ACK):
                self._send_tcp(src, seg.dst_port, seg.src_port, seg.ack, 0, RST, 0)
            else:
                self._send_tcp(src, seg.dst_port, seg.src_port, 0, seg.seq + seg.seq_length, RST | ACK, 0)
            self.stats["rst_sent"] += 1

    def _accept(self, src: bytes, syn: Tcp) -> None:
        conn = TcpConnection(queue=self.queue, config=self.tcp_config, local=(self.ip, syn.dst_port),
                             remote=(src, syn.src_port), iss=self._isn_rng.u32(), syn=syn,
                             factory=self._listeners[syn.dst_port], emit=self._emit_segment,
                             on_closed=self._connection_closed)
        self.connections.append(conn)
        if conn.state != CLOSED:
            self._active[conn.key] = conn
        self.stats["tcp_connections"] += 1

    def _connection_closed(self, conn: TcpConnection) -> None:
        if self._active.get(conn.key) is conn:
            del self._active[conn.key]

    # --- output ---------------------------------------------------------------------------------

    def _emit_segment(self, conn: TcpConnection, seq: int, ack: int, flags: int, window: int,
                      payload: bytes, options: bytes) -> int | None:
        if flags & RST:
            self.stats["rst_sent"] += 1
        return self._send_tcp(conn.key[0], conn.key[2], conn.key[1], seq, ack, flags, window, payload, options)

    def _send_tcp(self, dst: bytes, sport: int, dport: int, seq: int, ack: int, flags: int, window: int,
                  payload: bytes = b"", options: bytes = b"") -> int | None:
        self.stats["tcp_out"] += 1
        segment = encode_tcp(self.ip, dst, sport, dport, seq, ack, flags, window, payload, options)
        return self._send_ip(dst, IPPROTO_TCP, segment)

    def _send_ip(self, dst: bytes, protocol: int, payload: bytes) -> int | None:
        self._ip_ident = (self._ip_ident + 1) & 0xFFFF
        if protocol == IPPROTO_ICMP:
            self.stats["icmp_out"] += 1
        packet = encode_ipv4(self.ip, dst, protocol, payload, ident=self._ip_ident)
        mac = self._neighbors.get(dst)
        if mac is not None:
            return self._send_frame(mac, ETHERTYPE_IPV4, packet)
        pending = self._resolving.get(dst)
        if pending is None:
            pending = self._resolving[dst] = _Resolution([])
            self._arp_request(dst)
        if len(pending.packets) < ARP_QUEUE_LIMIT:
            pending.packets.append((ETHERTYPE_IPV4, packet))
        else:
            self.stats["dropped_arp_queue_full"] += 1
        return None

    def _arp_request(self, target: bytes) -> None:
        pending = self._resolving.get(target)
        if pending is None:
            return
        if pending.tries >= self.arp_max_tries:
            self.stats["dropped_arp_unresolved"] += len(pending.packets)
            del self._resolving[target]
            return
        pending.tries += 1
        self._send_frame(BROADCAST_MAC, ETHERTYPE_ARP,
                         encode_arp(ARP_REQUEST, self.mac, self.ip, b"\0" * 6, target))
        self.stats["arp_out"] += 1
        pending.timer = self.queue.call_later(self.arp_retry_ns, lambda: self._arp_request(target))

    def _send_frame(self, dst_mac: bytes, ethertype: int, payload: bytes) -> int | None:
        frame = encode_ethernet(dst_mac, self.mac, ethertype, payload)
        self.stats["frames_out"] += 1
        self.stats["bytes_out"] += len(frame)
        frame_id = self._transmit(frame)
        return frame_id if isinstance(frame_id, int) else None
