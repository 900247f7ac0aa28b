"""Server-side session cache for resumption by session ID (RFC 5246 §7.4.1.2, §F.1.4)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from sim.tls.suites import CipherSuite


@dataclass(frozen=True)
class CachedSession:
    session_id: bytes
    version: int
    suite: CipherSuite
    master_secret: bytes
    extended_master_secret: bool
    encrypt_then_mac: bool
    truncated_hmac: bool
    max_fragment_code: int | None


class SessionCache:
    """Shared by all connections of one peer; bounded, oldest entries evicted first."""

    def __init__(self, capacity: int = 256) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[bytes, CachedSession] = OrderedDict()

    def get(self, session_id: bytes) -> CachedSession | None:
        return self._entries.get(session_id) if session_id else None

    def put(self, session: CachedSession) -> None:
        self._entries[session.session_id] = session
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
