"""The size sweep (sim/sweep.py, `python -m sim sweep`): bisection over deterministic runs.

seedbug's threshold is checked against the capture, read with dpkt: the body one byte smaller
passes and its largest frame fits the 1020 bytes the TX copy keeps intact, the threshold's body
fails and puts a longer frame on the wire. The number of scenario runs is counted where they
happen (ScenarioRunner.run), not taken from the sweep's own account."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import dpkt
import pytest

import sim.sweep
from sim.scenario import InvalidScenario, Scenario, ScenarioRunner, Step, run_scenario
from sim.sweep import sweep

ROOT = Path(__file__).resolve().parents[2]
GCM = "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256"
INTACT = 1020               # firmware/README.md: seedbug copies frame bytes 0-1019 of a TX buffer intact


def post(size: int, firmware: str = "seedbug") -> Scenario:
    return Scenario(firmware=firmware, tls_version="1.2", suite=GCM, steps=(Step("post", "/upload", size,
                                                                                  expect="any"),))


@pytest.fixture(scope="module")
def seedbug_sweep():
    runs = []
    original = ScenarioRunner.run

    def counted(self, *args, **kwargs):
        runs.append(self.scenario.steps[0].size)
        return original(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ScenarioRunner, "run", counted)
        result = sweep(post(1), 1, 65536)
    return result, runs


def largest_device_frame(out: Path) -> int:
    with open(out / "capture.pcapng", "rb") as f:
        frames = [bytes(buf) for _, buf in dpkt.pcapng.Reader(f)]
    device = [f for f in frames if dpkt.ethernet.Ethernet(f).src == bytes.fromhex("02000000 0f07")]
    return max(len(f) for f in device)


def test_seedbug_threshold_is_found_in_at_most_20_runs(seedbug_sweep, tmp_path):
    result, runs = seedbug_sweep
    assert result.found and result.monotonic
    assert len(runs) == len(result.runs) <= 20
    n = result.smallest_failing
    below = run_scenario(post(n - 1), out_dir=tmp_path / "below")
    at = run_scenario(post(n), out_dir=tmp_path / "at")
    assert below.steps[0].ok and below.steps[0].sessions[0].journal.first_failure() is None
    assert at.steps[0].outcome == "bad_record_mac"
    assert largest_device_frame(tmp_path / "below") <= INTACT < largest_device_frame(tmp_path / "at")
    # and the sweep says so, with the cause it found at the threshold
    assert result.cause.key == "transport_corruption"
    assert f"fails once a frame exceeds {INTACT} bytes" in result.meaning
    assert f"first failing body {n} bytes" in result.meaning


def test_the_sweep_on_the_command_line(seedbug_sweep):
    result, _ = seedbug_sweep
    n = result.smallest_failing
    proc = subprocess.run([sys.executable, "-m", "sim", "sweep", "--firmware", "seedbug", "--tls", "1.2",
                           "--suite", GCM, "--post", "/upload", "--from", str(n - 40), "--to", str(n + 40),
                           "--json"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["smallest_failing"] == n and out["largest_passing"] == n - 1 and out["monotonic"] is True
    assert all(r["passed"] == (r["size"] < n) for r in out["runs"])


# --- the bisection itself, on outcomes given by a rule (no firmware) --------------------------------

def fake_runs(monkeypatch, fails):
    """Make each run's outcome `fails(size)`; returns the sizes run, in order."""
    sizes = []

    def run_case(case, provenance="auto", booted=None, **_):
        size = case.scenario.steps[0].size
        sizes.append(size)
        failed = fails(size)
        cause = SimpleNamespace(key="transport_corruption" if failed else "none", title="transport corruption",
                                key_line="", to_dict=lambda: {})
        return SimpleNamespace(result=SimpleNamespace(error=None), step=SimpleNamespace(
            outcome="bad_record_mac" if failed else "ok"), cause=cause, evidence={})

    monkeypatch.setattr(sim.sweep, "boot_scenario", lambda scenario: None)
    monkeypatch.setattr("sim.diagnosis.run_case", run_case)
    return sizes


def test_bisection_cost_is_logarithmic(monkeypatch):
    sizes = fake_runs(monkeypatch, lambda size: size >= 12345)
    result = sweep(post(1, "fixed"), 1, 65536, checks=2)
    assert result.smallest_failing == 12345 and result.largest_passing == 12344 and result.monotonic
    assert len(sizes) == len(set(sizes)) == 2 + 16 + 2      # both ends, log2(65535) halvings, the checks
    assert {12346} < set(sizes)                              # the size right above is checked


def test_a_size_that_passes_above_the_boundary_is_reported_as_not_monotonic(monkeypatch):
    fake_runs(monkeypatch, lambda size: 1000 <= size < 1001 or size >= 1100)
    result = sweep(post(1, "fixed"), 1, 2000, checks=2)
    assert result.monotonic is False and result.violations == [(1001, 1000)]
    assert result.summary().startswith("not monotonic: 1001 bytes pass although 1000 fail")


def test_no_failure_in_the_range_and_failure_from_the_start(monkeypatch):
    fake_runs(monkeypatch, lambda size: False)
    result = sweep(post(1, "fixed"), 1, 4096)
    assert not result.found and result.summary().startswith("no failing size from 1 to 4096 bytes")
    fake_runs(monkeypatch, lambda size: True)
    result = sweep(post(1, "fixed"), 5, 4096)
    assert result.smallest_failing == 5 and "fails at every size tried, from 5 bytes on" in result.meaning


@pytest.mark.parametrize("low, high, checks, message", [
    (10, 10, 2, "needs 0 <= --from < --to"), (10, 5, 2, "needs 0 <= --from < --to"),
    (1, 100, -1, "check runs must be 0 or more")])
def test_bad_ranges_are_refused(low, high, checks, message):
    with pytest.raises(InvalidScenario, match=message):
        sweep(post(1, "fixed"), low, high, checks=checks)
