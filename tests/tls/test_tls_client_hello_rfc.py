"""ClientHello edge cases answered as RFC 5246, RFC 7627 and RFC 7366 specify.

The ClientHellos are built independently of the peer's code: with scapy's TLS layer, and for the
largest possible ClientHello byte by byte from the RFC 5246 §7.4.1.2 structure. Every input goes
to the peer and to an oracle that speaks the same rule: OpenSSL's `s_server` and Mbed TLS 2.28's
`ssl_server2` (the library the firmware uses). Where an oracle does not check a rule (OpenSSL
ignores the body of encrypt_then_mac), it is left out of that case.
"""

from __future__ import annotations

import os
import re
import selectors
import socket
import subprocess
import time

import pytest
from scapy.layers.tls.extensions import (
    TLS_Ext_EncryptThenMAC, TLS_Ext_ExtendedMasterSecret, TLS_Ext_SignatureAlgorithms, TLS_Ext_SupportedGroups,
    TLS_Ext_SupportedPointFormat, TLS_Ext_Unknown)
from scapy.layers.tls.handshake import TLSClientHello

from tlskit import build_ssl_server2, require_tool, split_records
from sim.seed import SeededRandom
from sim.tls.policy import ServerPolicy
from sim.tls.server import ConnectionFailed, TlsServer

DEADLINE = 20.0              # seconds for an oracle to start and answer (it answers in milliseconds)
SUITES = [0xC02F, 0x009C, 0x002F]
EXT_EMS, EXT_ETM = 23, 22
RECORD = 1 << 14             # the largest plaintext fragment (RFC 5246 §6.2.1)


# --- ClientHellos, built without the peer's code ----------------------------------------------
def basic_extensions() -> list:
    return [TLS_Ext_SupportedGroups(groups=[23]), TLS_Ext_SupportedPointFormat(ecpl=[0]),
            TLS_Ext_SignatureAlgorithms(sig_algs=[0x0401]), TLS_Ext_EncryptThenMAC(), TLS_Ext_ExtendedMasterSecret()]


def scapy_hello(client_version: int = 0x0303, sid: bytes = b"", extensions: list | None = None) -> bytes:
    """One ClientHello record (record version {3,1}, as Mbed TLS clients send it) from scapy."""
    message = bytes(TLSClientHello(version=client_version, gmt_unix_time=0, random_bytes=bytes(28), sid=sid,
                                   ciphers=SUITES, comp=[0],
                                   ext=basic_extensions() if extensions is None else extensions))
    return b"\x16\x03\x01" + len(message).to_bytes(2, "big") + message


