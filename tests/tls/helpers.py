"""Test drivers: Python's ssl module (OpenSSL) as an in-process client of the sans-IO server."""

from __future__ import annotations

import ssl
import warnings

from sim.tls.server import TlsServer

_VERSIONS = {"1.0": "TLSv1", "1.1": "TLSv1_1", "1.2": "TLSv1_2"}


def client_context(ca_path, version: str = "1.2", ciphers: str | None = None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)   # TLS 1.0/1.1 are what we test
        v = getattr(ssl.TLSVersion, _VERSIONS[version])
        ctx.minimum_version = v
        ctx.maximum_version = v
    # Debian's OpenSSL 3 refuses TLS 1.0/1.1 (SHA-1, MD5-SHA1 signatures) above security level 0
    ctx.set_ciphers((ciphers or "DEFAULT") + ":@SECLEVEL=0")
    return ctx


class MemoryClient:
    """An OpenSSL client over memory BIOs. `sent` is every byte it produced (the 'device_sent')."""

    def __init__(self, ctx: ssl.SSLContext, server_name: str = "tls-peer.test", session=None) -> None:
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.incoming, self.outgoing, server_hostname=server_name, session=session)
        self.sent = bytearray()

    def take(self) -> bytes:
        data = self.outgoing.read()
        self.sent += data
        return data

    def handshake(self, server: TlsServer, max_rounds: int = 10) -> list:
        events = []
        for _ in range(max_rounds):
            try:
                self.tls.do_handshake()
                events += server.receive(self.take())
                self.incoming.write(server.data_to_send())
                return events
            except ssl.SSLWantReadError:
                pass
            events += server.receive(self.take())
            self.incoming.write(server.data_to_send())
        raise AssertionError("handshake did not finish")

    def write(self, data: bytes) -> bytes:
        self.tls.write(data)
        return self.take()

    def read_all(self, server_bytes: bytes) -> bytes:
        self.incoming.write(server_bytes)
        out = bytearray()
        while True:
            try:
                chunk = self.tls.read(65536)
            except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                break
            if not chunk:
                break
            out += chunk
        return bytes(out)
