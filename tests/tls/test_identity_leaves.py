"""Per-name leaves under the test roots: the name the client asked for in the SAN, valid at the
scenario date, the same bytes for the same seed, a bounded cache, and accepted by openssl and by
Mbed TLS 2.28 under the root the image trusts."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from identitykit import UTC, build_x509_check, der, mbedtls_verdict, openssl_verify

from sim.errors import SimError
from sim.tls import sni_leaves
from sim.tls.certs import generate_test_pki
from sim.tls.identity import IdentityError
from sim.tls.sni_leaves import default_identities

AT = datetime.datetime(2031, 7, 15, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def pki():
    return generate_test_pki()


def _san(cert):
    return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value


def test_leaf_names_the_host_and_verifies_at_the_scenario_date(pki, tmp_path):
    source = default_identities(AT)
    for kind, root in (("rsa", pki.ca_cert), ("ecdsa", pki.ec_ca_cert)):
        index = 0 if root is pki.ca_cert else 1
        leaf = source.leaf("sensor-gw.example.net", kind, index)
        assert _san(leaf).get_values_for_type(x509.DNSName) == ["sensor-gw.example.net"]
        ok = openssl_verify(tmp_path / kind, [root], leaf, at=AT, hostname="sensor-gw.example.net")
        assert ok.returncode == 0, ok.stdout + ok.stderr
        wrong = openssl_verify(tmp_path / f"{kind}-h", [root], leaf, at=AT, hostname="other.example.net")
        assert wrong.returncode != 0 and "hostname mismatch" in wrong.stdout + wrong.stderr
        # valid until its root ends (a client on a real socket at a later date accepts it too), no longer
        assert leaf.not_valid_after_utc == root.not_valid_after_utc
        later = openssl_verify(tmp_path / f"{kind}-later", [root], leaf, at=AT + datetime.timedelta(days=4000))
        assert later.returncode == 0, later.stdout + later.stderr
        late = openssl_verify(tmp_path / f"{kind}-late", [root], leaf,
                              at=root.not_valid_after_utc + datetime.timedelta(days=1))
        assert late.returncode != 0 and "expired" in late.stdout + late.stderr
        early = openssl_verify(tmp_path / f"{kind}-early", [root], leaf, at=AT - datetime.timedelta(days=30))
        assert early.returncode != 0 and "not yet valid" in early.stdout + early.stderr


def test_an_address_gets_an_ip_san(pki, tmp_path):
    leaf = default_identities(AT).leaf("192.0.2.1", "rsa")
    assert [str(a) for a in _san(leaf).get_values_for_type(x509.IPAddress)] == ["192.0.2.1"]
    ok = openssl_verify(tmp_path, [pki.ca_cert], leaf, at=AT, ip="192.0.2.1")
    assert ok.returncode == 0, ok.stdout + ok.stderr


def test_mbedtls_accepts_the_all_ecdsa_chain_under_the_p256_root(pki, tmp_path):
    checker = build_x509_check()
    leaf = default_identities(AT).leaf("tls-peer.test", "ecdsa", 1)
    store = pki.ec_ca_pem() + b"\0"                        # as a firmware embeds a PEM string
    assert mbedtls_verdict(checker, tmp_path / "ok", store, leaf, "tls-peer.test", AT) == \
        {"parse": 0, "verify": 0, "flags": 0}
    rsa_store = pki.ca_pem() + b"\0"
    assert mbedtls_verdict(checker, tmp_path / "rsa", rsa_store, leaf, "tls-peer.test", AT)["flags"] & 0x08


def test_same_seed_same_bytes_and_the_cache_stays_bounded(monkeypatch):
    a, b = default_identities(AT), default_identities(AT)
    assert der(a.leaf("x.example", "rsa")) == der(b.leaf("x.example", "rsa"))
    assert der(a.leaf("x.example", "ecdsa", 1)) == der(b.leaf("x.example", "ecdsa", 1))
    assert der(a.leaf("y.example", "rsa")) != der(a.leaf("x.example", "rsa"))
    other_seed = default_identities(AT, pki_seed="another pki")
    assert der(other_seed.leaf("x.example", "rsa")) != der(a.leaf("x.example", "rsa"))
    later = default_identities(AT + datetime.timedelta(days=2))
    assert later.leaf("x.example", "rsa").not_valid_before_utc > a.leaf("x.example", "rsa").not_valid_before_utc

    first = der(a.leaf("name-0.example", "rsa"))
    for i in range(3 * sni_leaves.LEAF_CACHE_SIZE):
        a.leaf(f"name-{i}.example", "rsa")
    assert len(a._cache) == sni_leaves.LEAF_CACHE_SIZE
    assert der(a.leaf("name-0.example", "rsa")) == first      # evicted, issued again identically


def test_leaf_keys_are_the_test_pki_server_keys(pki):
    source = default_identities(AT)
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    for identity in source.candidates("k.example"):
        assert identity.chain[0].public_key().public_bytes(serialization.Encoding.DER, spki) == \
            identity.key.public_key().public_bytes(serialization.Encoding.DER, spki)
    assert {i.kind for i in source.candidates("k.example")} == {"rsa", "ecdsa"}


def test_bad_names_and_dates_are_typed_errors():
    with pytest.raises(IdentityError, match="cannot be a certificate name") as err:
        default_identities(AT).leaf("has space", "rsa")
    assert isinstance(err.value, SimError)
    with pytest.raises(IdentityError, match="no time zone"):
        default_identities(datetime.datetime(2024, 1, 1))
