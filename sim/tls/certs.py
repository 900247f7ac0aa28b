"""Deterministic test PKI: two roots (RSA-2048 and ECDSA P-256) and server keys from a seed.

The firmware build embeds the RSA root (`python -m sim.tls.certs --out DIR` writes the PEM files
and a C header), and the TLS peer serves chains from the same generator, so the two always agree.
The P-256 root is for images built without RSA (their chain must be ECDSA throughout). Same seed,
byte-identical keys and certificates.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import hashlib
import math
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sim.cachedir import user_cache_dir
from sim.seed import SeededRandom

DEFAULT_PKI_SEED = "tls-fw-sim test pki v1"
SERVER_NAME = "tls-peer.test"
SERVER_IP = "192.0.2.1"
EC_ROOT_NAME = "tls-fw-sim Test CA P-256"
_NOT_BEFORE = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
_NOT_AFTER = datetime.datetime(2099, 12, 31, 23, 59, 59, tzinfo=datetime.timezone.utc)

_SMALL_PRIMES = [p for p in range(3, 2000) if all(p % d for d in range(2, int(p ** 0.5) + 1))]


def _is_probable_prime(n: int, rng: SeededRandom, rounds: int = 40) -> bool:
    if n < 2:
        return False
    for p in _SMALL_PRIMES:
        if n % p == 0:
            return n == p
    d, r = n - 1, 0
    while d % 2 == 0:
        d //= 2
        r += 1
    for _ in range(rounds):
        a = 2 + rng.randbelow(n - 3)
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(bits: int, rng: SeededRandom, e: int) -> int:
    while True:
        # top two bits set so p*q has exactly 2*bits bits; odd
        candidate = rng.getrandbits(bits) | (3 << (bits - 2)) | 1
        if math.gcd(candidate - 1, e) == 1 and _is_probable_prime(candidate, rng):
            return candidate


def deterministic_rsa_key(rng: SeededRandom, bits: int = 2048, e: int = 65537) -> rsa.RSAPrivateKey:
    while True:
        p = _prime(bits // 2, rng, e)
        q = _prime(bits // 2, rng, e)
        if p != q and (p * q).bit_length() == bits:
            break
    if p < q:
        p, q = q, p
    phi = (p - 1) * (q - 1)
    d = pow(e, -1, phi)
    numbers = rsa.RSAPrivateNumbers(
        p=p, q=q, d=d,
        dmp1=d % (p - 1), dmq1=d % (q - 1), iqmp=pow(q, -1, p),
        public_numbers=rsa.RSAPublicNumbers(e, p * q),
    )
    return numbers.private_key()


# group orders n (SEC 2 v2 §2.4.2, §2.5.1, §2.6.1); tests check (n-1)*G == -G for each
EC_CURVE_ORDERS = {
    "secp256r1": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "secp384r1": int("ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf"
                     "581a0db248b0a77aecec196accc52973", 16),
    "secp521r1": int("1" + "f" * 65 + "a51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47ae"
                     "bb6fb71e91386409", 16),
}


def deterministic_ec_key(rng: SeededRandom, curve: ec.EllipticCurve = ec.SECP256R1()) -> ec.EllipticCurvePrivateKey:
    order = EC_CURVE_ORDERS[curve.name]
    return ec.derive_private_key(1 + rng.randbelow(order - 1), curve)


def seeded_rsa_key(seed: str, label: str, bits: int, e: int = 65537) -> rsa.RSAPrivateKey:
    """`deterministic_rsa_key` for (seed, label, bits, e), kept in the user's cache directory: an
    RSA-4096 key costs seconds of pure-Python prime search, and a cached key is the same key."""
    digest = hashlib.sha256(f"{seed}\0{label}\0{bits}\0{e}\0".encode())
    for module in (__file__, sys.modules[SeededRandom.__module__].__file__):
        digest.update(Path(module).read_bytes())
    path = user_cache_dir() / "keys" / f"{digest.hexdigest()[:32]}.pem"
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if isinstance(key, rsa.RSAPrivateKey) and key.key_size == bits and key.public_key().public_numbers().e == e:
            return key
    except (OSError, ValueError, TypeError):
        pass                           # missing or damaged: generate again
    key = deterministic_rsa_key(SeededRandom(seed, label), bits, e)
    _write_atomically(path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
    return key


def _name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tls-fw-sim"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def _sign(builder: x509.CertificateBuilder, key) -> x509.Certificate:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return builder.sign(key, hashes.SHA256(), ecdsa_deterministic=True)
    return builder.sign(key, hashes.SHA256())


@dataclass(frozen=True)
class TestPki:
    """The roots and both server identities. `server_chain(kind)` is what the peer sends today:
    both server certificates are issued by the RSA root (`ca_cert`), which the reference firmware
    embeds. `ec_ca_cert` is the P-256 root; `sim.tls.sni_leaves` issues per-name leaves under
    either root."""

    ca_key: rsa.RSAPrivateKey
    ca_cert: x509.Certificate
    rsa_key: rsa.RSAPrivateKey
    rsa_cert: x509.Certificate
    ecdsa_key: ec.EllipticCurvePrivateKey
    ecdsa_cert: x509.Certificate
    ec_ca_key: ec.EllipticCurvePrivateKey
    ec_ca_cert: x509.Certificate

    def ca_pem(self) -> bytes:
        return self.ca_cert.public_bytes(serialization.Encoding.PEM)

    def ec_ca_pem(self) -> bytes:
        return self.ec_ca_cert.public_bytes(serialization.Encoding.PEM)

    def server_chain(self, kind: str = "rsa") -> list[x509.Certificate]:
        cert = {"rsa": self.rsa_cert, "ecdsa": self.ecdsa_cert}[kind]
        return [cert, self.ca_cert]

    def server_key(self, kind: str = "rsa"):
        return {"rsa": self.rsa_key, "ecdsa": self.ecdsa_key}[kind]

    def write(self, out: Path) -> list[Path]:
        """Write PEM files and `test_ca.h` (the CA as a C string for the firmware)."""
        out.mkdir(parents=True, exist_ok=True)
        pem = serialization.Encoding.PEM
        pkcs8 = serialization.PrivateFormat.PKCS8
        none = serialization.NoEncryption()
        files = {
            "ca.pem": self.ca_pem(),
            "ca-p256.pem": self.ec_ca_pem(),
            "server-rsa.pem": self.rsa_cert.public_bytes(pem),
            "server-rsa.key": self.rsa_key.private_bytes(pem, pkcs8, none),
            "server-ecdsa.pem": self.ecdsa_cert.public_bytes(pem),
            "server-ecdsa.key": self.ecdsa_key.private_bytes(pem, pkcs8, none),
            "test_ca.h": _c_header(self.ca_pem()),
        }
        written = []
        for name, data in files.items():
            path = out / name
            # rewrite only on change, so make does not rebuild the firmware needlessly
            if not path.exists() or path.read_bytes() != data:
                path.write_bytes(data)
            written.append(path)
        return written


def _c_header(ca_pem: bytes) -> bytes:
    lines = [
        "/* Generated by `python -m sim.tls.certs`: the test CA the firmware trusts. Do not edit. */",
        "#ifndef TEST_CA_H",
        "#define TEST_CA_H",
        f'#define TEST_SERVER_NAME "{SERVER_NAME}"',
        "static const char test_ca_pem[] =",
    ]
    for line in ca_pem.decode().splitlines():
        lines.append(f'    "{line}\\n"')
    lines[-1] += ";"
    lines += ["#endif", ""]
    return "\n".join(lines).encode()


@functools.lru_cache(maxsize=4)
def generate_test_pki(seed: str = DEFAULT_PKI_SEED) -> TestPki:
    """The PKI for `seed`. Generating the RSA primes costs about a second of pure-Python
    arithmetic, so the result is kept in the user's cache directory (sim.cachedir), keyed by the
    seed and this generator's source; a cached PKI is byte-identical to a fresh one (tested)."""
    path = _cache_path(seed)
    cached = _load_cached(path)
    if cached is not None:
        return cached
    pki = _generate(seed)
    _store_cached(path, pki)
    return pki


