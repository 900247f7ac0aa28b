"""Which certificate chain and key the peer presents, chosen per ClientHello.

A `ServerIdentity` is one chain (leaf first) with the leaf's private key. An identity source
offers candidates for the host name the client asked for (`candidates(host)`): the user's own
chain (`sim.tls.user_chain`), or leaves issued per name under the test roots or under look-alike
roots (`sim.tls.sni_leaves`). `choose_identity` picks one the way a server holding an RSA and an
ECDSA certificate does: a chain must be usable with a cipher suite the client offers (the leaf key
decides the suite's authentication, RFC 5246 §7.4.2, RFC 8422 §5.3), an ECDSA leaf must sit on a
curve the client supports (RFC 8422 §5.1), and chains whose signatures are all ones the client
listed in signature_algorithms come first (RFC 5246 §7.4.1.4.1). It returns the choice and a
sentence saying why, for the journal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID, SignatureAlgorithmOID

from sim.errors import SimError
from sim.tls.groups import ALL_GROUPS
from sim.tls.protocol import TLS1_2
from sim.tls.suites import ALL_SUITES, SUITES_BY_CODE, CipherSuite

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

# TLS HashAlgorithm / SignatureAlgorithm codes (RFC 5246 §7.4.1.4.1)
_HASH_CODES = {"md5": 1, "sha1": 2, "sha224": 3, "sha256": 4, "sha384": 5, "sha512": 6}
_HASH_NAMES = {code: name for name, code in _HASH_CODES.items()}
SIG_RSA, SIG_ECDSA = 1, 3
# hashes the peer signs ServerKeyExchange with, in its order of preference
SIGNING_HASH_CODES = (4, 5, 6, 2)
# the NamedCurve code of each curve a leaf key may use (RFC 8422 §5.1.1, RFC 7027 §2)
CURVE_GROUP_CODES = {"secp192r1": 19, "secp224r1": 21, "secp256k1": 22, "secp256r1": 23, "secp384r1": 24,
                     "secp521r1": 25, "brainpoolP256r1": 26, "brainpoolP384r1": 27, "brainpoolP512r1": 28}
_PSS = {SignatureAlgorithmOID.RSASSA_PSS}


class IdentityError(SimError):
    """A server identity cannot be built or loaded; the message names the input and the fix."""


def key_kind(key) -> str:
    """'rsa' or 'ecdsa' for a private or public key."""
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return "rsa"
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return "ecdsa"
    raise IdentityError(f"{type(key).__name__} keys are not supported: use an RSA or ECDSA key")


def key_description(key) -> str:
    """'RSA-2048' or 'EC secp256r1'."""
    public = key.public_key() if hasattr(key, "public_key") else key
    if isinstance(public, rsa.RSAPublicKey):
        return f"RSA-{public.key_size}"
    if isinstance(public, ec.EllipticCurvePublicKey):
        return f"EC {public.curve.name}"
    return type(public).__name__


def name_text(name: x509.Name) -> str:
    """The common name if there is one, else the RFC 4514 string."""
    cns = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(cns[0].value) if cns else (name.rfc4514_string() or "(empty name)")


def tls_signature_of(cert: x509.Certificate) -> tuple[int, int] | None:
    """The TLS (hash, signature) pair of the certificate's own signature; None for one TLS 1.2
    cannot name (RSA-PSS, EdDSA)."""
    if cert.signature_algorithm_oid in _PSS:
        return None
    hash_alg = cert.signature_hash_algorithm
    if hash_alg is None or hash_alg.name not in _HASH_CODES:
        return None
    sig = cert.signature_algorithm_oid._name.lower()
    if "ecdsa" in sig:
        return _HASH_CODES[hash_alg.name], SIG_ECDSA
    if "rsa" in sig:
        return _HASH_CODES[hash_alg.name], SIG_RSA
    return None


def signature_name(pair: tuple[int, int] | None) -> str:
    if pair is None:
        return "a signature TLS 1.2 cannot name"
    sig = {SIG_RSA: "rsa_pkcs1", SIG_ECDSA: "ecdsa"}.get(pair[1], f"sig{pair[1]}")
    return f"{sig}_{_HASH_NAMES.get(pair[0], f'hash{pair[0]}')}"


@dataclass(frozen=True)
class ServerIdentity:
    """A chain the peer can send (leaf first) and the leaf's private key."""

    chain: tuple[x509.Certificate, ...]
    key: PrivateKey
    source: str                      # "test-pki" | "user" | "substituted"
    issuer_label: str = ""           # which root issued the leaf, for the journal

    def __post_init__(self) -> None:
        if not self.chain:
            raise IdentityError("a server identity needs at least one certificate")

    @property
    def leaf(self) -> x509.Certificate:
        return self.chain[0]

    @property
    def kind(self) -> str:
        """The leaf key type, which decides the suites it serves: 'rsa' or 'ecdsa'."""
        return key_kind(self.key)

    @property
    def curve_group(self) -> int | None:
        """The leaf's curve as a TLS NamedCurve code (None for RSA or an unknown curve)."""
        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            return CURVE_GROUP_CODES.get(self.key.curve.name)
        return None

    def chain_der(self) -> list[bytes]:
        return [c.public_bytes(serialization.Encoding.DER) for c in self.chain]

    def chain_signatures(self) -> list[tuple[x509.Certificate, tuple[int, int] | None]]:
        """Each certificate's signature a client may judge: a self-signed last certificate (a root
        the client already holds) is left out (RFC 5246 §7.4.2 lets the server omit it)."""
        certs = list(self.chain)
        if len(certs) > 1 and certs[-1].issuer == certs[-1].subject:
            certs = certs[:-1]
        return [(c, tls_signature_of(c)) for c in certs]

    def label(self) -> str:
        issuer = self.issuer_label or name_text(self.leaf.issuer)
        return f"{key_description(self.key)} leaf {name_text(self.leaf.subject)!r} under {issuer!r}"

    def describe(self) -> dict:
        try:
            san = self.leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            names = [str(v) for v in san.get_values_for_type(x509.DNSName)] + \
                    [str(v) for v in san.get_values_for_type(x509.IPAddress)]
        except x509.ExtensionNotFound:
            names = []
        return {
            "source": self.source,
            "kind": self.kind,
            "leaf_subject": self.leaf.subject.rfc4514_string(),
            "leaf_key": key_description(self.key),
            "subject_alt_names": names,
            "issuer": self.leaf.issuer.rfc4514_string(),
            "issuer_label": self.issuer_label or name_text(self.leaf.issuer),
            "chain": [{"subject": c.subject.rfc4514_string(), "key": key_description(c.public_key()),
                       "signature": signature_name(tls_signature_of(c)),
                       "sha256": c.fingerprint(hashes.SHA256()).hex()} for c in self.chain],
        }


