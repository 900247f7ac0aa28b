"""The peer's HTTP/1.1 application: sans-IO, bytes of requests in, bytes of responses out.

Routes (all bodies deterministic, so a client can check what it received):

* `GET /bytes/N`  -> N bytes with byte i = i % 251 (the same pattern the firmware POSTs)
* `GET /text/N`   -> N ASCII bytes with byte i = TEXT_ALPHABET[i % 62] (A-Z a-z 0-9, no newline)
* `GET <other>`   -> `get_body(path)` = b"tls-fw-sim peer: GET <path>\\n" (path as sent, query included)
* `POST /upload` with Content-Length -> 200, `Content-Type: application/json`, body exactly
  `{"length": <n>, "sha256": "<hex>"}` over the received body
* 400 malformed request, 404 unknown POST target, 405 other methods, 411 POST without
  Content-Length (also chunked bodies), 413 Content-Length over `upload_limit` (default 1 MiB)

Keep-alive is HTTP/1.1's default; `Connection: close` (or HTTP/1.0 without keep-alive) closes
after the response, and every error response closes. `close_requested` tells the transport to
send close_notify and FIN once the response is out.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

DEFAULT_UPLOAD_LIMIT = 1 << 20
MAX_HEADER_BYTES = 16384
TEXT_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_REQUEST_LINE = re.compile(rb"^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP/(1\.[01])$")
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


class HttpApp:
    """One connection's HTTP/1.1 server side (pipelining supported, requests answered in order)."""

    def __init__(self, *, upload_limit: int = DEFAULT_UPLOAD_LIMIT) -> None:
        self.upload_limit = upload_limit
        self.close_requested = False
        self.log: list[RequestLog] = []
        self._buffer = bytearray()
        self._body: _Body | None = None

    def receive(self, data: bytes) -> bytes:
        """Feed request bytes; returns the response bytes produced (possibly several responses)."""
        if self.close_requested:
            return b""
        self._buffer += data
        out = bytearray()
        while not self.close_requested:
            if self._body is not None:
                take = min(self._body.remaining, len(self._buffer))
                self._body.feed(bytes(self._buffer[:take]))
                del self._buffer[:take]
                if self._body.remaining:
                    break
                out += self._finish_body(self._body)
                self._body = None
                continue
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > MAX_HEADER_BYTES:
                    out += self._error(400, "?", "?", "request header block over 16 KiB")
                break
            head = bytes(self._buffer[:end])
            del self._buffer[:end + 4]
            out += self._on_head(head)
        return bytes(out)

    # --- internals ---------------------------------------------------------------------------
    def _on_head(self, head: bytes) -> bytes:
        lines = head.split(b"\r\n")
        m = _REQUEST_LINE.match(lines[0])
        if not m:
            return self._error(400, "?", "?", f"malformed request line {lines[0][:80]!r}")
        method, target, version = m.group(1).decode(), m.group(2).decode("latin-1"), m.group(3).decode()
        headers: dict[str, list[str]] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep or not name or name != name.strip() or b" " in name:
                return self._error(400, method, target, f"malformed header line {line[:80]!r}")
            headers.setdefault(name.decode("latin-1").lower(), []).append(value.strip().decode("latin-1"))
        if version == "1.1" and "host" not in headers:
            return self._error(400, method, target, "HTTP/1.1 request without Host")
        connection = ",".join(headers.get("connection", [])).lower()
        keep_alive = ("close" not in connection) if version == "1.1" else ("keep-alive" in connection)
        lengths = set(headers.get("content-length", []))
        length = None
        if lengths:
            if len(lengths) != 1 or not next(iter(lengths)).isdigit():
                return self._error(400, method, target, f"bad Content-Length {sorted(lengths)}")
            length = int(next(iter(lengths)))
        chunked = "transfer-encoding" in headers
        if method == "POST":
            if chunked or length is None:
                return self._error(411, method, target, "POST needs Content-Length (chunked bodies are not accepted)")
            if length > self.upload_limit:
                return self._error(413, method, target, f"Content-Length {length} over the limit of {self.upload_limit}")
            self._body = _Body(method, target, length, keep_alive)
            return self._finish_body(self._body) if length == 0 else b""
        if chunked:
            return self._error(411, method, target, "chunked request bodies are not accepted")
        if method not in ("GET", "HEAD"):
            return self._error(405, method, target, f"method {method} is not supported (GET, HEAD, POST are)")
        if length:
            self._body = _Body(method, target, length, keep_alive)   # a GET body is read and ignored
            return b""
        return self._get(method, target, keep_alive, 0)

    def _finish_body(self, body: "_Body") -> bytes:
        if body.method != "POST":
            return self._get(body.method, body.target, body.keep_alive, body.length)
        if body.target != "/upload":
            return self._respond(404, body.method, body.target, b"POST goes to /upload\n", "text/plain",
                                 body.keep_alive, body.length)
        payload = upload_response_body(body.length, body.sha256.hexdigest())
        return self._respond(200, "POST", body.target, payload, "application/json", body.keep_alive, body.length)

    def _get(self, method: str, target: str, keep_alive: bool, request_len: int) -> bytes:
        body = get_body(target, self.upload_limit)
        if body is None:
            return self._error(413, method, target, f"requested size over the limit of {self.upload_limit}")
        ctype = "application/octet-stream" if target.startswith("/bytes/") else "text/plain"
        return self._respond(200, method, target, body, ctype, keep_alive, request_len, head=method == "HEAD")

    def _error(self, status: int, method: str, target: str, why: str) -> bytes:
        return self._respond(status, method, target, (why + "\n").encode(), "text/plain", False, 0, note=why)

    def _respond(self, status: int, method: str, target: str, body: bytes, ctype: str, keep_alive: bool,
                 request_len: int, *, head: bool = False, note: str = "") -> bytes:
        if not keep_alive:
            self.close_requested = True
        self.log.append(RequestLog(method, target, status, request_len, len(body), note))
        lines = [f"HTTP/1.1 {status} {_REASONS[status]}", f"Content-Type: {ctype}", f"Content-Length: {len(body)}",
                 f"Connection: {'keep-alive' if keep_alive else 'close'}", "Server: tls-fw-sim-peer"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + (b"" if head else body)


class _Body:
    def __init__(self, method: str, target: str, length: int, keep_alive: bool) -> None:
        self.method, self.target, self.length, self.keep_alive = method, target, length, keep_alive
        self.remaining = length
        self.sha256 = hashlib.sha256()

    def feed(self, data: bytes) -> None:
        self.sha256.update(data)
        self.remaining -= len(data)
