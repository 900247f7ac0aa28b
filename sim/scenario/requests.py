"""The HTTP requests a device made on its own connections, as the peer saw them.

`RequestWatcher` sits between a `PeerSession` and its HTTP application: it sees every plaintext
byte the device sent over TLS, reads the head of each request (method, path, Content-Length) and
pairs it with the answer the application gave. When the connection fails before an answer (a
fatal alert, a reset, a close in the middle of a body) the request that was under way - or, when
the device never got to send one, the attempt - is recorded as failed, with the alert.

A request is *finished* once it was answered or failed; a device-initiated scenario counts those.
A request whose first record failed its MAC or tag check is known by that record only: its bytes
never became plaintext, so its method and path stay unknown.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Callable

from sim.vtime import NS_PER_MS

HEAD_LIMIT = 16 * 1024                 # request head bytes kept (the peer refuses longer heads too)
_REQUEST_LINE = re.compile(rb"^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP/1\.[01]\r?$")
_CONTENT_LENGTH = re.compile(rb"^content-length:\s*(\d+)\s*$", re.IGNORECASE | re.MULTILINE)


@dataclass
class RequestResult:
    """One HTTP request of the device: what it asked, and how it ended."""

    connection: int                          # index of its connection in the run (1-based)
    method: str | None                       # None: the connection failed before a request began
    path: str | None
    size: int | None                         # the body length the device announced (Content-Length)
    received: int = 0                        # body bytes the peer received
    started_ns: int = 0
    ended_ns: int | None = None
    status: int | None = None                # the peer's answer
    server_sha256: str | None = None         # the peer's SHA-256 of a POST body it received whole
    alert: str | None = None                 # the fatal alert that ended it (e.g. bad_record_mac)
    alert_from: str | None = None            # "peer" or "device"
    reason: str | None = None                # why it failed, in words
    expect: str = "any"
    failed_record: int | None = None         # journal index of the failed record that carried it (unreadable)

    @property
    def finished(self) -> bool:
        return self.ended_ns is not None

    @property
    def outcome(self) -> str:
        if not self.finished:
            return "unfinished"
        if self.status is not None and 200 <= self.status < 300:
            return "ok"
        if self.alert == "bad_record_mac":
            return "bad_record_mac"
        return "error"

    def meets_expectation(self) -> bool:
        return self.finished and (self.expect == "any" or self.outcome == self.expect)

    def describe(self) -> str:
        if self.method is None and self.failed_record is not None:
            return f"(request in failed record #{self.failed_record})"
        if self.method is None:
            return "(no request: the connection failed first)"
        size = f" {self.size} bytes" if self.size else ""
        return f"{self.method} {self.path}{size}"

    def to_dict(self) -> dict:
        return {"connection": self.connection, "method": self.method, "path": self.path, "size": self.size,
                "received": self.received, "outcome": self.outcome, "meets_expectation": self.meets_expectation(),
                "status": self.status, "server_sha256": self.server_sha256, "alert": self.alert,
                "alert_from": self.alert_from, "reason": self.reason, "failed_record": self.failed_record,
                "started_ms": self.started_ns / NS_PER_MS,
                "ended_ms": None if self.ended_ns is None else self.ended_ns / NS_PER_MS}


class RequestWatcher:
    """Observes one PeerSession's HTTP traffic; install with `RequestWatcher(session, ...)`.

    It takes the place of `session.http` and hands everything on to the application, so the peer
    behaves exactly as without it."""

    def __init__(self, session, connection: int, clock: Callable[[], int], expect: str = "any") -> None:
        self.session = session
        self.app = session.http
        self.connection = connection
        self.clock = clock
        self.expect = expect
        self.requests: list[RequestResult] = []
        self._head = bytearray()             # plaintext of the request under way, up to HEAD_LIMIT
        self._pending: RequestResult | None = None
        self._body_start: int | None = None  # offset of its body in _head (once the head is complete)
        self._seen = 0                       # plaintext bytes of the request under way
        self._ended = False
        session.http = self

    # --- the HttpApp surface PeerSession uses -----------------------------------------------------
    @property
    def close_requested(self) -> bool:
        return self.app.close_requested

    @property
    def log(self):
        return self.app.log

    def receive(self, data: bytes) -> bytes:
        self._observe(data)
        log = self.app.log                   # bounded: new entries are those after the last one seen
        last = log[-1] if log else None
        out = self.app.receive(data)
        new = []
        for entry in reversed(log):
            if entry is last:
                break
            new.append(entry)
        for entry in reversed(new):
            self._answered(entry, out)
        return out

    # --- reading requests -------------------------------------------------------------------------
    def _observe(self, data: bytes) -> None:
        if self._pending is None:
            self._pending = RequestResult(self.connection, None, None, None, started_ns=self.clock(),
                                          expect=self.expect)
        self._seen += len(data)
        if len(self._head) < HEAD_LIMIT:
            self._head += data[:HEAD_LIMIT - len(self._head)]
        request = self._pending
        if request.method is None:
            line_end = self._head.find(b"\n")
            if line_end >= 0:
                m = _REQUEST_LINE.match(bytes(self._head[:line_end]))
                if m:
                    request.method = m.group(1).decode()
                    request.path = m.group(2).decode("latin-1")
        if self._body_start is None:
            end = self._head.find(b"\r\n\r\n")
            if end >= 0:
                self._body_start = end + 4
                m = _CONTENT_LENGTH.search(bytes(self._head[:end]))
                if m:
                    request.size = int(m.group(1))
        if self._body_start is not None:
            request.received = self._seen - self._body_start

    def _answered(self, entry, out: bytes) -> None:
        request = self._pending or RequestResult(self.connection, None, None, None, started_ns=self.clock(),
                                                 expect=self.expect)
        request.method = request.method or entry.method
        request.path = request.path or entry.path
        request.status = entry.status
        request.received = entry.request_body_length
        if request.size is None and entry.method == "POST":
            request.size = entry.request_body_length
        if entry.method == "POST" and entry.status == 200:
            request.server_sha256 = _upload_digest(out)
        request.ended_ns = self.clock()
        self.requests.append(request)
        # the device waits for an answer before its next request (no pipelining): start afresh
        self._pending, self._head, self._body_start, self._seen = None, bytearray(), None, 0

    # --- failures ---------------------------------------------------------------------------------
    def poll(self) -> None:
        """Record the request under way (or the attempt) as failed once the connection has ended
        without answering it. Called by the runner between quanta."""
        if self._ended:
            return
        session = self.session
        fatal = _first_fatal_alert(session)
        ended = fatal is not None or session.failure is not None or session.lost_reason is not None
        if not ended:
            return
        self._ended = True
        request = self._pending
        if request is None and self.requests:
            return                            # everything it asked was answered; then it closed
        if request is None:
            if fatal is None and session.failure is None:
                return                        # closed cleanly before asking anything: no attempt
            request = RequestResult(self.connection, None, None, None, started_ns=self.clock(), expect=self.expect)
        failed = session.journal.first_failure()
        if request.method is None and failed is not None and failed.content_type == "application_data":
            # the request's first bytes were in a record that failed its check: they never became
            # plaintext, so only the record is known
            request.failed_record = failed.index
        if fatal is not None:
            request.alert = fatal.get("description")
            request.alert_from = "peer" if fatal.get("direction") == "server->client" else "device"
            if request.alert_from == "peer":
                request.reason = fatal.get("reason") or f"the peer sent a fatal {request.alert} alert"
            else:
                request.reason = f"the device sent a fatal {request.alert} alert ({fatal.get('reason')})"
        elif session.failure is not None:
            request.reason = str(getattr(session.failure, "reason", session.failure))
        else:
            request.reason = f"the connection ended ({session.lost_reason}) before the answer"
        request.ended_ns = self.clock()
        self.requests.append(request)
        self._pending = None

    def unfinished(self) -> RequestResult | None:
        """The request under way when the run stopped, if it had begun."""
        request = self._pending
        return request if request is not None and request.method is not None and not request.finished else None


def _first_fatal_alert(session) -> dict | None:
    return next((a for a in session.journal.alerts() if str(a.get("level")) == "fatal"), None)


def _upload_digest(response: bytes) -> str | None:
    """The SHA-256 the peer's POST answer reports (`{"length": n, "sha256": "..."}`, sim.http)."""
    _, sep, body = response.partition(b"\r\n\r\n")
    if not sep:
        return None
    try:
        return json.loads(body.split(b"HTTP/1.", 1)[0]).get("sha256")
    except (ValueError, AttributeError):
        return None


__all__ = ["RequestResult", "RequestWatcher"]
