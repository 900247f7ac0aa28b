"""The user's own server chain and key (`--server-cert CHAIN.pem --server-key KEY.pem`), checked
when it is loaded rather than when a client rejects it.

Checks, each with its own error naming the file and the fix: the files are PEM and hold what they
should; the key decrypts (wrong or missing password); the key type is one the peer can serve
(RSA, or ECDSA on a TLS named curve); the key belongs to the first certificate; each certificate
is issued and signed by the next one (RFC 5246 §7.4.2: leaf first, each following certificate
certifies the one before it); every certificate is valid at the scenario date.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from sim.tls.identity import CURVE_GROUP_CODES, IdentityError, ServerIdentity, key_description, name_text

_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n.*?-----END \1-----", re.DOTALL)


class UserChainError(IdentityError):
    """The user's certificate chain or key cannot be served; the message says why and what to do."""


def read_user_identity(cert_path: str | Path, key_path: str | Path, *, password: str | bytes | None = None,
                       at: datetime) -> ServerIdentity:
    """Read CHAIN.pem and KEY.pem and check them (see `load_user_identity`)."""
    blobs = []
    for path, what, option in ((cert_path, "server certificate chain", "--server-cert"),
                               (key_path, "server key", "--server-key")):
        path = Path(path)
        try:
            blobs.append(path.read_bytes())
        except FileNotFoundError:
            raise UserChainError(f"{what} {path} does not exist: check the {option} path") from None
        except IsADirectoryError:
            raise UserChainError(f"{what} {path} is a directory: give {option} a PEM file") from None
        except OSError as exc:
            raise UserChainError(f"{what} {path} cannot be read ({exc.strerror}): check its permissions") from None
    return load_user_identity(blobs[0], blobs[1], password=password, at=at,
                              chain_name=str(cert_path), key_name=str(key_path))


def load_user_identity(chain_pem: bytes, key_pem: bytes, *, password: str | bytes | None = None,
                       at: datetime, chain_name: str = "CHAIN.pem",
                       key_name: str = "KEY.pem") -> ServerIdentity:
    """The user's chain (leaf first) and key as a `ServerIdentity`, or a `UserChainError`."""
    if at.tzinfo is None:
        raise UserChainError(f"scenario date {at.isoformat()} has no time zone; give it in UTC")
    chain = _parse_chain(chain_pem, chain_name)
    key = _parse_key(key_pem, key_name, password)
    _check_key_type(key, key_name)
    _check_key_matches(chain, key, chain_name, key_name)
    _check_order(chain, chain_name)
    _check_dates(chain, chain_name, at.astimezone(UTC))
    return ServerIdentity(tuple(chain), key, "user", name_text(chain[-1].issuer))


def _parse_chain(data: bytes, name: str) -> list[x509.Certificate]:
    blocks = [(m.group(1).decode(), m.group(0)) for m in _PEM_BLOCK.finditer(data)]
    certs_pem = [block for label, block in blocks if label == "CERTIFICATE"]
    if not certs_pem:
        if data[:1] == b"\x30":
            raise UserChainError(f"{name} is DER, not PEM: convert it with "
                                 f"`openssl x509 -inform der -in {name} -out chain.pem`")
        if any("PRIVATE KEY" in label for label, _ in blocks):
            raise UserChainError(f"{name} holds a private key but no certificate: were --server-cert and "
                                 f"--server-key swapped?")
        raise UserChainError(f"{name} holds no PEM certificate (no '-----BEGIN CERTIFICATE-----' block): "
                             f"give the server's chain in PEM, leaf first")
    chain = []
    for i, block in enumerate(certs_pem, 1):
        try:
            chain.append(x509.load_pem_x509_certificate(block))
        except ValueError as exc:
            raise UserChainError(f"{name}: certificate #{i} is not a valid X.509 certificate ({exc}); "
                                 f"re-export the chain with `openssl x509`") from None
    return chain


