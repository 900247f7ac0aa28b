"""Finding the CA certificates an image embeds (DER, PEM as Mbed TLS parses it, bundles, .data
copies) in images linked with the ARM cross toolchain and in the reference firmware, and replacing
them in a copy of flash with look-alikes that Mbed TLS 2.28 then trusts, without touching the ELF."""

from __future__ import annotations

import datetime
import hashlib
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from identitykit import UTC, build_elf, build_x509_check, der, leaf_for, mbedtls_verdict, pem_text, symbols

from sim.errors import SimError
from sim.scenario import FIRMWARE_DIR
from sim.tls.certs import SERVER_NAME, generate_test_pki
from sim.tls.trust_scan import TrustScanError, scan_elf, scan_elf_file
from sim.tls.trust_substitution import TrustSubstitutionError, substitute_trust, substitute_trust_file

AT = datetime.datetime(2025, 6, 1, tzinfo=UTC)
FLASH = 0x08000000

LINKER_SCRIPT = """
MEMORY { FLASH (rx) : ORIGIN = 0x08000000, LENGTH = 1M
         RAM (rwx)  : ORIGIN = 0x20000000, LENGTH = 128K }
ENTRY(reset)
SECTIONS {
  .text   : { KEEP(*(.text*)) } > FLASH
  .rodata : { *(.rodata*) } > FLASH
  .ca_a   : { KEEP(*(.ca_a)) } > FLASH
  .ca_b   : { KEEP(*(.ca_b)) } > FLASH
  .ca_c   : { KEEP(*(.ca_c)) } > FLASH
  .ca_d   : { KEEP(*(.ca_d)) } > FLASH
  .data   : { *(.data*) } > RAM AT > FLASH
}
"""


def _root(name: str, key, path_length=None) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "scan test"),
                         x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
               .public_key(key.public_key()).serial_number(abs(hash(name)) % 10**12 + 1)
               .not_valid_before(datetime.datetime(2020, 1, 1, tzinfo=UTC))
               .not_valid_after(datetime.datetime(2040, 1, 1, tzinfo=UTC))
               .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    return builder.sign(key, hashes.SHA256())


@pytest.fixture(scope="module")
def roots():
    rsa_key = rsa.generate_private_key(65537, 2048)
    p256 = ec.generate_private_key(ec.SECP256R1())
    p384 = ec.generate_private_key(ec.SECP384R1())
    out = {
        "der": _root("DER root", rsa_key),
        "pem_crlf": _root("PEM CRLF root", p384),
        "pem_lf": _root("PEM LF root", p256),
        "ram": _root("RAM root", p256),
        "split": _root("split root", p384),
        "split_pem": _root("split PEM root", p256),
        "no_nul": _root("unterminated PEM root", p256),
    }
    out["client"] = leaf_for(out["der"], rsa_key, "client.example")[0]
    return out


def _image(tmp: Path, roots, *, split: bool) -> Path:
    bundle = pem_text(roots["pem_crlf"], b"\r\n") + pem_text(roots["pem_lf"], b"\n")
    split_der = der(roots["split"])
    split_pem = pem_text(roots["split_pem"])
    files = {"der_root.der": der(roots["der"]), "bundle.pem": bundle, "ram_root.der": der(roots["ram"]),
             "client.der": der(roots["client"]), "no_nul.pem": pem_text(roots["no_nul"]),
             "split_a.bin": split_der[:300], "split_b.bin": split_der[300:],
             "split_c.bin": split_pem[:500], "split_d.bin": split_pem[500:] + b"\0"}
    split_asm = """
        .section .ca_a,"a"
        .p2align 0
    split_root: .incbin "split_a.bin"
        .section .ca_b,"a"
        .p2align 0
        .incbin "split_b.bin"
        .section .ca_c,"a"
        .p2align 0
    split_pem: .incbin "split_c.bin"
        .section .ca_d,"a"
        .p2align 0
        .incbin "split_d.bin"
    """ if split else ""
    asm = f"""
        .syntax unified
        .thumb
        .section .text
        .global reset
        .type reset, %function
    reset: b reset
        .section .rodata
        .p2align 2
    der_root: .incbin "der_root.der"
    pem_bundle: .incbin "bundle.pem"
        .byte 0
    client_cert: .incbin "client.der"
        .asciz "-----BEGIN CERTIFICATE-----"
        .asciz "-----END CERTIFICATE-----"
    junk: .byte 0x30,0x82,0x01,0x00,0x30,0x82,0x00,0xf0,0xa0,0x03,0x02,0x01,0x02
        .space 16
    no_nul: .incbin "no_nul.pem"
        .byte 0xff, 0xfe, 0
        .section .data
    ram_root: .incbin "ram_root.der"
        .section .certcopy, ""
        .incbin "der_root.der"
    {split_asm}
    """
    return build_elf(tmp, asm, LINKER_SCRIPT, files)


