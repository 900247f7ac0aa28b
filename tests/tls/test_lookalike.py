"""Look-alike roots: exactly the original's length, the original's names, validity and key type,
a key the peer holds, and a leaf signed under it accepted by openssl and by Mbed TLS 2.28's own
X.509 code, while the original root rejects that leaf."""

from __future__ import annotations

import base64
import datetime

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from identitykit import (UTC, KeyPool, build_x509_check, der, leaf_for, mbedtls_verdict, openssl_verify, pem_text,
                         seeded_root, verify_self_signature)
from sim.errors import SimError
from sim.tls.certs import generate_test_pki
from sim.tls.identity import key_description
from sim.tls.lookalike import LookalikeError, make_lookalike, pem_like

SEEDS = 50
AT = datetime.datetime(2025, 6, 1, tzinfo=UTC)       # inside every seeded root's validity


@pytest.fixture(scope="module")
def pool():
    return KeyPool()


@pytest.fixture(scope="module")
def x509_check():
    return build_x509_check()


def _raw(cert_der: bytes, field: str) -> bytes:
    return asn1_x509.Certificate.load(cert_der)["tbs_certificate"][field].dump()


@pytest.mark.parametrize("kind", ["rsa2048", "rsa4096", "p256", "p384"])
def test_lookalikes_of_seeded_roots_match_length_and_verify_their_leaves(kind, pool, x509_check, tmp_path):
    for index in range(SEEDS):
        original, _ = seeded_root(kind, index, pool)
        original_der = der(original)
        look = make_lookalike(original_der, seed=f"seed-{index}", key_factory=pool.factory(kind))
        where = f"{kind} root #{index} ({original.subject.rfc4514_string()})"

        assert len(look.der) == len(original_der), where
        for field in ("issuer", "subject", "validity", "signature", "version"):
            assert _raw(look.der, field) == _raw(original_der, field), f"{where}: {field}"
        assert key_description(look.cert.public_key()) == key_description(original.public_key()), where
        assert look.cert.public_key() != original.public_key(), where
        # PEM (64-column LF, and CRLF as Mbed TLS's certs.c writes it) keeps its length too
        for ending in (b"\n", b"\r\n"):
            text = pem_text(original, ending)
            assert len(pem_like(text, look.der)) == len(text), where
            body = pem_like(text, look.der).split(b"-----")[2]
            assert base64.b64decode(b"".join(body.split())) == look.der, where

        leaf, _ = leaf_for(look.cert, look.key, "device.example")
        leaf.verify_directly_issued_by(look.cert)                 # cryptography
        is_root = original.issuer == original.subject
        if is_root:
            verify_self_signature(look.der, look.cert.public_key())   # its self-signature verifies
        run = openssl_verify(tmp_path / f"{kind}-{index}", [look.cert], leaf, at=AT, partial_chain=not is_root)
        assert run.returncode == 0, f"{where}: {run.stdout}{run.stderr}"
        rejected = openssl_verify(tmp_path / f"{kind}-{index}-orig", [original], leaf, at=AT,
                                  partial_chain=not is_root)
        assert rejected.returncode != 0, where

        # Mbed TLS, given the look-alike where the original was (PEM with its NUL, or DER)
        store = pem_like(pem_text(original), look.der) + b"\0" if index % 2 else look.der
        verdict = mbedtls_verdict(x509_check, tmp_path / f"{kind}-{index}-m", store, leaf, "device.example", AT)
        assert verdict == {"parse": 0, "verify": 0, "flags": 0}, where
        original_store = pem_text(original) + b"\0" if index % 2 else original_der
        verdict = mbedtls_verdict(x509_check, tmp_path / f"{kind}-{index}-o", original_store, leaf,
                                  "device.example", AT)
        assert verdict["flags"] & 0x08, f"{where}: the original root should not trust the leaf"


def test_ecdsa_null_parameters_are_kept(pool):
    original, _ = seeded_root("p256", 0, pool)           # index 0: NULL parameters (see seeded_root)
    original_der = der(original)
    null_alg = asn1_x509.Certificate.load(original_der)["signature_algorithm"].dump()
    assert null_alg.endswith(b"\x05\x00")
    look = make_lookalike(original_der, seed="null", key_factory=pool.factory("p256"))
    assert asn1_x509.Certificate.load(look.der)["signature_algorithm"].dump() == null_alg
    assert len(look.der) == len(original_der)


def test_deterministic_from_the_seed_with_derived_keys():
    pki = generate_test_pki()
    for root in (pki.ca_cert, pki.ec_ca_cert):
        a = make_lookalike(der(root), seed="same")
        b = make_lookalike(der(root), seed="same")
        c = make_lookalike(der(root), seed="other")
        assert a.der == b.der and len(a.der) == len(der(root))
        assert c.der != a.der and c.cert.public_key() != a.cert.public_key()


def test_a_certificate_with_no_room_left_is_refused_with_the_reason(pool):
    # a 1-octet serial and an RSA signature one byte shorter than the modulus (some old encoders
    # strip a leading zero): a correct look-alike would need a 0-octet serial
    original, key = seeded_root("rsa2048", 1, pool)
    parsed = asn1_x509.Certificate.load(der(original))
    tbs = parsed["tbs_certificate"].copy()
    tbs["serial_number"] = 5
    signature = b"\x01" * (key.key_size // 8 - 1)
    short = asn1_x509.Certificate({"tbs_certificate": tbs, "signature_algorithm": parsed["signature_algorithm"],
                                   "signature_value": signature}).dump()
    with pytest.raises(LookalikeError) as err:
        make_lookalike(short, seed="x", key_factory=pool.factory("rsa2048"))
    message = str(err.value)
    assert isinstance(err.value, SimError)
    assert original.subject.rfc4514_string() in message
    assert f"{len(short)}-byte" in message and "serial number" in message


def test_unsupported_inputs_are_typed_errors(pool):
    with pytest.raises(LookalikeError, match="not a DER X.509 certificate"):
        make_lookalike(b"\x30\x03\x02\x01\x01", seed="x")
    ed = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.ed25519")
    key = ed.Ed25519PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "ed root")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(datetime.datetime(2020, 1, 1))
            .not_valid_after(datetime.datetime(2030, 1, 1)).sign(key, None))
    with pytest.raises(LookalikeError, match="ed root.*not supported"):
        make_lookalike(der(cert), seed="x")


def test_a_p521_root_gets_a_key_derived_from_the_seed():
    from cryptography.hazmat.primitives import hashes
    key = ec.generate_private_key(ec.SECP521R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "p521 root")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(7).not_valid_before(datetime.datetime(2020, 1, 1))
            .not_valid_after(datetime.datetime(2040, 1, 1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA512()))
    look = make_lookalike(der(cert), seed="p521")
    assert len(look.der) == len(der(cert)) and key_description(look.key) == "EC secp521r1"
    verify_self_signature(look.der, look.cert.public_key())
