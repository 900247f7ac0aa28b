"""The server's identity in a scenario: the test PKI's per-name leaves (the default), the user's own
chain and key (`--server-cert/--server-key`), and look-alikes of the image's own CA certificates
written into the emulated flash (`--substitute-trust`); the console and result.json say which one
was presented, to which connection, and why.

Oracles: the firmware's own verdict on the chain it is shown (its boot log names the roots it
parsed, its Mbed TLS debug lines the verify error, its alert), binutils' symbol table for where the
roots sit in flash, openssl s_client for the user's chain on a socket, cryptography for the
certificates the test itself made, and the shell-driven seedbug run for the diagnosis."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from chainkit import make_user_chain
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from sim.scenario import (FIRMWARE_DIR, DeviceInitiated, DeviceRunner, Scenario, ServerIdentitySpec, Step,
                          clear_boot_cache, run_scenario)
from sim.scenario.identity import scenario_identity

ROOT = Path(__file__).resolve().parents[2]
GCM = "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256"
PROD = ("autopost-prod-fixed", "autopost-prod-seedbug")
SERVER = "telemetry.example.net"


@pytest.fixture(scope="module")
def images():
    for variant in ("fixed", "seedbug", "autopost-fixed", *PROD):
        if not (FIRMWARE_DIR / f"{variant}.elf").exists():
            pytest.fail(f"{FIRMWARE_DIR / variant}.elf is missing: run scripts/setup "
                        f"(or scripts/build-firmware {variant})")


def sim_run(*args, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim", "run", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def nm(elf: Path) -> dict[str, int]:
    """Symbol -> address as binutils reads the ELF (independent of our ELF reader)."""
    run = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return {parts[2]: int(parts[0], 16) for parts in map(str.split, run.stdout.splitlines()) if len(parts) == 3}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- you have only the image: trust substitution -----------------------------------------------------

def test_substituted_trust_lets_autopost_prod_seedbug_fail_as_seedbug_and_names_the_roots(images, tmp_path):
    elf = FIRMWARE_DIR / "autopost-prod-seedbug.elf"
    before = _sha256(elf)
    out = tmp_path / "sub"
    proc = sim_run("--firmware", "autopost-prod-seedbug", "--device-initiated", "--requests", "2",
                   "--substitute-trust", "--expect", "bad_record_mac", "--out", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _sha256(elf) == before                                   # the ELF on disk is never touched

    saved = json.loads((out / "result.json").read_text())
    identity = saved["server_identity"]
    assert identity["mode"] == "substituted" and saved["scenario"]["server_identity"] == {"mode": "substitute-trust"}
    symbols = nm(elf)
    replaced = {r["format"]: r for r in identity["replaced"]}
    assert sorted(replaced) == ["der", "pem"]
    for form, label in (("pem", "r1"), ("der", "r2")):
        r = replaced[form]
        assert int(r["address"], 16) == int(r["load_address"], 16) == symbols[f"production_root_{label}_{form}"]
        assert r["section"] == ".text" and r["subject"].startswith(f"CN=Example Telemetry Root CA {label.upper()}")
        # the console says the same, with the flash address
        assert (f"replaced {form.upper()} CA {r['subject']!r} at {r['address']} ({r['section']}, {r['length']} "
                f"bytes, flash {r['load_address']})") in proc.stdout
    assert proc.stdout.startswith("identity: trust substitution: 2 CA certificate(s) embedded in autopost-prod-seedbug")

    # the image parsed the look-alikes as its roots (same subjects) and accepted the peer's leaves
    uart = (out / "uart.log").read_text()
    for label in ("R1", "R2"):
        assert f"tls: trusted CA C=NL, O=Example Telemetry B.V., CN=Example Telemetry Root CA {label}" in uart
    assert uart.count("tls: handshake ok TLSv1.2") == 2
    served = identity["served"]
    assert [s["exchange"] for s in served] == ["connection 1", "connection 2"]
    for s in served:
        assert s["source"] == "substituted" and s["host"] == SERVER and s["sni"] == SERVER
        assert s["issuer_label"].startswith("look-alike of Example Telemetry Root CA") and s["fits"]
        assert not s["rejected_with"]
    journal = json.loads((out / "journal.json").read_text())
    assert [x["info"]["identity"]["source"] for x in journal["sessions"]] == ["substituted"] * 2

    # the same diagnosis as the shell-driven seedbug image
    requests = [r for c in saved["connections"] for r in c["requests"]]
    assert [(r["outcome"], r["alert"], r["alert_from"]) for r in requests] == [("bad_record_mac",) * 2 + ("peer",)] * 2
    shell = run_scenario(Scenario(firmware="seedbug", tls_version="1.2", suite=GCM,
                                  steps=(Step("post", "/upload", 1400, expect="bad_record_mac"),)))
    expected = shell.diagnosis.to_dict()["difference"]
    prod = run_scenario(Scenario(firmware="autopost-prod-seedbug", identity=ServerIdentitySpec("substitute-trust"),
                                 device=DeviceInitiated(requests=1, expect="bad_record_mac")))
    got = prod.diagnosis.to_dict()["difference"]
    for key in ("kind", "shift", "inserted_bytes", "inserted_uniform", "shifted_length", "summary"):
        assert got["pattern"][key] == expected["pattern"][key], key
    assert got["offset_in_record"] == expected["offset_in_record"]
    assert got["location"]["frame_offset"] == expected["location"]["frame_offset"] == 1020
    assert "eth_tx_buffers" in got["location"]["dma_buffer"]


def test_without_substitution_the_image_rejects_the_peer_with_its_own_verify_error(images, tmp_path):
    out = tmp_path / "plain"
    proc = sim_run("--firmware", "autopost-prod-seedbug", "--device-initiated", "--requests", "2",
                   "--expect", "ok", "--out", out)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    uart = (out / "uart.log").read_text()
    assert "x509_verify_cert() returned -9984 (-0x2700)" in uart
    assert "telemetry: post 1 failed handshake -0x2700" in uart
    journal = json.loads((out / "journal.json").read_text())
    for session in journal["sessions"]:
        sent = [r["alert"] for r in session["records"] if r.get("alert") and r["direction"] == "client->server"]
        assert [(a["level"], a["description"]) for a in sent] == [("fatal", "unknown_ca")]
        assert session["info"]["identity"]["source"] == "test-pki"
    saved = json.loads((out / "result.json").read_text())
    assert saved["verdict"] == "fail"
    assert [s["rejected_with"] for s in saved["server_identity"]["served"]] == ["unknown_ca"] * 2
    assert "--substitute-trust" in saved["server_identity"]["hint"] and "hint: the device rejected the chain" \
        in proc.stdout


def test_the_patches_are_in_emulated_flash_only(images):
    """What the running image reads at the roots' addresses is the look-alike; the file is not."""
    scenario = Scenario(firmware="autopost-prod-fixed", identity=ServerIdentitySpec("substitute-trust"),
                        max_virtual_s=0.1, device=DeviceInitiated())
    identity = scenario_identity(scenario)
    elf = FIRMWARE_DIR / "autopost-prod-fixed.elf"
    image = elf.read_bytes()
    runner = DeviceRunner(scenario)
    for patch in identity.patches:
        in_flash = runner.machine.read_memory(patch.load_address, len(patch.data))
        assert in_flash == patch.data
        assert patch.data not in image
        found = identity.substitution.replacements[identity.patches.index(patch)].found
        assert found.encoded in image
    runner.run()