def _lma(elf: Path, section: str) -> tuple[int, int]:
    """(VMA, LMA) of a section as objdump -h prints them."""
    run = subprocess.run(["arm-none-eabi-objdump", "-h", str(elf)], capture_output=True, text=True, timeout=60)
    for line in run.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 6 and parts[1] == section:
            return int(parts[3], 16), int(parts[4], 16)
    raise AssertionError(f"no section {section} in objdump -h")


def _flash(elf: Path) -> bytes:
    """The flash contents (every loaded byte at its load address) as objcopy lays them out."""
    out = elf.with_suffix(".bin")
    run = subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", str(elf), str(out)], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return out.read_bytes()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_der_pem_bundle_and_data_copies_are_found_where_the_linker_put_them(tmp_path, roots):
    elf = _image(tmp_path, roots, split=False)
    sym = symbols(elf)
    scan = scan_elf_file(elf)
    by_subject = {c.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value: c for c in scan.found}
    assert sorted(by_subject) == ["DER root", "PEM CRLF root", "PEM LF root", "RAM root"]

    d = by_subject["DER root"]
    assert (d.format, d.section, d.address, d.load_address) == ("der", ".rodata", sym["der_root"][0], sym["der_root"][0])
    assert d.encoded == der(roots["der"]) and d.length == len(der(roots["der"]))

    bundle = pem_text(roots["pem_crlf"], b"\r\n") + pem_text(roots["pem_lf"], b"\n")
    first, second = by_subject["PEM CRLF root"], by_subject["PEM LF root"]
    assert first.address == sym["pem_bundle"][0]
    assert second.address == sym["pem_bundle"][0] + bundle.index(b"-----BEGIN", 1)
    assert (first.line_ending, second.line_ending) == ("crlf", "lf")
    assert (first.bundle_index, second.bundle_index, first.bundle_size, second.bundle_size) == (0, 1, 2, 2)
    assert first.encoded == pem_text(roots["pem_crlf"], b"\r\n").rstrip(b"\r\n")
    assert first.der == der(roots["pem_crlf"]) and second.der == der(roots["pem_lf"])

    ram = by_subject["RAM root"]
    vma, lma = _lma(elf, ".data")
    assert ram.section == ".data" and ram.address == sym["ram_root"][0] == vma
    assert ram.load_address == lma and lma < 0x08100000          # the copy in flash, not RAM

    assert any("client.example" in (n.subject or "") and "not a CA" in n.reason for n in scan.skipped), scan.skipped
    assert any("unterminated PEM root" in (n.subject or "") and "NUL" in n.reason for n in scan.skipped), scan.skipped
    assert not scan.refused
    assert ".certcopy" not in scan.sections                      # not loaded: never reported


def test_a_certificate_split_over_two_sections_is_refused_with_a_message(tmp_path, roots):
    elf = _image(tmp_path, roots, split=True)
    sym = symbols(elf)
    before = _digest(elf)
    scan = scan_elf_file(elf)
    refused = {n.format: n for n in scan.refused}
    assert set(refused) == {"der", "pem"}
    assert refused["der"].address == sym["split_root"][0] and refused["pem"].address == sym["split_pem"][0]
    assert "crosses the boundary between .ca_a and .ca_b" in refused["der"].reason
    assert "crosses the boundary between .ca_c and .ca_d" in refused["pem"].reason
    assert "split root" in refused["der"].subject
    with pytest.raises(TrustSubstitutionError) as err:
        substitute_trust_file(elf, seed="split")
    assert isinstance(err.value, SimError)
    assert "crosses the boundary between .ca_a and .ca_b" in str(err.value) and str(elf) in str(err.value)
    assert _digest(elf) == before


