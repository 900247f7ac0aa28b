"""pcapng capture of the emulated link, with the TLS key log embedded (stdlib only).

File layout: Section Header Block, one Interface Description Block (Ethernet, nanosecond
timestamps = virtual time since reset), the Decryption Secrets Block(s), then one Enhanced Packet
Block per captured frame.

Why the file is written on close: Wireshark applies a DSB only to packets that follow it, but the
TLS key log line of a session is known only once its handshake is done, i.e. after the first
packets of that session were captured. So packets are buffered and every DSB is written right
after the IDB, ahead of all packets. No wall clock, host name or OS string goes into the file:
the same packets and secrets give the same bytes.

Direction (epb_flags bits 0-1), from the point of view of the host end of the link (where a
capture on a real network would sit next to the server): INBOUND = frame sent by the device,
OUTBOUND = frame sent by the host stack.
"""

from __future__ import annotations

import enum
import re
import struct
from dataclasses import dataclass
from pathlib import Path

BLOCK_SHB = 0x0A0D0D0A
BLOCK_IDB = 0x00000001
BLOCK_EPB = 0x00000006
BLOCK_DSB = 0x0000000A
SECRETS_TLS_KEYLOG = 0x544C534B          # 'TLSK': NSS key log format
LINKTYPE_ETHERNET = 1

OPT_END, OPT_COMMENT = 0, 1
SHB_USERAPPL = 4
IF_NAME, IF_DESCRIPTION, IF_TSRESOL, IF_FCSLEN = 2, 3, 9, 13
EPB_FLAGS = 2

# One NSS key log line: LABEL <hex client random> <hex secret>
_KEYLOG_LINE = re.compile(r"^[A-Z][A-Z0-9_]* [0-9a-fA-F]{64} [0-9a-fA-F]+$")


class Direction(enum.IntEnum):
    INBOUND = 1       # device -> host
    OUTBOUND = 2      # host -> device


@dataclass(frozen=True)
class CapturedPacket:
    number: int               # 1-based, as Wireshark numbers frames
    time_ns: int              # virtual time
    data: bytes
    direction: Direction
    comment: str | None = None


def _pad4(data: bytes) -> bytes:
    return data + bytes(-len(data) % 4)


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + _pad4(value)


def _options(pairs: list[tuple[int, bytes]]) -> bytes:
    if not pairs:
        return b""
    return b"".join(_option(c, v) for c, v in pairs) + struct.pack("<HH", OPT_END, 0)


def _block(block_type: int, body: bytes) -> bytes:
    body = _pad4(body)
    total = 12 + len(body)
    return struct.pack("<II", block_type, total) + body + struct.pack("<I", total)


class PcapngWriter:
    """Collects packets and key log lines; `close()` (or `to_bytes()`) produces the file."""

    def __init__(self, path: str | Path | None = None, *, application: str = "tls-fw-sim",
                 interface_name: str = "sim-eth0",
                 interface_description: str = "emulated Ethernet link, virtual time") -> None:
        self.path = Path(path) if path is not None else None
        self.application = application
        self.interface_name = interface_name
        self.interface_description = interface_description
        self.packets: list[CapturedPacket] = []
        self._secrets: list[str] = []
        self._secret_set: set[str] = set()
        self.closed = False

    def add_packet(self, time_ns: int, data: bytes, direction: Direction, comment: str | None = None) -> int:
        """Capture one frame (without FCS); returns its packet number (1-based)."""
        if self.closed:
            raise RuntimeError(f"the capture {self.path or ''} is closed; packets must be added before close()")
        if time_ns < 0:
            raise ValueError(f"capture time must be virtual ns >= 0, got {time_ns}")
        number = len(self.packets) + 1
        self.packets.append(CapturedPacket(number, time_ns, bytes(data), Direction(direction), comment))
        return number

    def add_secrets(self, text: str) -> int:
        """Add NSS key log lines (e.g. `CLIENT_RANDOM <64 hex> <96 hex>`); returns how many were new.

        Blank lines and `#` comments are skipped; repeated lines are kept once.
        """
        added = 0
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if not _KEYLOG_LINE.match(line):
                raise ValueError(f"key log line {number} is not in NSS key log format "
                                 f"('CLIENT_RANDOM <64 hex digits> <96 hex digits>'): {line[:80]!r}")
            if line not in self._secret_set:
                self._secret_set.add(line)
                self._secrets.append(line)
                added += 1
        return added

    @property
    def secrets(self) -> str:
        return "".join(line + "\n" for line in self._secrets)

    def to_bytes(self) -> bytes:
        out = [self._section_header(), self._interface_description()]
        if self._secrets:
            data = self.secrets.encode()
            out.append(_block(BLOCK_DSB, struct.pack("<II", SECRETS_TLS_KEYLOG, len(data)) + _pad4(data)))
        out.extend(self._enhanced_packet(p) for p in self.packets)
        return b"".join(out)

    def close(self) -> None:
        """Write the file (if a path was given); idempotent."""
        if self.closed:
            return
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_bytes(self.to_bytes())
        self.closed = True

    def __enter__(self) -> "PcapngWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- blocks ---------------------------------------------------------------------------------

    def _section_header(self) -> bytes:
        body = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)
        return _block(BLOCK_SHB, body + _options([(SHB_USERAPPL, self.application.encode())]))

    def _interface_description(self) -> bytes:
        body = struct.pack("<HHI", LINKTYPE_ETHERNET, 0, 0)
        return _block(BLOCK_IDB, body + _options([
            (IF_NAME, self.interface_name.encode()),
            (IF_DESCRIPTION, self.interface_description.encode()),
            (IF_TSRESOL, bytes((9,))),            # 10^-9 s: timestamps are virtual nanoseconds
            (IF_FCSLEN, bytes((0,))),             # frames are captured without the FCS
        ]))

    @staticmethod
    def _enhanced_packet(p: CapturedPacket) -> bytes:
        body = struct.pack("<IIIII", 0, p.time_ns >> 32, p.time_ns & 0xFFFFFFFF, len(p.data), len(p.data))
        opts = [(EPB_FLAGS, struct.pack("<I", int(p.direction)))]
        if p.comment:
            opts.insert(0, (OPT_COMMENT, p.comment.encode()))
        return _block(BLOCK_EPB, body + _pad4(p.data) + _options(opts))
