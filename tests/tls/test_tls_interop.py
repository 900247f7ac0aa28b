"""Interop over loopback sockets against TLS clients nobody here wrote.

One shared peer (the real-socket adapter, ephemeral port) serves the whole matrix. Every client run
does a handshake, a GET and a POST, and the test checks the POST digest the server reports in the
client's own output against the body the client sent, and the GET body against the documented
formula. The server side is checked too: every session completed its handshake with no failure.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from tlskit import client_context, require_tool
from sim.http import TEXT_ALPHABET, get_body
from sim.peer import PeerFactory, PeerLimits, PeerServer
from sim.tls.journal import C2S, S2C
from sim.tls.policy import ServerPolicy
from sim.tls.suites import suite_by_name

# what the reference firmware speaks (firmware/tls/mbedtls_config.h: TLS 1.0-1.2, RSA and ECDHE-RSA key
# exchange, AES-CBC and GCM): TLS 1.0 and 1.1 with both CBC-SHA suites, TLS 1.2 with both GCM suites
MATRIX = [
    ("1.0", "TLS-RSA-WITH-AES-128-CBC-SHA"), ("1.0", "TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA"),
    ("1.1", "TLS-RSA-WITH-AES-128-CBC-SHA"), ("1.1", "TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA"),
    ("1.2", "TLS-RSA-WITH-AES-128-GCM-SHA256"), ("1.2", "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256"),
]
IDS = [f"{v}-{s}" for v, s in MATRIX]
JSON_RE = re.compile(rb'\{"length": (\d+), "sha256": "([0-9a-f]{64})"\}')
POST_BODY = bytes(TEXT_ALPHABET[(i * 7) % 62] for i in range(40000))   # several records, ASCII (s_client stdin)
TIMEOUT = 30


@pytest.fixture(scope="module")
def peer():
    factory = PeerFactory(ServerPolicy(), seed=7)
    with PeerServer(factory, "127.0.0.1", 0, limits=PeerLimits(idle_timeout=20)) as server:
        yield server


def _sessions_after(server: PeerServer, before: int, expect: int = 1) -> list:
    """The sessions opened since `before`, once the adapter has seen them close."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        sessions = server.factory.sessions[before:]
        if len(sessions) >= expect and all(s.lost_reason is not None for s in sessions):
            return sessions
        time.sleep(0.02)
    raise AssertionError(f"the peer did not close {expect} session(s) in time")


def _check_server_side(server: PeerServer, before: int, version: str, suite: str, expect: int = 1) -> list:
    sessions = _sessions_after(server, before, expect)
    for s in sessions:
        assert not s.internal_errors, s.internal_errors
        assert s.failure is None, s.journal.to_text()
        assert s.handshake is not None and s.handshake.version == f"TLS{version}", s.journal.to_text()
        assert s.handshake.suite == suite
        assert all(r.ok for r in s.journal.records), s.journal.to_text()
    return sessions


def _check_post(output: bytes, body: bytes) -> None:
    m = JSON_RE.search(output)
    assert m, f"no upload JSON in the client's output:\n{output[-2000:]!r}"
    assert int(m.group(1)) == len(body)
    assert m.group(2).decode() == hashlib.sha256(body).hexdigest()


@pytest.mark.parametrize("version,suite", MATRIX, ids=IDS)
def test_openssl_s_client(peer, ca_path, version, suite):
    openssl = require_tool("openssl")
    before = len(peer.factory.sessions)
    request = (b"GET /text/300 HTTP/1.1\r\nHost: tls-peer.test\r\n\r\n"
               b"POST /upload HTTP/1.1\r\nHost: tls-peer.test\r\nConnection: close\r\n"
               + f"Content-Length: {len(POST_BODY)}\r\n\r\n".encode() + POST_BODY)
    flag = {"1.0": "-tls1", "1.1": "-tls1_1", "1.2": "-tls1_2"}[version]
    run = subprocess.run(
        [openssl, "s_client", "-connect", f"127.0.0.1:{peer.port}", flag, "-cipher",
         suite_by_name(suite).openssl + ":@SECLEVEL=0", "-CAfile", str(ca_path), "-servername", "tls-peer.test",
         "-verify_return_error", "-quiet", "-nocommands"],
        input=request, capture_output=True, timeout=TIMEOUT)
    assert run.returncode == 0, run.stderr.decode(errors="replace")
    assert get_body("/text/300") in run.stdout
    _check_post(run.stdout, POST_BODY)
    _check_server_side(peer, before, version, suite)


