"""The test PKI the firmware trusts and the peer serves: deterministic, valid, and the disk cache
that saves each process a second of prime generation returns exactly what generation would."""

from __future__ import annotations

import subprocess

from cryptography import x509
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


def test_ec_curve_orders_are_the_group_orders():
    # (n-1)*G is -G: same x, other y, computed by OpenSSL's curve arithmetic
    from cryptography.hazmat.primitives.asymmetric import ec
    curves = {"secp256r1": ec.SECP256R1(), "secp384r1": ec.SECP384R1(), "secp521r1": ec.SECP521R1()}
    for name, n in certs.EC_CURVE_ORDERS.items():
        g = ec.derive_private_key(1, curves[name]).public_key().public_numbers()
        minus_g = ec.derive_private_key(n - 1, curves[name]).public_key().public_numbers()
        assert (minus_g.x, minus_g.y != g.y) == (g.x, True), name


def test_the_p256_root_is_a_p256_ca_beside_the_unchanged_rsa_root(pki_dir):
    pki = certs.generate_test_pki()
    assert pki.ec_ca_cert.public_key().curve.name == "secp256r1"
    assert pki.ec_ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    pki.ec_ca_cert.verify_directly_issued_by(pki.ec_ca_cert)
    assert (pki_dir / "ca-p256.pem").read_bytes() == pki.ec_ca_pem()
    # the firmware's test_ca.h embeds the RSA root and nothing else
    import re
    embedded = "".join(re.findall(r'"([^"]*)\\n"', (pki_dir / "test_ca.h").read_text()))
    assert embedded == pki.ca_pem().decode().replace("\n", "")
