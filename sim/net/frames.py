"""Wire codecs for the emulated link: Ethernet II, ARP, IPv4, ICMP, UDP and TCP.

Decoders take the bytes exactly as they travelled and either return a view of the header fields
or raise `FrameError` (a `MalformedFrame` or a `BadChecksum`) naming the layer and the reason, so
that a receiver can count the failure and drop the frame. Encoders build headers with correct
checksums. Addresses travel as `bytes` (6 for MAC, 4 for IPv4); `ip_str`/`ip_bytes` convert.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass, field

ETH_HEADER_LEN = 14
ETH_MIN_FRAME_LEN = 60            # without the FCS; shorter frames are padded by the sender
ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_ARP = 0x0806
BROADCAST_MAC = b"\xff" * 6
IPV4_ANY = b"\0\0\0\0"
IPV4_BROADCAST = b"\xff\xff\xff\xff"    # the limited broadcast address (RFC 919)

IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPV4_HEADER_LEN = 20
IPV4_DF = 0x4000
IPV4_MF = 0x2000

ARP_REQUEST = 1
ARP_REPLY = 2

ICMP_ECHO_REPLY = 0
ICMP_ECHO_REQUEST = 8

UDP_HEADER_LEN = 8
TCP_HEADER_LEN = 20
FIN, SYN, RST, PSH, ACK, URG, ECE, CWR = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80

TCPOPT_EOL, TCPOPT_NOP, TCPOPT_MSS, TCPOPT_WSCALE = 0, 1, 2, 3
TCPOPT_SACK_PERMITTED, TCPOPT_SACK, TCPOPT_TIMESTAMP = 4, 5, 8


class FrameError(ValueError):
    """A frame that cannot be accepted; `counter` is the stats key a receiver increments."""

    kind = "malformed"

    def __init__(self, layer: str, reason: str) -> None:
        super().__init__(f"{layer}: {reason}")
        self.layer = layer
        self.reason = reason

    @property
    def counter(self) -> str:
        return f"{self.kind}_{self.layer}"


class MalformedFrame(FrameError):
    kind = "malformed"


class BadChecksum(FrameError):
    kind = "bad_checksum"


# --- addresses ----------------------------------------------------------------------------------

def ip_bytes(address: str | bytes) -> bytes:
    if isinstance(address, (bytes, bytearray)):
        if len(address) != 4:
            raise ValueError(f"an IPv4 address has 4 bytes, got {len(address)}")
        return bytes(address)
    if address.count(".") == 3:
        try:
            return socket.inet_aton(address)
        except OSError:
            pass
    raise ValueError(f"{address!r} is not a dotted-quad IPv4 address (example: 192.0.2.1)")


def ip_str(address: bytes) -> str:
    return socket.inet_ntoa(address)


def mac_bytes(address: str | bytes) -> bytes:
    if isinstance(address, (bytes, bytearray)):
        if len(address) != 6:
            raise ValueError(f"a MAC address has 6 bytes, got {len(address)}")
        return bytes(address)
    parts = address.replace("-", ":").split(":")
    try:
        if len(parts) == 6:
            return bytes(int(p, 16) for p in parts)
    except ValueError:
        pass
    raise ValueError(f"{address!r} is not a MAC address (example: 02:00:00:00:00:01)")


def mac_str(address: bytes) -> str:
    return ":".join(f"{b:02x}" for b in address)


# --- checksum -------------------------------------------------------------------------------------

def ones_complement_sum(data: bytes) -> int:
    """RFC 1071 sum of 16-bit big-endian words, end-around carry folded (0..0xFFFF).

    A big-endian integer of the whole buffer is congruent to the sum of its 16-bit words modulo
    0xFFFF (because 0x10000 = 1 mod 0xFFFF), which is exactly the ones-complement sum; only the
    all-zero case (sum 0, not 0xFFFF) needs telling apart.
    """
    if len(data) & 1:
        data = bytes(data) + b"\0"
    value = int.from_bytes(data, "big")
    folded = value % 0xFFFF
    return 0xFFFF if folded == 0 and value else folded


def internet_checksum(data: bytes) -> int:
    return ~ones_complement_sum(data) & 0xFFFF


def _pseudo_header(src: bytes, dst: bytes, protocol: int, length: int) -> bytes:
    return src + dst + struct.pack("!BBH", 0, protocol, length)


# --- Ethernet -----------------------------------------------------------------------------------

@dataclass(slots=True)
class Ethernet:
    dst: bytes
    src: bytes
    ethertype: int
    payload: bytes


def decode_ethernet(frame: bytes) -> Ethernet:
    if len(frame) < ETH_HEADER_LEN:
        raise MalformedFrame("ethernet", f"{len(frame)} bytes is shorter than the 14-byte header")
    return Ethernet(bytes(frame[0:6]), bytes(frame[6:12]), (frame[12] << 8) | frame[13],
                    bytes(frame[ETH_HEADER_LEN:]))


def encode_ethernet(dst: bytes, src: bytes, ethertype: int, payload: bytes, *, pad: bool = True) -> bytes:
    frame = dst + src + struct.pack("!H", ethertype) + payload
    if pad and len(frame) < ETH_MIN_FRAME_LEN:
        frame += bytes(ETH_MIN_FRAME_LEN - len(frame))
    return frame


# --- ARP ----------------------------------------------------------------------------------------

@dataclass(slots=True)
class Arp:
    op: int
    sender_mac: bytes
    sender_ip: bytes
    target_mac: bytes
    target_ip: bytes


_ARP = struct.Struct("!HHBBH6s4s6s4s")


def decode_arp(payload: bytes) -> Arp:
    if len(payload) < _ARP.size:
        raise MalformedFrame("arp", f"{len(payload)} bytes is shorter than the 28-byte IPv4 ARP packet")
    htype, ptype, hlen, plen, op, sha, spa, tha, tpa = _ARP.unpack_from(payload)
    if htype != 1 or ptype != ETHERTYPE_IPV4 or hlen != 6 or plen != 4:
        raise MalformedFrame("arp", f"not Ethernet/IPv4 ARP (htype {htype}, ptype 0x{ptype:04x}, "
                                    f"hlen {hlen}, plen {plen})")
    if op not in (ARP_REQUEST, ARP_REPLY):
        raise MalformedFrame("arp", f"unknown operation {op}")
    return Arp(op, sha, spa, tha, tpa)


def encode_arp(op: int, sender_mac: bytes, sender_ip: bytes, target_mac: bytes, target_ip: bytes) -> bytes:
    return _ARP.pack(1, ETHERTYPE_IPV4, 6, 4, op, sender_mac, sender_ip, target_mac, target_ip)


# --- IPv4 ---------------------------------------------------------------------------------------

@dataclass(slots=True)
class IPv4:
    src: bytes
    dst: bytes
    protocol: int
    ttl: int
    ident: int
    flags_fragment: int        # flags (3 bits) and fragment offset (13 bits) as on the wire
    header_length: int
    total_length: int
    payload: bytes             # exactly total_length - header_length bytes (Ethernet padding cut)

    @property
    def is_fragment(self) -> bool:
        return bool(self.flags_fragment & IPV4_MF) or bool(self.flags_fragment & 0x1FFF)


_IPV4 = struct.Struct("!BBHHHBBH4s4s")


def decode_ipv4(packet: bytes) -> IPv4:
    if len(packet) < IPV4_HEADER_LEN:
        raise MalformedFrame("ipv4", f"{len(packet)} bytes is shorter than the 20-byte header")
    vihl, _tos, total, ident, flags_frag, ttl, proto, _csum, src, dst = _IPV4.unpack_from(packet)
    if vihl >> 4 != 4:
        raise MalformedFrame("ipv4", f"version {vihl >> 4}, not 4")
    hlen = (vihl & 0x0F) * 4
    if hlen < IPV4_HEADER_LEN:
        raise MalformedFrame("ipv4", f"header length {hlen} is below 20")
    if total < hlen:
        raise MalformedFrame("ipv4", f"total length {total} is below the header length {hlen}")
    if total > len(packet):
        raise MalformedFrame("ipv4", f"truncated: total length {total} but only {len(packet)} bytes arrived")
    if ones_complement_sum(packet[:hlen]) != 0xFFFF:
        raise BadChecksum("ipv4", "header checksum does not verify")
    return IPv4(src, dst, proto, ttl, ident, flags_frag, hlen, total, bytes(packet[hlen:total]))


def encode_ipv4(src: bytes, dst: bytes, protocol: int, payload: bytes, *, ident: int = 0,
                ttl: int = 64, dont_fragment: bool = True) -> bytes:
    total = IPV4_HEADER_LEN + len(payload)
    if total > 0xFFFF:
        raise ValueError(f"an IPv4 packet holds at most 65535 bytes, this one would be {total}")
    header = _IPV4.pack(0x45, 0, total, ident & 0xFFFF, IPV4_DF if dont_fragment else 0, ttl,
                        protocol, 0, src, dst)
    csum = internet_checksum(header)
    return header[:10] + struct.pack("!H", csum) + header[12:] + payload


# --- ICMP ---------------------------------------------------------------------------------------

@dataclass(slots=True)
class Icmp:
    type: int
    code: int
    rest: int           # the 4 header bytes after the checksum (ident << 16 | seq for echo)
    data: bytes

    @property
    def ident(self) -> int:
        return self.rest >> 16

    @property
    def sequence(self) -> int:
        return self.rest & 0xFFFF


def decode_icmp(message: bytes) -> Icmp:
    if len(message) < 8:
        raise MalformedFrame("icmp", f"{len(message)} bytes is shorter than the 8-byte header")
    if ones_complement_sum(message) != 0xFFFF:
        raise BadChecksum("icmp", "checksum does not verify")
    mtype, code, _csum, rest = struct.unpack_from("!BBHI", message)
    return Icmp(mtype, code, rest, bytes(message[8:]))


def encode_icmp(mtype: int, code: int, rest: int, data: bytes) -> bytes:
    body = struct.pack("!BBHI", mtype, code, 0, rest) + data
    return body[:2] + struct.pack("!H", internet_checksum(body)) + body[4:]


def encode_icmp_echo(reply: bool, ident: int, sequence: int, data: bytes) -> bytes:
    return encode_icmp(ICMP_ECHO_REPLY if reply else ICMP_ECHO_REQUEST, 0,
                       (ident & 0xFFFF) << 16 | (sequence & 0xFFFF), data)


# --- UDP ----------------------------------------------------------------------------------------

@dataclass(slots=True)
class Udp:
    src_port: int
    dst_port: int
    payload: bytes             # exactly length - 8 bytes
    checksummed: bool          # False when the sender sent checksum 0 ("none", RFC 768)


def decode_udp(datagram: bytes, src_ip: bytes, dst_ip: bytes) -> Udp:
    if len(datagram) < UDP_HEADER_LEN:
        raise MalformedFrame("udp", f"{len(datagram)} bytes is shorter than the 8-byte header")
    sport, dport, length, csum = struct.unpack_from("!HHHH", datagram)
    if length < UDP_HEADER_LEN or length > len(datagram):
        raise MalformedFrame("udp", f"length field {length} does not fit a {len(datagram)}-byte datagram")
    datagram = datagram[:length]
    if csum and ones_complement_sum(_pseudo_header(src_ip, dst_ip, IPPROTO_UDP, length) + bytes(datagram)) != 0xFFFF:
        raise BadChecksum("udp", "checksum does not verify")
    return Udp(sport, dport, bytes(datagram[UDP_HEADER_LEN:]), bool(csum))


def encode_udp(src_ip: bytes, dst_ip: bytes, src_port: int, dst_port: int, payload: bytes) -> bytes:
    length = UDP_HEADER_LEN + len(payload)
    if length > 0xFFFF:
        raise ValueError(f"a UDP datagram holds at most 65535 bytes, this one would be {length}")
    datagram = struct.pack("!HHHH", src_port, dst_port, length, 0) + payload
    csum = internet_checksum(_pseudo_header(src_ip, dst_ip, IPPROTO_UDP, length) + datagram)
    # RFC 768: a computed zero is sent as all ones, since zero means "no checksum"
    return datagram[:6] + struct.pack("!H", csum or 0xFFFF) + datagram[8:]


# --- TCP ----------------------------------------------------------------------------------------

@dataclass(slots=True)
class TcpOptions:
    """Options as parsed; the host stack uses MSS and declines the rest (lwIP's defaults)."""

    mss: int | None = None
    window_scale: int | None = None
    sack_permitted: bool = False
    sack_blocks: tuple[tuple[int, int], ...] = ()
    timestamp: tuple[int, int] | None = None      # (TSval, TSecr)
    unknown: tuple[int, ...] = ()                  # kinds we do not know, skipped by length


def decode_tcp_options(raw: bytes) -> TcpOptions:
    opts = TcpOptions()
    unknown: list[int] = []
    i = 0
    while i < len(raw):
        kind = raw[i]
        if kind == TCPOPT_EOL:
            break
        if kind == TCPOPT_NOP:
            i += 1
            continue
        if i + 1 >= len(raw):
            raise MalformedFrame("tcp", f"option kind {kind} at offset {i} has no length byte")
        length = raw[i + 1]
        if length < 2 or i + length > len(raw):
            raise MalformedFrame("tcp", f"option kind {kind} at offset {i} has bad length {length}")
        body = raw[i + 2:i + length]
        if kind == TCPOPT_MSS:
            if length != 4:
                raise MalformedFrame("tcp", f"MSS option length {length}, expected 4")
            opts.mss = int.from_bytes(body, "big")
        elif kind == TCPOPT_WSCALE:
            if length != 3:
                raise MalformedFrame("tcp", f"window-scale option length {length}, expected 3")
            opts.window_scale = body[0]
        elif kind == TCPOPT_SACK_PERMITTED:
            if length != 2:
                raise MalformedFrame("tcp", f"SACK-permitted option length {length}, expected 2")
            opts.sack_permitted = True
        elif kind == TCPOPT_SACK:
            if (length - 2) % 8:
                raise MalformedFrame("tcp", f"SACK option length {length} is not 2 + 8n")
            opts.sack_blocks = tuple(struct.unpack_from("!II", body, k) for k in range(0, len(body), 8))
        elif kind == TCPOPT_TIMESTAMP:
            if length != 10:
                raise MalformedFrame("tcp", f"timestamp option length {length}, expected 10")
            opts.timestamp = struct.unpack("!II", body)
        else:
            unknown.append(kind)
        i += length
    opts.unknown = tuple(unknown)
    return opts


def encode_tcp_options(*, mss: int | None = None, window_scale: int | None = None,
                       sack_permitted: bool = False, timestamp: tuple[int, int] | None = None) -> bytes:
    out = b""
    if mss is not None:
        out += struct.pack("!BBH", TCPOPT_MSS, 4, mss)
    if sack_permitted:
        out += bytes((TCPOPT_SACK_PERMITTED, 2))
    if timestamp is not None:
        out += bytes((TCPOPT_NOP, TCPOPT_NOP)) + struct.pack("!BBII", TCPOPT_TIMESTAMP, 10, *timestamp)
    if window_scale is not None:
        out += bytes((TCPOPT_NOP,)) + struct.pack("!BBB", TCPOPT_WSCALE, 3, window_scale)
    if len(out) % 4:
        out += bytes((TCPOPT_NOP,)) * (4 - len(out) % 4)
    return out


@dataclass(slots=True)
class Tcp:
    src_port: int
    dst_port: int
    seq: int
    ack: int
    flags: int
    window: int
    urgent: int
    header_length: int
    options: TcpOptions
    payload: bytes

    def has(self, flag: int) -> bool:
        return bool(self.flags & flag)

    @property
    def seq_length(self) -> int:
        """Sequence space the segment occupies: payload plus one each for SYN and FIN."""
        return len(self.payload) + (self.flags & SYN and 1) + (self.flags & FIN and 1)


_TCP = struct.Struct("!HHIIBBHHH")


def decode_tcp(segment: bytes, src_ip: bytes, dst_ip: bytes) -> Tcp:
    if len(segment) < TCP_HEADER_LEN:
        raise MalformedFrame("tcp", f"{len(segment)} bytes is shorter than the 20-byte header")
    sport, dport, seq, ack, off, flags, window, _csum, urgent = _TCP.unpack_from(segment)
    hlen = (off >> 4) * 4
    if hlen < TCP_HEADER_LEN or hlen > len(segment):
        raise MalformedFrame("tcp", f"data offset {hlen} bytes does not fit a {len(segment)}-byte segment")
    pseudo = _pseudo_header(src_ip, dst_ip, IPPROTO_TCP, len(segment))
    if ones_complement_sum(pseudo + bytes(segment)) != 0xFFFF:
        raise BadChecksum("tcp", "checksum does not verify")
    options = decode_tcp_options(segment[TCP_HEADER_LEN:hlen]) if hlen > TCP_HEADER_LEN else TcpOptions()
    return Tcp(sport, dport, seq, ack, flags, window, urgent, hlen, options, bytes(segment[hlen:]))


def encode_tcp(src_ip: bytes, dst_ip: bytes, src_port: int, dst_port: int, seq: int, ack: int,
               flags: int, window: int, payload: bytes = b"", options: bytes = b"") -> bytes:
    if len(options) % 4:
        raise ValueError("TCP options must be padded to a multiple of 4 bytes")
    hlen = TCP_HEADER_LEN + len(options)
    header = _TCP.pack(src_port, dst_port, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, (hlen // 4) << 4,
                       flags, window, 0, 0) + options
    segment = header + payload
    csum = internet_checksum(_pseudo_header(src_ip, dst_ip, IPPROTO_TCP, len(segment)) + segment)
    return segment[:16] + struct.pack("!H", csum) + segment[18:]


def tcp_flags_str(flags: int) -> str:
    names = ((SYN, "S"), (FIN, "F"), (RST, "R"), (PSH, "P"), (ACK, "A"), (URG, "U"), (ECE, "E"), (CWR, "C"))
    return "".join(n for bit, n in names if flags & bit) or "-"


# --- whole frames ---------------------------------------------------------------------------------

@dataclass(slots=True)
class TcpFrame:
    """An Ethernet/IPv4/TCP frame decoded in one go (for fault predicates and test clients)."""

    eth: Ethernet
    ip: IPv4
    tcp: Tcp
    payload_offset: int = field(default=0)    # where the TCP payload starts in the frame


def decode_tcp_frame(frame: bytes) -> TcpFrame | None:
    """The TCP view of `frame`, or None if it is not a valid Ethernet/IPv4/TCP frame."""
    try:
        eth = decode_ethernet(frame)
        if eth.ethertype != ETHERTYPE_IPV4:
            return None
        ip = decode_ipv4(eth.payload)
        if ip.protocol != IPPROTO_TCP or ip.is_fragment:
            return None
        tcp = decode_tcp(ip.payload, ip.src, ip.dst)
    except FrameError:
        return None
    return TcpFrame(eth, ip, tcp, ETH_HEADER_LEN + ip.header_length + tcp.header_length)


def describe_frame(frame: bytes) -> str:
    """One line for logs and fault records, e.g. 'TCP 192.0.2.10:49153 > 192.0.2.1:443 [A] seq=.. len=1460'."""
    try:
        eth = decode_ethernet(frame)
        if eth.ethertype == ETHERTYPE_ARP:
            arp = decode_arp(eth.payload)
            what = "who-has" if arp.op == ARP_REQUEST else "is-at"
            return f"ARP {what} {ip_str(arp.target_ip)} from {ip_str(arp.sender_ip)}"
        if eth.ethertype != ETHERTYPE_IPV4:
            return f"ethertype 0x{eth.ethertype:04x}, {len(frame)} bytes"
        ip = decode_ipv4(eth.payload)
        if ip.protocol == IPPROTO_TCP and not ip.is_fragment:
            t = decode_tcp(ip.payload, ip.src, ip.dst)
            return (f"TCP {ip_str(ip.src)}:{t.src_port} > {ip_str(ip.dst)}:{t.dst_port} "
                    f"[{tcp_flags_str(t.flags)}] seq={t.seq} ack={t.ack} win={t.window} len={len(t.payload)}")
        if ip.protocol == IPPROTO_UDP and not ip.is_fragment:
            u = decode_udp(ip.payload, ip.src, ip.dst)
            return (f"UDP {ip_str(ip.src)}:{u.src_port} > {ip_str(ip.dst)}:{u.dst_port} "
                    f"len={len(u.payload)}")
        if ip.protocol == IPPROTO_ICMP:
            icmp = decode_icmp(ip.payload)
            return f"ICMP {ip_str(ip.src)} > {ip_str(ip.dst)} type={icmp.type} code={icmp.code}"
        return f"IPv4 {ip_str(ip.src)} > {ip_str(ip.dst)} proto={ip.protocol} len={ip.total_length}"
    except FrameError as exc:
        return f"undecodable frame ({exc}), {len(frame)} bytes"
