"""End-to-end scenarios on the built-in machine: the report reproduced and explained, the fixed
image correct, runs byte-identical for a seed, and every way a run can go wrong ends within its
limits with a message that names the cause."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sim.http import pattern_bytes
from sim.scenario import (FIRMWARE_DIR, LinkFault, Scenario, ScenarioError, Step, boot, clear_boot_cache,
                          run_scenario)
from sim.tls.policy import ServerPolicy

GCM = "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256"
RSA_CBC = "TLS-RSA-WITH-AES-128-CBC-SHA"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", autouse=True)
def reference_firmware():
    for variant in ("fixed", "seedbug"):
        if not (FIRMWARE_DIR / f"{variant}.elf").exists():
            pytest.fail(f"{FIRMWARE_DIR / variant}.elf is missing: run scripts/setup")


def test_seedbug_large_post_fails_as_reported_and_is_explained(tmp_path):
    result = run_scenario(Scenario(firmware="seedbug", tls_version="1.2", suite=GCM,
                                   steps=(Step("post", "/upload", 903, expect="bad_record_mac"),)), tmp_path)
    assert result.passed, result.summary()
    step = result.steps[0]
    uart = "\n".join(step.uart_lines)
    assert "is a fatal alert message (msg 20)" in uart
    assert "mbedtls_ssl_read_record() returned -30592 (-0x7780)" in uart
    assert (step.error_where, step.error_code) == ("read", "-0x7780")
    [alert] = step.alerts_sent_by_peer
    assert alert["description"] == "bad_record_mac"
    failed = [r for s in step.sessions for r in s.journal.records if not r.ok]
    assert failed and failed[0].content_type == "application_data"

    diff = step.diagnosis.to_dict()["difference"]
    where = diff["location"]
    # the defect: the copy loop fills only 1020 bytes of each 1024-byte TX buffer
    assert where["frame_offset"] == 1020 and where["dma_buffer_offset"] == 1020
    assert "eth_tx_buffers" in where["dma_buffer"]
    assert where["segment"] >= 1 and where["frame"] >= 1
    assert diff["pattern"]["kind"] == "shift" and diff["pattern"]["shift"] == 4
    assert "stream offset" in step.diagnosis.summary

    for name in ("uart.log", "capture.pcapng", "journal.json", "journal.txt", "diagnosis.txt", "ladder.svg",
                 "result.json"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert "eth_tx_buffers" in (tmp_path / "diagnosis.txt").read_text()
    assert json.loads((tmp_path / "result.json").read_text())["steps"][0]["outcome"] == "bad_record_mac"
    ladder = (tmp_path / "ladder.svg").read_text()
    assert ladder.startswith("<svg") and "tag" in ladder and "bad_record_mac" in ladder


def test_fixed_post_is_received_intact(tmp_path):
    result = run_scenario(Scenario(firmware="fixed", tls_version="1.0", suite=RSA_CBC,
                                   steps=(Step("post", "/upload", 4096),)), tmp_path)
    assert result.passed, result.summary()
    step = result.steps[0]
    expected = hashlib.sha256(pattern_bytes(4096)).hexdigest()
    assert step.status == 200 and step.digest_match
    assert step.body_sha256 == step.server_sha256 == expected
    assert step.tls_version == "TLSv1.0" and step.tls_suite == RSA_CBC
    # the bytes the TLS layer handed to TCP are exactly the bytes the peer received
    [session] = step.sessions
    assert step.device_sent == bytes(session.journal.rx_stream)
    assert step.diagnosis is None


def test_capture_decrypts_in_wireshark_with_its_embedded_secrets(tmp_path):
    assert shutil.which("tshark"), "tshark is missing: run scripts/setup (it installs the Debian package)"
    run_scenario(Scenario(firmware="fixed", tls_version="1.2", suite=GCM, steps=(Step("post", "/upload", 903),)),
                 tmp_path)
    out = subprocess.run(["tshark", "-r", str(tmp_path / "capture.pcapng"), "-Y", "http", "-T", "fields",
                          "-e", "http.request.method", "-e", "http.response.code"],
                         capture_output=True, text=True, check=True).stdout
    assert "POST" in out and "200" in out


def _run_twice(tmp_path, **kwargs):
    paths = []
    for n in range(2):
        clear_boot_cache()             # a fresh boot each time: nothing carried over in memory
        out = tmp_path / f"run{n}"
        run_scenario(Scenario(**kwargs), out)
        paths.append(out)
    return paths


def test_same_seed_gives_byte_identical_uart_and_capture(tmp_path):
    a, b = _run_twice(tmp_path, firmware="seedbug", tls_version="1.0",
                      suite="TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA", seed=7,
                      steps=(Step("post", "/upload", 1460, expect="bad_record_mac"),))
    for name in ("uart.log", "capture.pcapng", "journal.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    # and a third run from the cached boot snapshot is identical too
    c = tmp_path / "cached"
    run_scenario(Scenario(firmware="seedbug", tls_version="1.0", suite="TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA",
                          seed=7, steps=(Step("post", "/upload", 1460, expect="bad_record_mac"),)), c)
    assert (c / "capture.pcapng").read_bytes() == (a / "capture.pcapng").read_bytes()


def test_different_seed_gives_different_tls_randoms(tmp_path):
    randoms = []
    for seed in (1, 2):
        result = run_scenario(Scenario(firmware="fixed", tls_version="1.2", suite=GCM, seed=seed,
                                       steps=(Step("get", "/hello"),)))
        assert result.passed, result.summary()
        info = result.steps[0].sessions[0].journal.info
        randoms.append((info["client_random"], info["server_random"]))
    assert randoms[0][0] != randoms[1][0] and randoms[0][1] != randoms[1][1]


def test_firmware_that_never_prints_ready_ends_at_the_virtual_limit(build_test_firmware):
    elf = build_test_firmware("scenario_silent")
    with pytest.raises(ScenarioError) as err:
        boot(elf, timeout_s=2.0, cache=False)
    message = str(err.value)
    assert "did not print 'ready' within 2.0 s of virtual time" in message
    assert "the UART printed nothing" in message


def test_peer_that_refuses_every_suite_ends_the_step_with_handshake_failure():
    policy = ServerPolicy(versions=("1.2",), suites=("TLS-RSA-WITH-AES-256-GCM-SHA384",))
    result = run_scenario(Scenario(firmware="fixed", tls_version="1.2", suite=GCM, policy=policy,
                                   steps=(Step("get", "/hello", expect="any"),)))
    step = result.steps[0]
    assert result.error is None
    assert not step.ok and step.error_where == "handshake"
    assert step.fatal_alert == 40                         # handshake_failure, as the firmware logged it
    assert [a["description"] for a in step.alerts_sent_by_peer] == ["handshake_failure"]
    assert "no cipher suite in common" in step.diagnosis.text or "handshake_failure" in step.diagnosis.text


def test_link_that_drops_everything_ends_within_the_step_limit():
    result = run_scenario(Scenario(firmware="fixed", tls_version="1.2", suite=GCM, step_timeout_s=40.0,
                                   faults=(LinkFault("device->host", "drop", (("probability", 1.0),)),),
                                   steps=(Step("get", "/hello", expect="any"),)))
    step = result.steps[0]
    assert result.error is None, result.error
    assert not step.ok and step.error_where in ("connect", "handshake")
    assert step.sessions == []                            # nothing ever reached the peer
    assert result.stats["link_faults_injected"] > 0


def test_firmware_fault_during_a_step_ends_the_run_with_the_fault_report(build_test_firmware):
    elf = build_test_firmware("scenario_fault")
    result = run_scenario(Scenario(firmware=str(elf), steps=(Step("get", "/hello"),), max_wall_s=60))
    assert not result.passed and result.error is not None
    # the firmware's own HardFault handler ran (as on the board) and parked the CPU: the report
    # shows the stacked frame and the decoded fault status, and names the faulting function
    assert "HardFault" in result.error and "stacked frame" in result.error
    assert "PRECISERR" in result.error and "BFAR=0x60000000" in result.error
    assert "handle_command" in result.error
    assert "last UART lines" in result.error and "ready" in result.error


def test_unknown_firmware_name_is_a_clear_error():
    with pytest.raises(ScenarioError, match="neither a variant .*fixed, seedbug.* nor an existing ELF.*"
                                            "scripts/build-firmware"):
        Scenario(firmware="fixd").firmware_path()


def test_every_variant_the_firmware_makefile_builds_is_a_firmware_name():
    """The names are what build/firmware holds, so they follow the Makefile's list of variants."""
    from sim.scenario import firmware_variants
    from sim.scenario.model import default_on_unmapped

    run = subprocess.run(["make", "-s", "-C", str(ROOT / "firmware"), "variants"], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    made = sorted(run.stdout.split())
    assert "autopost-prod-seedbug" in made and "bug-trunc-hmac" in made
    missing = [v for v in made if not (FIRMWARE_DIR / f"{v}.elf").exists()]
    assert not missing, f"not built: {missing}: run scripts/build-firmware"
    assert sorted(firmware_variants()) == made
    for variant in made:
        assert Scenario(firmware=variant).firmware_path() == FIRMWARE_DIR / f"{variant}.elf"
        assert default_on_unmapped(variant) == "fault"
    assert default_on_unmapped(str(FIRMWARE_DIR / "fixed.elf")) == "warn"      # a path is the user's image


def test_a_server_identity_is_checked_when_the_scenario_is_built():
    from sim.scenario import InvalidScenario, ServerIdentitySpec

    assert Scenario().identity == ServerIdentitySpec("test-pki")
    with pytest.raises(InvalidScenario, match="test-pki, user, substitute-trust.*'own'"):
        ServerIdentitySpec("own")
    with pytest.raises(InvalidScenario, match="needs its key"):
        ServerIdentitySpec("user", cert="chain.pem")
    with pytest.raises(InvalidScenario, match="cert, key belong to the 'user'"):
        ServerIdentitySpec("substitute-trust", cert="chain.pem", key="key.pem")
    spec = ServerIdentitySpec("user", cert="chain.pem", key="key.pem", password="secret")
    assert "secret" not in repr(spec) and "secret" not in str(spec.describe())


def test_cli_run_exit_status_follows_the_expectation(tmp_path):
    base = [sys.executable, "-m", "sim", "run", "--firmware", "seedbug", "--tls", "1.2", "--suite", GCM,
            "--post", "/upload", "903"]
    ok = subprocess.run(base + ["--expect", "bad_record_mac", "--out", str(tmp_path / "a")],
                        capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "bad_record_mac" in ok.stdout and "first differing byte" in ok.stdout
    assert (tmp_path / "a" / "ladder.svg").exists()
    bad = subprocess.run(base + ["--expect", "ok", "--out", str(tmp_path / "b")],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "verdict: fail" in bad.stdout


def test_separate_processes_give_byte_identical_artifacts(tmp_path):
    """No hash-seed, address or wall-clock dependence leaks into what a run produces."""
    outs = []
    for hash_seed in ("1", "2"):
        out = tmp_path / f"p{hash_seed}"
        proc = subprocess.run([sys.executable, "-m", "sim", "run", "--firmware", "seedbug", "--tls", "1.1",
                               "--suite", RSA_CBC, "--post", "/upload", "4096", "--expect", "bad_record_mac",
                               "--out", str(out)], capture_output=True, text=True, timeout=300,
                              env={**os.environ, "PYTHONHASHSEED": hash_seed})
        assert proc.returncode == 0, proc.stdout + proc.stderr
        outs.append(out)
    for name in ("uart.log", "capture.pcapng", "journal.json", "diagnosis.txt"):
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name


def test_long_runs_report_progress_in_virtual_time():
    from sim.scenario import ScenarioRunner

    seen = []
    runner = ScenarioRunner(Scenario(firmware="fixed", tls_version="1.2", suite=GCM,
                                     steps=(Step("post", "/upload", 16384),)), progress=seen.append)
    assert runner.run().passed
    # the first report comes at once (later ones every PROGRESS_EVERY_S of wall time)
    assert seen and seen[0].startswith("waiting for the reply to 'tls version 1.2'")
    assert all("virtual" in text and " ms, " in text and "s wall" in text for text in seen)


def test_cli_run_exits_2_with_the_cause_when_the_scenario_cannot_finish(tmp_path, build_test_firmware):
    elf = build_test_firmware("scenario_fault")
    proc = subprocess.run([sys.executable, "-m", "sim", "run", "--firmware", str(elf), "--get", "/hello",
                           "--on-unmapped", "fault", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "PRECISERR" in proc.stdout and "BFAR=0x60000000" in proc.stdout and "handle_command" in proc.stdout
    assert (tmp_path / "result.json").exists() and (tmp_path / "uart.log").exists()
