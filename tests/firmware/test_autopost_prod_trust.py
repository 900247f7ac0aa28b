"""The autopost-prod images trust two "production" roots the peer has no key for (R1 as a PEM
string, R2 as a DER array, generated at build time by firmware/tools/production_roots.py).

Checked here: the trust scan finds both in the built image, where binutils says the arrays are
and with the bytes openssl reads from the generator's PEM files; trust substitution makes patches
exactly as long as what they replace, without touching the ELF; and on the built-in machine,
with the patches written into flash before reset, the image verifies a leaf issued under a
look-alike root and POSTs, while the unpatched image refuses the same leaf with Mbed TLS's own
verify error and a fatal alert the peer journals."""

from __future__ import annotations

import datetime
import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509

from fw_testlib import CONSOLE, ROOT
from sim.machine import Machine
from sim.net.internet import InternetConfig, VirtualInternet
from sim.peer import PeerFactory
from sim.platform import DEFAULT_REPL
from sim.seed import SeededRandom
from sim.tls.policy import ServerPolicy
from sim.tls.trust_scan import scan_elf
from sim.tls.trust_substitution import substitute_trust_file
from sim.vtime import EventQueue, cycles_to_ns

sys.path.insert(0, str(ROOT / "tests" / "tls"))
from identitykit import symbols  # noqa: E402

PKI = ROOT / "build" / "pki"
DATE = "2024-03-01T12:00:00Z"
AT = datetime.datetime(2024, 3, 1, 12, 0, tzinfo=datetime.UTC)
SUBSTITUTION_SEED = "scenario seed 1"
SLICE_CYCLES = 168_000 * 5                 # 5 ms of virtual time at 168 MHz
PROD = ("autopost-prod-fixed", "autopost-prod-seedbug")


