"""Trust substitution: replace every CA certificate an image embeds with a same-length look-alike
whose key the peer holds, as a list of writes into the emulated flash.

`substitute_trust(elf_bytes, seed=...)` scans the image (`sim.tls.trust_scan`), makes one
look-alike per distinct certificate (`sim.tls.lookalike`; the same certificate stored twice, say
as DER and as PEM, gets the same look-alike), and returns the patches (load address -> bytes, each
exactly as long as what it overwrites) and the issuers that sign per-name leaves. The ELF file is
only read. Nothing found, a certificate across a section boundary, or one no look-alike can match
in length is a `TrustSubstitutionError` raised before anything boots. The limits are in
docs/server-identity.md.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sim.errors import SimError
from sim.tls.certs import DEFAULT_PKI_SEED, generate_test_pki
from sim.tls.identity import name_text
from sim.tls.lookalike import KeyFactory, Lookalike, LookalikeError, make_lookalike
from sim.tls.sni_leaves import Issuer, SniLeaves
from sim.tls.trust_scan import EmbeddedCert, ScanNote, TrustScan, TrustScanError, scan_elf


class TrustSubstitutionError(SimError):
    """The image's trust store cannot be substituted; the message says what was found and why."""


@dataclass(frozen=True)
class FlashPatch:
    """Bytes to write into the emulated memory after the image is loaded, before reset."""

    load_address: int
    data: bytes
    section: str
    address: int               # the run-time address the firmware reads the bytes at

    def describe(self) -> dict:
        return {"load_address": f"0x{self.load_address:08x}", "address": f"0x{self.address:08x}",
                "section": self.section, "length": len(self.data)}


@dataclass(frozen=True)
class Replacement:
    found: EmbeddedCert
    lookalike: Lookalike
    patch: FlashPatch

    def describe(self) -> dict:
        return {**self.found.describe(), "lookalike_serial": f"{self.lookalike.cert.serial_number:x}",
                "lookalike_sha256": hashlib.sha256(self.lookalike.der).hexdigest()}


@dataclass(frozen=True)
class TrustSubstitution:
    image: str
    replacements: tuple[Replacement, ...]
    skipped: tuple[ScanNote, ...]

    @property
    def patches(self) -> list[FlashPatch]:
        return [r.patch for r in self.replacements]

    @property
    def issuers(self) -> list[Issuer]:
        """One issuer per distinct look-alike, in address order of first appearance."""
        seen: dict[bytes, Issuer] = {}
        for r in self.replacements:
            if r.lookalike.der not in seen:
                seen[r.lookalike.der] = Issuer(r.lookalike.cert, r.lookalike.key,
                                               f"look-alike of {name_text(r.lookalike.cert.subject)}")
        return list(seen.values())

    def identities(self, at: datetime, seed: str, pki_seed: str = DEFAULT_PKI_SEED) -> SniLeaves:
        """Per-name leaves (the test PKI's RSA and ECDSA leaf keys) under every look-alike."""
        pki = generate_test_pki(pki_seed)
        return SniLeaves(self.issuers, {"rsa": pki.rsa_key, "ecdsa": pki.ecdsa_key}, at=at, seed=seed,
                         source="substituted")

    def describe(self) -> dict:
        return {"image": self.image,
                "replaced": [r.describe() for r in self.replacements],
                "skipped": [n.describe() for n in self.skipped]}

    def summary_lines(self) -> list[str]:
        """One console line per replaced certificate."""
        return [f"substituted {r.found.format.upper()} CA {r.found.subject!r} at 0x{r.found.address:08x} "
                f"({r.found.section}, {r.found.length} bytes, flash 0x{r.found.load_address:08x})"
                for r in self.replacements]


def substitute_trust_file(path: str | Path, *, seed: str, key_factory: KeyFactory | None = None) -> TrustSubstitution:
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise TrustSubstitutionError(f"firmware image {path} does not exist") from None
    except IsADirectoryError:
        raise TrustSubstitutionError(f"firmware image {path} is a directory: give the .elf file") from None
    return substitute_trust(data, seed=seed, image=str(path), key_factory=key_factory)


def substitute_trust(elf: bytes, *, seed: str, image: str = "image",
                     key_factory: KeyFactory | None = None) -> TrustSubstitution:
    try:
        scan = scan_elf(elf, image)
    except TrustScanError as exc:
        raise TrustSubstitutionError(f"--substitute-trust: {exc}") from None
    _check_scan(scan)
    made: dict[bytes, Lookalike] = {}
    replacements = []
    for found in scan.found:
        lookalike = made.get(found.der)
        if lookalike is None:
            try:
                lookalike = make_lookalike(found.der, seed=seed, key_factory=key_factory)
            except LookalikeError as exc:
                raise TrustSubstitutionError(
                    f"--substitute-trust: the {found.format.upper()} CA at 0x{found.address:08x} ({found.section}) "
                    f"in {image} cannot be replaced: {exc}") from None
            made[found.der] = lookalike
        data = lookalike.encode_like(found.encoded)
        if len(data) != found.length:           # the look-alike module promises this; never write past
            raise TrustSubstitutionError(f"look-alike of {found.subject!r} is {len(data)} bytes, "
                                         f"the original {found.length}")
        replacements.append(Replacement(found, lookalike,
                                        FlashPatch(found.load_address, data, found.section, found.address)))
    return TrustSubstitution(image, tuple(replacements), scan.skipped)


def _check_scan(scan: TrustScan) -> None:
    if scan.refused:
        lines = "; ".join(f"{n.format.upper()} at 0x{n.address:08x}"
                          + (f" ({n.subject})" if n.subject else "") + f": {n.reason}" for n in scan.refused)
        raise TrustSubstitutionError(f"--substitute-trust: {scan.image} holds a certificate that cannot be "
                                     f"replaced: {lines}")
    if not scan.found:
        seen = "; ".join(f"{n.format.upper()} at 0x{n.address:08x}: {n.reason}" for n in scan.skipped)
        raise TrustSubstitutionError(
            f"--substitute-trust: no CA certificate in the loadable sections of {scan.image} "
            f"({', '.join(scan.sections)}), neither DER nor PEM as Mbed TLS parses it"
            + (f" (seen but not usable: {seen})" if seen else "")
            + ". The image may keep its trust store compressed, encrypted or in external flash, or it "
              "may not verify the server at all; without --substitute-trust, serve a chain it trusts "
              "(--server-cert/--server-key)")