def test_substituted_runs_are_byte_identical_for_a_seed(images, tmp_path):
    outs = []
    for n in range(2):
        out = tmp_path / f"run{n}"
        proc = sim_run("--firmware", "autopost-prod-fixed", "--device-initiated", "--requests", "1", "--seed", "1",
                       "--substitute-trust", "--out", out)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        outs.append(out)
    for name in ("uart.log", "capture.pcapng", "journal.json", "journal.txt", "diagnosis.txt", "ladder.svg"):
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
    first, second = (json.loads((o / "result.json").read_text()) for o in outs)
    assert first["server_identity"] == second["server_identity"]
    assert first["connections"] == second["connections"]


def test_substituted_trust_in_a_shell_driven_run(images, tmp_path):
    """The shell image embeds the test CA as PEM: substituted, it trusts the look-alike only."""
    out = tmp_path / "fixed"
    proc = sim_run("--firmware", "fixed", "--post", "/upload", "903", "--substitute-trust", "--out", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    identity = json.loads((out / "result.json").read_text())["server_identity"]
    [replaced] = identity["replaced"]
    assert replaced["format"] == "pem" and replaced["subject"] == "CN=tls-fw-sim Test CA,O=tls-fw-sim"
    assert int(replaced["address"], 16) == nm(FIRMWARE_DIR / "fixed.elf")["test_ca_pem"]
    [served] = identity["served"]
    assert served["exchange"] == "POST /upload 903 bytes"
    assert served["issuer_label"] == "look-alike of tls-fw-sim Test CA"
    # the chain presented ends at the very certificate written into the flash
    lookalike = x509.load_pem_x509_certificate(_patched_pem(replaced) + b"\n")
    journal = json.loads((out / "journal.json").read_text())
    assert journal["sessions"][0]["info"]["identity"]["chain"][1]["sha256"] == \
        lookalike.fingerprint(hashes.SHA256()).hex() == replaced["lookalike_sha256"]


def _patched_pem(replaced: dict) -> bytes:
    identity = scenario_identity(Scenario(firmware="fixed", identity=ServerIdentitySpec("substitute-trust")))
    [patch] = identity.patches
    assert f"0x{patch.load_address:08x}" == replaced["load_address"]
    return patch.data


# --- you have the key: the user's chain ----------------------------------------------------------------

@pytest.mark.parametrize("shape", ["shell", "device"])
def test_a_users_chain_under_the_trusted_root_verifies_in_the_firmware(images, tmp_path, shape):
    """A chain the test made with cryptography, issued by the CA key the reference images trust, key
    encrypted: the image verifies it (handshake, request answered) and result.json names it."""
    host, firmware = ("tls-peer.test", "fixed") if shape == "shell" else (SERVER, "autopost-fixed")
    chain = make_user_chain(tmp_path / "pki", host, under_test_ca=True, password="pass phrase")
    action = ["--post", "/upload", "903"] if shape == "shell" else ["--device-initiated", "--requests", "1"]
    out = tmp_path / "out"
    proc = sim_run("--firmware", firmware, *action, *chain.run_args("pass phrase"), "--out", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"identity: your chain from {chain.chain}: RSA-2048 leaf '{host}'" in proc.stdout
    saved = json.loads((out / "result.json").read_text())
    identity = saved["server_identity"]
    assert identity["mode"] == "user" and identity["cert"] == str(chain.chain)
    assert saved["scenario"]["server_identity"] == {"mode": "user", "cert": str(chain.chain), "key": str(chain.key),
                                                    "key_password_given": True}
    assert "pass phrase" not in (out / "result.json").read_text()
    [served] = identity["served"]
    assert served["source"] == "user" and served["chain_length"] == 2
    assert served["leaf_sha256"] == chain.leaf.fingerprint(hashes.SHA256()).hex()
    assert "handshake ok" in (out / "uart.log").read_text()


@pytest.mark.parametrize("kind", ["rsa", "ecdsa"])
def test_a_users_own_chain_verifies_in_openssl_and_the_run_says_why_the_image_refuses_it(images, tmp_path, kind):
    """The user's chain under their own root, served by the peer on a socket, verifies in
    `openssl s_client -verify_return_error`; served in a run to `fixed` (which trusts only the test
    CA, and offers only RSA suites) it is presented, and the outcome says why it did not work."""
    openssl = shutil.which("openssl")
    assert openssl, "openssl is missing: run scripts/setup"
    host = "tls-peer.test"
    chain = make_user_chain(tmp_path / "pki", host, kind=kind)
    sys.path.insert(0, str(ROOT / "tests" / "peer"))
    from peerkit import PeerProcess

    with PeerProcess("--server-cert", str(chain.chain), "--server-key", str(chain.key)) as peer:
        verified = subprocess.run([openssl, "s_client", "-connect", f"127.0.0.1:{peer.port}", "-servername", host,
                                   "-verify_return_error", "-CAfile", str(chain.root), "-verify_hostname", host,
                                   "-showcerts"], input=b"", capture_output=True, timeout=60)
    assert verified.returncode == 0, verified.stderr.decode(errors="replace")
    assert b"Verify return code: 0 (ok)" in verified.stdout
    assert x509.load_pem_x509_certificates(verified.stdout)[0] == chain.leaf

    out = tmp_path / "out"
    proc = sim_run("--firmware", "fixed", "--get", "/bytes/100", *chain.run_args(), "--out", out)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    [served] = json.loads((out / "result.json").read_text())["server_identity"]["served"]
    assert served["source"] == "user" and served["leaf_sha256"] == chain.leaf.fingerprint(hashes.SHA256()).hex()
    uart = (out / "uart.log").read_text()
    if kind == "rsa":      # presented, and the image does not know the root
        assert served["fits"] and served["rejected_with"] == "unknown_ca"
        assert "x509_verify_cert() returned -9984 (-0x2700)" in uart
    else:                  # the image offers no ECDSA suite: the peer refuses the handshake and says so
        assert not served["fits"] and "no offered suite needs an ECDSA certificate" in served["why"]
        assert "handshake_failure" in (out / "journal.txt").read_text()


def test_the_host_name_check_rejects_a_leaf_for_another_name(images, tmp_path):
    """A chain under the trusted root but for another name: the autopost image checks the host name
    (Mbed TLS's own words in its log) and sends bad_certificate."""
    chain = make_user_chain(tmp_path / "pki", "other.example.org", under_test_ca=True)
    result = run_scenario(Scenario(firmware="autopost-fixed",
                                   identity=ServerIdentitySpec("user", cert=str(chain.chain), key=str(chain.key)),
                                   device=DeviceInitiated(requests=1, expect="any")))
    [request] = result.requests
    assert (request.outcome, request.alert, request.alert_from) == ("error", "bad_certificate", "device")
    assert "does not match with the expected CN" in result.uart.decode()
    [served] = result.identity["served"]
    assert served["rejected_with"] == "bad_certificate" and "--date" in result.identity["hint"]


def test_the_per_name_leaf_is_the_one_the_image_accepted_and_openssl_verifies_it(images, tmp_path):
    """The default identity: the leaf the TLS server chose for the device's SNI, under the test CA;
    openssl verifies it for that name at the scenario's date, and not for another."""
    from sim.tls.certs import generate_test_pki

    result = run_scenario(Scenario(firmware="autopost-fixed", device=DeviceInitiated(requests=1)))
    assert result.passed, result.summary()
    [connection] = result.connections
    chosen = connection.sessions[0].tls.identity
    assert chosen.identity.source == "test-pki" and chosen.host == SERVER
    (tmp_path / "ca.pem").write_bytes(generate_test_pki().ca_pem())
    (tmp_path / "leaf.pem").write_bytes(chosen.chain[0].public_bytes(serialization.Encoding.PEM))
    verify = ["openssl", "verify", "-attime", "1704067201", "-CAfile", str(tmp_path / "ca.pem"), "-verify_hostname"]
    ok = subprocess.run(verify + [SERVER, str(tmp_path / "leaf.pem")], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    wrong = subprocess.run(verify + ["other.example.net", str(tmp_path / "leaf.pem")], capture_output=True, text=True)
    assert wrong.returncode != 0
    assert result.identity["served"][0]["leaf_sha256"] == chosen.chain[0].fingerprint(hashes.SHA256()).hex()


def test_the_boot_cache_keeps_patched_and_unpatched_images_apart(images):
    clear_boot_cache()
    plain = run_scenario(Scenario(firmware="autopost-prod-fixed", device=DeviceInitiated(requests=1, expect="any")))
    patched = run_scenario(Scenario(firmware="autopost-prod-fixed", identity=ServerIdentitySpec("substitute-trust"),
                                    device=DeviceInitiated(requests=1)))
    again = run_scenario(Scenario(firmware="autopost-prod-fixed", device=DeviceInitiated(requests=1, expect="any")))
    assert patched.passed, patched.summary()
    assert [r.alert for r in plain.requests] == [r.alert for r in again.requests] == ["unknown_ca"]
