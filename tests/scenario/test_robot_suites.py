"""The Robot suites are the main job: run them exactly as a user does and check every test passed,
so CI covers them (the README's test command is plain `pytest`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from robot.api import ExecutionResult

ROOT = Path(__file__).resolve().parents[2]


def _run_suite(name: str, out: Path) -> tuple[subprocess.CompletedProcess, object]:
    proc = subprocess.run([sys.executable, "-m", "robot", "--outputdir", str(out), "--console", "dotted",
                           str(ROOT / "robot" / f"{name}.robot")],
                          cwd=ROOT, capture_output=True, text=True, timeout=1500)
    return proc, ExecutionResult(str(out / "output.xml"))


def _failures(result) -> list[str]:
    failed = []

    def visit(suite):
        for test in suite.tests:
            if test.status != "PASS":
                failed.append(f"{test.name}: {test.message[:400]}")
        for child in suite.suites:
            visit(child)

    visit(result.suite)
    return failed


@pytest.mark.slow
def test_get_suite_passes_on_both_images(tmp_path):
    proc, result = _run_suite("get", tmp_path)
    stats = result.statistics.total
    assert proc.returncode == 0 and not _failures(result), "\n".join(_failures(result)) or proc.stdout[-3000:]
    assert stats.passed == 12 and stats.failed == 0       # 6 version/suite pairs x 2 images


@pytest.mark.slow
def test_post_large_suite_reproduces_the_report(tmp_path):
    proc, result = _run_suite("post_large", tmp_path)
    stats = result.statistics.total
    assert proc.returncode == 0 and not _failures(result), "\n".join(_failures(result)) or proc.stdout[-3000:]
    assert stats.passed == 84 and stats.failed == 0       # 6 pairs x 7 sizes x 2 images
    # every seedbug failure left its artifacts behind, linked from the log
    artifacts = tmp_path / "artifacts"
    diagnoses = list(artifacts.glob("*/seedbug_TLS_1.2_RSA-GCM_POST_903/diagnosis.txt"))
    assert diagnoses and "eth_tx_buffers" in diagnoses[0].read_text()
    # log.html links them (its messages are compressed; output.xml holds the same messages in clear)
    assert (tmp_path / "output.xml").read_text().count("capture.pcapng&lt;/a&gt;") >= 84
    # each test's result.json carries its verdict: the seedbug failures are expected, so all pass
    verdicts = {json.loads(p.read_text())["verdict"] for p in artifacts.glob("*/*/result.json")}
    assert verdicts == {"pass"}


@pytest.mark.slow
def test_device_initiated_suite_follows_the_autopost_images(tmp_path):
    proc, result = _run_suite("device_initiated", tmp_path)
    stats = result.statistics.total
    assert proc.returncode == 0 and not _failures(result), "\n".join(_failures(result)) or proc.stdout[-3000:]
    assert stats.passed == 5 and stats.failed == 0
    test = "autopost-seedbug_POSTs_fail_with_bad_record_mac_diagnosed_as_seedbug"
    seedbug = tmp_path / "artifacts" / "Device_Initiated" / test
    saved = json.loads((seedbug / "result.json").read_text())
    assert saved["verdict"] == "pass"
    assert [r["alert"] for c in saved["connections"] for r in c["requests"]][:2] == ["bad_record_mac"] * 2
    assert "eth_tx_buffers" in (seedbug / "diagnosis.txt").read_text()


@pytest.mark.slow
def test_link_suite_pulls_and_plugs_the_cable(tmp_path):
    proc, result = _run_suite("link", tmp_path)
    stats = result.statistics.total
    assert proc.returncode == 0 and not _failures(result), "\n".join(_failures(result)) or proc.stdout[-3000:]
    assert stats.passed == 2 and stats.failed == 0
    # the firmware's own view of the middle request: lwIP's connect timed out (ETIMEDOUT)
    uart = (tmp_path / "artifacts" / "Link" / "A_GET_fails_while_the_cable_is_out_and_works_once_the_link_is_back"
            / "uart.log").read_text()
    assert uart.count("get: ok status=200 length=100") == 2 and "get: error connect -0x0044" in uart


@pytest.mark.slow
def test_server_identity_suite_covers_the_three_cases(tmp_path):
    proc, result = _run_suite("server_identity", tmp_path)
    stats = result.statistics.total
    assert proc.returncode == 0 and not _failures(result), "\n".join(_failures(result)) or proc.stdout[-3000:]
    assert stats.passed == 6 and stats.failed == 0
    artifacts = tmp_path / "artifacts" / "Server_Identity"
    modes = {p.parent.name: json.loads(p.read_text())["server_identity"]["mode"]
             for p in artifacts.glob("*/result.json")}
    assert sorted(modes.values()) == ["substituted", "substituted", "test-pki", "test-pki", "user", "user"]
    substituted = json.loads(next(p for p in artifacts.glob("*autopost-prod-fixed_accepts*/result.json")).read_text())
    assert [r["format"] for r in substituted["server_identity"]["replaced"]] == ["der", "pem"]


@pytest.mark.slow
def test_gallery_suite_names_every_cause(tmp_path):
    proc, result = _run_suite("gallery", tmp_path)
    stats = result.statistics.total
    assert proc.returncode == 0 and not _failures(result), "\n".join(_failures(result)) or proc.stdout[-3000:]
    assert stats.passed == 50 and stats.failed == 0   # 7 images x 3 rows, fixed beside each, 7 passes, a sweep
    # each diagnosed run left its artifacts, the cause (and the evidence it was named from) among them
    causes = {p.parent.name: json.loads(p.read_text())["cause"]["class"]
              for p in (tmp_path / "artifacts" / "Gallery").glob("*/cause.json")}
    assert len(causes) == 49
    assert causes["bug-tcp-nocopy_TLS_1.0_ECDHE-CBC_POST_16384_lost-tail"] == "retransmission_mismatch"
    assert {c for name, c in causes.items() if name.startswith("fixed_")} == {"none"}
    text = (tmp_path / "artifacts" / "Gallery" / "seedbug_TLS_1.0_RSA-CBC_POST_4096_clean" / "diagnosis.txt").read_text()
    assert "== cause ==\nCause: transport corruption (transport_corruption)" in text
