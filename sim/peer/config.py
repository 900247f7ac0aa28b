"""What a peer on a socket is told: where to listen and the limits that keep it bounded.

Both are checked before the peer listens, and a bad value is a `PeerError` naming the option and
the fix (the command line prints it as one line, exit status 2).
"""

from __future__ import annotations

import ipaddress
import math
import socket
from dataclasses import dataclass
from datetime import UTC, datetime

from sim.errors import SimError


class PeerError(SimError):
    """The peer cannot start as asked (bad option, unusable journal directory, address in use)."""


@dataclass(frozen=True)
class PeerLimits:
    """Per-server bounds. Memory per connection is bounded by `output_buffer` plus what the TLS
    layer keeps per connection; the whole server by that times `max_connections`."""

    max_connections: int = 256       # above it, a new connection is closed at once (RST) and counted
    handshake_timeout: float = 30.0  # seconds from accept to a finished TLS handshake
    idle_timeout: float = 60.0       # seconds with no byte received or sent
    output_buffer: int = 256 * 1024  # bytes queued for a client that does not read before reading from it stops

    def __post_init__(self) -> None:
        _positive_int("--max-connections", self.max_connections)
        _positive_seconds("--handshake-timeout", self.handshake_timeout)
        _positive_seconds("--idle-timeout", self.idle_timeout)
        _positive_int("output buffer", self.output_buffer)


def _positive_int(option: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PeerError(f"{option} {value!r}: give a whole number of at least 1")


def _positive_seconds(option: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise PeerError(f"{option} {value!r}: give a finite number of seconds above 0, e.g. 30")


@dataclass(frozen=True)
class ListenAddress:
    """A resolved `--listen HOST:PORT`: what `socket.create_server` needs."""

    family: socket.AddressFamily
    host: str
    port: int

    def show(self, port: int | None = None) -> str:
        """HOST:PORT as a user writes it back (IPv6 in brackets); `port` replaces the asked one."""
        port = self.port if port is None else port
        return f"[{self.host}]:{port}" if self.family == socket.AF_INET6 else f"{self.host}:{port}"


def parse_listen(text: str) -> ListenAddress:
    """`127.0.0.1:8443`, `0.0.0.0:0`, `[::1]:8443`, `[::]:8443`, `localhost:8443`, `:8443` (loopback)."""
    usage = "use HOST:PORT, e.g. 127.0.0.1:8443, 0.0.0.0:8443 or [::1]:8443 (port 0: a free one)"
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise PeerError(f"--listen {text!r}: {usage}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        if not _is_ipv6(host):
            raise PeerError(f"--listen {text!r}: brackets hold an IPv6 address; {usage}")
    elif ":" in host:
        raise PeerError(f"--listen {text!r}: write an IPv6 address in brackets, e.g. [{host}]:{port}")
    host = host or "127.0.0.1"
    try:
        infos = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise PeerError(f"--listen {text!r}: cannot resolve {host!r} ({exc}); "
                        f"give an IP address such as 127.0.0.1 or [::1]") from None
    family, _, _, _, sockaddr = infos[0]
    return ListenAddress(family, sockaddr[0], int(port))


def _is_ipv6(host: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(host), ipaddress.IPv6Address)
    except ValueError:
        return False


def parse_date(text: str | None, *, today: datetime | None = None) -> datetime:
    """`--date`: 2026-03-01 (midnight UTC) or an ISO 8601 date-time with a zone (2026-03-01T12:00:00Z).
    Without one, today at midnight UTC: the same leaves all day, valid for clients on real clocks."""
    if text is None:
        now = today or datetime.now(UTC)
        return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    raw = text.strip()
    usage = "write it like 2026-03-01 or 2026-03-01T12:00:00Z"
    try:
        value = datetime.fromisoformat(raw[:-1] + "+00:00" if raw[-1:] in ("Z", "z") else raw)
    except ValueError:
        raise PeerError(f"--date {text!r} is not a date; {usage}") from None
    if len(raw) == 10:                      # a bare date: midnight UTC
        value = value.replace(tzinfo=UTC)
    if value.tzinfo is None:
        raise PeerError(f"--date {text!r} has no time zone; add Z for UTC ({usage})")
    return value.astimezone(UTC)
