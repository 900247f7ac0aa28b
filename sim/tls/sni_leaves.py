"""Leaf certificates issued per host name, under the test roots or under look-alike roots.

A client that checks the host name (`mbedtls_ssl_set_hostname`) accepts a leaf only if a dNSName
in its subjectAltName equals the name it asked for (RFC 6125 §6.4; mbedtls/library/x509_crt.c
`x509_crt_verify_name`), so the peer issues one leaf per name the client sends in SNI, or for the
server address when there is no SNI. A leaf is deterministic (same seed, issuer, name, key type
and scenario date give the same bytes) and valid from a week before the scenario date to the end
of its issuer's validity (at least a year after the scenario date), so a device whose clock reads
the scenario date accepts it, and so does a client on a real socket at any later date while the
root is valid; leaves are cached in memory, a bounded number per source.
"""

from __future__ import annotations

import functools
import ipaddress
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sim.seed import SeededRandom
from sim.tls.certs import DEFAULT_PKI_SEED, generate_test_pki
from sim.tls.identity import IdentityError, PrivateKey, ServerIdentity, key_kind, name_text

LEAF_CACHE_SIZE = 64
# The scenario date when none is given: the virtual calendar's default (sim.net's CalendarClock
# starts there; a test keeps the two equal). The test roots are valid from 2020-01-01, so a date
# before that gives leaves under roots a device cannot accept yet.
DEFAULT_DATE = datetime(2024, 1, 1, tzinfo=UTC)
# a leaf is valid from a week before the scenario date to its issuer's end, and at least a year
_BEFORE = timedelta(days=7)
_AT_LEAST = timedelta(days=365)


@dataclass(frozen=True)
class Issuer:
    """A CA certificate and its key: signs leaves."""

    cert: x509.Certificate
    key: PrivateKey
    label: str

    def fingerprint(self) -> bytes:
        return self.cert.fingerprint(hashes.SHA256())


class SniLeaves:
    """An identity source: for a host, a leaf of each key kind under each issuer.

    `leaf_keys` maps 'rsa' / 'ecdsa' to the key every leaf of that kind carries (one key per kind
    keeps a per-name leaf cheap: only the certificate is new). `pairs` limits which (issuer index,
    kind) combinations are offered, in order; by default every issuer gets every kind."""

    def __init__(self, issuers: list[Issuer], leaf_keys: dict[str, PrivateKey], *, at: datetime,
                 seed: str, source: str, pairs: list[tuple[int, str]] | None = None) -> None:
        if not issuers:
            raise IdentityError("no issuer to sign leaves with")
        for kind, key in leaf_keys.items():
            if key_kind(key) != kind:
                raise IdentityError(f"the {kind} leaf key is a {key_kind(key)} key")
        if at.tzinfo is None:
            raise IdentityError(f"scenario date {at.isoformat()} has no time zone; give it in UTC")
        self.issuers = list(issuers)
        self.leaf_keys = dict(leaf_keys)
        self.at = at.astimezone(UTC).replace(microsecond=0)
        self.seed = seed
        self.source = source
        self.pairs = pairs if pairs is not None else [(i, k) for i in range(len(issuers)) for k in leaf_keys]
        self._cache: OrderedDict[tuple[int, str, str], x509.Certificate] = OrderedDict()

    def candidates(self, host: str) -> list[ServerIdentity]:
        out = []
        for index, kind in self.pairs:
            issuer = self.issuers[index]
            leaf = self.leaf(host, kind, index)
            out.append(ServerIdentity((leaf, issuer.cert), self.leaf_keys[kind], self.source, issuer.label))
        return out

    def leaf(self, host: str, kind: str, issuer_index: int = 0) -> x509.Certificate:
        key = (issuer_index, kind, host)
        cert = self._cache.get(key)
        if cert is None:
            cert = self._issue(host, kind, self.issuers[issuer_index])
            self._cache[key] = cert
            if len(self._cache) > LEAF_CACHE_SIZE:
                self._cache.popitem(last=False)       # bounded: SNI is the client's to choose
        else:
            self._cache.move_to_end(key)
        return cert

    def describe(self) -> dict:
        return {
            "mode": self.source,
            "roots": [{"label": i.label, "subject": i.cert.subject.rfc4514_string(),
                       "sha256": i.fingerprint().hex(),
                       "valid_at_scenario_date": i.cert.not_valid_before_utc <= self.at <= i.cert.not_valid_after_utc}
                      for i in self.issuers],
            "leaf_keys": sorted(self.leaf_keys),
            "scenario_date": self.at.isoformat().replace("+00:00", "Z"),
            "leaves_valid_from": self.valid_from.isoformat().replace("+00:00", "Z"),
        }

    @property
    def valid_from(self) -> datetime:
        """notBefore of every leaf: midnight a week before the scenario date."""
        return self.at.replace(hour=0, minute=0, second=0) - _BEFORE

    def _issue(self, host: str, kind: str, issuer: Issuer) -> x509.Certificate:
        san = subject_alt_names(host)
        key = self.leaf_keys[kind]
        rng = SeededRandom(self.seed, f"leaf/{issuer.fingerprint().hex()}/{kind}/{host}")
        serial = int.from_bytes(rng.bytes(16), "big") >> 1 or 1       # positive, at most 16 octets
        subject = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tls-fw-sim")]
        if len(host) <= 64:                                              # ub-common-name (RFC 5280 App. A)
            subject.append(x509.NameAttribute(NameOID.COMMON_NAME, host))
        start = self.valid_from
        end = max(issuer.cert.not_valid_after_utc, start + _BEFORE + _AT_LEAST)
        usage = dict(digital_signature=True, content_commitment=False, key_encipherment=kind == "rsa",
                     data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                     encipher_only=False, decipher_only=False)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(subject)).issuer_name(issuer.cert.subject)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(**usage), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(san), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(_authority_key_id(issuer.cert), critical=False)
        )
        if isinstance(issuer.key, ec.EllipticCurvePrivateKey):
            return builder.sign(issuer.key, hashes.SHA256(), ecdsa_deterministic=True)
        return builder.sign(issuer.key, hashes.SHA256())


