"""Test kit for the TLS peer: Python's ssl (OpenSSL) as an in-process client, a fake TCP connection,
record helpers, and Mbed TLS's ssl_client2 built natively."""

from __future__ import annotations

import fcntl
import os
import shutil
import ssl
import subprocess
import warnings
from pathlib import Path

import pytest

from sim.peer import PeerFactory
from sim.tls.policy import ServerPolicy
from sim.tls.server import TlsServer

ROOT = Path(__file__).resolve().parents[2]
MBEDTLS_SRC = ROOT / ".cache" / "third_party" / "mbedtls-2.28.3"
NATIVE_DIR = ROOT / "build" / "native-mbedtls"
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


class FakeConn:
    """What the host stack hands a StreamHandler: send / close (FIN) / abort (RST), recorded."""

    def __init__(self) -> None:
        self.sent = bytearray()
        self.closed = False
        self.aborted = False

    def send(self, data: bytes) -> None:
        assert not self.closed, "send after close"
        self.sent += data

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def take(self) -> bytes:
        out = bytes(self.sent)
        self.sent.clear()
        return out


def split_records(stream: bytes) -> list[tuple[int, int, bytes]]:
    """(content_type, version, fragment) for each complete record in a byte stream."""
    out, pos = [], 0
    while pos + 5 <= len(stream):
        length = int.from_bytes(stream[pos + 3:pos + 5], "big")
        out.append((stream[pos], int.from_bytes(stream[pos + 1:pos + 3], "big"), stream[pos + 5:pos + 5 + length]))
        pos += 5 + length
    return out


def client_hello(version: int = 0x0303, suites=(0xC02F, 0x009C, 0x002F, 0x00FF), extensions: bytes | None = None,
                 session_id: bytes = b"", record_version: int = 0x0301) -> bytes:
    """A ClientHello record like Mbed TLS's (our own encoder, for negative tests and fuzzing)."""
    if extensions is None:
        extensions = (b"\x00\x0a\x00\x04\x00\x02\x00\x17"          # supported_groups: secp256r1
                      b"\x00\x0b\x00\x02\x01\x00"                  # ec_point_formats: uncompressed
                      b"\x00\x0d\x00\x04\x00\x02\x04\x01"          # signature_algorithms: rsa_pkcs1_sha256
                      b"\x00\x16\x00\x00\x00\x17\x00\x00")         # encrypt_then_mac, extended_master_secret
    suite_bytes = b"".join(s.to_bytes(2, "big") for s in suites)
    body = (version.to_bytes(2, "big") + bytes(range(32)) + bytes([len(session_id)]) + session_id
            + len(suite_bytes).to_bytes(2, "big") + suite_bytes + b"\x01\x00"
            + len(extensions).to_bytes(2, "big") + extensions)
    message = b"\x01" + len(body).to_bytes(3, "big") + body
    return bytes([22]) + record_version.to_bytes(2, "big") + len(message).to_bytes(2, "big") + message


class SessionDriver:
    """A MemoryClient talking to a PeerSession through a FakeConn, as the host stack would."""

    def __init__(self, ca_path, version="1.2", cipher=None, policy=None, seed=11):
        self.factory = PeerFactory(policy or ServerPolicy(), seed)
        self.session = self.factory()
        self.conn = FakeConn()
        self.session.connection_made(self.conn)
        self.client = MemoryClient(client_context(ca_path, version, cipher))
        for _ in range(10):
            try:
                self.client.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.session.data_received(self.client.take())
                self.client.incoming.write(self.conn.take())
        self.session.data_received(self.client.take())
        assert self.session.handshake is not None, self.session.journal.to_text()


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"`{name}` is not installed: run scripts/setup (it installs openssl and curl)")
    return path


def build_ssl_client2() -> Path:
    """Mbed TLS 2.28.3's programs/ssl/ssl_client2, built once from the Debian source into
    build/native-mbedtls/ (a copy of the tree, so the pristine source stays untouched)."""
    return _build_mbedtls_program("ssl_client2")


def build_ssl_server2() -> Path:
    """Mbed TLS 2.28.3's programs/ssl/ssl_server2 (an oracle for what an Mbed TLS server answers)."""
    return _build_mbedtls_program("ssl_server2")


# What an image "built without RSA" leaves out of Mbed TLS 2.28's default configuration: RSA itself
# and everything that needs it (include/mbedtls/check_config.h), so only ECDSA certificates and the
# ECDHE-ECDSA (and PSK) key exchanges remain.
WITHOUT_RSA = ("MBEDTLS_RSA_C", "MBEDTLS_PKCS1_V15", "MBEDTLS_PKCS1_V21", "MBEDTLS_X509_RSASSA_PSS_SUPPORT",
               "MBEDTLS_KEY_EXCHANGE_RSA_ENABLED", "MBEDTLS_KEY_EXCHANGE_DHE_RSA_ENABLED",
               "MBEDTLS_KEY_EXCHANGE_ECDHE_RSA_ENABLED", "MBEDTLS_KEY_EXCHANGE_RSA_PSK_ENABLED",
               "MBEDTLS_KEY_EXCHANGE_ECDH_RSA_ENABLED", "MBEDTLS_PK_RSA_ALT_SUPPORT")


def build_ssl_client2_without_rsa() -> Path:
    """ssl_client2 from an Mbed TLS 2.28.3 configured without MBEDTLS_RSA_C (config.py unset ...),
    the size reduction many images make: it can neither check an RSA signature nor parse an RSA key."""
    return _build_mbedtls_program("ssl_client2", NATIVE_DIR / "without-rsa", unset=WITHOUT_RSA)


def _build_mbedtls_program(name: str, where: Path = NATIVE_DIR, unset: tuple[str, ...] = ()) -> Path:
    binary = where / "src" / "programs" / "ssl" / name
    if not (MBEDTLS_SRC / "library").is_dir():
        pytest.fail(f"Mbed TLS source not found at {MBEDTLS_SRC}: run scripts/setup (it fetches the Debian source)")
    where.mkdir(parents=True, exist_ok=True)
    with open(where / ".lock", "w") as lock:
        # xdist workers or parallel runs build once; the binary is looked at only under the lock,
        # as the linker writes it in place (another process could see it half written)
        fcntl.flock(lock, fcntl.LOCK_EX)
        if binary.exists():
            return binary
        src = where / "src"
        if not (src / "library" / "libmbedtls.a").exists():
            shutil.rmtree(src, ignore_errors=True)
            shutil.copytree(MBEDTLS_SRC, src, ignore=shutil.ignore_patterns(".unpacked"))
            for symbol in unset:
                run = subprocess.run(["python3", "scripts/config.py", "unset", symbol], cwd=src,
                                     capture_output=True, text=True, timeout=60)
                if run.returncode != 0:
                    pytest.fail(f"configuring Mbed TLS without {symbol} failed:\n{run.stderr[-2000:]}")
        env = dict(os.environ, CC=shutil.which("gcc") or "cc")
        for cmd in (["make", "-j2", "-s", "lib"], ["make", "-s", "-C", "programs", f"ssl/{name}"]):
            run = subprocess.run(cmd, cwd=src, env=env, capture_output=True, text=True, timeout=600)
            if run.returncode != 0:
                pytest.fail(f"building {name} failed ({' '.join(cmd)}):\n{run.stderr[-3000:]}")
    return binary
