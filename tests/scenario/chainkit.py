"""A user's chain and key, made in the test with `cryptography`: under a root of the user's own, or
issued by the test PKI's CA key (the root the reference images trust), so the firmware itself can
verify it."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sim.tls.certs import generate_test_pki

UTC = datetime.UTC
PEM = serialization.Encoding.PEM


@dataclass
class UserChain:
    chain: Path                 # leaf first, then its issuer(s)
    key: Path                   # the leaf's key (PKCS#8 PEM, encrypted when a password was given)
    root: Path                  # the root to trust (PEM)
    leaf: x509.Certificate

    def run_args(self, password: str | None = None) -> list[str]:
        args = ["--server-cert", str(self.chain), "--server-key", str(self.key)]
        return args + (["--server-key-password", password] if password else [])


def _name(cn: str, org: str = "Example Devices") -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org), x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _key(kind: str):
    return rsa.generate_private_key(65537, 2048) if kind == "rsa" else ec.generate_private_key(ec.SECP256R1())


def make_user_chain(out: Path, host: str, *, kind: str = "rsa", under_test_ca: bool = False,
                    password: str | None = None, not_before: datetime.datetime | None = None,
                    not_after: datetime.datetime | None = None) -> UserChain:
    """A leaf for `host` (dNSName; Mbed TLS ignores the CN once there is a SAN) under the test CA
    (`under_test_ca`: chain = leaf, test CA) or under an own root (chain = leaf, root)."""
    out.mkdir(parents=True, exist_ok=True)
    start = not_before or datetime.datetime(2023, 6, 1, tzinfo=UTC)
    end = not_after or datetime.datetime(2040, 1, 1, tzinfo=UTC)
    if under_test_ca:
        pki = generate_test_pki()
        root, root_key = pki.ca_cert, pki.ca_key
    else:
        root_key = _key(kind)
        name = _name(f"Example {kind.upper()} Root")
        root = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(root_key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                             crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
                .sign(root_key, hashes.SHA256()))
    leaf_key = _key(kind)
    leaf = (x509.CertificateBuilder().subject_name(_name(host)).issuer_name(root.subject)
            .public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(root_key, hashes.SHA256()))
    chain = out / "chain.pem"
    chain.write_bytes(leaf.public_bytes(PEM) + root.public_bytes(PEM))
    key = out / "key.pem"
    encryption = (serialization.BestAvailableEncryption(password.encode()) if password
                  else serialization.NoEncryption())
    key.write_bytes(leaf_key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, encryption))
    root_path = out / "root.pem"
    root_path.write_bytes(root.public_bytes(PEM))
    return UserChain(chain, key, root_path, leaf)