def subject_alt_names(host: str) -> list[x509.GeneralName]:
    """dNSName for a host name; iPAddress for an address. An address that came as SNI also gets
    a dNSName, because Mbed TLS 2.28 compares the SNI string with dNSNames only."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if not host or not all(0x21 <= ord(ch) <= 0x7E for ch in host) or len(host) > 253:
            raise IdentityError(f"{host!r} cannot be a certificate name: use an ASCII host name "
                                f"or an IP address") from None
        return [x509.DNSName(host)]
    return [x509.IPAddress(address), x509.DNSName(str(address))]


def _authority_key_id(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    try:
        ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key())


def default_identities(at: datetime = DEFAULT_DATE, pki_seed: str = DEFAULT_PKI_SEED) -> SniLeaves:
    """The test PKI's roots with per-name leaves: an RSA leaf and an ECDSA leaf under the RSA
    root (the root the reference firmware embeds), and an ECDSA leaf under the P-256 root (the
    all-ECDSA chain for clients that cannot check RSA signatures)."""
    pki = generate_test_pki(pki_seed)
    issuers = [Issuer(pki.ca_cert, pki.ca_key, f"{name_text(pki.ca_cert.subject)} (test PKI)"),
               Issuer(pki.ec_ca_cert, pki.ec_ca_key, f"{name_text(pki.ec_ca_cert.subject)} (test PKI)")]
    return SniLeaves(issuers, {"rsa": pki.rsa_key, "ecdsa": pki.ecdsa_key}, at=at, seed=pki_seed,
                     source="test-pki", pairs=[(0, "rsa"), (0, "ecdsa"), (1, "ecdsa")])



@functools.lru_cache(maxsize=8)
def shared_default_identities(at: datetime = DEFAULT_DATE, pki_seed: str = DEFAULT_PKI_SEED) -> SniLeaves:
    """`default_identities` shared by every server of the process that uses the same date and seed,
    so a leaf is issued once, not once per connection (the cache is bounded: LEAF_CACHE_SIZE)."""
    return default_identities(at, pki_seed)