def largest_hello(extra: int = 0) -> tuple[int, bytes]:
    """The largest ClientHello RFC 5246 §7.4.1.2 allows, every vector at its maximum: session_id<0..32>,
    cipher_suites<2..2^16-2>, compression_methods<1..2^8-1>, extensions<0..2^16-1>; `extra` bytes
    beyond it make it one a client cannot legally send. Fragmented into 2^14-byte records (§6.2.1)."""
    suites = SUITES + [0x0A0A + 0x1010 * (i % 15) for i in range(0xFFFE // 2 - len(SUITES))]   # GREASE-like fill
    suite_bytes = b"".join(s.to_bytes(2, "big") for s in suites)
    compression = bytes(range(255))                                                              # null first
    extensions = (b"\x00\x0a\x00\x04\x00\x02\x00\x17"       # supported_groups: secp256r1
                  b"\x00\x0b\x00\x02\x01\x00"               # ec_point_formats: uncompressed
                  b"\x00\x0d\x00\x04\x00\x02\x04\x01")      # signature_algorithms: rsa_pkcs1_sha256
    pad = 0xFFFF - len(extensions) - 4
    extensions += b"\x00\x15" + pad.to_bytes(2, "big") + bytes(pad)     # padding (RFC 7685) to the brim
    body = (b"\x03\x03" + bytes(32) + b"\x20" + bytes(range(32)) + len(suite_bytes).to_bytes(2, "big") + suite_bytes
            + bytes([len(compression)]) + compression + len(extensions).to_bytes(2, "big") + extensions + bytes(extra))
    message = b"\x01" + len(body).to_bytes(3, "big") + body
    fragments = [message[i:i + RECORD] for i in range(0, len(message), RECORD)]
    records = b"".join(b"\x16\x03\x01" + len(f).to_bytes(2, "big") + f for f in fragments)
    return len(body), records


# --- who answers ----------------------------------------------------------------------------------
def answer(wire: bytes) -> tuple[str, int]:
    """('server_hello', server_version) or ('alert', description) from a server's first record."""
    (ctype, _, fragment), *_ = split_records(wire)
    if ctype == 22:
        assert fragment[0] == 2, "the first handshake message is not a ServerHello"
        return "server_hello", int.from_bytes(fragment[4:6], "big")
    assert ctype == 21 and fragment[0] == 2, f"neither a ServerHello nor a fatal alert: {wire[:16].hex()}"
    return "alert", fragment[1]


def peer(hello: bytes, policy: ServerPolicy | None = None) -> tuple[str, int]:
    srv = TlsServer(policy or ServerPolicy(), SeededRandom(9).child("client-hello"))
    events = srv.receive(hello)
    result = answer(srv.data_to_send())
    failed = [e for e in events if isinstance(e, ConnectionFailed)]
    assert bool(failed) == (result[0] == "alert")
    return result


def _read_until(proc: subprocess.Popen, pattern: bytes) -> re.Match | None:
    """Read the program's output until `pattern` matches (the match) or it exits (None)."""
    seen, deadline = b"", time.monotonic() + DEADLINE
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while (match := re.search(pattern, seen)) is None:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(timeout=left):
                raise AssertionError(f"{proc.args[0]} printed no {pattern!r} within {DEADLINE} s: {seen[-500:]!r}")
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                return None
            seen += chunk
    return match


def _exchange(port: int, hello: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as s:
        s.sendall(hello)
        data = b""
        while len(data) < 5 or len(data) < 5 + int.from_bytes(data[3:5], "big"):
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
        return data


def _stop(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.wait(timeout=DEADLINE)


@pytest.fixture(scope="module")
def openssl(pki_dir):
    binary = require_tool("openssl")

    def ask(hello: bytes) -> tuple[str, int]:
        proc = subprocess.Popen([binary, "s_server", "-accept", "0", "-naccept", "1", "-cert",
                                 str(pki_dir / "server-rsa.pem"), "-key", str(pki_dir / "server-rsa.key")],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            listening = _read_until(proc, rb"ACCEPT \S*:(\d+)\r?\n")
            assert listening is not None, "openssl s_server exited before listening"
            return answer(_exchange(int(listening.group(1)), hello))
        finally:
            _stop(proc)
    return ask


@pytest.fixture(scope="module")
def mbedtls(pki_dir):
    binary = build_ssl_server2()

    def ask(hello: bytes) -> tuple[str, int]:
        for _ in range(5):             # it exits if the port was taken between choosing and binding: again
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            proc = subprocess.Popen([str(binary), f"server_port={port}", "server_addr=127.0.0.1",
                                     f"crt_file={pki_dir / 'server-rsa.pem'}", f"key_file={pki_dir / 'server-rsa.key'}",
                                     f"ca_file={pki_dir / 'ca.pem'}", "auth_mode=none"],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            try:
                if _read_until(proc, rb"Waiting for a remote connection") is not None:
                    return answer(_exchange(port, hello))
            finally:
                _stop(proc)
        raise AssertionError("ssl_server2 exited before listening, five times (ports taken?)")
    return ask


# --- the cases ------------------------------------------------------------------------------------
@pytest.mark.parametrize("client_version", [0x0304, 0x0401, 0xFEFE, 0x0303])
def test_a_client_version_above_ours_negotiates_our_highest(client_version, openssl, mbedtls):
    """RFC 5246 §7.4.1.2 / App. E.1: the server replies with the highest version it supports."""
    hello = scapy_hello(client_version)
    assert peer(hello) == ("server_hello", 0x0303)
    assert openssl(hello) == ("server_hello", 0x0303)
    assert mbedtls(hello) == ("server_hello", 0x0303)
    # a policy capped at TLS 1.1 answers with 1.1, not protocol_version
    assert peer(hello, ServerPolicy(versions=("1.0", "1.1"))) == ("server_hello", 0x0302)


def test_a_client_version_below_tls_is_refused():
    assert peer(scapy_hello(0x0200)) == ("alert", 70)          # protocol_version


def test_the_largest_client_hello_is_accepted(openssl):
    size, records = largest_hello()
    assert size == 131_396 and records.count(b"\x16\x03\x01\x40\x00") == 8      # nine records
    assert peer(records) == ("server_hello", 0x0303)
    assert openssl(records) == ("server_hello", 0x0303)


def test_one_byte_more_than_the_largest_client_hello_is_refused(openssl):
    _, records = largest_hello(extra=1)
    assert peer(records) == ("alert", 50)                       # decode_error, before buffering it
    assert openssl(records)[0] == "alert"


@pytest.mark.parametrize("ext_type", [EXT_EMS, EXT_ETM], ids=["extended_master_secret", "encrypt_then_mac"])
@pytest.mark.parametrize("body", [b"\x00", b"\x00\x00", bytes(40)], ids=["1 byte", "2 bytes", "40 bytes"])
def test_ems_or_etm_with_a_body_is_a_decode_error(ext_type, body, openssl, mbedtls):
    """RFC 7627 §5.1 and RFC 7366 §2: the extension_data is empty."""
    extensions = [e for e in basic_extensions() if getattr(e, "type", None) != ext_type]
    hello = scapy_hello(extensions=extensions + [TLS_Ext_Unknown(type=ext_type, val=body)])
    assert peer(hello) == ("alert", 50)
    assert mbedtls(hello) == ("alert", 50)
    if ext_type == EXT_EMS:                                     # OpenSSL does not look into EtM's body
        assert openssl(hello) == ("alert", 50)


def test_empty_ems_and_etm_are_accepted(openssl, mbedtls):
    hello = scapy_hello()
    assert peer(hello) == openssl(hello) == mbedtls(hello) == ("server_hello", 0x0303)


@pytest.mark.parametrize("length,expected", [(33, ("alert", 50)), (255, ("alert", 50)), (32, ("server_hello", 0x0303))])
def test_a_session_id_over_32_bytes_is_a_decode_error(length, expected, openssl, mbedtls):
    """SessionID is opaque<0..32> (RFC 5246 §7.4.1.2): a longer one cannot be decoded."""
    hello = scapy_hello(sid=bytes(range(length)))
    assert peer(hello) == expected
    assert openssl(hello) == expected
    assert mbedtls(hello) == expected
