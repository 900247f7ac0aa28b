"""The peer's HTTP/1.1 application: sans-IO, bytes of requests in, bytes of responses out.

Requests are parsed by h11 (RFC 9112): header lines may end in CRLF or a bare LF (§2.2), bodies
come with Content-Length or chunked (§7.1), and several requests may be pipelined. Routes (all
bodies deterministic, so a client can check what it received):

* `GET /bytes/N`  -> N bytes with byte i = i % 251 (the same pattern the firmware POSTs)
* `GET /text/N`   -> N ASCII bytes with byte i = TEXT_ALPHABET[i % 62] (A-Z a-z 0-9, no newline)
* `GET <other>`   -> `get_body(path)` = b"tls-fw-sim peer: GET <path>\\n" (path as sent, query included)
* `POST /upload` with Content-Length or chunked -> 200, `Content-Type: application/json`, body
  exactly `{"length": <n>, "sha256": "<hex>"}` over the received body
* 400 malformed request, 404 unknown POST target, 405 other methods, 411 POST with neither
  Content-Length nor chunked, 413 a body (or a /bytes, /text size) over `upload_limit`
  (`DEFAULT_UPLOAD_LIMIT`, 1 MiB; a chunked body is refused once it passes the limit)

Keep-alive is HTTP/1.1's default; `Connection: close` or an HTTP/1.0 request closes after the
response (h11 keeps no HTTP/1.0 connection open), and every error response closes.
`close_requested` tells the transport to send close_notify and FIN once the response is out.
"""

from __future__ import annotations

import collections
import hashlib
import json
import re
from dataclasses import dataclass

import h11

DEFAULT_UPLOAD_LIMIT = 1 << 20        # largest request body (and /bytes, /text size) served; above: 413
MAX_HEADER_BYTES = 16384              # request line + header block still unfinished after this: 400
LOG_ENTRIES = 1000                    # requests remembered per connection (`HttpApp.log`)
TEXT_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 411: "Length Required",
            413: "Payload Too Large"}
_SIZE_ROUTE = re.compile(r"^/(bytes|text)/(\d{1,9})$")


def pattern_bytes(n: int, start: int = 0) -> bytes:
    """byte i = i % 251, the firmware's POST body pattern (251 is prime: a shifted copy never matches)."""
    return bytes((i % 251) for i in range(start, start + n))


def get_body(path: str, limit: int = DEFAULT_UPLOAD_LIMIT) -> bytes | None:
    """The body `GET path` returns (None if the size in /bytes/N or /text/N is over `limit`)."""
    m = _SIZE_ROUTE.match(path)
    if m:
        n = int(m.group(2))
        if n > limit:
            return None
        if m.group(1) == "bytes":
            return pattern_bytes(n)
        return bytes(TEXT_ALPHABET[i % len(TEXT_ALPHABET)] for i in range(n))
    return b"tls-fw-sim peer: GET " + path.encode("utf-8", "surrogateescape") + b"\n"


def upload_response_body(length: int, sha256_hex: str) -> bytes:
    return json.dumps({"length": length, "sha256": sha256_hex}).encode()


@dataclass
class RequestLog:
    method: str
    path: str
    status: int
    request_body_length: int
    response_body_length: int
    note: str = ""


class _Request:
    """The request being read: what it asked for and a digest of its body so far."""

    def __init__(self, method: str, target: str, keep_alive: bool) -> None:
        self.method, self.target, self.keep_alive = method, target, keep_alive
        self.length = 0
        self.sha256 = hashlib.sha256()

    def feed(self, data: bytes) -> None:
        self.sha256.update(data)
        self.length += len(data)


