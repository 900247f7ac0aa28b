"""DNS resolver for the virtual network (RFC 1035 over UDP), sans-IO.

Every name resolves to the configured default addresses (the peer) unless the scenario maps it to
addresses of its own or lists it as absent (NXDOMAIN). A and AAAA questions are answered from
those addresses; a name that exists but has no address of the asked type gets NOERROR with no
answers, as does any other question type. `DnsResolver.handle(payload, ...)` returns the reply
bytes or None for a message it drops; each answered query is kept in `answers`.
"""

from __future__ import annotations

import ipaddress
import struct
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from sim.net.errors import NetworkConfigError

DNS_PORT = 53
TYPE_A, TYPE_AAAA = 1, 28
CLASS_IN = 1
TYPE_NAMES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA", 33: "SRV",
              41: "OPT", 65: "HTTPS", 255: "ANY"}
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5
RCODE_NAMES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
UDP_LIMIT = 512                     # RFC 1035 section 4.2.1, without EDNS
MAX_NAME_LEN = 255                  # RFC 1035 section 3.1 (wire octets, length bytes included)
_QR, _AA, _TC, _RD, _RA = 0x8000, 0x0400, 0x0200, 0x0100, 0x0080
_HEADER = struct.Struct("!HHHHHH")


class DnsFormatError(ValueError):
    """A message that cannot be read; `counter` names the stats key it is counted under."""

    def __init__(self, counter: str, reason: str) -> None:
        super().__init__(reason)
        self.counter = counter


def type_name(qtype: int) -> str:
    return TYPE_NAMES.get(qtype, f"TYPE{qtype}")        # RFC 3597 section 5 spelling


def normalize_name(name: str) -> str:
    """Lower case without the final dot: names compare case-insensitively (RFC 1035 section 2.3.3)."""
    return name.strip().rstrip(".").lower()


def decode_name(message: bytes, offset: int) -> tuple[list[bytes], int]:
    """The labels of the name at `offset` and the offset after it (RFC 1035 section 4.1.4).

    A pointer must point before the name part that holds it, so following pointers always
    ends; a name longer than 255 octets, a label type other than 00/11 or a name running off
    the message is a `DnsFormatError`.
    """
    labels: list[bytes] = []
    total = 1
    end: int | None = None
    limit = offset                      # pointers must go strictly backwards from here
    while True:
        if offset >= len(message):
            raise DnsFormatError("malformed_name", "name runs off the end of the message")
        length = message[offset]
        kind = length & 0xC0
        if kind == 0xC0:
            if offset + 1 >= len(message):
                raise DnsFormatError("malformed_name", "compression pointer cut short")
            target = ((length & 0x3F) << 8) | message[offset + 1]
            if end is None:
                end = offset + 2
            if target >= limit:
                raise DnsFormatError("compression_loop", f"compression pointer to {target} does not point back")
            offset = limit = target
            continue
        if kind:
            raise DnsFormatError("malformed_name", f"label type 0x{kind:02x} is not supported")
        if length == 0:
            return labels, (offset + 1 if end is None else end)
        total += length + 1
        if total > MAX_NAME_LEN:
            raise DnsFormatError("malformed_name", "name longer than 255 octets")
        if offset + 1 + length > len(message):
            raise DnsFormatError("malformed_name", "label runs off the end of the message")
        labels.append(bytes(message[offset + 1:offset + 1 + length]))
        offset += 1 + length


def encode_name(labels: Sequence[bytes]) -> bytes:
    return b"".join(bytes((len(label),)) + label for label in labels) + b"\0"


def _addresses(values: Sequence[str], what: str) -> tuple[str, ...]:
    out = []
    for value in values:
        try:
            out.append(str(ipaddress.ip_address(value)))
        except ValueError:
            raise NetworkConfigError(f"{what}: {value!r} is not an IPv4 or IPv6 address "
                                     f"(example: 192.0.2.1 or 2001:db8::1)") from None
    return tuple(out)


@dataclass(frozen=True)
class DnsConfig:
    names: Mapping[str, Sequence[str]] = field(default_factory=dict)   # name -> its addresses
    absent: Sequence[str] = ()                                         # these get NXDOMAIN
    default_addresses: Sequence[str] = ("192.0.2.1",)                  # every other name; () = NXDOMAIN
    ttl_s: int = 300

    def __post_init__(self) -> None:
        names = {}
        for name, addresses in self.names.items():
            key = normalize_name(name)
            if not key:
                raise NetworkConfigError("DNS name map: an empty name cannot be mapped")
            if isinstance(addresses, str):
                addresses = (addresses,)
            names[key] = _addresses(addresses, f"DNS name {name!r}")
        absent = tuple(sorted({normalize_name(n) for n in self.absent}))
        clash = sorted(set(absent) & set(names))
        if clash:
            raise NetworkConfigError(f"DNS name(s) {', '.join(clash)} are both mapped to addresses and "
                                     f"listed as absent; keep one")
        if not 0 <= self.ttl_s <= 0x7FFFFFFF:
            raise NetworkConfigError(f"DNS TTL {self.ttl_s} s is not 0..2147483647 (RFC 2181 section 8)")
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "absent", absent)
        object.__setattr__(self, "default_addresses", _addresses(self.default_addresses, "DNS default address"))

    def lookup(self, name: str) -> tuple[str, ...] | None:
        """The addresses of `name` (normalized), or None for an absent name."""
        if name in self.absent:
            return None
        if name in self.names:
            return self.names[name]
        return self.default_addresses or None


