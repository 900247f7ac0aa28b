"""The gallery's Robot keywords in a suite of their own: a test whose cause assertion fails leaves
a result.json that says `fail` (with the assertion's message), so CI's collection of failed tests'
artifacts (scripts/collect-failed-artifacts) picks it and only it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SUITE = """\
*** Settings ***
Library           sim.keywords.SimKeywords
Test Teardown     Save Diagnosis Verdict

*** Test Cases ***
A wrong expectation
    [Tags]    fixed
    Use Firmware    fixed
    ${d}=    Diagnose HTTPS POST    /upload    903    tls=1.2    suite=TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256
    Cause Should Be    ${d}    transport_corruption

A right one
    [Tags]    fixed
    Use Firmware    fixed
    ${d}=    Diagnose HTTPS POST    /upload    903    tls=1.2    suite=TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256
    Cause Should Be    ${d}    none
    Key Evidence Should Contain    ${d}    every record verified
"""


def test_a_failed_cause_assertion_marks_the_runs_result_failed(tmp_path):
    suite = tmp_path / "verdicts.robot"
    suite.write_text(SUITE)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "robot", "--outputdir", str(out), "--console", "none", str(suite)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stdout + proc.stderr          # one test failed
    artifacts = out / "artifacts" / "Verdicts"
    wrong = json.loads((artifacts / "A_wrong_expectation" / "result.json").read_text())
    right = json.loads((artifacts / "A_right_one" / "result.json").read_text())
    assert wrong["verdict"] == "fail" and wrong["failure"].startswith("the cause is none, not transport_corruption")
    assert right["verdict"] == "pass" and right["failure"] is None
    collected = subprocess.run([sys.executable, str(ROOT / "scripts" / "collect-failed-artifacts"), str(out),
                                str(tmp_path / "failed")], capture_output=True, text=True, timeout=60)
    assert collected.returncode == 0, collected.stderr
    assert [p.name for p in (tmp_path / "failed" / "artifacts" / "Verdicts").iterdir()] == ["A_wrong_expectation"]
