"""DHCP messages on the wire (RFC 2131 section 2, options RFC 2132): read and write.

`parse_message` reads a BOOTREQUEST or BOOTREPLY with its options, following option overload
into `file` and `sname` (RFC 2132 section 9.3) and joining repeated options (RFC 3396). It raises
`DhcpFormatError` for anything short, cut off or with an option of a length RFC 2132 forbids.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

SERVER_PORT, CLIENT_PORT = 67, 68
BOOTREQUEST, BOOTREPLY = 1, 2
MAGIC_COOKIE = b"\x63\x82\x53\x63"           # RFC 2131 section 3
BROADCAST_FLAG = 0x8000                     # RFC 2131 figure 2
FIXED_LEN = 236                             # op .. file, before the cookie
MIN_REPLY_LEN = 300                         # RFC 951's 64-octet vendor area; old clients expect it

# message types, RFC 2132 section 9.6
DISCOVER, OFFER, REQUEST, DECLINE, ACK, NAK, RELEASE, INFORM = range(1, 9)
MESSAGE_NAMES = {DISCOVER: "DISCOVER", OFFER: "OFFER", REQUEST: "REQUEST", DECLINE: "DECLINE", ACK: "ACK",
                 NAK: "NAK", RELEASE: "RELEASE", INFORM: "INFORM"}

# option codes, RFC 2132
PAD, END = 0, 255
SUBNET_MASK, ROUTER, DNS_SERVERS, HOSTNAME, DOMAIN_NAME, BROADCAST_ADDRESS, NTP_SERVERS = 1, 3, 6, 12, 15, 28, 42
REQUESTED_IP, LEASE_TIME, OVERLOAD, MESSAGE_TYPE, SERVER_ID, PARAMETER_LIST, MESSAGE = 50, 51, 52, 53, 54, 55, 56
MAX_MESSAGE_SIZE, RENEWAL_TIME, REBINDING_TIME, CLIENT_ID = 57, 58, 59, 61

# lengths RFC 2132 fixes: exact, or (minimum, multiple of)
_EXACT = {SUBNET_MASK: 4, BROADCAST_ADDRESS: 4, REQUESTED_IP: 4, LEASE_TIME: 4, OVERLOAD: 1, MESSAGE_TYPE: 1,
          SERVER_ID: 4, MAX_MESSAGE_SIZE: 2, RENEWAL_TIME: 4, REBINDING_TIME: 4}
_MULTIPLE = {ROUTER: (4, 4), DNS_SERVERS: (4, 4), NTP_SERVERS: (4, 4), PARAMETER_LIST: (1, 1),
             CLIENT_ID: (2, 1), HOSTNAME: (1, 1), MESSAGE: (1, 1)}

_FIXED = struct.Struct("!BBBBIHH4s4s4s4s16s64s128s")


class DhcpFormatError(ValueError):
    """A message that cannot be read; `counter` names the stats key it is counted under."""

    def __init__(self, counter: str, reason: str) -> None:
        super().__init__(reason)
        self.counter = counter


@dataclass
class DhcpMessage:
    op: int
    xid: int
    chaddr: bytes                     # the whole 16-byte field
    htype: int = 1
    hlen: int = 6
    hops: int = 0
    secs: int = 0
    flags: int = 0
    ciaddr: bytes = bytes(4)
    yiaddr: bytes = bytes(4)
    siaddr: bytes = bytes(4)
    giaddr: bytes = bytes(4)
    sname: bytes = bytes(64)
    file: bytes = bytes(128)
    options: dict[int, bytes] = field(default_factory=dict)    # in the order they appeared

    @property
    def message_type(self) -> int | None:
        value = self.options.get(MESSAGE_TYPE)
        return value[0] if value else None

    @property
    def hardware_address(self) -> bytes:
        return self.chaddr[:min(self.hlen, 16)]

    @property
    def client_key(self) -> bytes:
        """Who the client is: its client identifier if it sent one, else htype and chaddr
        (RFC 2131 section 4.2, RFC 2132 section 9.14)."""
        ident = self.options.get(CLIENT_ID)
        return b"id:" + ident if ident else b"hw:" + bytes((self.htype,)) + self.hardware_address

    @property
    def broadcast_flag(self) -> bool:
        return bool(self.flags & BROADCAST_FLAG)

    @property
    def parameter_list(self) -> bytes:
        return self.options.get(PARAMETER_LIST, b"")

    @property
    def hostname(self) -> str | None:
        value = self.options.get(HOSTNAME)
        return value.decode("ascii", "replace") if value else None


def _parse_options(data: bytes, where: str, into: dict[int, bytes]) -> None:
    i = 0
    while i < len(data):
        code = data[i]
        if code == PAD:
            i += 1
            continue
        if code == END:
            return
        if i + 1 >= len(data):
            raise DhcpFormatError("malformed_options", f"option {code} in {where} has no length byte")
        length = data[i + 1]
        if i + 2 + length > len(data):
            raise DhcpFormatError("malformed_options", f"option {code} in {where} runs past the end")
        into[code] = into.get(code, b"") + bytes(data[i + 2:i + 2 + length])      # RFC 3396: concatenate
        i += 2 + length
    # no END: RFC 2131 section 4.1 requires one, but a field that ends cleanly loses nothing


def _check_lengths(options: dict[int, bytes]) -> None:
    for code, value in options.items():
        exact = _EXACT.get(code)
        if exact is not None and len(value) != exact:
            raise DhcpFormatError("malformed_options", f"option {code} has length {len(value)}, RFC 2132 "
                                                       f"says {exact}")
        rule = _MULTIPLE.get(code)
        if rule is not None and (len(value) < rule[0] or len(value) % rule[1]):
            raise DhcpFormatError("malformed_options", f"option {code} has length {len(value)}, RFC 2132 "
                                                       f"says at least {rule[0]} in steps of {rule[1]}")


def parse_message(data: bytes) -> DhcpMessage:
    if len(data) < FIXED_LEN + len(MAGIC_COOKIE):
        raise DhcpFormatError("malformed_short", f"{len(data)} bytes is shorter than the 240-byte "
                                                 f"header and cookie")
    (op, htype, hlen, hops, xid, secs, flags, ciaddr, yiaddr, siaddr, giaddr, chaddr, sname,
     file) = _FIXED.unpack_from(data)
    if data[FIXED_LEN:FIXED_LEN + 4] != MAGIC_COOKIE:
        raise DhcpFormatError("malformed_cookie", "no DHCP magic cookie (a plain BOOTP message)")
    if hlen > 16:
        raise DhcpFormatError("malformed_header", f"hardware address length {hlen} exceeds chaddr's 16 bytes")
    options: dict[int, bytes] = {}
    _parse_options(data[FIXED_LEN + 4:], "options", options)
    overload = options.get(OVERLOAD)
    if overload is not None:
        if len(overload) != 1 or overload[0] not in (1, 2, 3):
            raise DhcpFormatError("malformed_options", f"option overload value {overload.hex()} is not 1, 2 or 3")
        if overload[0] & 1:                 # RFC 2131 section 4.1: options, then file, then sname
            _parse_options(file, "file", options)
        if overload[0] & 2:
            _parse_options(sname, "sname", options)
    _check_lengths(options)
    return DhcpMessage(op=op, xid=xid, chaddr=chaddr, htype=htype, hlen=hlen, hops=hops, secs=secs, flags=flags,
                       ciaddr=ciaddr, yiaddr=yiaddr, siaddr=siaddr, giaddr=giaddr, sname=sname, file=file,
                       options=options)


def encode_options(options: list[tuple[int, bytes]]) -> bytes:
    out = bytearray()
    for code, value in options:
        for start in range(0, max(len(value), 1), 255):          # RFC 3396 split of long values
            chunk = value[start:start + 255]
            out += bytes((code, len(chunk))) + chunk
    return bytes(out + bytes((END,)))


def encode_message(msg: DhcpMessage, options: list[tuple[int, bytes]]) -> bytes:
    body = _FIXED.pack(msg.op, msg.htype, msg.hlen, msg.hops, msg.xid, msg.secs, msg.flags, msg.ciaddr,
                       msg.yiaddr, msg.siaddr, msg.giaddr, msg.chaddr.ljust(16, b"\0")[:16], msg.sname,
                       msg.file) + MAGIC_COOKIE + encode_options(options)
    return body.ljust(MIN_REPLY_LEN, b"\0")
