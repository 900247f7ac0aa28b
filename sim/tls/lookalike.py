"""A look-alike of a CA certificate: same names, same validity, same key type and size, a new key,
and exactly the same encoded length, so it can overwrite the original in the image's memory.

What is copied byte for byte from the original TBSCertificate (RFC 5280 §4.1): version, the
signature AlgorithmIdentifier, issuer, validity, subject, the SubjectPublicKeyInfo's algorithm,
the unique IDs and every extension except the key identifiers. What changes: the key (a new one of
the same type, size and public exponent or curve), the subjectKeyIdentifier (and, for a
self-issued certificate, the authorityKeyIdentifier's keyIdentifier) recomputed at their original
lengths, the serial number, and the signature. The length is matched by the serial number, the one
free field (RFC 5280 §4.1.2.2 allows 1 to 20 octets): its length is stepped away from the
original's, and for ECDSA, whose DER signature varies by a few bytes (X.690 §8.3 minimal INTEGERs),
its value is redrawn until the whole certificate has the original's length.

A self-issued certificate is re-signed with the new key, so its self-signature verifies. A trusted
certificate that is not self-issued (an intermediate used as a trust anchor) keeps its original
signature bytes: nobody holds that issuer's key, and a client stops at a trusted certificate
without checking its signature (mbedtls/library/x509_crt.c `x509_crt_verify_chain`).

For PEM, `encode_like` writes the new DER's base64 into the original text's layout (same line
lengths, same LF or CRLF), so the text has the same length too.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from asn1crypto import core as asn1_core
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import SignatureAlgorithmOID

from sim.errors import SimError
from sim.seed import SeededRandom
from sim.tls.certs import EC_CURVE_ORDERS, deterministic_ec_key, seeded_rsa_key
from sim.tls.identity import PrivateKey, key_description
from sim.tls.x509_compat import load_der_certificate

MAX_SERIAL_OCTETS = 20          # RFC 5280 §4.1.2.2
_ECDSA_REDRAWS = 64             # per serial length; a given DER signature length has >= 20 % odds
_HASHES = {
    SignatureAlgorithmOID.RSA_WITH_SHA1: hashes.SHA1, SignatureAlgorithmOID.RSA_WITH_SHA224: hashes.SHA224,
    SignatureAlgorithmOID.RSA_WITH_SHA256: hashes.SHA256, SignatureAlgorithmOID.RSA_WITH_SHA384: hashes.SHA384,
    SignatureAlgorithmOID.RSA_WITH_SHA512: hashes.SHA512, SignatureAlgorithmOID.ECDSA_WITH_SHA1: hashes.SHA1,
    SignatureAlgorithmOID.ECDSA_WITH_SHA224: hashes.SHA224, SignatureAlgorithmOID.ECDSA_WITH_SHA256: hashes.SHA256,
    SignatureAlgorithmOID.ECDSA_WITH_SHA384: hashes.SHA384, SignatureAlgorithmOID.ECDSA_WITH_SHA512: hashes.SHA512,
}

KeyFactory = Callable[[object], PrivateKey]     # original public key -> new private key like it


class LookalikeError(SimError):
    """No same-length look-alike can be made for a certificate; the message says which and why."""


@dataclass(frozen=True)
class Lookalike:
    original: x509.Certificate
    cert: x509.Certificate
    der: bytes
    key: PrivateKey

    @property
    def subject(self) -> str:
        return self.cert.subject.rfc4514_string()

    def encode_like(self, original_encoded: bytes) -> bytes:
        """The look-alike in the original's encoding: its DER, or its PEM laid out like the
        original PEM text (which must hold this certificate's original)."""
        if original_encoded[:1] == b"-":
            return pem_like(original_encoded, self.der)
        if len(original_encoded) != len(self.der):
            raise LookalikeError(f"the DER of {self.subject!r} is {len(original_encoded)} bytes, "
                                 f"the look-alike {len(self.der)}")
        return self.der


def pem_like(original_text: bytes, der: bytes) -> bytes:
    """`der` as PEM in exactly the layout of `original_text` (header, line lengths, line ends,
    footer): each base64 character of the original is replaced in order by the new one."""
    header_end = original_text.index(b"\n") + 1
    footer = original_text.rindex(b"-----END")
    body = original_text[header_end:footer]
    new = base64.b64encode(der)
    slots = sum(1 for b in body if b not in b" \r\n")
    if slots != len(new):
        raise LookalikeError(f"the PEM text holds {slots} base64 characters, the look-alike needs {len(new)}")
    it = iter(new)
    out = bytes(b if b in b" \r\n" else next(it) for b in body)
    return original_text[:header_end] + out + original_text[footer:]


def make_lookalike(original_der: bytes, *, seed: str, key_factory: KeyFactory | None = None) -> Lookalike:
    """The same-length look-alike of `original_der`, deterministic from `seed` and the original
    (and `key_factory`, which by default derives the key from the seed too)."""
    try:
        original = load_der_certificate(original_der)
        parsed = asn1_x509.Certificate.load(original_der, strict=True)
        _ = parsed["tbs_certificate"].native              # parse every field now, not halfway through
    except ValueError as exc:
        raise LookalikeError(f"not a DER X.509 certificate ({exc})") from None
    who = original.subject.rfc4514_string() or "(empty subject)"
    tag = hashlib.sha256(original_der).hexdigest()[:32]
    rng = SeededRandom(seed, f"lookalike/{tag}")
    self_issued = original.issuer == original.subject
    hash_cls = _HASHES.get(original.signature_algorithm_oid)
    if self_issued and hash_cls is None:
        raise LookalikeError(f"{who}: signature algorithm {original.signature_algorithm_oid._name} is not "
                             f"supported (RSA PKCS#1 v1.5 or ECDSA with SHA-1/SHA-2 are)")
    public = original.public_key()
    key = (key_factory or _seeded_key_factory(seed, tag, who))(public)
    if key_description(key) != key_description(public) or _exponent(key) != _exponent(public):
        raise LookalikeError(f"{who}: the new key is {key_description(key)}, the original {key_description(public)}")
    if self_issued and not _key_signs(key, original.signature_algorithm_oid):
        raise LookalikeError(f"{who}: a {key_description(key)} key cannot make a "
                             f"{original.signature_algorithm_oid._name} self-signature")

    tbs = parsed["tbs_certificate"].copy()
    tbs["subject_public_key_info"] = _spki_like(parsed["tbs_certificate"]["subject_public_key_info"], key, who)
    _replace_key_ids(tbs, key, self_issued)
    target = len(original_der)
    original_serial = len(parsed["tbs_certificate"]["serial_number"].contents)
    varies = self_issued and isinstance(key, ec.EllipticCurvePrivateKey)
    for octets in _serial_lengths(original_serial):
        for attempt in range(_ECDSA_REDRAWS if varies else 1):
            tbs["serial_number"] = asn1_core.Integer(_serial(rng, octets))
            tbs_der = tbs.dump(force=False)
            signature = _sign(key, tbs_der, hash_cls) if self_issued else parsed["signature_value"].native
            der = asn1_x509.Certificate({"tbs_certificate": tbs, "signature_algorithm": parsed["signature_algorithm"],
                                         "signature_value": signature}).dump()
            if len(der) == target:
                return _checked(original, parsed, der, key, who)
            if abs(len(der) - target) > 4:
                break                                  # a signature redraw cannot close this gap
    raise LookalikeError(f"{who}: no serial number of 1 to {MAX_SERIAL_OCTETS} octets gives a "
                         f"{target}-byte certificate with a new {key_description(key)} key; the original's "
                         f"other fields leave no room (substitute it by hand or serve a chain it trusts)")


def _seeded_key_factory(seed: str, tag: str, who: str) -> KeyFactory:
    def make(public) -> PrivateKey:
        if isinstance(public, rsa.RSAPublicKey):
            return seeded_rsa_key(seed, f"lookalike-key/{tag}", public.key_size, public.public_numbers().e)
        if isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name in EC_CURVE_ORDERS:
            return deterministic_ec_key(SeededRandom(seed, f"lookalike-key/{tag}"), public.curve)
        raise LookalikeError(f"{who}: {key_description(public)} keys are not supported for a look-alike "
                             f"(RSA, or EC on secp256r1, secp384r1 or secp521r1)")
    return make


def _exponent(key) -> int | None:
    public = key.public_key() if hasattr(key, "private_bytes") else key
    return public.public_numbers().e if isinstance(public, rsa.RSAPublicKey) else None


def _key_signs(key: PrivateKey, oid) -> bool:
    name = oid._name.lower()
    return ("ecdsa" in name) == isinstance(key, ec.EllipticCurvePrivateKey)


def _spki_like(original: asn1_keys.PublicKeyInfo, key: PrivateKey, who: str) -> asn1_keys.PublicKeyInfo:
    """The original SubjectPublicKeyInfo with its AlgorithmIdentifier bytes kept and the new key in."""
    public = key.public_key()
    if isinstance(public, ec.EllipticCurvePublicKey):
        compressed = original["public_key"].native[:1] in (b"\x02", b"\x03")
        fmt = serialization.PublicFormat.CompressedPoint if compressed else serialization.PublicFormat.UncompressedPoint
        value = asn1_keys.ECPointBitString(public.public_bytes(serialization.Encoding.X962, fmt))
    else:
        value = asn1_core.ParsableOctetBitString(asn1_keys.RSAPublicKey({
            "modulus": public.public_numbers().n, "public_exponent": public.public_numbers().e}).dump())
    spki = original.copy()
    spki["public_key"] = value
    if len(spki.dump()) != len(original.dump()):
        raise LookalikeError(f"{who}: the new {key_description(key)} key encodes in {len(spki.dump())} bytes, "
                             f"the original in {len(original.dump())}")
    return spki


def _key_id(key: PrivateKey, length: int, label: bytes) -> bytes:
    """A key identifier of `length` bytes: SHA-1 of the public key bits when that fits (RFC 5280
    §4.2.1.2 method 1), else SHA-256 output repeated and cut."""
    public = key.public_key()
    point = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    bits = asn1_keys.PublicKeyInfo.load(point)["public_key"].contents[1:]
    if length == 20:
        return hashlib.sha1(bits).digest()
    stream = b""
    counter = 0
    while len(stream) < length:
        stream += hashlib.sha256(label + counter.to_bytes(4, "big") + bits).digest()
        counter += 1
    return stream[:length]


def _replace_key_ids(tbs: asn1_x509.TbsCertificate, key: PrivateKey, self_issued: bool) -> None:
    extensions = tbs["extensions"]
    if not extensions.native:
        return
    ski_value = None
    for ext in extensions:
        if ext["extn_id"].native == "key_identifier":
            old = ext["extn_value"].parsed.native
            ski_value = _key_id(key, len(old), b"ski")
            ext["extn_value"] = asn1_core.ParsableOctetString(asn1_core.OctetString(ski_value).dump())
    for ext in extensions:
        if ext["extn_id"].native == "authority_key_identifier" and self_issued:
            aki = ext["extn_value"].parsed.copy()
            old = aki["key_identifier"].native
            if old is None:
                continue
            new = ski_value if ski_value is not None and len(ski_value) == len(old) else _key_id(key, len(old), b"aki")
            aki["key_identifier"] = new
            ext["extn_value"] = asn1_core.ParsableOctetString(aki.dump(force=False))


def _serial_lengths(original: int):
    """The original's serial length first, then one octet shorter and longer, and so on."""
    yield original
    for step in range(1, MAX_SERIAL_OCTETS):
        for octets in (original - step, original + step):
            if 1 <= octets <= MAX_SERIAL_OCTETS:
                yield octets


def _serial(rng: SeededRandom, octets: int) -> int:
    """A positive serial whose minimal encoding is exactly `octets` octets (top bit clear)."""
    first = 1 + rng.randbelow(0x7F)
    return int.from_bytes(bytes([first]) + rng.bytes(octets - 1), "big")


def _sign(key: PrivateKey, data: bytes, hash_cls) -> bytes:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        # RFC 6979: the signature depends only on key and data, so a seed gives the same bytes
        return key.sign(data, ec.ECDSA(hash_cls(), deterministic_signing=True))
    return key.sign(data, padding.PKCS1v15(), hash_cls())


def _checked(original: x509.Certificate, parsed: asn1_x509.Certificate, der: bytes, key: PrivateKey,
             who: str) -> Lookalike:
    cert = load_der_certificate(der)
    new = asn1_x509.Certificate.load(der)
    for name in ("version", "signature", "issuer", "validity", "subject"):
        if new["tbs_certificate"][name].dump() != parsed["tbs_certificate"][name].dump():
            raise LookalikeError(f"{who}: the look-alike's {name} bytes differ from the original's")
    if new["signature_algorithm"].dump() != parsed["signature_algorithm"].dump():
        raise LookalikeError(f"{who}: the look-alike's signatureAlgorithm bytes differ from the original's")
    return Lookalike(original, cert, der, key)