def test_substitution_patches_a_copy_of_flash_and_mbedtls_then_trusts_leaves_of_the_lookalikes(tmp_path, roots):
    elf = _image(tmp_path, roots, split=False)
    before = _digest(elf)
    sym = symbols(elf)
    original_flash = _flash(elf)
    sub = substitute_trust_file(elf, seed="patch test")
    assert _digest(elf) == before                                # the ELF on disk is never touched

    flash = bytearray(original_flash)
    for p in sub.patches:
        start = p.load_address - FLASH
        assert flash[start:start + len(p.data)] != p.data
        flash[start:start + len(p.data)] = p.data
    assert len(flash) == len(original_flash)
    changed = [i for i in range(len(flash)) if flash[i] != original_flash[i]]
    assert all(any(p.load_address - FLASH <= i < p.load_address - FLASH + len(p.data) for p in sub.patches)
               for i in changed)

    # Mbed TLS reads the patched bytes exactly as the firmware would: the DER array, the PEM
    # bundle string with its NUL, the .data copy from its load address
    checker = build_x509_check()
    identities = sub.identities(AT, seed="patch test")
    rodata_vma, rodata_lma = _lma(elf, ".rodata")
    _, data_lma = _lma(elf, ".data")
    stores = {
        "DER root": (sym["der_root"][0] - rodata_vma + rodata_lma, len(der(roots["der"]))),
        "PEM CRLF root": (sym["pem_bundle"][0] - rodata_vma + rodata_lma,
                          len(pem_text(roots["pem_crlf"], b"\r\n") + pem_text(roots["pem_lf"])) + 1),
        "RAM root": (data_lma, len(der(roots["ram"]))),
    }
    stores["PEM LF root"] = stores["PEM CRLF root"]
    for issuer_index, issuer in enumerate(identities.issuers):
        cn = issuer.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        address, size = stores[cn]
        for kind in ("rsa", "ecdsa"):
            leaf = identities.leaf(SERVER_NAME, kind, issuer_index)
            patched = bytes(flash[address - FLASH:address - FLASH + size])
            original = original_flash[address - FLASH:address - FLASH + size]
            ok = mbedtls_verdict(checker, tmp_path / f"{cn}-{kind}", patched, leaf, SERVER_NAME, AT)
            assert ok == {"parse": 0, "verify": 0, "flags": 0}, (cn, kind)
            wrong_host = mbedtls_verdict(checker, tmp_path / f"{cn}-{kind}-h", patched, leaf, "other.test", AT)
            assert wrong_host["flags"] == 0x04, (cn, kind)              # CN_MISMATCH: SAN is the SNI name
            before_patch = mbedtls_verdict(checker, tmp_path / f"{cn}-{kind}-o", original, leaf, SERVER_NAME, AT)
            assert before_patch["parse"] == 0 and before_patch["flags"] & 0x08, (cn, kind)   # NOT_TRUSTED
    report = sub.describe()
    assert {r["subject"].split(",")[0] for r in report["replaced"]} == {
        "CN=DER root", "CN=PEM CRLF root", "CN=PEM LF root", "CN=RAM root"}
    assert all(line.startswith("substituted ") for line in sub.summary_lines())


def test_the_reference_image_embeds_the_test_ca_as_pem_at_test_ca_pem(tmp_path):
    elf = FIRMWARE_DIR / "fixed.elf"
    assert elf.is_file(), f"{elf} is missing: run scripts/setup"
    before = _digest(elf)
    address, size = symbols(elf)["test_ca_pem"]
    pki = generate_test_pki()
    scan = scan_elf_file(elf)
    assert len(scan.found) == 1 and not scan.refused
    [ca] = scan.found
    assert (ca.format, ca.section, ca.address, ca.load_address) == ("pem", ".text", address, address)
    assert ca.der == der(pki.ca_cert) and ca.line_ending == "lf"
    assert ca.length == len(pki.ca_pem().rstrip(b"\n")) and size == len(pki.ca_pem()) + 1   # + the NUL

    sub = substitute_trust_file(elf, seed="reference")
    assert _digest(elf) == before
    [patch] = sub.patches
    assert patch.load_address == address and len(patch.data) == ca.length
    with open(elf, "rb") as f:
        raw = f.read()
    start = raw.index(pki.ca_pem()[:64])
    original = raw[start:start + size]
    patched = patch.data + original[len(patch.data):]
    leaf = sub.identities(AT, seed="reference").leaf(SERVER_NAME, "rsa")
    checker = build_x509_check()
    accepted = mbedtls_verdict(checker, tmp_path / "patched", patched, leaf, SERVER_NAME, AT)
    assert accepted == {"parse": 0, "verify": 0, "flags": 0}
    assert mbedtls_verdict(checker, tmp_path / "original", original, leaf, SERVER_NAME, AT)["flags"] & 0x08


def test_bad_images_are_typed_errors(tmp_path):
    with pytest.raises(TrustScanError, match="not an ELF file"):
        scan_elf(b"not an elf at all", "x.bin")
    with pytest.raises(TrustSubstitutionError, match="does not exist"):
        substitute_trust_file(tmp_path / "missing.elf", seed="x")
    elf = build_elf(tmp_path / "plain", """
        .syntax unified
        .thumb
        .section .text
        .global reset
    reset: b reset
        .section .rodata
        .asciz "-----BEGIN CERTIFICATE-----"
    """, LINKER_SCRIPT)
    with pytest.raises(TrustSubstitutionError) as err:
        substitute_trust(elf.read_bytes(), seed="x", image="plain.elf")
    message = str(err.value)
    assert "no CA certificate" in message and "plain.elf" in message
    assert "compressed, encrypted or in external flash" in message and "--server-cert" in message