def _parse_key(data: bytes, name: str, password: str | bytes | None):
    if isinstance(password, str):
        password = password.encode()
    if b"-----BEGIN" not in data:
        hint = (f" (it looks like DER: convert it with `openssl pkey -inform der -in {name} -out key.pem`)"
                if data[:1] == b"\x30" else "")
        raise UserChainError(f"{name} holds no PEM private key{hint}: give the server's private key in PEM")
    if b"-----BEGIN CERTIFICATE-----" in data and b"PRIVATE KEY-----" not in data:
        raise UserChainError(f"{name} holds a certificate but no private key: were --server-cert and "
                             f"--server-key swapped?")
    try:
        return serialization.load_pem_private_key(data, password=password or None)
    except TypeError as exc:
        if "not encrypted" in str(exc):
            raise UserChainError(f"{name} is not encrypted but a password was given: drop "
                                 f"--server-key-password") from None
        raise UserChainError(f"{name} is encrypted: give its password with --server-key-password") from None
    except ValueError as exc:
        # a wrong password usually fails the padding check, but about one time in 256 it decrypts
        # to garbage with valid padding and fails as ASN.1: for an encrypted key both mean the same
        encrypted = b"ENCRYPTED PRIVATE KEY-----" in data or b"Proc-Type: 4,ENCRYPTED" in data
        if (encrypted and password) or "password" in str(exc).lower() or "decrypt" in str(exc).lower():
            raise UserChainError(f"{name}: wrong password (the key does not decrypt with the "
                                 f"--server-key-password given)") from None
        raise UserChainError(f"{name} is not a PEM private key cryptography can read ({exc}); "
                             f"export it with `openssl pkey -in {name} -out key.pem`") from None
    except UnsupportedAlgorithm as exc:
        raise UserChainError(f"{name}: unsupported key or encryption ({exc}); re-export it with "
                             f"`openssl pkey`") from None


def _check_key_type(key, name: str) -> None:
    if isinstance(key, rsa.RSAPrivateKey):
        return
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.name not in CURVE_GROUP_CODES:
            raise UserChainError(f"{name}: the EC curve {key.curve.name} has no TLS 1.2 named-curve code "
                                 f"(RFC 8422 §5.1.1); use secp256r1, secp384r1 or secp521r1")
        return
    raise UserChainError(f"{name}: {type(key).__name__.replace('PrivateKey', '')} keys cannot be served in "
                         f"TLS 1.0-1.2 by this peer: use an RSA or ECDSA key")


def _spki(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _check_key_matches(chain: list[x509.Certificate], key, chain_name: str, key_name: str) -> None:
    mine = _spki(key.public_key())
    if _spki(chain[0].public_key()) == mine:
        return
    for i, cert in enumerate(chain[1:], 2):
        if _spki(cert.public_key()) == mine:
            raise UserChainError(f"{key_name} is the key of certificate #{i} in {chain_name} "
                                 f"({name_text(cert.subject)!r}), not of the first one "
                                 f"({name_text(chain[0].subject)!r}): put the server's own certificate first")
    raise UserChainError(f"{key_name} ({key_description(key)}) does not belong to the first certificate in "
                         f"{chain_name} ({name_text(chain[0].subject)!r}, {key_description(chain[0].public_key())}): "
                         f"give the key that certificate was issued for")


def _check_order(chain: list[x509.Certificate], name: str) -> None:
    for i in range(len(chain) - 1):
        child, parent = chain[i], chain[i + 1]
        try:
            child.verify_directly_issued_by(parent)
            continue
        except (ValueError, TypeError, InvalidSignature) as exc:
            problem = exc
        real = [j for j, c in enumerate(chain, 1) if c.subject == child.issuer and c is not child]
        where = (f"; its issuer is certificate #{real[0]}: list the chain leaf first, each certificate "
                 f"followed by its issuer" if real else
                 f"; its issuer ({name_text(child.issuer)!r}) is not in the file: add it after #{i + 1}")
        if child.issuer == parent.subject:
            raise UserChainError(f"{name}: certificate #{i + 1} ({name_text(child.subject)!r}) names "
                                 f"#{i + 2} as issuer but its signature does not verify with #{i + 2}'s key "
                                 f"({problem or 'bad signature'}): the chain mixes certificates from "
                                 f"different issuances")
        raise UserChainError(f"{name}: certificate #{i + 2} ({name_text(parent.subject)!r}) did not issue "
                             f"#{i + 1} ({name_text(child.subject)!r}){where}")


def _check_dates(chain: list[x509.Certificate], name: str, at: datetime) -> None:
    when = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    for i, cert in enumerate(chain, 1):
        start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
        if at < start:
            raise UserChainError(f"{name}: certificate #{i} ({name_text(cert.subject)!r}) is not valid before "
                                 f"{start:%Y-%m-%dT%H:%M:%SZ} and the scenario date is {when}: pick a later "
                                 f"scenario date or reissue the certificate")
        if at > end:
            raise UserChainError(f"{name}: certificate #{i} ({name_text(cert.subject)!r}) expired on "
                                 f"{end:%Y-%m-%dT%H:%M:%SZ} and the scenario date is {when}: pick an earlier "
                                 f"scenario date or renew the certificate")
