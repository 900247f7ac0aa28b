"""SNTP server answering from the scenario's calendar (RFC 4330), sans-IO.

`SntpServer.handle(payload, ...)` takes a request's UDP payload and the virtual time and returns
the 48-byte reply, or None for a request it drops (counted in `stats`). Every answer is kept in
`answers` for the journal.
"""

from __future__ import annotations

import struct
from collections import defaultdict
from dataclasses import dataclass

from sim.net.calendar_clock import CalendarClock
from sim.net.errors import NetworkConfigError

NTP_PORT = 123
NTP_PACKET_LEN = 48
MODE_SYMMETRIC_ACTIVE, MODE_SYMMETRIC_PASSIVE, MODE_CLIENT, MODE_SERVER = 1, 2, 3, 4
# RFC 4330 section 5: a client request gets a server reply, a symmetric-active one a passive reply
_REPLY_MODE = {MODE_CLIENT: MODE_SERVER, MODE_SYMMETRIC_ACTIVE: MODE_SYMMETRIC_PASSIVE}
_PACKET = struct.Struct("!BBbbII4sQQQQ")


@dataclass(frozen=True)
class SntpConfig:
    stratum: int = 1
    # RFC 4330 section 4: a stratum-1 server names its source in four ASCII characters; those
    # starting with X are for experimental use, which a simulated clock is.
    reference_id: bytes = b"XSIM"
    precision: int = -29                     # log2 seconds: the virtual clock counts nanoseconds

    def __post_init__(self) -> None:
        if not 1 <= self.stratum <= 15:
            raise NetworkConfigError(f"SNTP stratum {self.stratum} is not 1..15 (RFC 4330 section 4; "
                                     f"0 would be a kiss-o'-death)")
        if len(self.reference_id) != 4:
            raise NetworkConfigError(f"SNTP reference id {self.reference_id!r} must be 4 bytes")


@dataclass(frozen=True)
class TimeAnswer:
    """One SNTP reply: who asked, at which address, and the calendar time told."""

    time_ns: int
    client: str                 # "ip:port"
    server: str                 # the address the client asked
    version: int
    mode: int                   # the reply's mode
    told: str                   # the transmit timestamp as ISO 8601 UTC

    def to_dict(self) -> dict:
        return {"time_ns": self.time_ns, "client": self.client, "server": self.server,
                "version": self.version, "mode": self.mode, "told": self.told}


class SntpServer:
    def __init__(self, clock: CalendarClock, config: SntpConfig | None = None, *, record_limit: int = 10_000) -> None:
        self.clock = clock
        self.config = config or SntpConfig()
        self.record_limit = record_limit
        self.answers: list[TimeAnswer] = []
        self.stats: defaultdict[str, int] = defaultdict(int)

    def handle(self, payload: bytes, now_ns: int, *, client: str = "", server: str = "") -> bytes | None:
        """The reply to one request, or None (dropped and counted)."""
        self.stats["requests"] += 1
        # RFC 4330 section 4: 48 bytes, then optional extension fields and a MAC we do not check
        if len(payload) < NTP_PACKET_LEN:
            self.stats["malformed_short"] += 1
            return None
        first, _stratum, poll, *_rest = _PACKET.unpack_from(payload)
        version, mode = (first >> 3) & 0x7, first & 0x7
        if not 1 <= version <= 4:
            self.stats["malformed_version"] += 1
            return None
        reply_mode = _REPLY_MODE.get(mode)
        if reply_mode is None:
            self.stats["dropped_mode"] += 1
            return None
        transmit_of_request = payload[40:48]
        now = self.clock.ntp_timestamp(now_ns)
        cfg = self.config
        # RFC 4330 section 5: LI 0, VN and Poll copied from the request, Originate = the request's
        # Transmit; Receive and Transmit are both "now" (the virtual clock does not move while we
        # answer); the reference time is when the calendar was set (the scenario's start).
        reply = _PACKET.pack((0 << 6) | (version << 3) | reply_mode, cfg.stratum, poll, cfg.precision,
                             0, 0, cfg.reference_id, self.clock.ntp_timestamp(self.clock.origin_ns),
                             0, now, now)
        reply = reply[:24] + transmit_of_request + reply[32:]
        self.stats["answered"] += 1
        if len(self.answers) < self.record_limit:
            self.answers.append(TimeAnswer(now_ns, client, server, version, reply_mode, self.clock.iso(now_ns)))
        else:
            self.stats["records_not_kept"] += 1
        return reply
