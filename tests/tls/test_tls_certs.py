"""The test PKI the firmware trusts and the peer serves: deterministic, valid, and the disk cache
that saves each process a second of prime generation returns exactly what generation would."""

from __future__ import annotations

import subprocess

from cryptography.hazmat.primitives import serialization

from sim.tls import certs


def _fingerprint(pki: certs.TestPki) -> list[bytes]:
    pem, pkcs8 = serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8
    none = serialization.NoEncryption()
    return [pki.ca_cert.public_bytes(pem), pki.rsa_cert.public_bytes(pem), pki.ecdsa_cert.public_bytes(pem),
            pki.ca_key.private_bytes(pem, pkcs8, none), pki.rsa_key.private_bytes(pem, pkcs8, none),
            pki.ecdsa_key.private_bytes(pem, pkcs8, none)]


def test_cached_pki_is_identical_to_a_fresh_one(tmp_path, monkeypatch):
    monkeypatch.setenv("TLS_FW_SIM_CACHE", str(tmp_path))
    fresh = certs._generate("cache test seed")
    path = certs._cache_path("cache test seed")
    assert certs._load_cached(path) is None             # nothing cached yet
    certs._store_cached(path, fresh)
    cached = certs._load_cached(path)
    assert cached is not None and _fingerprint(cached) == _fingerprint(fresh)
    path.write_bytes(path.read_bytes()[:200])          # a damaged cache is ignored, not trusted
    assert certs._load_cached(path) is None


def test_a_different_seed_gives_a_different_pki(tmp_path, monkeypatch):
    monkeypatch.setenv("TLS_FW_SIM_CACHE", str(tmp_path))
    a, b = certs._generate("seed a"), certs._generate("seed b")
    assert _fingerprint(a)[0] != _fingerprint(b)[0]


def test_written_chain_verifies_with_openssl(tmp_path):
    certs.generate_test_pki().write(tmp_path)
    out = subprocess.run(["openssl", "verify", "-CAfile", str(tmp_path / "ca.pem"), str(tmp_path / "server-rsa.pem"),
                          str(tmp_path / "server-ecdsa.pem")], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    header = (tmp_path / "test_ca.h").read_text()
    assert 'TEST_SERVER_NAME "tls-peer.test"' in header and "BEGIN CERTIFICATE" in header
