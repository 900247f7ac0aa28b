"""Test kit for server identities: independent oracles (openssl verify, Mbed TLS 2.28's own X.509
code built natively), small ARM ELF images made with the cross toolchain, and seeded CA roots."""

from __future__ import annotations

import datetime
import fcntl
import hashlib
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest
from asn1crypto import algos as asn1_algos
from asn1crypto import core as asn1_core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from tlskit import NATIVE_DIR, build_ssl_client2

from sim.seed import SeededRandom
from sim.tls.x509_compat import load_der_certificate

UTC = datetime.UTC
CHECK_SRC = Path(__file__).with_name("x509_trust_check.c")


# --- oracles ---------------------------------------------------------------------------------------
def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def openssl_verify(tmp: Path, trusted: list[x509.Certificate], leaf: x509.Certificate, *,
                   untrusted: list[x509.Certificate] = (), at: datetime.datetime, hostname: str | None = None,
                   ip: str | None = None, partial_chain: bool = False) -> subprocess.CompletedProcess:
    """`openssl verify` at a fixed time (-attime), so the verdict does not depend on today's date."""
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "trusted.pem").write_bytes(b"".join(pem(c) for c in trusted))
    (tmp / "leaf.pem").write_bytes(pem(leaf))
    cmd = ["openssl", "verify", "-attime", str(int(at.timestamp())), "-CAfile", str(tmp / "trusted.pem")]
    if untrusted:
        (tmp / "untrusted.pem").write_bytes(b"".join(pem(c) for c in untrusted))
        cmd += ["-untrusted", str(tmp / "untrusted.pem")]
    if hostname:
        cmd += ["-verify_hostname", hostname]
    if ip:
        cmd += ["-verify_ip", ip]
    if partial_chain:
        cmd.append("-partial_chain")
    cmd.append(str(tmp / "leaf.pem"))
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def build_x509_check() -> Path:
    """x509_trust_check.c linked against the natively built Mbed TLS 2.28.3 libraries."""
    build_ssl_client2()                                  # builds the libraries once
    digest = hashlib.sha256(CHECK_SRC.read_bytes()).hexdigest()[:12]
    binary = NATIVE_DIR / f"x509_trust_check-{digest}"
    if binary.exists():
        return binary
    with open(NATIVE_DIR / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not binary.exists():
            lib = NATIVE_DIR / "src" / "library"
            tmp = binary.with_suffix(".tmp")
            run = subprocess.run([shutil.which("gcc") or "cc", "-O1", "-I", str(NATIVE_DIR / "src" / "include"),
                                  str(CHECK_SRC), str(lib / "libmbedx509.a"), str(lib / "libmbedcrypto.a"),
                                  "-o", str(tmp)], capture_output=True, text=True, timeout=120)
            if run.returncode != 0:
                pytest.fail(f"building x509_trust_check failed:\n{run.stderr[-3000:]}")
            tmp.rename(binary)
    return binary


def mbedtls_verdict(binary: Path, tmp: Path, store: bytes, leaf: x509.Certificate, host: str | None,
                    at: datetime.datetime) -> dict:
    """What Mbed TLS makes of `leaf` under the trust store bytes `store` at time `at`."""
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "store.bin").write_bytes(store)
    (tmp / "leaf.der").write_bytes(der(leaf))
    run = subprocess.run([str(binary), str(tmp / "store.bin"), str(tmp / "leaf.der"), host or "-",
                          str(int(at.timestamp()))], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    fields = dict(item.split("=") for item in run.stdout.split())
    return {"parse": int(fields["parse"]), "verify": int(fields["verify"]), "flags": int(fields["flags"], 16)}


# --- ELF images ------------------------------------------------------------------------------------
def build_elf(tmp: Path, assembly: str, linker_script: str, files: dict[str, bytes] | None = None) -> Path:
    """Assemble and link a small Cortex-M image with arm-none-eabi-gcc; `files` are written next to
    the source for `.incbin`."""
    gcc = shutil.which("arm-none-eabi-gcc")
    if gcc is None:
        pytest.fail("arm-none-eabi-gcc is missing: run scripts/setup (it installs gcc-arm-none-eabi)")
    tmp.mkdir(parents=True, exist_ok=True)
    for name, data in (files or {}).items():
        (tmp / name).write_bytes(data)
    (tmp / "image.S").write_text(assembly)
    (tmp / "image.ld").write_text(linker_script)
    out = tmp / "image.elf"
    run = subprocess.run([gcc, "-mcpu=cortex-m4", "-mthumb", "-nostdlib", "-T", str(tmp / "image.ld"),
                          "-I", str(tmp), str(tmp / "image.S"), "-o", str(out)],
                         capture_output=True, text=True, timeout=120, cwd=tmp)
    assert run.returncode == 0, run.stderr
    return out


def symbols(elf: Path) -> dict[str, tuple[int, int]]:
    """name -> (address, size) as binutils' nm reads them (an oracle independent of pyelftools)."""
    run = subprocess.run(["arm-none-eabi-nm", "-S", str(elf)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    out = {}
    for line in run.stdout.splitlines():
        parts = line.split()
        if len(parts) == 4:
            out[parts[3]] = (int(parts[0], 16), int(parts[1], 16))
        elif len(parts) == 3:
            out[parts[2]] = (int(parts[0], 16), 0)
    return out


def section_bytes(elf: Path, name: str) -> bytes:
    """A section's contents as binutils' objcopy extracts them."""
    out = elf.with_name(elf.name + name.replace(".", "_") + ".bin")
    run = subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", "--only-section", name, str(elf), str(out)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return out.read_bytes()


# --- certificates ----------------------------------------------------------------------------------
def pem_text(cert: x509.Certificate, line_ending: bytes = b"\n", width: int = 64) -> bytes:
    """PEM with a chosen line ending and line width (Mbed TLS's test CAs use CRLF)."""
    import base64
    body = base64.b64encode(der(cert))
    lines = [body[i:i + width] for i in range(0, len(body), width)]
    return line_ending.join([b"-----BEGIN CERTIFICATE-----", *lines, b"-----END CERTIFICATE-----"]) + line_ending


def leaf_for(issuer_cert: x509.Certificate, issuer_key, host: str, leaf_key=None, *,
             start=datetime.datetime(2020, 1, 1, tzinfo=UTC), days: int = 3650, ca: bool = False,
             path_length: int | None = None) -> tuple[x509.Certificate, object]:
    key = leaf_key or ec.generate_private_key(ec.SECP256R1())
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
               .issuer_name(issuer_cert.subject)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(start + datetime.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True))
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
    if isinstance(issuer_key, ec.EllipticCurvePrivateKey):
        return builder.sign(issuer_key, hashes.SHA256()), key
    return builder.sign(issuer_key, hashes.SHA256()), key


class KeyPool:
    """A few keys per type, made once: RSA-4096 generation costs too much to do per root."""

    SPECS = {"rsa2048": ("rsa", 2048, 3), "rsa4096": ("rsa", 4096, 3), "p256": ("ec", ec.SECP256R1, 3),
             "p384": ("ec", ec.SECP384R1, 3)}

    def __init__(self) -> None:
        self._keys: dict[str, list] = {}

    def keys(self, kind: str) -> list:
        if kind not in self._keys:
            family, size, count = self.SPECS[kind]
            if family == "rsa":
                self._keys[kind] = [rsa.generate_private_key(65537, size) for _ in range(count)]
            else:
                self._keys[kind] = [ec.generate_private_key(size()) for _ in range(count)]
        return self._keys[kind]

    def factory(self, kind: str):
        """A look-alike key factory: a pool key of the same type other than the original's."""
        def make(public):
            mine = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
            for key in self.keys(kind):
                spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo)
                if spki != mine:
                    return key
            raise AssertionError("pool has no second key")
        return make


_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -."


def _text(rng: SeededRandom, low: int, high: int) -> str:
    n = rng.randint(low, high)
    return "".join(_ALPHABET[rng.randbelow(len(_ALPHABET))] for _ in range(n)).strip() or "x"


def seeded_root(kind: str, index: int, pool: KeyPool) -> tuple[x509.Certificate, object]:
    """A CA certificate whose every size-relevant field varies with the seed: name attributes and
    lengths (UTF8String and PrintableString), serial length 1-20, validity across the 2050
    UTCTime/GeneralizedTime switch, extensions present or not, signature hash. Every 7th is an
    intermediate (issued by another key) rather than self-signed; every 10th EC root carries
    NULL parameters in its ECDSA AlgorithmIdentifiers, as Mbed TLS's own test-ca2 does."""
    rng = SeededRandom(f"identity test root {kind}", str(index))
    keys = pool.keys(kind)
    key = keys[index % len(keys)]
    attrs = []
    if rng.randbelow(2):
        attrs.append(x509.NameAttribute(NameOID.COUNTRY_NAME, "NL" if rng.randbelow(2) else "DE"))
    attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, _text(rng, 1, 40)))
    if rng.randbelow(2):
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, _text(rng, 1, 30)))
    from cryptography.x509.name import _ASN1Type
    cn_type = _ASN1Type.PrintableString if rng.randbelow(3) == 0 else _ASN1Type.UTF8String
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, _text(rng, 1, 60), _type=cn_type))
    name = x509.Name(attrs)
    intermediate = index % 7 == 3
    issuer_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Upstream {index}")]) if intermediate else name
    signer = keys[(index + 1) % len(keys)] if intermediate else key
    start = datetime.datetime(2015 + rng.randbelow(9), 1 + rng.randbelow(12), 1 + rng.randbelow(28),
                              rng.randbelow(24), tzinfo=UTC)
    end = datetime.datetime(2035 + rng.randbelow(40), 1 + rng.randbelow(12), 1 + rng.randbelow(28), tzinfo=UTC)
    octets = 1 + rng.randbelow(20)
    serial = int.from_bytes(bytes([1 + rng.randbelow(0x7F)]) + rng.bytes(octets - 1), "big")
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer_name)
               .public_key(key.public_key()).serial_number(serial)
               .not_valid_before(start).not_valid_after(end)
               .add_extension(x509.BasicConstraints(ca=True, path_length=None if rng.randbelow(2) else rng.randbelow(3)),
                              critical=True))
    if rng.randbelow(4):
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=bool(rng.randbelow(2)), content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=bool(rng.randbelow(2)),
            encipher_only=False, decipher_only=False), critical=True)
    if rng.randbelow(4):
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    if rng.randbelow(3) == 0:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False)
    hash_cls = [hashes.SHA256, hashes.SHA384, hashes.SHA512][rng.randbelow(3)]
    cert = builder.sign(signer, hash_cls())
    if kind.startswith("p") and index % 10 == 0 and not intermediate:
        cert = _with_null_ecdsa_parameters(cert, signer, hash_cls)
    return cert, key