@dataclass(frozen=True)
class DnsAnswer:
    """One answered query: the question, the response code and the addresses given."""

    time_ns: int
    client: str                   # "ip:port"
    server: str                   # the address the query was sent to
    name: str                     # normalized
    qtype: str                    # "A", "AAAA", "TYPE65", ...
    rcode: str                    # "NOERROR", "NXDOMAIN", ...
    addresses: tuple[str, ...]
    ttl_s: int
    truncated: bool = False

    def to_dict(self) -> dict:
        return {"time_ns": self.time_ns, "client": self.client, "server": self.server, "name": self.name,
                "type": self.qtype, "rcode": self.rcode, "addresses": list(self.addresses),
                "ttl_s": self.ttl_s, "truncated": self.truncated}


class DnsResolver:
    def __init__(self, config: DnsConfig | None = None, *, record_limit: int = 10_000) -> None:
        self.config = config or DnsConfig()
        self.record_limit = record_limit
        self.answers: list[DnsAnswer] = []
        self.stats: defaultdict[str, int] = defaultdict(int)
        self._names: dict[str, str] = {}        # address -> the last name answered with it

    def name_for(self, address: str) -> str | None:
        """The name most recently answered with `address` (bounded by the configured addresses)."""
        return self._names.get(address)

    def handle(self, payload: bytes, now_ns: int, *, client: str = "", server: str = "") -> bytes | None:
        """The reply to one query, or None (dropped and counted in `stats`)."""
        self.stats["messages"] += 1
        if len(payload) < _HEADER.size:
            self.stats["malformed_short"] += 1
            return None
        ident, flags, qdcount, _an, _ns, _ar = _HEADER.unpack_from(payload)
        if flags & _QR:
            self.stats["dropped_response"] += 1            # never answer an answer
            return None
        opcode = (flags >> 11) & 0xF
        rd = flags & _RD
        if qdcount != 1:                                    # RFC 1035 4.1.1: FORMERR, no question
            self.stats["formerr_question_count"] += 1
            return _HEADER.pack(ident, _QR | (opcode << 11) | rd | _RA | FORMERR, 0, 0, 0, 0)
        try:
            labels, offset = decode_name(payload, _HEADER.size)
            if offset + 4 > len(payload):
                raise DnsFormatError("malformed_question", "question ends before its type and class")
        except DnsFormatError as exc:
            self.stats[exc.counter] += 1
            return None
        qtype, qclass = struct.unpack_from("!HH", payload, offset)
        # the question is echoed with the case it came in (clients may check it: RFC 1035 7.3)
        question = encode_name(labels) + struct.pack("!HH", qtype, qclass)
        name = normalize_name(b".".join(labels).decode("ascii", "replace"))
        if opcode != 0:
            rcode, records = NOTIMP, []
        elif qclass != CLASS_IN:
            rcode, records = REFUSED, []
        else:
            found = self.config.lookup(name)
            rcode = NXDOMAIN if found is None else NOERROR
            records = [] if found is None else [a for a in found if _fits(a, qtype)]
        header_flags = _QR | (opcode << 11) | _AA | rd | _RA | rcode
        body, kept = _answers(records, self.config.ttl_s, UDP_LIMIT - _HEADER.size - len(question))
        truncated = kept < len(records)
        if truncated:
            header_flags |= _TC
        reply = _HEADER.pack(ident, header_flags, 1, kept, 0, 0) + question + body
        self.stats["answered"] += 1
        self.stats[f"rcode_{RCODE_NAMES[rcode]}"] += 1
        for address in records[:kept]:
            self._names[address] = name
        if len(self.answers) < self.record_limit:
            self.answers.append(DnsAnswer(now_ns, client, server, name, type_name(qtype), RCODE_NAMES[rcode],
                                          tuple(records[:kept]), self.config.ttl_s, truncated))
        else:
            self.stats["records_not_kept"] += 1
        return reply


def _fits(address: str, qtype: int) -> bool:
    version = ipaddress.ip_address(address).version
    return (qtype == TYPE_A and version == 4) or (qtype == TYPE_AAAA and version == 6)


def _answers(addresses: Sequence[str], ttl: int, room: int) -> tuple[bytes, int]:
    """Answer RRs, each naming the question by a pointer to offset 12 (RFC 1035 4.1.4), as many
    as fit in `room` bytes (the rest is cut and TC set: RFC 1035 4.2.1)."""
    out = bytearray()
    kept = 0
    for address in addresses:
        packed = ipaddress.ip_address(address).packed
        rr = struct.pack("!HHHIH", 0xC00C, TYPE_A if len(packed) == 4 else TYPE_AAAA, CLASS_IN, ttl,
                         len(packed)) + packed
        if len(out) + len(rr) > room:
            break
        out += rr
        kept += 1
    return bytes(out), kept
