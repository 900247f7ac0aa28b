"""Every bad input a careless or unlucky user gives `python -m sim boot|run` ends the same way:
exit status 2 and one line on stderr, `error: <message>`, that names what was wrong and what to
do instead - never a traceback, and for `run` never after the firmware started (nothing runs only
to lose its result)."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import clikit
import pytest

from sim.platform import DEFAULT_REPL
from sim.scenario import FIRMWARE_DIR

ROOT = Path(__file__).resolve().parents[2]
FIXED = FIRMWARE_DIR / "fixed.elf"


def sim(*args, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def assert_refused(p: subprocess.CompletedProcess, *names: str) -> str:
    """Refused before any run: no verdict, no boot."""
    line = clikit.assert_refused(p, *names)
    assert "verdict" not in p.stdout and "booted" not in p.stderr
    return line


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> dict[str, Path]:
    assert FIXED.exists(), f"{FIXED} is missing: run scripts/setup"
    d = tmp_path_factory.mktemp("bad")
    elf = FIXED.read_bytes()
    out = {"dir": d / "a-directory"}
    out["dir"].mkdir()
    out["truncated"] = d / "truncated.elf"
    out["truncated"].write_bytes(elf[:2000])                 # section headers past the end of the file
    # e_shoff (ELF32 header offset 0x20) pointed into the middle of the program bytes
    corrupt = bytearray(elf)
    struct.pack_into("<I", corrupt, 0x20, 0x3F)
    struct.pack_into("<H", corrupt, 0x30, 0x7FFF)           # e_shnum: far more headers than fit
    out["corrupt"] = d / "corrupt-sections.elf"
    out["corrupt"].write_bytes(bytes(corrupt))
    # every loadable segment moved to 0x90000000, where the platform maps nothing
    moved = bytearray(elf)
    phoff, = struct.unpack_from("<I", moved, 0x1C)
    phentsize, phnum = struct.unpack_from("<HH", moved, 0x2A)
    for i in range(phnum):
        at = phoff + i * phentsize
        if struct.unpack_from("<I", moved, at)[0] == 1:                          # PT_LOAD
            vaddr, paddr = struct.unpack_from("<II", moved, at + 8)
            struct.pack_into("<II", moved, at + 8, 0x9000_0000 + (vaddr & 0xFFFFF), 0x9000_0000 + (paddr & 0xFFFFF))
    out["outside"] = d / "outside-map.elf"
    out["outside"].write_bytes(bytes(moved))
    repl = DEFAULT_REPL.read_text()
    out["syntax"] = d / "syntax.repl"
    out["syntax"].write_text("flash: Memory.MappedMemory @ sysbus 0x08000000\n    size 0x100000\n")
    out["huge"] = d / "huge-memory.repl"
    # 4 GiB from address 0: inside the 32-bit space, so only the overlap with flash and RAM refuses it
    out["huge"].write_text(repl + "\nhuge: Memory.MappedMemory @ sysbus 0x0\n    size: 0x100000000\n")
    out["mips0"] = d / "mips0.repl"
    assert "PerformanceInMips: 168" in repl
    out["mips0"].write_text(repl.replace("PerformanceInMips: 168", "PerformanceInMips: 0"))
    out["file"] = d / "a-file"
    out["file"].write_text("not a directory\n")
    return out


def run(tmp_path, *args):
    """`run` with a quick GET; `args` replace or add to the defaults."""
    base = {"--get": "/hello", "--out": str(tmp_path / "out")}
    extra = list(args)
    for flag in list(base):
        if flag in extra or (flag == "--get" and "--post" in extra):
            del base[flag]
    return sim("run", *[x for kv in base.items() for x in kv], *extra)


# --- firmware images -----------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["boot", "run"])
@pytest.mark.parametrize("image", ["truncated", "corrupt"])
def test_a_damaged_elf(images, tmp_path, command, image):
    path = images[image]
    p = sim("boot", path) if command == "boot" else run(tmp_path, "--firmware", path)
    assert_refused(p, path.name)


@pytest.mark.parametrize("command", ["boot", "run"])
def test_an_elf_linked_outside_the_memory_map(images, tmp_path, command):
    path = images["outside"]
    p = sim("boot", path) if command == "boot" else run(tmp_path, "--firmware", path)
    assert_refused(p, "0x90000000", "memory")                    # where it is linked, and the map


@pytest.mark.parametrize("command", ["boot", "run"])
def test_a_directory_as_firmware(images, tmp_path, command):
    p = sim("boot", images["dir"]) if command == "boot" else run(tmp_path, "--firmware", images["dir"])
    line = assert_refused(p, "a-directory")
    assert "directory" in line and "ELF" in line


# --- platform files ------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["boot", "run"])
def test_a_directory_as_platform_file(images, tmp_path, command):
    args = ("--repl", images["dir"])
    p = sim("boot", FIXED, *args) if command == "boot" else run(tmp_path, *args)
    line = assert_refused(p, "a-directory")
    assert "is a directory" in line and ".repl" in line


def test_run_with_a_missing_platform_file(tmp_path):
    line = assert_refused(run(tmp_path, "--repl", tmp_path / "nope.repl"), "nope.repl")
    assert "does not exist" in line


def test_run_with_a_malformed_platform_file(images, tmp_path):
    assert_refused(run(tmp_path, "--repl", images["syntax"]), f"{images['syntax']}:2:10: expected ':' after attribute size")


@pytest.mark.parametrize("command", ["boot", "run"])
def test_a_platform_memory_of_4_gib_overlapping_the_rest(images, tmp_path, command):
    args = ("--repl", images["huge"])
    p = sim("boot", FIXED, *args) if command == "boot" else run(tmp_path, *args)
    line = assert_refused(p, "huge-memory.repl", "huge")
    assert "overlaps" in line


def test_a_cpu_of_zero_mips(images, tmp_path):
    assert_refused(run(tmp_path, "--repl", images["mips0"]), "mips0.repl", "PerformanceInMips")


# --- numbers -------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["nan", "inf", "0", "-5", "ten"])
@pytest.mark.parametrize("option", ["--max-virtual", "--max-wall"])
def test_run_time_limits(tmp_path, option, value):
    line = assert_refused(run(tmp_path, option, value), option, repr(value))
    assert "seconds" in line


@pytest.mark.parametrize("value", ["nan", "inf", "0", "-5"])
def test_boot_time_limits(value):
    assert_refused(sim("boot", FIXED, "--max-virtual", value), "--max-virtual", "seconds")


@pytest.mark.parametrize("value", ["-1", "1.5", "seven", str(1 << 64)])
def test_seed(tmp_path, value):
    assert_refused(run(tmp_path, "--seed", value), "--seed", "from 0 to")


@pytest.mark.parametrize("value", ["65536", "-1", "gdb"])
def test_gdb_port(tmp_path, value):
    assert_refused(run(tmp_path, "--gdb", value), "--gdb", "65535")


@pytest.mark.parametrize("size", ["abc", "-1", "1e3", "4294967296"])
def test_post_size(tmp_path, size):
    assert_refused(run(tmp_path, "--post", "/upload", size), size)


def test_request_path_without_slash(tmp_path):
    assert_refused(run(tmp_path, "--get", "hello"), "'hello'", "starts with '/'")


# --- the artifact directory ----------------------------------------------------------------------

def test_out_naming_an_existing_file(images, tmp_path):
    line = assert_refused(run(tmp_path, "--out", images["file"]), "a-file")
    assert "existing file" in line and images["file"].read_text() == "not a directory\n"


def test_out_under_a_file(images, tmp_path):
    line = assert_refused(run(tmp_path, "--out", images["file"] / "sub"), "a-file/sub")
    assert "under a file" in line


def test_out_in_an_unwritable_place(tmp_path):
    if os.geteuid() == 0:
        place = Path("/sys/tls-fw-sim-out")          # sysfs: not even root creates directories there
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        place = locked / "out"
    line = assert_refused(run(tmp_path, "--out", place), str(place))
    assert "cannot write" in line and "choose a directory" in line


def test_out_empty(tmp_path):
    line = assert_refused(run(tmp_path, "--out", ""), "--out")
    assert "empty" in line
    assert not (ROOT / "result.json").exists()


# --- the command line itself ---------------------------------------------------------------------

def test_wait_without_gdb(tmp_path):
    assert_refused(run(tmp_path, "--wait"), "--wait", "--gdb PORT")


def test_unknown_option_and_missing_values(tmp_path):
    assert_refused(run(tmp_path, "--max-virtaul", "5"), "--max-virtaul", "--help")
    assert_refused(sim("run", "--get", "/"), "--out", "--help")
    assert_refused(sim("frobnicate"), "frobnicate", "--help")


def test_boot_until_nothing():
    assert_refused(sim("boot", FIXED, "--until", ""), "--until")


# --- device-initiated runs and the virtual network ------------------------------------------------

def device(tmp_path, *args):
    """`run --device-initiated` on the fixed image (nothing runs when the input is refused)."""
    return sim("run", "--firmware", FIXED, "--device-initiated", "--out", str(tmp_path / "out"), *args)


@pytest.mark.parametrize("args, named", [
    (("--requests", "0"), ("--requests", "'0'")),
    (("--requests", "two"), ("--requests", "'two'")),
    (("--until-uart", ""), ("--until-uart",)),
    (("--until-symbol", "no such"), ("--until-symbol", "'no such'")),
    (("--until-symbol", "Missing_Handler"), ("'Missing_Handler'", "no symbol")),
    (("--console", "usart9"), ("'usart9'", "usart1, usart2, usart3, usart6", "auto", "none")),
    (("--date", "2017-10-12"), ("--date", "Z")),
    (("--date", "1900-01-01T00:00:00Z"), ("--date", "RFC 4330")),
    (("--dns", "telemetry.example.net"), ("--dns", "NAME=ADDRESS")),
    (("--dns", "telemetry.example.net=not-an-address"), ("not-an-address",)),
    (("--dns", "a.example=192.0.2.5", "--dns-absent", "a.example"), ("a.example", "absent")),
    (("--tls-port", "70000"), ("--tls-port", "65535")),
    (("--tls", "1.2"), ("--tls", "compiled-in")),
    (("--get", "/"), ("--get", "--device-initiated")),
    (("--on-unmapped", "ignore"), ("--on-unmapped", "'ignore'")),
])
def test_device_initiated_options(tmp_path, args, named):
    assert_refused(device(tmp_path, *args), *named)


@pytest.mark.parametrize("option, value", [("--requests", "2"), ("--until-uart", "ready"),
                                           ("--until-symbol", "main"), ("--console", "usart2")])
def test_device_options_without_device_initiated(tmp_path, option, value):
    assert_refused(run(tmp_path, option, value), option, "--device-initiated")


# --- the server's identity -------------------------------------------------------------------------

def _user_pki(tmp_path, *, kind="rsa", password=None, not_after=None):
    sys.path.insert(0, str(ROOT / "tests" / "scenario"))
    from chainkit import make_user_chain

    return make_user_chain(tmp_path / "pki", "tls-peer.test", kind=kind, password=password, not_after=not_after)


def identity_run(tmp_path, *args):
    """`run` on the fixed image with identity options; refused input creates no artifact directory."""
    return sim("run", "--firmware", FIXED, "--get", "/", "--out", str(tmp_path / "out"), *args)


def assert_identity_refused(tmp_path, p, *names) -> str:
    line = assert_refused(p, *names)
    assert not (tmp_path / "out").exists(), "refused input must not create the artifact directory"
    return line


def test_identity_options_that_exclude_each_other(tmp_path):
    pki = _user_pki(tmp_path)
    assert_identity_refused(tmp_path, identity_run(tmp_path, "--substitute-trust", *pki.run_args()),
                            "--substitute-trust", "--server-cert", "--server-key", "not both")
    assert_identity_refused(tmp_path, identity_run(tmp_path, "--server-cert", pki.chain),
                            "--server-cert without --server-key")
    assert_identity_refused(tmp_path, identity_run(tmp_path, "--server-key", pki.key),
                            "--server-key without --server-cert")
    assert_identity_refused(tmp_path, identity_run(tmp_path, "--server-key-password", "x"),
                            "--server-key-password without --server-key")


def test_a_chain_or_key_that_cannot_be_served(tmp_path):
    from cryptography.hazmat.primitives import serialization

    pki = _user_pki(tmp_path)
    other = _user_pki(tmp_path / "other")
    encrypted = _user_pki(tmp_path / "enc", password="right")
    missing = tmp_path / "missing.pem"
    der = tmp_path / "chain.der"
    der.write_bytes(pki.leaf.public_bytes(serialization.Encoding.DER))
    cases = [
        (("--server-cert", missing, "--server-key", pki.key), (str(missing), "does not exist", "--server-cert")),
        (("--server-cert", der, "--server-key", pki.key), (str(der), "DER")),
        (("--server-cert", pki.key, "--server-key", pki.key), (str(pki.key), "key")),
        (("--server-cert", pki.chain, "--server-key", other.key), (str(other.key), "does not belong")),
        (encrypted.run_args(), (str(encrypted.key), "encrypted", "--server-key-password")),
        (encrypted.run_args("wrong"), (str(encrypted.key), "password")),
        (pki.run_args("needless"), (str(pki.key), "password")),
    ]
    for args, named in cases:
        assert_identity_refused(tmp_path, identity_run(tmp_path, *args), *named)


def test_a_chain_that_is_not_valid_at_the_scenario_date(tmp_path):
    import datetime

    pki = _user_pki(tmp_path, not_after=datetime.datetime(2023, 12, 1, tzinfo=datetime.UTC))
    line = assert_identity_refused(tmp_path, identity_run(tmp_path, *pki.run_args()), str(pki.chain), "expired")
    assert "2024-01-01T00:00:00Z" in line                                   # the scenario's default date


def test_a_key_the_shell_suite_cannot_use(tmp_path):
    pki = _user_pki(tmp_path, kind="ecdsa")
    assert_identity_refused(tmp_path, identity_run(tmp_path, "--suite", "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256",
                                                   *pki.run_args()),
                            "--suite TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256", "RSA certificate", "ECDSA key")


def _tls_kit():
    sys.path.insert(0, str(ROOT / "tests" / "tls"))
    import identitykit

    return identitykit


LINKER_SCRIPT = """
MEMORY { FLASH (rx) : ORIGIN = 0x08000000, LENGTH = 1M
         RAM (rwx)  : ORIGIN = 0x20000000, LENGTH = 128K }