def _cache_path(seed: str) -> Path:
    digest = hashlib.sha256(seed.encode() + b"\0")
    for module in (__file__, sys.modules[SeededRandom.__module__].__file__):
        digest.update(Path(module).read_bytes())
    return user_cache_dir() / "pki" / f"{digest.hexdigest()[:32]}.pem"


_CACHE_ORDER = ("ca_key", "ca_cert", "rsa_key", "rsa_cert", "ecdsa_key", "ecdsa_cert", "ec_ca_key", "ec_ca_cert")


def _load_cached(path: Path) -> TestPki | None:
    try:
        blocks = re.findall(rb"-----BEGIN [A-Z ]+-----.*?-----END [A-Z ]+-----\n", path.read_bytes(), re.S)
        if len(blocks) != len(_CACHE_ORDER):
            return None
        values = {}
        for name, block in zip(_CACHE_ORDER, blocks):
            values[name] = (x509.load_pem_x509_certificate(block) if name.endswith("cert")
                            else serialization.load_pem_private_key(block, password=None))
        return TestPki(**values)
    except (OSError, ValueError, TypeError):
        return None                    # missing or damaged: generate again


def _store_cached(path: Path, pki: TestPki) -> None:
    pem, pkcs8 = serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8
    data = b"".join(
        getattr(pki, name).public_bytes(pem) if name.endswith("cert")
        else getattr(pki, name).private_bytes(pem, pkcs8, serialization.NoEncryption())
        for name in _CACHE_ORDER)
    _write_atomically(path, data)