class IdentitySource(Protocol):
    """What the peer holds: the chains it may present to a client that asked for `host`."""

    def candidates(self, host: str) -> list[ServerIdentity]: ...

    def describe(self) -> dict: ...


@dataclass(frozen=True)
class FixedIdentities:
    """The same chains whatever the client asks for (the user's own chain)."""

    identities: tuple[ServerIdentity, ...]

    def candidates(self, host: str) -> list[ServerIdentity]:
        return list(self.identities)

    def describe(self) -> dict:
        return {"mode": self.identities[0].source if self.identities else "none",
                "identities": [i.describe() for i in self.identities]}


class PkiChains:
    """The two fixed chains of a `TestPki`-shaped object (`server_chain(kind)`, `server_key(kind)`):
    the peer's identity before per-name leaves, for callers that still hand the server a `pki`.
    The chains are asked for when a ClientHello needs them, not before."""

    def __init__(self, pki, source: str = "test-pki") -> None:
        self.pki = pki
        self.source = source

    def candidates(self, host: str) -> list[ServerIdentity]:
        return [ServerIdentity(tuple(self.pki.server_chain(kind)), self.pki.server_key(kind), self.source)
                for kind in ("rsa", "ecdsa")]

    def describe(self) -> dict:
        return {"mode": self.source, "fixed_chains": ["rsa", "ecdsa"]}


@dataclass(frozen=True)
class HelloFacts:
    """What a ClientHello says about the certificates the client can use."""

    version: int                                          # the version the server negotiated
    cipher_suites: tuple[int, ...]
    signature_algorithms: tuple[tuple[int, int], ...] | None = None   # None: extension absent
    supported_groups: tuple[int, ...] | None = None
    point_formats: bytes | None = None
    server_name: str | None = None

    @classmethod
    def from_client_hello(cls, hello, version: int | None = None) -> HelloFacts:
        """From a parsed `sim.tls.messages.ClientHello`; `version` defaults to the client's
        highest, capped at TLS 1.2."""
        sig_algs = hello.signature_algorithms()
        groups = hello.supported_groups()
        return cls(
            version=min(hello.client_version, TLS1_2) if version is None else version,
            cipher_suites=tuple(hello.cipher_suites),
            signature_algorithms=None if sig_algs is None else tuple(sig_algs),
            supported_groups=None if groups is None else tuple(groups),
            point_formats=hello.point_formats(),
            server_name=hello.server_name(),
        )

    def accepts_signature(self, pair: tuple[int, int] | None) -> bool:
        """Whether the client said it can check this signature. Without signature_algorithms
        (or before TLS 1.2) a client accepts SHA-1 with the signature type of the suites it
        offers (RFC 5246 §7.4.1.4.1); any hash is taken as fine then."""
        if pair is None:
            return False
        if self.version >= TLS1_2 and self.signature_algorithms is not None:
            return pair in self.signature_algorithms
        offered = [SUITES_BY_CODE[c] for c in self.cipher_suites if c in SUITES_BY_CODE]
        kinds = {SIG_ECDSA if s.cert_kind == "ecdsa" else SIG_RSA for s in offered}
        return pair[1] in kinds


