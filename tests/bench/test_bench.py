"""scripts/bench --quick --json: one JSON object with the keys the issue names, each a sane
number (no timing thresholds here: speed is what the benchmark reports, not what tests assert)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KEYS = ("raw_mips", "machine_mips", "boot_cold_s", "boot_snapshot_s", "scenario_speedup_min",
        "post64k_kib_per_s", "suite_wall_s", "rss_mb", "link_frames_per_s")


def test_quick_json_has_every_key_as_a_sane_number():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench"), "--quick", "--json", "--runs", "1"],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)                  # exactly one JSON object on stdout
    assert isinstance(result, dict) and result["quick"] is True
    for key in KEYS:
        assert key in result, key
    assert result["suite_wall_s"] is None             # --quick skips the suite run
    for key in set(KEYS) - {"suite_wall_s"}:
        value = result[key]
        assert isinstance(value, (int, float)) and math.isfinite(value) and value > 0, (key, value)
    assert result["boot_snapshot_s"] < result["boot_cold_s"]
    assert 10 < result["rss_mb"] < 100_000
    rows = result["details"]["handshakes"]
    assert len(rows) == 6 and {r["tls"] for r in rows} == {"1.0", "1.1", "1.2"}
    for row in rows:
        assert row["instructions"] > 1_000_000 and row["exceptions"] > 0 and row["mmio_accesses"] > 0
        assert math.isclose(row["speedup"], row["virtual_ms"] / 1000 / row["wall_s"], rel_tol=0.05)
    assert result["targets"]["boot_cold_s"]["met"] in (True, False)


def test_bad_arguments_are_refused_with_a_clear_message():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench"), "--runs", "0"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 2 and "--runs must be at least 1" in proc.stderr