@pytest.mark.parametrize("version,suite", MATRIX, ids=IDS)
def test_curl(peer, ca_path, tmp_path, version, suite):
    curl = require_tool("curl")
    before = len(peer.factory.sessions)
    body_file = tmp_path / "body.bin"
    body = bytes(range(256)) * 300                      # binary, 76800 bytes
    body_file.write_bytes(body)
    base = f"https://tls-peer.test:{peer.port}"
    tls = [f"--tlsv{version}", "--tls-max", version, "--ciphers", suite_by_name(suite).openssl + ":@SECLEVEL=0",
           "--cacert", str(ca_path), "--resolve", f"tls-peer.test:{peer.port}:127.0.0.1"]
    run = subprocess.run(
        [curl, "-sS", "--fail", *tls, f"{base}/bytes/5000", "--next", *tls, "--data-binary", f"@{body_file}",
         "-H", "Content-Type: application/octet-stream", f"{base}/upload"],
        capture_output=True, timeout=TIMEOUT)
    assert run.returncode == 0, run.stderr.decode(errors="replace")
    assert run.stdout.startswith(get_body("/bytes/5000"))
    _check_post(run.stdout[5000:], body)
    sessions = _check_server_side(peer, before, version, suite)
    assert [r.method for r in sessions[0].http.log] == ["GET", "POST"]   # one keep-alive connection


@pytest.mark.parametrize("version,suite", MATRIX, ids=IDS)
def test_python_ssl(peer, ca_path, version, suite):
    before = len(peer.factory.sessions)
    ctx = client_context(ca_path, version, suite_by_name(suite).openssl)
    # "localhost" is in the server certificate's SANs (so are tls-peer.test and 127.0.0.1)
    conn = http.client.HTTPSConnection("localhost", peer.port, context=ctx, timeout=TIMEOUT)
    conn.request("GET", "/status")
    resp = conn.getresponse()
    assert resp.status == 200 and resp.read() == get_body("/status")
    body = b"\x00\xff" * 20000
    conn.request("POST", "/upload", body=body, headers={"Connection": "close"})
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("Content-Type") == "application/json"
    assert json.loads(resp.read()) == {"length": len(body), "sha256": hashlib.sha256(body).hexdigest()}
    conn.close()
    _check_server_side(peer, before, version, suite)


def test_chunked_uploads_from_curl_and_python(peer, ca_path, tmp_path):
    """Two chunked encoders nobody here wrote (curl's, http.client's) upload to the peer."""
    curl = require_tool("curl")
    before = len(peer.factory.sessions)
    body = bytes((i * 31) % 256 for i in range(90_000))
    (tmp_path / "body.bin").write_bytes(body)
    run = subprocess.run(
        [curl, "-sS", "--fail", "--cacert", str(ca_path), "--resolve", f"tls-peer.test:{peer.port}:127.0.0.1",
         "-H", "Transfer-Encoding: chunked", "--data-binary", f"@{tmp_path / 'body.bin'}",
         f"https://tls-peer.test:{peer.port}/upload"], capture_output=True, timeout=TIMEOUT)
    assert run.returncode == 0, run.stderr.decode(errors="replace")
    _check_post(run.stdout, body)

    conn = http.client.HTTPSConnection("localhost", peer.port, context=client_context(ca_path), timeout=TIMEOUT)
    conn.request("POST", "/upload", body=iter([body[:1000], body[1000:50_000], body[50_000:]]),
                 headers={"Connection": "close"}, encode_chunked=True)
    resp = conn.getresponse()
    assert resp.status == 200
    assert json.loads(resp.read()) == {"length": len(body), "sha256": hashlib.sha256(body).hexdigest()}
    conn.close()
    sessions = _check_server_side(peer, before, "1.2", "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256", expect=2)
    assert [(r.method, r.status, r.request_body_length) for s in sessions for r in s.http.log] == \
        [("POST", 200, len(body))] * 2


