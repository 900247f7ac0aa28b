"""scripts/bench --quick --json: one JSON object with the keys README.md's Benchmarks section
names, each a sane number (no timing thresholds here: speed is what the benchmark reports, not
what tests assert)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KEYS = ("raw_mips", "machine_mips", "firmware_bare_mips", "firmware_machine_mips", "boot_cold_s",
        "boot_snapshot_s", "scenario_speedup_min", "cli_cold_s", "post64k_kib_per_s", "suite_wall_s",
        "rss_mb", "link_frames_per_s", "fallback_machine_mips", "fallback_firmware_mips",
        "fallback_scenario_speedup", "qemu_icount_mips", "pabot1_wall_s", "pabot2_wall_s",
        "provenance_cost")
SUITE_KEYS = ("suite_wall_s", "pabot1_wall_s", "pabot2_wall_s", "pabot2_vs_serial")    # not with --quick
# README.md, Benchmarks: compute loop >= 1500 MIPS, ECDHE code >= 450 MIPS, handshakes >= 3x real
# time, the one-shot CLI <= 0.6 s, cold boot < 0.3 s, boot from the snapshot < 20 ms, the
# post_large suite < 3 min, peak RSS <= 300 MB, the suite under pabot with 2 processes <= 60% of
# the serial run
README_TARGETS = {"machine_mips": (1500.0, "min"), "firmware_machine_mips": (450.0, "min"),
                  "scenario_speedup_min": (3.0, "min"), "cli_cold_s": (0.6, "max"),
                  "boot_cold_s": (0.3, "max"), "boot_snapshot_s": (0.020, "max"),
                  "suite_wall_s": (180.0, "max"), "rss_mb": (300.0, "max"),
                  "pabot2_vs_serial": (0.60, "max")}


def test_quick_json_has_every_key_as_a_sane_number():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench"), "--quick", "--json", "--runs", "1"],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)                  # exactly one JSON object on stdout
    assert isinstance(result, dict) and result["quick"] is True
    for key in KEYS:
        assert key in result, key
    for key in SUITE_KEYS:
        assert result[key] is None, key                # --quick skips the suite runs
    # a cost is a fraction of a wall time (it may come out negative on a busy machine, never below -1)
    assert math.isfinite(result["provenance_cost"]) and result["provenance_cost"] > -1
    provenance = result["details"]["provenance"]
    assert provenance["ranges"] > 0 and provenance["traced_bytes"] > 0
    assert len(provenance["wall_s"]["trace"]) == result["runs"] and provenance["cost"]["median"] == \
        result["provenance_cost"]
    for key in set(KEYS) - set(SUITE_KEYS) - {"provenance_cost"}:
        value = result[key]
        assert isinstance(value, (int, float)) and math.isfinite(value) and value > 0, (key, value)
    assert 10 < result["rss_mb"] < 100_000
    rows = result["details"]["handshakes"]
    assert len(rows) == 6 and {r["tls"] for r in rows} == {"1.0", "1.1", "1.2"}
    for row in rows:
        assert row["instructions"] > 1_000_000 and row["exceptions"] > 0 and row["mmio_accesses"] > 0
        assert math.isclose(row["speedup"], row["virtual_ms"] / 1000 / row["wall_s"], rel_tol=0.05)
    assert result["scenario_speedup_min"] == min(row["speedup"] for row in rows)
    # the helper on/off comparison ran the Python time base in its own process
    assert result["details"]["fallback"]["time_base"] == "python"
    assert result["environment"]["time_base"] in ("native", "python")

    # the targets are the ones README.md documents, and each verdict is the reported median held
    # against its target in the documented direction (whatever the speed of this machine)
    targets = result["targets"]
    assert {key: (t["target"], t["kind"]) for key, t in targets.items()} == README_TARGETS
    assert targets["suite_wall_s"]["met"] is None and targets["pabot2_vs_serial"]["met"] is None
    # the QEMU anchor ran (scripts/setup installs qemu-system-arm), on the instructions the machine counted
    qemu = result["details"]["qemu"]
    assert "skipped" not in qemu, qemu.get("skipped")
    assert qemu["instructions"] > qemu["iterations"] and "-icount" in qemu["command"]
    for key, t in targets.items():
        if result[key] is not None:
            expected = result[key] >= t["target"] if t["kind"] == "min" else result[key] <= t["target"]
            assert t["met"] is expected, (key, result[key], t)


def test_bad_arguments_are_refused_with_a_clear_message():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench"), "--runs", "0"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 2 and "--runs must be at least 1" in proc.stderr