ENTRY(reset)
SECTIONS {
  .text   : { KEEP(*(.text*)) } > FLASH
  .rodata : { *(.rodata*) } > FLASH
  .ca_b   : { KEEP(*(.ca_b)) } > FLASH
}
"""


def _image_with(tmp_path, name: str, rodata: bytes, ca_b: bytes = b"") -> Path:
    kit = _tls_kit()
    asm = """
        .syntax unified
        .thumb
        .section .text
        .global reset
    reset: b reset
        .section .rodata
    store: .incbin "rodata.bin"
    """ + ("""
        .section .ca_b,"a"
        .incbin "ca_b.bin"
    """ if ca_b else "")
    return kit.build_elf(tmp_path / name, asm, LINKER_SCRIPT, {"rodata.bin": rodata, "ca_b.bin": ca_b})


def _deterministic_root(serial: int = 5):
    """A CA certificate signed with the test PKI's CA key (so its look-alike key is derived once)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    from sim.tls.certs import generate_test_pki

    key = generate_test_pki().ca_key
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "no room root")])
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(serial).not_valid_before(datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC))
            .not_valid_after(datetime.datetime(2040, 1, 1, tzinfo=datetime.UTC))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))


def test_substitute_trust_on_an_image_without_a_ca(tmp_path):
    elf = _image_with(tmp_path, "plain", b"-----BEGIN CERTIFICATE-----\0no certificate here\0")
    p = sim("run", "--firmware", elf, "--device-initiated", "--substitute-trust", "--out", str(tmp_path / "out"))
    line = assert_identity_refused(tmp_path, p, "--substitute-trust", "no CA certificate", str(elf))
    assert "--server-cert" in line