def _with_null_ecdsa_parameters(cert: x509.Certificate, key, hash_cls) -> x509.Certificate:
    """Re-encode both ECDSA AlgorithmIdentifiers with an explicit NULL parameter and re-sign."""
    parsed = asn1_x509.Certificate.load(der(cert))
    tbs = parsed["tbs_certificate"].copy()
    algorithm = tbs["signature"]["algorithm"].native
    with_null = asn1_algos.SignedDigestAlgorithm({"algorithm": algorithm, "parameters": asn1_core.Null()})
    tbs["signature"] = with_null
    tbs_der = tbs.dump()
    signature = key.sign(tbs_der, ec.ECDSA(hash_cls()))
    out = asn1_x509.Certificate({"tbs_certificate": tbs, "signature_algorithm": with_null,
                                 "signature_value": signature}).dump()
    assert out.count(bytes.fromhex("0500")) >= 2
    return WithBytes(load_der_certificate(out), out)


class WithBytes:
    """A certificate as `cryptography` reads it, carrying the exact bytes it came from: they differ
    when cryptography could only read a copy (ECDSA NULL parameters, sim.tls.x509_compat)."""

    def __init__(self, cert: x509.Certificate, raw: bytes) -> None:
        self._cert = cert
        self.raw = raw

    def __getattr__(self, name):
        return getattr(self._cert, name)

    def public_bytes(self, encoding: serialization.Encoding) -> bytes:
        if encoding is serialization.Encoding.DER:
            return self.raw
        return ssl.DER_cert_to_PEM_cert(self.raw).encode()