class HttpApp:
    """One connection's HTTP/1.1 server side (pipelining supported, requests answered in order)."""

    def __init__(self, *, upload_limit: int = DEFAULT_UPLOAD_LIMIT) -> None:
        self.upload_limit = upload_limit
        self.close_requested = False
        self.log: collections.deque[RequestLog] = collections.deque(maxlen=LOG_ENTRIES)
        self._h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEADER_BYTES)
        self._request: _Request | None = None

    def receive(self, data: bytes) -> bytes:
        """Feed request bytes; returns the response bytes produced (possibly several responses)."""
        if self.close_requested or not data:       # (h11 takes empty data for the end of the stream)
            return b""
        self._h11.receive_data(bytes(data))
        out = bytearray()
        while not self.close_requested:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError as exc:
                request = self._request
                out += self._error(400, request.method if request else "?", request.target if request else "?",
                                   f"malformed request: {exc}")
                break
            if event is h11.NEED_DATA:
                break
            if event is h11.PAUSED:                # both sides done with a request: the next one
                self._h11.start_next_cycle()
            elif isinstance(event, h11.Request):
                out += self._on_request(event)
            elif isinstance(event, h11.Data):
                out += self._on_body(event.data)
            elif isinstance(event, h11.EndOfMessage):
                out += self._on_end()
        return bytes(out)

    # --- internals ---------------------------------------------------------------------------
    def _on_request(self, event: h11.Request) -> bytes:
        method, target = event.method.decode("ascii"), event.target.decode("latin-1")
        keep_alive = event.http_version >= b"1.1" and b"close" not in _header_tokens(event, b"connection")
        self._request = _Request(method, target, keep_alive)
        lengths = [value for name, value in event.headers if name == b"content-length"]
        chunked = b"chunked" in _header_tokens(event, b"transfer-encoding")
        if method == "POST":
            if not lengths and not chunked:
                return self._error(411, method, target, "POST needs Content-Length or a chunked body")
            if lengths and int(lengths[0]) > self.upload_limit:
                return self._error(413, method, target, f"Content-Length {int(lengths[0])} over the limit of "
                                                        f"{self.upload_limit}")
        elif method not in ("GET", "HEAD"):
            return self._error(405, method, target, f"method {method} is not supported (GET, HEAD, POST are)")
        return b""

    def _on_body(self, data: bytes) -> bytes:
        request = self._request
        request.feed(data)          # a GET body is read and ignored
        if request.method == "POST" and request.length > self.upload_limit:     # only a chunked body gets here
            return self._error(413, request.method, request.target,
                               f"chunked body over the limit of {self.upload_limit}")
        return b""

    def _on_end(self) -> bytes:
        request, self._request = self._request, None
        if request.method != "POST":
            return self._get(request)
        if request.target != "/upload":
            return self._respond(404, request, b"POST goes to /upload\n", "text/plain", request.keep_alive)
        payload = upload_response_body(request.length, request.sha256.hexdigest())
        return self._respond(200, request, payload, "application/json", request.keep_alive)

    def _get(self, request: _Request) -> bytes:
        body = get_body(request.target, self.upload_limit)
        if body is None:
            return self._error(413, request.method, request.target,
                               f"requested size over the limit of {self.upload_limit}")
        ctype = "application/octet-stream" if request.target.startswith("/bytes/") else "text/plain"
        return self._respond(200, request, body, ctype, request.keep_alive)

    def _error(self, status: int, method: str, target: str, why: str) -> bytes:
        request = self._request if self._request is not None else _Request(method, target, False)
        return self._respond(status, request, (why + "\n").encode(), "text/plain", False, note=why)

    def _respond(self, status: int, request: _Request, body: bytes, ctype: str, keep_alive: bool, *,
                 note: str = "") -> bytes:
        if not keep_alive:
            self.close_requested = True
        head = request.method == "HEAD"
        self.log.append(RequestLog(request.method, request.target, status, request.length, len(body), note))
        headers = [("Content-Type", ctype), ("Content-Length", str(len(body))),
                   ("Connection", "keep-alive" if keep_alive else "close"), ("Server", "tls-fw-sim-peer")]
        self._track(status, headers, b"" if head else body)
        # The head is written here rather than taken from h11: for `Connection: close` h11 would move
        # that header after Server, and the peer's responses keep the byte layout they always had.
        lines = [f"HTTP/1.1 {status} {_REASONS[status]}"] + [f"{name}: {value}" for name, value in headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + (b"" if head else body)

    def _track(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        """Tell h11 the response went out, so that it frames and parses the next request."""
        if self._h11.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return                  # an error after a response was already sent: the connection closes
        self._h11.send(h11.Response(status_code=status, headers=headers, reason=_REASONS[status]))
        if body:
            self._h11.send(h11.Data(data=body))
        self._h11.send(h11.EndOfMessage())


def _header_tokens(event: h11.Request, name: bytes) -> list[bytes]:
    return [token.strip().lower() for n, value in event.headers if n == name for token in value.split(b",")]