def test_substitute_trust_on_a_certificate_split_over_two_sections(tmp_path):
    from cryptography.hazmat.primitives import serialization

    der = _deterministic_root().public_bytes(serialization.Encoding.DER)
    elf = _image_with(tmp_path, "split", der[:300], der[300:])
    p = sim("run", "--firmware", elf, "--device-initiated", "--substitute-trust", "--out", str(tmp_path / "out"))
    assert_identity_refused(tmp_path, p, "--substitute-trust", "cannot be replaced", ".rodata", ".ca_b")


def test_substitute_trust_on_a_certificate_no_look_alike_matches_in_length(tmp_path):
    """A 1-octet serial and an RSA signature one byte short (an encoder that strips a leading zero):
    a look-alike of the same length would need a 0-octet serial."""
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives import serialization

    original = _deterministic_root().public_bytes(serialization.Encoding.DER)
    parsed = asn1_x509.Certificate.load(original)
    short = asn1_x509.Certificate({"tbs_certificate": parsed["tbs_certificate"].copy(),
                                   "signature_algorithm": parsed["signature_algorithm"],
                                   "signature_value": b"\x01" * 255}).dump()
    elf = _image_with(tmp_path, "short", short)
    p = sim("run", "--firmware", elf, "--device-initiated", "--substitute-trust", "--out", str(tmp_path / "out"),
            timeout=300)
    assert_identity_refused(tmp_path, p, "--substitute-trust", "cannot be replaced", f"{len(short)}-byte",
                            "serial number", "no room root")