@dataclass(frozen=True)
class IdentityChoice:
    identity: ServerIdentity
    why: str
    fits: bool                  # False: nothing fits; the suite choice will refuse the client
    host: str                   # the name (or address) the leaf was asked for

    @property
    def chain(self) -> tuple[x509.Certificate, ...]:
        return self.identity.chain

    @property
    def key(self) -> PrivateKey:
        return self.identity.key

    @property
    def kind(self) -> str:
        return self.identity.kind

    def describe(self) -> dict:
        return {**self.identity.describe(), "host": self.host, "fits": self.fits, "why": self.why}


def usable_host(server_name: str | None) -> str | None:
    """The SNI host name if a certificate can carry it: printable ASCII without spaces, at most
    253 characters (RFC 1035 §2.3.4); else None."""
    if not server_name or len(server_name) > 253:
        return None
    if not all(0x21 <= ord(ch) <= 0x7E for ch in server_name):
        return None
    return server_name


def choose_identity(facts: HelloFacts, source: IdentitySource, *, address: str,
                    suites: Iterable[CipherSuite] = ALL_SUITES,
                    groups: Iterable[int] = tuple(g.code for g in ALL_GROUPS),
                    prefer: str = "rsa") -> IdentityChoice:
    """The identity to present to this client.

    `address` is the server address the client connected to (the leaf's name when there is no
    usable SNI); `suites` and `groups` are what the server's policy allows; `prefer` is the leaf
    kind to serve when both fit. Pure: the same facts and source give the same choice."""
    host = usable_host(facts.server_name)
    host_note = ""
    if host is None:
        host = address
        host_note = (f"; SNI {facts.server_name!r} cannot be a certificate name, so the leaf names "
                     f"the address {address}" if facts.server_name else
                     f"; no SNI, so the leaf names the address {address}")
    candidates = source.candidates(host)
    if not candidates:
        raise IdentityError("the identity source has no certificate to present")
    suites = tuple(suites)
    groups = tuple(groups)
    judged = [(c, _judge(c, facts, suites, groups)) for c in candidates]

    def rank(item):
        index, (cand, verdict) = item
        return (verdict.fits, verdict.signatures_ok, cand.kind == prefer, -index)

    _, (best, verdict) = max(enumerate(judged), key=rank)
    passed_over = [f"{c.label()}: {v.problem}" for c, v in judged if c is not best and v.problem]
    if verdict.fits:
        reason = f"{verdict.usable} offered suite(s) need an {best.kind.upper()} certificate"
        reason += f" (first {verdict.first_suite})" if verdict.first_suite else ""
        reason += ("; the client lists every chain signature" if verdict.signatures_ok
                   else f"; {verdict.problem}")
        if any(v.fits and v.signatures_ok == verdict.signatures_ok and c.kind != best.kind for c, v in judged):
            reason += f"; {best.kind.upper()} is the preferred kind"
    else:
        reason = f"nothing fits the ClientHello ({verdict.problem}); presenting the first choice anyway"
    why = f"{best.label()}: {reason}{host_note}"
    if passed_over:
        why += "; passed over: " + "; ".join(passed_over)
    return IdentityChoice(best, why, verdict.fits, host)


@dataclass(frozen=True)
class _Verdict:
    fits: bool
    signatures_ok: bool
    usable: int
    first_suite: str | None
    problem: str


def _judge(identity: ServerIdentity, facts: HelloFacts, suites: tuple[CipherSuite, ...],
           groups: tuple[int, ...]) -> _Verdict:
    kind = identity.kind
    offered = set(facts.cipher_suites)
    mine = [s for s in suites if s.code in offered and s.cert_kind == kind and s.allows(facts.version)]
    if not mine:
        return _Verdict(False, False, 0, None, f"no offered suite needs an {kind.upper()} certificate")
    client_groups = facts.supported_groups
    uncompressed = facts.point_formats is None or 0 in facts.point_formats
    if kind == "ecdsa":
        curve = identity.curve_group
        if client_groups is not None and curve not in client_groups:
            return _Verdict(False, False, 0, None, f"the client does not support the leaf's curve "
                                                   f"({key_description(identity.key)})")
        if not uncompressed:
            return _Verdict(False, False, 0, None, "the client lacks uncompressed EC points")
    common_group = any(g in (client_groups if client_groups is not None else (23,)) for g in groups)
    sig_type = SIG_ECDSA if kind == "ecdsa" else SIG_RSA
    can_sign = (facts.version < TLS1_2 or facts.signature_algorithms is None
                or any((h, sig_type) in facts.signature_algorithms for h in SIGNING_HASH_CODES))
    usable = [s for s in mine if not s.is_ecdhe or (common_group and uncompressed and can_sign)]
    if not usable:
        return _Verdict(False, False, 0, None, "its suites need ECDHE, and the client has no common group, "
                                                "no uncompressed points or no signature algorithm for the key")
    bad = [(c, pair) for c, pair in identity.chain_signatures() if not facts.accepts_signature(pair)]
    problem = ""
    if bad:
        cert, pair = bad[0]
        problem = (f"the client's signature_algorithms lack {signature_name(pair)}, which signs "
                   f"{name_text(cert.subject)!r}")
    return _Verdict(True, not bad, len(usable), usable[0].mbedtls, problem)
