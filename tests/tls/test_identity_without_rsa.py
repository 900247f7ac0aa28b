"""An Mbed TLS client built without RSA (MBEDTLS_RSA_C unset, as many images are for size) completes
a handshake with the peer: Mbed TLS 2.28.3's own ssl_client2, built natively from the Debian
source with that configuration, trusting only the test PKI's P-256 root, verifies the chain the
peer chooses for it - ECDSA throughout. With the peer's old fixed chains (an ECDSA leaf under the
RSA root) the same client fails its certificate check."""

from __future__ import annotations

import subprocess
import time

import pytest
from tlskit import build_ssl_client2_without_rsa

from sim.peer import PeerFactory, PeerServer
from sim.tls.certs import EC_ROOT_NAME, generate_test_pki
from sim.tls.policy import ServerPolicy

TIMEOUT = 60


def _run_client(port: int, ca_file, name: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(build_ssl_client2_without_rsa()), "server_addr=127.0.0.1", f"server_port={port}",
                           f"server_name={name}", f"ca_file={ca_file}", *extra],
                          capture_output=True, text=True, timeout=TIMEOUT)


def _closed_sessions(server: PeerServer, count: int) -> list:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        sessions = server.factory.sessions
        if len(sessions) >= count and all(s.lost_reason is not None for s in sessions):
            return sessions
        time.sleep(0.02)
    raise AssertionError("the peer did not close its sessions in time")


@pytest.fixture
def p256_root(pki_dir):
    return pki_dir / "ca-p256.pem"


@pytest.mark.parametrize("extra,suite", [
    ((), "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256"),
    (("max_version=tls1",), "TLS-ECDHE-ECDSA-WITH-AES-128-CBC-SHA"),    # no signature_algorithms at all
], ids=["TLS1.2", "TLS1.0"])
def test_a_client_without_rsa_verifies_the_all_ecdsa_chain(p256_root, extra, suite):
    factory = PeerFactory(ServerPolicy(), seed=3)
    with PeerServer(factory, "127.0.0.1", 0) as server:
        run = _run_client(server.port, p256_root, "no-rsa.example", *extra)
        (session,) = _closed_sessions(server, 1)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr
    assert "Verifying peer X.509 certificate... ok" in run.stdout
    assert f"[ Ciphersuite is {suite} ]" in run.stdout
    assert "dNSName : no-rsa.example" in run.stdout                 # the client's own view of the leaf
    identity = session.journal.info["identity"]
    assert identity["kind"] == "ecdsa" and identity["host"] == "no-rsa.example"
    assert identity["issuer_label"] == f"{EC_ROOT_NAME} (test PKI)"
    assert [c["signature"].split("_")[0] for c in identity["chain"]] == ["ecdsa", "ecdsa"]
    assert session.handshake.suite == suite


def test_the_old_fixed_chain_fails_that_client(p256_root):
    factory = PeerFactory(ServerPolicy(), seed=3, pki=generate_test_pki())
    with PeerServer(factory, "127.0.0.1", 0) as server:
        run = _run_client(server.port, p256_root, "tls-peer.test")
        _closed_sessions(server, 1)
    assert run.returncode != 0
    assert "mbedtls_ssl_handshake returned -0x2700" in run.stdout      # X509 - certificate verification failed
