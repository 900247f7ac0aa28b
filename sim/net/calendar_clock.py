"""The scenario's calendar: a fixed base date plus the virtual time elapsed since a chosen instant.

Nothing reads the host's clock, so a run with the same base date is the same run. The SNTP server
answers from it, and the scenario sets the RTC model from it.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sim.net.errors import NetworkConfigError
from sim.vtime import NS_PER_S

DEFAULT_DATE = "2024-01-01T00:00:00Z"
NTP_UNIX_OFFSET_S = 2_208_988_800          # 1900-01-01 to 1970-01-01 (RFC 868, RFC 4330 section 3)
_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# RFC 4330 section 3: a 32-bit NTP seconds value with its top bit set is 1968..2036 (era 0), one
# without it 2036..2104 (era 1); only this window can be told to a client unambiguously.
EARLIEST = datetime(1968, 1, 20, 3, 14, 8, tzinfo=timezone.utc)
LATEST = datetime(2104, 2, 26, 9, 42, 23, tzinfo=timezone.utc)


def parse_date(text: str, *, option: str = "date") -> datetime:
    """An ISO 8601 date-time such as 2017-10-12T22:16:00Z, as an aware UTC datetime."""
    raw = text.strip()
    try:
        value = datetime.fromisoformat(raw[:-1] + "+00:00" if raw[-1:] in ("Z", "z") else raw)
    except ValueError:
        raise NetworkConfigError(f"{option} {text!r} is not an ISO 8601 date-time; write it like "
                                 f"2017-10-12T22:16:00Z") from None
    if value.tzinfo is None:
        raise NetworkConfigError(f"{option} {text!r} has no time zone; add Z for UTC "
                                 f"(e.g. 2017-10-12T22:16:00Z)")
    value = value.astimezone(timezone.utc)
    if not EARLIEST <= value <= LATEST:
        raise NetworkConfigError(f"{option} {text!r} is outside what an NTP timestamp can tell a "
                                 f"client (RFC 4330 section 3): use a date from {EARLIEST:%Y-%m-%d} "
                                 f"to {LATEST:%Y-%m-%d}")
    return value


class CalendarClock:
    """Calendar time = `base` at virtual time `origin_ns`, advancing one second per virtual second."""

    def __init__(self, base: datetime | str = DEFAULT_DATE, origin_ns: int = 0) -> None:
        self.base = parse_date(base) if isinstance(base, str) else parse_date(base.isoformat())
        self.origin_ns = origin_ns
        delta = self.base - _UNIX_EPOCH
        self._base_unix_ns = (delta.days * 86_400 + delta.seconds) * NS_PER_S + delta.microseconds * 1000

    def unix_ns(self, now_ns: int) -> int:
        return self._base_unix_ns + (now_ns - self.origin_ns)

    def datetime(self, now_ns: int) -> datetime:
        unix_ns = self.unix_ns(now_ns)
        return _UNIX_EPOCH + timedelta(microseconds=unix_ns // 1000)

    def iso(self, now_ns: int) -> str:
        """UTC with microseconds, e.g. 2024-01-01T00:00:02.500000Z."""
        return self.datetime(now_ns).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def ntp_timestamp(self, now_ns: int) -> int:
        """The 64-bit NTP timestamp (32.32 fixed point, seconds modulo 2**32: RFC 4330 section 3)."""
        unix_ns = self.unix_ns(now_ns)
        seconds, nanos = divmod(unix_ns, NS_PER_S)
        fraction = (nanos << 32) // NS_PER_S
        return (((seconds + NTP_UNIX_OFFSET_S) & 0xFFFFFFFF) << 32) | fraction
