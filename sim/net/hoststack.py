"""The host end of the emulated link: a sans-IO IPv4 endpoint driven by the scenario clock.

It answers ARP for its addresses and learns the device's MAC from the device's ARP traffic,
answers ICMP echo and can ping the device, accepts TCP connections on listening ports (each
becomes a `TcpConnection` whose application is a `StreamHandler` from the listener's factory)
and delivers UDP datagrams to bound ports. Frames go out through `transmit(frame)`, which may
return the frame's capture id (as `Link.from_host` does) so the connections' `tx_log` can name
frames.

Addresses: the stack owns `ip` and any address given to `add_address`; `route_all()` turns it
into the device's router, owning every unicast destination that arrives at its MAC, and
`set_proxy_arp` makes it answer ARP for further on-link addresses (RFC 1027's proxy ARP). A
reply always leaves from the address the device sent to, so a capture shows the destination the
device really used. UDP also accepts the limited broadcast address 255.255.255.255 (DHCP).

IP fragments are not reassembled: a fragment is counted (`dropped_fragment`) and dropped. lwIP
sends nothing larger than its MTU and sets no fragments for TCP, DHCP, DNS or SNTP.

Robustness rule: a frame that cannot be decoded, fails a checksum or is not for us is counted in
`stats` and dropped; `handle_frame` never raises because of what arrived. Application errors
(exceptions from a StreamHandler or a UDP handler) do propagate: they are bugs to see, not
traffic to count.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass
from typing import Callable

from sim.net.frames import (ACK, ARP_REPLY, ARP_REQUEST, BROADCAST_MAC, ETH_HEADER_LEN, ETHERTYPE_ARP,
                            ETHERTYPE_IPV4, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, IPPROTO_ICMP, IPPROTO_TCP,
                            IPPROTO_UDP, IPV4_ANY, IPV4_BROADCAST, RST, SYN, FrameError, Tcp, decode_arp,
                            decode_ethernet, decode_icmp, decode_ipv4, decode_tcp, decode_udp, encode_arp,
                            encode_ethernet, encode_icmp_echo, encode_ipv4, encode_tcp, encode_udp, ip_bytes,
                            ip_str, mac_bytes, mac_str)
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


@dataclass(frozen=True)
class UdpDatagram:
    """One UDP datagram that arrived for a bound port."""

    src: str
    src_port: int
    dst: str                  # the address the device sent to (255.255.255.255 for a broadcast)
    dst_port: int
    payload: bytes
    src_mac: str
    time_ns: int

    @property
    def broadcast(self) -> bool:
        return self.dst == "255.255.255.255"


UdpHandler = Callable[[UdpDatagram], None]
# factory_for(conn) -> the application for a connection the device opened (conn.local_address
# is where it connected to); called when the handshake completes
DefaultListener = Callable[[TcpConnection], StreamHandler]
# proxy(target_ip, sender_ip) -> True to answer an ARP request for target_ip with our MAC
ProxyArp = Callable[[bytes, bytes], bool]


def _is_unicast(address: bytes) -> bool:
    """Not 0.0.0.0/8, loopback, multicast, reserved or broadcast (RFC 1122 3.2.1.3, RFC 5771)."""
    return address[0] not in (0, 127) and address[0] < 224


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
        self._addresses: set[bytes] = {self.ip}
        self._route_all = False
        self._proxy_arp: ProxyArp | None = None
        self._listeners: dict[int, Callable[[], StreamHandler]] = {}
        self._default_listener: DefaultListener | None = None
        self._udp: dict[int, UdpHandler] = {}
        self._active: dict[tuple[bytes, int, bytes, int], TcpConnection] = {}
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

    def listen_default(self, factory_for: DefaultListener) -> None:
        """Accept connections to every port without a listener; `factory_for(conn)` gives each its
        application."""
        self._default_listener = factory_for

    def bind_udp(self, port: int, handler: UdpHandler) -> None:
        """Deliver datagrams for `port` (on any owned address, or broadcast) to `handler`."""
        if not 0 < port < 65536:
            raise ValueError(f"UDP port must be 1..65535, got {port}")
        if port in self._udp:
            raise ValueError(f"UDP port {port} is already bound")
        self._udp[port] = handler

    def add_address(self, ip: str | bytes) -> None:
        """Own one more address: ARP is answered and IP traffic accepted for it."""
        self._addresses.add(ip_bytes(ip))

    def route_all(self) -> None:
        """Act as the device's router: own every unicast destination that arrives at our MAC."""
        self._route_all = True

    def set_proxy_arp(self, proxy: ProxyArp | None) -> None:
        """Answer ARP requests for addresses `proxy(target_ip, sender_ip)` approves (RFC 1027)."""
        self._proxy_arp = proxy

    @property
    def addresses(self) -> list[str]:
        return sorted(ip_str(a) for a in self._addresses)

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
        for_us = arp.target_ip in self._addresses or (
            arp.op == ARP_REQUEST and self._proxy_arp is not None and arp.target_ip != arp.sender_ip
            and self._proxy_arp(arp.target_ip, arp.sender_ip))
        if arp.sender_ip != IPV4_ANY and (known or for_us):        # RFC 826 merge rule
            self._learn(arp.sender_ip, arp.sender_mac)
        if arp.op == ARP_REQUEST and for_us:
            self._send_frame(arp.sender_mac, ETHERTYPE_ARP,
                             encode_arp(ARP_REPLY, self.mac, arp.target_ip, arp.sender_mac, arp.sender_ip))
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
        broadcast = ip.dst == IPV4_BROADCAST
        if not (broadcast or self._owns(ip.dst, ip.src, eth.dst)):
            self.stats["dropped_ip_not_for_us"] += 1
            return
        if ip.src not in self._neighbors and eth.src != BROADCAST_MAC and ip.src != IPV4_ANY:
            # a device with a static ARP entry for us never asks: take its MAC from its traffic
            self._learn(ip.src, eth.src)
        if ip.is_fragment:
            self.stats["dropped_fragment"] += 1
            return
        if ip.protocol == IPPROTO_UDP:
            self._udp_in(eth.src, ip.src, ip.dst, decode_udp(ip.payload, ip.src, ip.dst))
        elif broadcast:
            self.stats["dropped_broadcast_not_udp"] += 1        # RFC 1122 3.2.2.6 / 4.2.3.10
        elif ip.protocol == IPPROTO_TCP:
            seg = decode_tcp(ip.payload, ip.src, ip.dst)
            self.stats["tcp_in"] += 1
            self._tcp_in(ip.src, ip.dst, seg, frame_id, ETH_HEADER_LEN + ip.header_length + seg.header_length)
        elif ip.protocol == IPPROTO_ICMP:
            self._icmp_in(ip.src, ip.dst, decode_icmp(ip.payload))
        else:
            self.stats["dropped_ip_protocol"] += 1

    def _owns(self, dst: bytes, src: bytes, eth_dst: bytes) -> bool:
        if dst in self._addresses:
            return True
        return self._route_all and eth_dst == self.mac and dst != src and _is_unicast(dst)

    def _udp_in(self, src_mac: bytes, src: bytes, dst: bytes, udp) -> None:
        self.stats["udp_in"] += 1
        handler = self._udp.get(udp.dst_port)
        if handler is None:
            self.stats["dropped_udp_no_port"] += 1
            return
        handler(UdpDatagram(ip_str(src), udp.src_port, ip_str(dst), udp.dst_port, udp.payload,
                            mac_str(src_mac), self.queue.now_ns))

    def _icmp_in(self, src: bytes, dst: bytes, icmp) -> None:
        self.stats["icmp_in"] += 1
        if icmp.type == ICMP_ECHO_REQUEST and icmp.code == 0:
            self._send_ip(src, IPPROTO_ICMP, encode_icmp_echo(True, icmp.ident, icmp.sequence, icmp.data), src=dst)
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

    def _tcp_in(self, src: bytes, dst: bytes, seg: Tcp, frame_id: int | None, payload_offset: int) -> None:
        key = (src, seg.src_port, dst, seg.dst_port)
        conn = self._active.get(key)
        is_syn = seg.has(SYN) and not seg.has(ACK) and not seg.has(RST)
        if conn is not None and conn.state == TIME_WAIT and is_syn and seq_lt(conn.rcv_nxt, seg.seq):
            conn.end_time_wait()                   # RFC 9293 3.10.7.4: a new incarnation may start
            conn = None
        if conn is not None:
            conn.segment_arrived(seg, frame_id, payload_offset)
            return
        if is_syn and (seg.dst_port in self._listeners or self._default_listener is not None):
            self._accept(src, dst, seg)
            return
        self.stats["dropped_tcp_no_connection"] += 1
        if not seg.has(RST):                       # RFC 9293 3.10.7.1: answer with a reset
            if seg.has(ACK):
                self._send_tcp(dst, src, seg.dst_port, seg.src_port, seg.ack, 0, RST, 0)
            else:
                self._send_tcp(dst, src, seg.dst_port, seg.src_port, 0, seg.seq + seg.seq_length, RST | ACK, 0)
            self.stats["rst_sent"] += 1

    def _accept(self, src: bytes, dst: bytes, syn: Tcp) -> None:
        factory = self._listeners.get(syn.dst_port)
        if factory is None:
            default = self._default_listener

            def factory() -> StreamHandler:
                return default(conn)          # called once the handshake completes, after conn is bound
        conn = TcpConnection(queue=self.queue, config=self.tcp_config, local=(dst, syn.dst_port),
                             remote=(src, syn.src_port), iss=self._isn_rng.u32(), syn=syn,
                             factory=factory, emit=self._emit_segment, on_closed=self._connection_closed)
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
        remote_ip, remote_port, local_ip, local_port = conn.key
        return self._send_tcp(local_ip, remote_ip, local_port, remote_port, seq, ack, flags, window, payload, options)

    def send_udp(self, src_port: int, dst: str | bytes, dst_port: int, payload: bytes, *,
                 src: str | bytes | None = None, dst_mac: str | bytes | None = None) -> int | None:
        """Send one datagram from `src` (default: our address). Without `dst_mac` the destination's
        MAC comes from ARP (broadcast for 255.255.255.255); with it, no ARP is asked (RFC 2131
        4.1: a DHCP server answers a client that has no address yet at its hardware address)."""
        source = self.ip if src is None else ip_bytes(src)
        target = ip_bytes(dst)
        self.stats["udp_out"] += 1
        datagram = encode_udp(source, target, src_port, dst_port, payload)
        if dst_mac is None and target == IPV4_BROADCAST:
            dst_mac = BROADCAST_MAC
        return self._send_ip(target, IPPROTO_UDP, datagram, src=source,
                             dst_mac=None if dst_mac is None else mac_bytes(dst_mac))

    def _send_tcp(self, src: bytes, dst: bytes, sport: int, dport: int, seq: int, ack: int, flags: int,
                  window: int, payload: bytes = b"", options: bytes = b"") -> int | None:
        self.stats["tcp_out"] += 1
        segment = encode_tcp(src, dst, sport, dport, seq, ack, flags, window, payload, options)
        return self._send_ip(dst, IPPROTO_TCP, segment, src=src)

    def _send_ip(self, dst: bytes, protocol: int, payload: bytes, *, src: bytes | None = None,
                 dst_mac: bytes | None = None) -> int | None:
        self._ip_ident = (self._ip_ident + 1) & 0xFFFF
        if protocol == IPPROTO_ICMP:
            self.stats["icmp_out"] += 1
        packet = encode_ipv4(self.ip if src is None else src, dst, protocol, payload, ident=self._ip_ident)
        if dst_mac is not None:
            return self._send_frame(dst_mac, ETHERTYPE_IPV4, packet)
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