def _client2_request(size: int = 20000) -> tuple[str, bytes]:
    """ssl_client2 sends `GET <request_page> HTTP/1.0\\r\\nExtra-header: AAA...\\r\\n\\r\\n` padded to
    request_size. A request_page that ends a first (GET) request and starts a POST turns the rest of
    its request into that POST's body, so one ssl_client2 run does a GET and a large POST."""
    page = ("/text/100 HTTP/1.1\r\nHost: tls-peer.test\r\n\r\n"
            "POST /upload HTTP/1.1\r\nHost: tls-peer.test\r\nConnection: close\r\nContent-Length: {n}\r\n\r\n")
    n = 0
    for _ in range(3):                                   # the digits of n change the page length
        n = size - len("GET ") - len(page.format(n=n))
    page = page.format(n=n)
    head = "GET " + page + " HTTP/1.0\r\nExtra-header: "
    body = (" HTTP/1.0\r\nExtra-header: " + "A" * (size - len(head) - 4) + "\r\n\r\n").encode()
    assert len(body) == n
    return page, body


def _run_client2(binary: Path, port: int, ca_path: Path, *args: str) -> str:
    page, body = _client2_request()
    run = subprocess.run(
        [str(binary), "server_addr=127.0.0.1", f"server_port={port}", "server_name=tls-peer.test",
         f"ca_file={ca_path}", f"request_page={page}", "request_size=20000", "debug_level=1", *args],
        capture_output=True, timeout=TIMEOUT)
    out = run.stdout.decode(errors="replace")
    assert run.returncode == 0, out[-3000:]
    assert get_body("/text/100").decode() in out
    _check_post(run.stdout, body)
    assert "connection was closed gracefully" in out
    return out


CLIENT2_VERSION = {"1.0": "tls1", "1.1": "tls1_1", "1.2": "tls12"}
CLIENT2_CASES = [(v, s, etm, ems) for v, s in MATRIX for etm, ems in
                 ((1, 1), (0, 0), (1, 0), (0, 1)) if "CBC" in s or etm == 1]


@pytest.mark.parametrize("version,suite,etm,ems", CLIENT2_CASES,
                         ids=[f"{v}-{s}-etm{e}-ems{m}" for v, s, e, m in CLIENT2_CASES])
def test_mbedtls_ssl_client2(peer, ca_path, ssl_client2, version, suite, etm, ems):
    before = len(peer.factory.sessions)
    _run_client2(ssl_client2, peer.port, ca_path, f"force_version={CLIENT2_VERSION[version]}",
                 f"force_ciphersuite={suite}", f"etm={etm}", f"extended_ms={ems}")
    (session,) = _check_server_side(peer, before, version, suite)
    info = session.journal.info
    assert info["extended_master_secret"] is bool(ems)
    assert info["encrypt_then_mac"] is (bool(etm) and "CBC" in suite)
    if version == "1.0":
        # Mbed TLS splits TLS 1.0 CBC application data 1/n-1: the first record of each write holds 1 byte
        sizes = [r.app_data["length"] for r in session.journal.records if r.direction == C2S and r.app_data]
        assert sizes[0] == 1


SIBLINGS = [("1.0", "TLS-RSA-WITH-AES-256-CBC-SHA"), ("1.1", "TLS-ECDHE-RSA-WITH-AES-256-CBC-SHA"),
            ("1.2", "TLS-RSA-WITH-AES-128-CBC-SHA256"), ("1.2", "TLS-RSA-WITH-AES-256-CBC-SHA256"),
            ("1.2", "TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA256"), ("1.2", "TLS-ECDHE-RSA-WITH-AES-256-CBC-SHA384"),
            ("1.2", "TLS-RSA-WITH-AES-256-GCM-SHA384"), ("1.2", "TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384"),
            ("1.2", "TLS-RSA-WITH-AES-128-CBC-SHA"), ("1.2", "TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA")]


