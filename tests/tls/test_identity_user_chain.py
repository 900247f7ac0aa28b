"""The user's own chain and key (`--server-cert/--server-key/--server-key-password`): a chain made
here with cryptography loads and, as it would be served, verifies with openssl; every way the
files can be wrong is a typed error naming the file and the fix."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID
from identitykit import UTC, der, openssl_verify, pem

from sim.errors import SimError
from sim.tls.user_chain import UserChainError, load_user_identity, read_user_identity

AT = datetime.datetime(2026, 2, 1, tzinfo=UTC)
START = datetime.datetime(2025, 1, 1, tzinfo=UTC)
END = datetime.datetime(2027, 1, 1, tzinfo=UTC)


def _cert(subject: str, key, issuer: str, signer, *, ca: bool, start=START, end=END, host=None):
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(end)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if host:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
    return builder.sign(signer, hashes.SHA256())


def _pki(kind: str):
    make = (lambda: rsa.generate_private_key(65537, 2048)) if kind == "rsa" else \
        (lambda: ec.generate_private_key(ec.SECP256R1()))
    root_key, inter_key, leaf_key = make(), make(), make()
    root = _cert("User Root", root_key, "User Root", root_key, ca=True)
    inter = _cert("User Issuing CA", inter_key, "User Root", root_key, ca=True)
    leaf = _cert("api.user.example", leaf_key, "User Issuing CA", inter_key, ca=False, host="api.user.example")
    return root, inter, leaf, leaf_key, inter_key


def _key_pem(key, password: bytes | None = None) -> bytes:
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


@pytest.mark.parametrize("kind", ["rsa", "ecdsa"])
def test_a_user_chain_loads_and_verifies_as_served(kind, tmp_path):
    root, inter, leaf, leaf_key, _ = _pki(kind)
    (tmp_path / "chain.pem").write_bytes(pem(leaf) + pem(inter))
    (tmp_path / "key.pem").write_bytes(_key_pem(leaf_key, b"s3cret"))
    identity = read_user_identity(tmp_path / "chain.pem", tmp_path / "key.pem", password="s3cret", at=AT)
    assert identity.kind == kind and identity.source == "user"
    assert identity.chain_der() == [der(leaf), der(inter)]              # served leaf first, as given
    served = [x509.load_der_x509_certificate(d) for d in identity.chain_der()]
    run = openssl_verify(tmp_path / "verify", [root], served[0], untrusted=served[1:], at=AT,
                         hostname="api.user.example")
    assert run.returncode == 0, run.stdout + run.stderr
    # the key signs what the leaf's public key verifies
    data = b"server key exchange params"
    if kind == "rsa":
        from cryptography.hazmat.primitives.asymmetric import padding
        served[0].public_key().verify(identity.key.sign(data, padding.PKCS1v15(), hashes.SHA256()), data,
                                      padding.PKCS1v15(), hashes.SHA256())
    else:
        served[0].public_key().verify(identity.key.sign(data, ec.ECDSA(hashes.SHA256())), data,
                                      ec.ECDSA(hashes.SHA256()))


def test_traditional_openssl_encrypted_keys_load(tmp_path):
    _, inter, leaf, leaf_key, _ = _pki("rsa")
    key = leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                 serialization.BestAvailableEncryption(b"pw"))
    identity = load_user_identity(pem(leaf) + pem(inter), key, password=b"pw", at=AT)
    assert identity.kind == "rsa"


@pytest.fixture(scope="module")
def ecdsa_pki():
    return _pki("ecdsa")


def _error(chain: bytes, key: bytes, password=None, at=AT) -> str:
    with pytest.raises(UserChainError) as err:
        load_user_identity(chain, key, password=password, at=at, chain_name="chain.pem", key_name="key.pem")
    assert isinstance(err.value, SimError)
    return str(err.value)


def test_key_problems_name_the_file_and_the_fix(ecdsa_pki):
    root, inter, leaf, leaf_key, inter_key = ecdsa_pki
    chain = pem(leaf) + pem(inter)
    assert "key.pem is encrypted: give its password with --server-key-password" in \
        _error(chain, _key_pem(leaf_key, b"pw"))
    assert "key.pem: wrong password" in _error(chain, _key_pem(leaf_key, b"pw"), password="nope")
    assert "not encrypted but a password was given: drop --server-key-password" in \
        _error(chain, _key_pem(leaf_key), password="pw")
    other = ec.generate_private_key(ec.SECP256R1())
    message = _error(chain, _key_pem(other))
    assert "does not belong to the first certificate in chain.pem ('api.user.example'" in message
    assert "key of certificate #2 in chain.pem ('User Issuing CA')" in _error(chain, _key_pem(inter_key))
    assert "Ed25519 keys cannot be served" in _error(chain, _key_pem(ed25519.Ed25519PrivateKey.generate()))
    assert "key.pem holds no PEM private key" in _error(chain, b"not a key")
    assert "looks like DER" in _error(chain, leaf_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    assert "swapped" in _error(chain, pem(leaf))
    garbled = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
    assert "key.pem is not a PEM private key" in _error(chain, garbled)


def test_a_wrong_password_is_named_whatever_the_garbage_decrypts_to(ecdsa_pki):
    """With a wrong password the decryption's padding check fails about 255 times in 256; the
    other times the garbage fails as ASN.1. Each new encryption draws a fresh salt and IV, so a
    thousand of them meet that case with near certainty; every one must say "wrong password"."""
    root, inter, leaf, leaf_key, inter_key = ecdsa_pki
    chain = pem(leaf) + pem(inter)
    messages = {_error(chain, _key_pem(leaf_key, b"pw"), password="nope") for _ in range(1000)}
    assert messages == {"key.pem: wrong password (the key does not decrypt with the --server-key-password given)"}


def test_chain_problems_name_the_certificate_and_the_fix(ecdsa_pki):
    root, inter, leaf, leaf_key, _ = ecdsa_pki
    key = _key_pem(leaf_key)
    assert "chain.pem holds no PEM certificate" in _error(b"hello", key)
    assert "chain.pem is DER, not PEM" in _error(der(leaf), key)
    assert "holds a private key but no certificate" in _error(key, key)
    broken = pem(leaf).replace(b"MII", b"MIX", 1)
    assert "certificate #1 is not a valid X.509 certificate" in _error(broken + pem(inter), key)
    # the issuer is missing
    message = _error(pem(leaf) + pem(root), key)
    assert "certificate #2 ('User Root') did not issue #1 ('api.user.example')" in message
    assert "is not in the file" in message
    # listed out of order
    message = _error(pem(leaf) + pem(root) + pem(inter), key)
    assert "its issuer is certificate #3" in message and "leaf first" in message
    # same issuer name, different key
    impostor_key = ec.generate_private_key(ec.SECP256R1())
    impostor = _cert("User Issuing CA", impostor_key, "User Root", impostor_key, ca=True)
    assert "signature does not verify with #2's key" in _error(pem(leaf) + pem(impostor), key)


def test_dates_are_checked_against_the_scenario_date(ecdsa_pki):
    root, inter, leaf, leaf_key, _ = ecdsa_pki
    chain, key = pem(leaf) + pem(inter), _key_pem(leaf_key)
    late = datetime.datetime(2027, 6, 1, tzinfo=UTC)
    assert "certificate #1 ('api.user.example') expired on 2027-01-01T00:00:00Z and the scenario date is " \
           "2027-06-01T00:00:00Z" in _error(chain, key, at=late)
    early = datetime.datetime(2024, 6, 1, tzinfo=UTC)
    assert "is not valid before 2025-01-01T00:00:00Z" in _error(chain, key, at=early)
    assert "no time zone" in _error(chain, key, at=datetime.datetime(2026, 1, 1))


def test_missing_files_are_named(tmp_path):
    (tmp_path / "key.pem").write_bytes(b"x")
    with pytest.raises(UserChainError, match="chain.pem does not exist: check the --server-cert path"):
        read_user_identity(tmp_path / "chain.pem", tmp_path / "key.pem", at=AT)
    with pytest.raises(UserChainError, match="is a directory"):
        read_user_identity(tmp_path, Path(tmp_path / "key.pem"), at=AT)
