"""ECDHE named groups (RFC 8422 §5.1.1, RFC 7748): deterministic ephemeral keys and key agreement."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, x25519

from sim.seed import SeededRandom
from sim.tls.protocol import AlertDescription, TlsAlert


@dataclass(frozen=True)
class NamedGroup:
    code: int
    name: str
    aliases: tuple[str, ...]
    curve: type | None       # cryptography curve class; None for X25519
    order: int | None

    def __str__(self) -> str:
        return self.name


ALL_GROUPS: tuple[NamedGroup, ...] = (
    NamedGroup(23, "secp256r1", ("p-256", "p256", "prime256v1", "secp256r1"), ec.SECP256R1,
               0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551),
    NamedGroup(24, "secp384r1", ("p-384", "p384", "secp384r1"), ec.SECP384R1, int(
        "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973", 16)),
    NamedGroup(25, "secp521r1", ("p-521", "p521", "secp521r1"), ec.SECP521R1, int(
        "01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409", 16)),
    NamedGroup(29, "x25519", ("x25519", "curve25519"), None, None),
)
GROUPS_BY_CODE = {g.code: g for g in ALL_GROUPS}
_GROUP_NAMES = {"secp192r1": 19, "secp224r1": 21, "secp256k1": 22, "brainpoolP256r1": 26,
                "brainpoolP384r1": 27, "brainpoolP512r1": 28, "x448": 30}


def group_by_name(name: str) -> NamedGroup:
    key = name.strip().lower()
    for group in ALL_GROUPS:
        if key in group.aliases or key == group.name:
            return group
    raise ValueError(f"unknown group {name!r}; known groups: " + ", ".join(g.name for g in ALL_GROUPS)
                     + " (aliases P-256, P-384, P-521)")


def group_name(code: int) -> str:
    group = GROUPS_BY_CODE.get(code)
    if group:
        return group.name
    for name, value in _GROUP_NAMES.items():
        if value == code:
            return name
    return f"group_{code}"


class EphemeralKey:
    """One ECDHE key pair from the session's seeded stream."""

    def __init__(self, group: NamedGroup, rng: SeededRandom) -> None:
        self.group = group
        if group.curve is None:
            self._key = x25519.X25519PrivateKey.from_private_bytes(rng.bytes(32))
            self.public_bytes = self._key.public_key().public_bytes_raw()
        else:
            self._key = ec.derive_private_key(1 + rng.randbelow(group.order - 1), group.curve())
            self.public_bytes = self._key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)

    def shared_secret(self, peer_public: bytes) -> bytes:
        """ECDH with the client's point; an invalid point is illegal_parameter (RFC 8422 §5.7)."""
        try:
            if self.group.curve is None:
                if len(peer_public) != 32:
                    raise ValueError("X25519 public key must be 32 bytes")
                return self._key.exchange(x25519.X25519PublicKey.from_public_bytes(peer_public))
            if not peer_public or peer_public[0] != 4:
                raise ValueError("only uncompressed points (0x04) are allowed")
            peer = ec.EllipticCurvePublicKey.from_encoded_point(self.group.curve(), peer_public)
            return self._key.exchange(ec.ECDH(), peer)
        except ValueError as exc:
            raise TlsAlert(AlertDescription.ILLEGAL_PARAMETER,
                           f"client ECDHE public value on {self.group.name} is invalid: {exc}") from None