@pytest.mark.parametrize("version,suite", SIBLINGS, ids=[f"{v}-{s}" for v, s in SIBLINGS])
def test_mbedtls_aes256_and_sha2_siblings(peer, ca_path, ssl_client2, version, suite):
    before = len(peer.factory.sessions)
    _run_client2(ssl_client2, peer.port, ca_path, f"force_version={CLIENT2_VERSION[version]}",
                 f"force_ciphersuite={suite}")
    _check_server_side(peer, before, version, suite)


def test_mbedtls_resumption_and_max_fragment_length(peer, ca_path, ssl_client2):
    before = len(peer.factory.sessions)
    _run_client2(ssl_client2, peer.port, ca_path, "force_version=tls12",
                 "force_ciphersuite=TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA", "reconnect=1", "max_frag_len=1024",
                 "tickets=0")
    first, second = _check_server_side(peer, before, "1.2", "TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA", expect=2)
    assert first.journal.info["max_fragment_length"] == 1024
    assert not first.journal.info["resumed"] and second.journal.info["resumed"]
    assert first.journal.info["session_id"] == second.journal.info["session_id"]
    # every record the server sent carries at most 1024 plaintext bytes
    assert all(r.app_data["length"] <= 1024 for r in first.journal.records if r.direction == S2C and r.app_data)
    assert first.keylog_lines[0].split()[2] == second.keylog_lines[0].split()[2]   # same master secret


@pytest.mark.parametrize("curves,group", [("x25519", "x25519"), ("secp384r1,x25519", "secp384r1")])
def test_mbedtls_groups(peer, ca_path, ssl_client2, curves, group):
    before = len(peer.factory.sessions)
    _run_client2(ssl_client2, peer.port, ca_path, "force_version=tls12",
                 "force_ciphersuite=TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384", f"curves={curves}")
    (session,) = _check_server_side(peer, before, "1.2", "TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384")
    assert session.journal.info["group"] == group


def test_mbedtls_truncated_hmac(ca_path, ssl_client2):
    """Mbed TLS 2.28 truncates the MAC but keeps the full key (RFC 6066): interop with the RFC layout;
    a server laid out like PolarSSL 1.3 fails the client's Finished and says why."""
    suite = "TLS-RSA-WITH-AES-128-CBC-SHA"
    good = PeerFactory(ServerPolicy(truncated_hmac=True), seed=3)
    with PeerServer(good, "127.0.0.1", 0) as server:
        _run_client2(ssl_client2, server.port, ca_path, "force_version=tls12", f"force_ciphersuite={suite}",
                     "trunc_hmac=1")
        (session,) = _check_server_side(server, 0, "1.2", suite)
    assert session.journal.info["truncated_hmac"] is True
    finished = next(r for r in session.journal.records if r.direction == C2S and "Finished" in r.handshake)
    assert finished.length == 16 + 32 + 10          # IV + one-block Finished (EtM) + 10-byte MAC

    compat = PeerFactory(ServerPolicy(truncated_hmac=True, truncated_hmac_compat=True), seed=3)
    with PeerServer(compat, "127.0.0.1", 0) as server:
        page, _ = _client2_request()
        run = subprocess.run(
            [str(ssl_client2), "server_addr=127.0.0.1", f"server_port={server.port}", "server_name=tls-peer.test",
             f"ca_file={ca_path}", "force_version=tls12", f"force_ciphersuite={suite}", "trunc_hmac=1",
             "debug_level=1"], capture_output=True, timeout=TIMEOUT)
        assert run.returncode != 0
        assert b"is a fatal alert message (msg 20)" in run.stdout       # the client sees bad_record_mac
        (session,) = _sessions_after(server, 0)
    from sim.tls.diagnosis import diagnose
    diagnosis = diagnose(session.journal)
    assert diagnosis.verdict == "client_mistake"
    assert "RFC 6066" in diagnosis.summary
