"""Test-only TLS endpoints on Python's `ssl` module over MemoryBIO: an HTTPS server that is a
host-stack StreamHandler, and the client half for the MiniClient. Independent of sim.tls, so a
capture test exercises only sim.net."""

from __future__ import annotations

import hashlib
import ssl
from pathlib import Path

from sim.tls.certs import SERVER_NAME, generate_test_pki


def pki_files(directory: Path) -> dict[str, Path]:
    generate_test_pki().write(directory)
    return {name: directory / name for name in ("ca.pem", "server-rsa.pem", "server-rsa.key")}


def server_context(files: dict[str, Path], keylog: Path | None = None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2       # the versions our captures cover
    ctx.load_cert_chain(files["server-rsa.pem"], files["server-rsa.key"])
    if keylog is not None:
        ctx.keylog_filename = str(keylog)
    return ctx


def client_context(files: dict[str, Path], keylog: Path | None = None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_verify_locations(files["ca.pem"])
    if keylog is not None:
        ctx.keylog_filename = str(keylog)
    return ctx


class HttpsHandler:
    """StreamHandler: TLS server + a minimal HTTP/1.1 app. GET returns a fixed body; POST returns
    the length and SHA-256 of what it received. One request per connection, then close."""

    def __init__(self, ctx: ssl.SSLContext) -> None:
        self.ctx = ctx
        self.requests: list[bytes] = []
        self.lost: list = []

    def connection_made(self, conn) -> None:
        self.conn = conn
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = self.ctx.wrap_bio(self.inc, self.out, server_side=True)
        self.buf = b""
        self.done = False

    def data_received(self, data: bytes) -> None:
        self.inc.write(data)
        try:
            self.tls.do_handshake()
            while chunk := self.tls.read(65536):
                self.buf += chunk
        except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
            pass
        except ssl.SSLError as exc:
            self.lost.append(f"tls error {exc}")
            self._flush()
            self.conn.close()
            return
        self._serve()
        self._flush()

    def _serve(self) -> None:
        if self.done or b"\r\n\r\n" not in self.buf:
            return
        head, body = self.buf.split(b"\r\n\r\n", 1)
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if len(body) < length:
            return
        self.done = True
        self.requests.append(head.split(b"\r\n")[0])
        if head.startswith(b"POST"):
            payload = b'{"length": %d, "sha256": "%s"}\n' % (length, hashlib.sha256(body[:length]).hexdigest().encode())
        else:
            payload = b"hello from the host stack\n"
        self.tls.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                       b"Connection: close\r\n\r\n%s" % (len(payload), payload))
        try:
            self.tls.unwrap()                       # close_notify
        except (ssl.SSLWantReadError, ssl.SSLError):
            pass
        self._flush()
        self.conn.close()

    def _flush(self) -> None:
        pending = self.out.read()
        if pending:
            self.conn.send(pending)

    def eof_received(self) -> None:
        self.conn.close()

    def connection_lost(self, reason) -> None:
        self.lost.append(reason)


class HttpsClient:
    """The TLS client half over MemoryBIO; `send` is the TCP client's send."""

    def __init__(self, ctx: ssl.SSLContext, send, request: bytes) -> None:
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.inc, self.out, server_side=False, server_hostname=SERVER_NAME)
        self.send = send
        self.request = request
        self.response = b""
        self.sent = False

    def start(self) -> None:
        self.on_data(b"")

    def on_data(self, data: bytes) -> None:
        if data:
            self.inc.write(data)
        try:
            self.tls.do_handshake()
            if not self.sent:
                self.tls.write(self.request)
                self.sent = True
            while chunk := self.tls.read(65536):
                self.response += chunk
        except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
            pass
        pending = self.out.read()
        if pending:
            self.send(pending)