def _openssl_der(pem: Path) -> bytes:
    run = subprocess.run(["openssl", "x509", "-in", str(pem), "-outform", "DER"], capture_output=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return run.stdout


@pytest.fixture(scope="module")
def substitutions(firmware_elfs):
    return {v: substitute_trust_file(firmware_elfs[v], seed=SUBSTITUTION_SEED) for v in PROD}


@pytest.mark.parametrize("variant", PROD)
def test_the_scan_finds_both_production_roots_where_the_linker_put_them(firmware_elfs, variant):
    elf = firmware_elfs[variant]
    scan = scan_elf(elf.read_bytes(), str(elf))
    by_format = {found.format: found for found in scan.found}
    assert sorted(by_format) == ["der", "pem"] and len(scan.found) == 2 and not scan.refused
    nm = symbols(elf)
    for form, label in (("pem", "r1"), ("der", "r2")):
        found = by_format[form]
        assert found.der == _openssl_der(PKI / f"production-{label}.pem")
        address, size = nm[f"production_root_{label}_{form}"]
        assert found.address == found.load_address == address
        # the PEM string ends in the END line's LF and the NUL Mbed TLS looks for (sizeof counts both)
        assert found.length == (size - 2 if form == "pem" else size)
        assert found.subject.startswith(f"CN=Example Telemetry Root CA {label.upper()}")
    # the test CA is not in the image: only the production roots are trusted
    assert b"tls-fw-sim Test CA" not in elf.read_bytes()


@pytest.mark.parametrize("variant", PROD)
def test_substitution_patches_are_length_exact_and_leave_the_elf_alone(firmware_elfs, substitutions, variant):
    elf = firmware_elfs[variant]
    before = hashlib.sha256(elf.read_bytes()).hexdigest()
    sub = substitutions[variant]
    image = elf.read_bytes()
    nm = symbols(elf)
    assert len(sub.replacements) == 2
    for replacement in sub.replacements:
        found, patch = replacement.found, replacement.patch
        assert len(patch.data) == found.length and patch.load_address == found.load_address
        assert patch.data != found.encoded
        label = "r1" if found.format == "pem" else "r2"
        address, size = nm[f"production_root_{label}_{found.format}"]
        assert patch.load_address == address and len(patch.data) <= size
        look = (x509.load_pem_x509_certificate(patch.data + b"\n") if found.format == "pem"
                else x509.load_der_x509_certificate(patch.data))
        original = x509.load_der_x509_certificate(found.der)
        assert look.subject == original.subject and look.issuer == original.issuer
        assert look.public_key().key_size == original.public_key().key_size
        assert look.public_key() != original.public_key()
        assert (look.not_valid_before_utc, look.not_valid_after_utc) == \
            (original.not_valid_before_utc, original.not_valid_after_utc)
    assert hashlib.sha256(image).hexdigest() == before == hashlib.sha256(elf.read_bytes()).hexdigest()


def _first_post(elf: Path, substitution, *, patched: bool, max_ms: int = 20_000):
    """Boot `elf` on the built-in machine behind the virtual internet (DHCP, DNS, SNTP at DATE) with
    the peer presenting leaves under the look-alike roots; run until the first POST ends."""
    m = Machine(DEFAULT_REPL, seed=1)
    m.load_elf(str(elf))
    if patched:
        for patch in substitution.patches:
            m.write_memory(patch.load_address, patch.data)
    m.reset()
    queue = EventQueue(cycles_to_ns(m.cycles, m.frequency))
    factory = PeerFactory(ServerPolicy(), seed=1, identities=substitution.identities(AT, SUBSTITUTION_SEED))
    net = VirtualInternet(queue, rng=SeededRandom(1, "net"), transmit=m.ethernet.receive,
                          config=InternetConfig(date=DATE), tls_application=factory)
    frames = []
    m.ethernet.on_transmit(frames.append)
    uart = m.uart(CONSOLE["autopost-fixed"])
    for _ in range(max_ms // 5):
        result = m.run(SLICE_CYCLES)
        assert result.fault is None, result.fault
        for frame in frames:
            queue.advance_to(max(queue.now_ns, cycles_to_ns(frame.cycles, m.frequency)))
            net.handle_frame(frame.data)
        frames.clear()
        queue.advance_to(max(queue.now_ns, cycles_to_ns(m.cycles, m.frequency)))
        log = uart.transcript.decode("latin-1")
        if "telemetry: post 1 " in log and log.rstrip(" ").endswith("\n") and (
                " ok status=" in log or " failed " in log):
            return log, factory
    pytest.fail(f"the first POST did not end in {max_ms} ms of virtual time; log:\n{uart.transcript.decode('latin-1')}")


def test_the_patched_image_trusts_the_look_alike_and_posts(firmware_elfs, substitutions):
    log, factory = _first_post(firmware_elfs["autopost-prod-fixed"], substitutions["autopost-prod-fixed"],
                               patched=True)
    assert "tls: trusted CA C=NL, O=Example Telemetry B.V., CN=Example Telemetry Root CA R1" in log
    assert "tls: handshake ok TLSv1.2 TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256" in log
    assert "telemetry: post 1 ok status=200 server_length=1400" in log and "match=yes" in log
    (session, *_) = factory.sessions
    identity = session.journal.info["identity"]
    assert identity["source"] == "substituted" and identity["host"] == "telemetry.example.net"
    assert identity["issuer_label"].startswith("look-alike of Example Telemetry Root CA")


def test_the_patched_seedbug_image_shows_seedbugs_defect(firmware_elfs, substitutions):
    """Past the handshake, autopost-prod-seedbug is seedbug: its POST record is damaged in the
    driver's TX copy and the peer answers bad_record_mac."""
    log, factory = _first_post(firmware_elfs["autopost-prod-seedbug"], substitutions["autopost-prod-seedbug"],
                               patched=True)
    assert "tls: handshake ok TLSv1.2" in log
    assert "telemetry: post 1 failed read -0x7780" in log
    (session, *_) = factory.sessions
    assert session.failure is not None and session.failure.alert == "bad_record_mac"
    assert session.journal.info["identity"]["source"] == "substituted"


def test_the_unpatched_image_refuses_that_leaf_with_its_own_verify_error(firmware_elfs, substitutions):
    log, factory = _first_post(firmware_elfs["autopost-prod-fixed"], substitutions["autopost-prod-fixed"],
                               patched=False)
    assert "x509_verify_cert() returned -9984 (-0x2700)" in log
    assert "tls: certificate: The certificate is not correctly signed by the trusted CA" in log
    assert "telemetry: post 1 failed handshake -0x2700" in log
    (session, *_) = factory.sessions
    received = [e for e in session.journal.events if e["event"] == "alert_received"]
    assert [e["alert"] for e in received] == ["unknown_ca"], session.journal.to_text()
    assert session.handshake is None


def test_the_peer_never_holds_the_production_keys(firmware_elfs):
    """The roots' keys come from a seed that only firmware/tools/production_roots.py knows and are
    never written: nothing in sim/ carries the seed, and the build's PKI files hold certificates only."""
    import re
    tool = (ROOT / "firmware" / "tools" / "production_roots.py").read_text()
    seed = re.search(r'^PRODUCTION_SEED = "([^"]+)"', tool, re.M).group(1)
    assert not [p for p in (ROOT / "sim").rglob("*.py") if seed in p.read_text()]
    written = sorted(p.name for p in PKI.glob("production*"))
    assert written == ["production-r1.pem", "production-r2.pem", "production_roots.h"]
    for name in written:
        assert b"PRIVATE KEY" not in (PKI / name).read_bytes()
