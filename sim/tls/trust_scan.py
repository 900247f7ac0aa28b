"""Find the X.509 CA certificates a firmware image carries in its loadable sections.

Two encodings are recognised, as `mbedtls_x509_crt_parse` reads them (mbedtls/library/x509_crt.c,
pem.c, base64.c):

- DER: a SEQUENCE whose first element is the TBSCertificate SEQUENCE (RFC 5280 §4.1), its length
  taken from the outer header; a candidate counts once `cryptography` parses it.
- PEM: '-----BEGIN CERTIFICATE-----', an optional space and CR, a required LF, base64 lines
  (any length, LF or CRLF, spaces only before a line end), '-----END CERTIFICATE-----', inside a
  C string: Mbed TLS takes a buffer as PEM only when its last byte is NUL, so a block must be
  followed by a NUL with nothing but text in between. Several blocks before one NUL are a bundle.

Only sections that occupy flash or RAM contents at load time are read (SHF_ALLOC with file
contents inside a PT_LOAD segment); each find reports its run-time address, its load address (the
flash byte to patch; they differ for .data) and its section. A certificate whose bytes run over
the end of its section is refused with a message: the image was linked in a way the substitution
does not handle. Certificates that are not CAs (a client certificate, a pinned server
certificate) are listed as skipped with the reason.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from elftools.common.exceptions import ELFError
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from sim.errors import SimError
from sim.tls.identity import key_description
from sim.tls.x509_compat import load_der_certificate

PEM_BEGIN = b"-----BEGIN CERTIFICATE-----"
PEM_END = b"-----END CERTIFICATE-----"
# outer SEQUENCE (long-form length), TBSCertificate SEQUENCE (long-form length), then the explicit
# [0] version (v1..v3) or, for a v1 certificate without it, the serialNumber INTEGER (RFC 5280 §4.1)
_DER_START = re.compile(
    rb"\x30(?:\x81[\x80-\xff]|\x82[\x01-\xff].|\x83[\x01-\xff]..)"
    rb"\x30(?:\x81[\x80-\xff]|\x82[\x01-\xff].|\x83[\x01-\xff]..)"
    rb"(?:\xa0\x03\x02\x01[\x00-\x02]|\x02)", re.DOTALL)
_TEXT = frozenset(range(0x20, 0x7F)) | {0x09, 0x0A, 0x0D}


class TrustScanError(SimError):
    """The image cannot be scanned (not an ELF, no loadable sections); the message says why."""


@dataclass(frozen=True)
class LoadedSection:
    name: str
    address: int               # run-time address (VMA)
    load_address: int          # where its bytes sit in the image's memory at load (LMA)
    data: bytes

    @property
    def end(self) -> int:
        return self.address + len(self.data)


@dataclass(frozen=True)
class EmbeddedCert:
    """One certificate as the image holds it."""

    format: str                # "der" | "pem"
    section: str
    address: int               # run-time address of the first byte
    load_address: int          # flash address of the first byte (patch here)
    encoded: bytes             # the bytes exactly as in the image: DER, or PEM from BEGIN to END
    der: bytes
    cert: x509.Certificate
    line_ending: str | None = None     # PEM: "lf" | "crlf"
    bundle_index: int = 0              # PEM: position among the blocks before the same NUL
    bundle_size: int = 1

    @property
    def length(self) -> int:
        return len(self.encoded)

    @property
    def subject(self) -> str:
        return self.cert.subject.rfc4514_string()

    def describe(self) -> dict:
        out = {
            "format": self.format, "section": self.section,
            "address": f"0x{self.address:08x}", "load_address": f"0x{self.load_address:08x}",
            "length": self.length, "der_length": len(self.der),
            "subject": self.subject, "issuer": self.cert.issuer.rfc4514_string(),
            "key": key_description(self.cert.public_key()),
            "not_before": self.cert.not_valid_before_utc.isoformat().replace("+00:00", "Z"),
            "not_after": self.cert.not_valid_after_utc.isoformat().replace("+00:00", "Z"),
            "sha256": hashlib.sha256(self.der).hexdigest(),
        }
        if self.format == "pem":
            out.update(line_ending=self.line_ending, bundle_index=self.bundle_index, bundle_size=self.bundle_size)
        return out


@dataclass(frozen=True)
class ScanNote:
    """A certificate that was seen but is not substituted, and why."""

    format: str
    section: str
    address: int
    reason: str
    subject: str | None = None

    def describe(self) -> dict:
        out = {"format": self.format, "section": self.section, "address": f"0x{self.address:08x}",
               "reason": self.reason}
        if self.subject is not None:
            out["subject"] = self.subject
        return out


@dataclass(frozen=True)
class TrustScan:
    image: str
    sections: tuple[str, ...]          # the sections that were read
    found: tuple[EmbeddedCert, ...]    # CA certificates, in address order
    skipped: tuple[ScanNote, ...]      # certificates that are not CAs, or PEM Mbed TLS would not read
    refused: tuple[ScanNote, ...]      # certificates across a section boundary

    def describe(self) -> dict:
        return {"image": self.image, "sections": list(self.sections),
                "found": [c.describe() for c in self.found],
                "skipped": [n.describe() for n in self.skipped],
                "refused": [n.describe() for n in self.refused]}


def scan_elf_file(path: str | Path) -> TrustScan:
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise TrustScanError(f"firmware image {path} does not exist") from None
    except IsADirectoryError:
        raise TrustScanError(f"firmware image {path} is a directory: give the .elf file") from None
    return scan_elf(data, str(path))


def scan_elf(data: bytes, image: str = "image") -> TrustScan:
    sections = loadable_sections(data, image)
    memory = _Memory(sections)
    found: list[EmbeddedCert] = []
    skipped: list[ScanNote] = []
    refused: list[ScanNote] = []
    for section in sections:
        for item in _scan_pem(section, memory) + _scan_der(section, memory):
            if isinstance(item, EmbeddedCert):
                reason = not_a_ca(item.cert)
                if reason is None:
                    found.append(item)
                else:
                    skipped.append(ScanNote(item.format, item.section, item.address, reason, item.subject))
            elif item.reason.startswith("crosses"):
                refused.append(item)
            else:
                skipped.append(item)
    found.sort(key=lambda c: c.address)
    return TrustScan(image, tuple(s.name for s in sections), tuple(found), tuple(skipped), tuple(refused))


def loadable_sections(data: bytes, image: str = "image") -> list[LoadedSection]:
    """Sections whose bytes the image loads (SHF_ALLOC, not NOBITS, inside a PT_LOAD segment)."""
    if data[:4] != b"\x7fELF":
        raise TrustScanError(f"{image} is not an ELF file (no \\x7fELF magic): give the firmware .elf, "
                             f"not a .bin or .hex")
    try:
        elf = ELFFile(io.BytesIO(data))
        segments = [s for s in elf.iter_segments() if s["p_type"] == "PT_LOAD" and s["p_filesz"]]
        out = []
        for sec in elf.iter_sections():
            if not sec["sh_flags"] & SH_FLAGS.SHF_ALLOC or sec["sh_type"] == "SHT_NOBITS" or not sec["sh_size"]:
                continue
            seg = next((s for s in segments
                        if s["p_offset"] <= sec["sh_offset"] < s["p_offset"] + s["p_filesz"]), None)
            if seg is None:
                continue
            out.append(LoadedSection(sec.name, sec["sh_addr"], seg["p_paddr"] + sec["sh_offset"] - seg["p_offset"],
                                     sec.data()))
    except ELFError as exc:
        raise TrustScanError(f"{image} is not a valid ELF file: {exc}") from None
    if not out:
        raise TrustScanError(f"{image} has no loadable sections with contents (is it a relocatable "
                             f"object rather than a linked image?)")
    return sorted(out, key=lambda s: s.address)


def not_a_ca(cert: x509.Certificate) -> str | None:
    """None for a certificate Mbed TLS may use as a trust anchor that issues others: cA=TRUE, or a
    v1 certificate (x509_crt_check_parent waives the CA bit for trusted v1/v2 roots)."""
    try:
        if cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            return None
    except x509.ExtensionNotFound:
        if cert.version == x509.Version.v1:
            return None
        return ("not a CA (v3 without basicConstraints): a client certificate or a pinned server "
                "certificate, which a look-alike root cannot stand in for")
    return ("not a CA (basicConstraints cA=FALSE): a client certificate or a pinned server "
            "certificate, which a look-alike root cannot stand in for")


class _Memory:
    """The loaded sections by run-time address; reads run on across sections that touch."""

    def __init__(self, sections: list[LoadedSection]) -> None:
        self.sections = sections

    def read_from(self, section: LoadedSection, offset: int, limit: int) -> bytes:
        """Up to `limit` bytes from `section` + `offset`, continuing into the sections that follow
        without a gap."""
        out = bytearray(section.data[offset:offset + limit])
        end = section.end
        for nxt in self.sections:
            if len(out) >= limit:
                break
            if nxt.address == end and nxt is not section:
                out += nxt.data[:limit - len(out)]
                end = nxt.end
        return bytes(out)

    def section_at(self, address: int) -> LoadedSection | None:
        return next((s for s in self.sections if s.address <= address < s.end), None)


def _parse_der(blob: bytes) -> x509.Certificate | None:
    try:
        cert = load_der_certificate(blob)       # also the ECDSA-with-NULL-parameters roots Mbed TLS reads
        cert.subject, cert.issuer, cert.public_key()      # parsed lazily: touch what we report
        list(cert.extensions)
        return cert
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None


def _der_total_length(buf: bytes) -> int | None:
    """Header plus contents of the DER element at buf[0] (long-form length only)."""
    if len(buf) < 2 or not buf[1] & 0x80:
        return None
    n = buf[1] & 0x7F
    if not 1 <= n <= 3 or len(buf) < 2 + n:
        return None
    return 2 + n + int.from_bytes(buf[2:2 + n], "big")


def _scan_der(section: LoadedSection, memory: _Memory) -> list:
    out: list = []
    pos = 0
    data = section.data
    while True:
        m = _DER_START.search(data, pos)
        if m is None:
            return out
        start = m.start()
        total = _der_total_length(data[start:start + 6])
        if total is None:
            pos = start + 1
            continue
        blob = memory.read_from(section, start, total)
        cert = _parse_der(blob) if len(blob) == total else None
        if cert is None:
            pos = start + 1
            continue
        address = section.address + start
        if start + total > len(data):
            out.append(_crossing("der", section, address, total, memory, cert))
        else:
            out.append(EmbeddedCert("der", section.name, address, section.load_address + start,
                                    data[start:start + total], blob, cert))
        pos = start + total


def _crossing(fmt: str, section: LoadedSection, address: int, length: int, memory: _Memory,
              cert: x509.Certificate | None) -> ScanNote:
    nxt = memory.section_at(section.end)
    return ScanNote(fmt, section.name, address,
                    f"crosses the boundary between {section.name} and {nxt.name if nxt else 'the next section'} "
                    f"at 0x{section.end:08x} ({length} bytes from 0x{address:08x}): a certificate split over "
                    f"two sections is not substituted; keep each CA in one object (one array or string)",
                    cert.subject.rfc4514_string() if cert is not None else None)


def _scan_pem(section: LoadedSection, memory: _Memory) -> list:
    out: list = []
    blocks: list[tuple[EmbeddedCert, int]] = []     # with the address of the NUL that ends them
    data = section.data
    pos = 0
    while True:
        start = data.find(PEM_BEGIN, pos)
        if start < 0:
            break
        # the C string from BEGIN on, up to its NUL (which may lie beyond this section)
        text = memory.read_from(section, start, 1 << 20)
        nul = text.find(b"\0")
        string = text if nul < 0 else text[:nul]
        block = _pem_block(string)
        if block is None:                    # a bare header (Mbed TLS's own strings) or no footer
            pos = start + len(PEM_BEGIN)
            continue
        span, body = block
        pos = start + span
        address = section.address + start
        der = _mbedtls_base64(body)
        cert = _parse_der(der) if der is not None else None
        if start + span > len(data):
            out.append(_crossing("pem", section, address, span, memory, cert))
        elif cert is None:
            out.append(ScanNote("pem", section.name, address,
                                "PEM block whose base64 does not decode to an X.509 certificate "
                                "as Mbed TLS reads it (mbedtls/library/base64.c)"))
        elif nul < 0 or not all(b in _TEXT for b in string[span:]):
            out.append(ScanNote("pem", section.name, address,
                                "PEM text not ended by a NUL: mbedtls_x509_crt_parse reads a buffer as PEM "
                                "only if its last byte is NUL (library/x509_crt.c), so the image cannot load "
                                "it as PEM", cert.subject.rfc4514_string()))
        else:
            blocks.append((EmbeddedCert("pem", section.name, address, section.load_address + start,
                                        bytes(data[start:start + span]), der, cert,
                                        "crlf" if b"\r\n" in body else "lf"), address + nul))
    for end in dict.fromkeys(nul for _, nul in blocks):
        bundle = [c for c, nul in blocks if nul == end]
        out += [_bundled(c, i, len(bundle)) for i, c in enumerate(bundle)]
    return out


def _bundled(cert: EmbeddedCert, index: int, size: int) -> EmbeddedCert:
    return EmbeddedCert(cert.format, cert.section, cert.address, cert.load_address, cert.encoded, cert.der,
                        cert.cert, cert.line_ending, index, size)


def _pem_block(string: bytes) -> tuple[int, bytes] | None:
    """(length from BEGIN to the end of END, base64 body) for the block at string[0], following
    mbedtls_pem_read_buffer: after the header an optional space, an optional CR, a required LF."""
    s1 = len(PEM_BEGIN)
    if string[s1:s1 + 1] == b" ":
        s1 += 1
    if string[s1:s1 + 1] == b"\r":
        s1 += 1
    if string[s1:s1 + 1] != b"\n":
        return None
    s1 += 1
    s2 = string.find(PEM_END, s1)
    if s2 < 0:
        return None
    return s2 + len(PEM_END), string[s1:s2]


def _mbedtls_base64(body: bytes) -> bytes | None:
    """Decode as mbedtls_base64_decode accepts: LF or CRLF line ends, spaces only before a line end,
    at most two '=' and only at the end; None for anything it rejects."""
    lines = body.split(b"\n")
    for i, line in enumerate(lines):
        if line.endswith(b"\r") and i < len(lines) - 1:
            line = line[:-1]                  # CR counts only as part of CRLF
        if b" " in line.rstrip(b" ") or b"\r" in line:
            return None                       # a space inside a line, or a lone CR
    compact = re.sub(rb"[ \r\n]", b"", body)
    if not re.fullmatch(rb"[A-Za-z0-9+/]*={0,2}", compact):
        return None
    try:
        return base64.b64decode(compact, validate=True)
    except ValueError:
        return None