# --- ClientHellos from real clients ----------------------------------------------------------------
def capture_client_hello(command: list[str]):
    """Run a TLS client against a listening socket that only reads: the client's first handshake
    message, parsed (`{port}` in `command` is replaced by the port)."""
    import socket

    from sim.tls.messages import HandshakeReassembler, parse_client_hello

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(60)
        port = listener.getsockname()[1]
        proc = subprocess.Popen([c.replace("{port}", str(port)) for c in command], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(60)
                data = b""
                reassembler = HandshakeReassembler()
                while True:
                    while len(data) >= 5 and len(data) >= 5 + int.from_bytes(data[3:5], "big"):
                        length = int.from_bytes(data[3:5], "big")
                        messages = reassembler.feed(data[5:5 + length])
                        data = data[5 + length:]
                        if messages:
                            return parse_client_hello(messages[0].body)
                    chunk = conn.recv(65536)
                    assert chunk, f"{command[0]} closed before sending a ClientHello"
                    data += chunk
        finally:
            proc.kill()
            proc.wait(timeout=60)


def verify_self_signature(der_bytes: bytes, public_key) -> None:
    """The certificate's signature over its own TBS bytes, as they are encoded (a certificate
    cryptography reads only through a copy, sim.tls.x509_compat, cannot verify through it);
    raises cryptography's InvalidSignature."""
    parsed = asn1_x509.Certificate.load(der_bytes)
    tbs = parsed["tbs_certificate"].dump()
    signature = parsed["signature_value"].native
    hash_name = parsed["signature_algorithm"].hash_algo
    hash_cls = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512, "sha1": hashes.SHA1}[hash_name]
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        public_key.verify(signature, tbs, ec.ECDSA(hash_cls()))
    else:
        public_key.verify(signature, tbs, padding.PKCS1v15(), hash_cls())
