"""The GDB remote serial protocol's wire format: `$payload#cs` packets, acks, the raw Ctrl-C byte,
binary escaping and hex helpers. No sockets here: `PacketReader` turns received bytes into
events, `frame()` turns a payload into bytes to send.
"""

from __future__ import annotations

from dataclasses import dataclass

INTERRUPT = 0x03                  # Ctrl-C: a raw byte outside any packet
_ESCAPED = frozenset(b"#$}*")
MAX_PACKET = 0x1000               # the PacketSize we advertise (payload bytes)


class ProtocolError(ValueError):
    """A packet whose arguments cannot be parsed; the server answers with an `E` reply."""


def checksum(payload: bytes) -> int:
    return sum(payload) & 0xFF


def frame(payload: bytes | str) -> bytes:
    """`$payload#cs` for a payload that is already escaped where it must be."""
    data = payload.encode("latin-1") if isinstance(payload, str) else bytes(payload)
    return b"$" + data + b"#%02x" % checksum(data)


def escape(data: bytes) -> bytes:
    """Binary escaping for `X` data and qXfer replies: `}` then the byte XOR 0x20."""
    out = bytearray()
    for b in data:
        if b in _ESCAPED:
            out += bytes((0x7D, b ^ 0x20))
        else:
            out.append(b)
    return bytes(out)


def unescape(data: bytes) -> bytes:
    out = bytearray()
    it = iter(data)
    for b in it:
        if b == 0x7D:
            nxt = next(it, None)
            if nxt is None:
                raise ProtocolError("binary data ends in the middle of an escape ('}')")
            out.append(nxt ^ 0x20)
        else:
            out.append(b)
    return bytes(out)


def hex_bytes(text: bytes | str) -> bytes:
    try:
        return bytes.fromhex(text.decode("latin-1") if isinstance(text, bytes) else text)
    except ValueError:
        raise ProtocolError(f"not hex data: {text[:40]!r}") from None


def parse_hex(text: bytes | str, what: str) -> int:
    raw = text.decode("latin-1") if isinstance(text, bytes) else text
    try:
        if not raw or raw.startswith(("-", "+", "0x")):
            raise ValueError
        return int(raw, 16)
    except ValueError:
        raise ProtocolError(f"{what} is not a hex number: {raw[:40]!r}") from None


def le_hex(value: int, size: int) -> str:
    """A register value as GDB wants it: target (little-endian) byte order, in hex."""
    return (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little").hex()


# --- receiving -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Packet:
    payload: bytes


@dataclass(frozen=True)
class BadPacket:
    """A packet whose checksum did not match: answered with `-` so the sender retransmits."""
    payload: bytes


@dataclass(frozen=True)
class Ack:
    good: bool                        # '+' or '-'


@dataclass(frozen=True)
class Interrupt:
    pass


Event = Packet | BadPacket | Ack | Interrupt


class PacketReader:
    """Splits a byte stream from GDB into packets, acks and interrupts."""

    def __init__(self, max_payload: int = 4 * MAX_PACKET) -> None:
        self._buf = bytearray()
        self._max = max_payload

    def feed(self, data: bytes) -> list[Event]:
        self._buf += data
        events: list[Event] = []
        while self._buf:
            first = self._buf[0]
            if first == ord("$"):
                end = self._buf.find(b"#")
                if end < 0:
                    if len(self._buf) > self._max:       # no '#' in sight: garbage, resync
                        events.append(BadPacket(bytes(self._buf[1:81])))
                        del self._buf[:]
                    break
                if len(self._buf) < end + 3:
                    break                                  # checksum digits still to come
                payload = bytes(self._buf[1:end])
                sent = bytes(self._buf[end + 1:end + 3])
                del self._buf[:end + 3]
                try:
                    ok = int(sent, 16) == checksum(payload)
                except ValueError:
                    ok = False
                events.append(Packet(payload) if ok else BadPacket(payload))
            elif first == ord("+"):
                events.append(Ack(True))
                del self._buf[:1]
            elif first == ord("-"):
                events.append(Ack(False))
                del self._buf[:1]
            elif first == INTERRUPT:
                events.append(Interrupt())
                del self._buf[:1]
            else:
                del self._buf[:1]                          # line noise between packets
        return events
