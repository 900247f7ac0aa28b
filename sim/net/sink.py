"""A TCP application that takes whatever the device sends and answers nothing: the peer on every
port the scenario gave no other application. It keeps the first bytes (bounded) and a digest of
all of them, and closes its side when the device closes its own."""

from __future__ import annotations

import hashlib

DEFAULT_KEEP_BYTES = 64 * 1024


class TcpSink:
    def __init__(self, keep_bytes: int = DEFAULT_KEEP_BYTES) -> None:
        self.keep_bytes = keep_bytes
        self.conn = None
        self.head = bytearray()             # the first keep_bytes bytes received
        self.received = 0                   # all bytes received
        self._digest = hashlib.sha256()
        self.eof = False
        self.close_reason: str | None = None
        self.closed = False

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def connection_made(self, conn) -> None:
        self.conn = conn

    def data_received(self, data: bytes) -> None:
        room = self.keep_bytes - len(self.head)
        if room > 0:
            self.head += data[:room]
        self.received += len(data)
        self._digest.update(data)

    def eof_received(self) -> None:
        self.eof = True
        if self.conn is not None:
            self.conn.close()

    def connection_lost(self, reason: str | None) -> None:
        self.closed = True
        self.close_reason = reason

    def to_dict(self) -> dict:
        return {"received": self.received, "sha256": self.sha256, "eof": self.eof, "close_reason": self.close_reason}