def _write_atomically(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)          # atomic: a concurrent reader sees the old or the new file
    except OSError:
        pass                           # the cache is an optimisation only


def _generate(seed: str) -> TestPki:
    root = SeededRandom(seed, "pki")
    ca_key = deterministic_rsa_key(root.child("ca-rsa"))
    rsa_key = deterministic_rsa_key(root.child("server-rsa"))
    ecdsa_key = deterministic_ec_key(root.child("server-ecdsa"))
    ec_ca_key = deterministic_ec_key(root.child("ca-p256"))

    def root(name: x509.Name, key) -> x509.Certificate:
        return _sign(
            x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(1)
            .not_valid_before(_NOT_BEFORE).not_valid_after(_NOT_AFTER)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False),
            key,
        )

    ca_name = _name("tls-fw-sim Test CA")
    ca_cert = root(ca_name, ca_key)
    ec_ca_cert = root(_name(EC_ROOT_NAME), ec_ca_key)

    def server_cert(key, serial: int, key_usage: x509.KeyUsage) -> x509.Certificate:
        import ipaddress

        return _sign(
            x509.CertificateBuilder()
            .subject_name(_name(SERVER_NAME)).issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(_NOT_BEFORE).not_valid_after(_NOT_AFTER)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(key_usage, critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName(SERVER_NAME), x509.DNSName("localhost"),
                x509.IPAddress(ipaddress.ip_address(SERVER_IP)),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            ]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False),
            ca_key,
        )

    rsa_usage = x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=True,
        data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
        encipher_only=False, decipher_only=False)
    ec_usage = x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=True, key_cert_sign=False, crl_sign=False,
        encipher_only=False, decipher_only=False)
    return TestPki(
        ca_key=ca_key, ca_cert=ca_cert,
        rsa_key=rsa_key, rsa_cert=server_cert(rsa_key, 2, rsa_usage),
        ecdsa_key=ecdsa_key, ecdsa_cert=server_cert(ecdsa_key, 3, ec_usage),
        ec_ca_key=ec_ca_key, ec_ca_cert=ec_ca_cert,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sim.tls.certs",
        description="Write the deterministic test CA and server certificates (PEM) and test_ca.h.")
    parser.add_argument("--out", required=True, type=Path, help="directory to write into")
    parser.add_argument("--seed", default=DEFAULT_PKI_SEED, help="PKI seed (default: %(default)r)")
    args = parser.parse_args(argv)
    for path in generate_test_pki(args.seed).write(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
