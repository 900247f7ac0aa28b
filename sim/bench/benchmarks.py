"""The benchmarks behind `scripts/bench`: emulation speed and scenario cost, beside the limit of
our design (bare unicorn: no hooks, no counting, in the same run) and real time (a 168 MHz
STM32F407), as ratios, since absolute times vary between machines; and the compiled time base
against the Python fallback (TLS_FW_SIM_NATIVE=0, in a child process).

Each benchmark runs a few times after a warm-up; `run_benchmarks` returns the medians under the
keys README.md's Benchmarks section lists (raw_mips, machine_mips, firmware_bare_mips,
firmware_machine_mips, boot_cold_s, boot_snapshot_s, scenario_speedup_min, cli_cold_s,
post64k_kib_per_s, suite_wall_s, rss_mb, link_frames_per_s, fallback_machine_mips,
fallback_firmware_mips, fallback_scenario_speedup, qemu_icount_mips, pabot1_wall_s, pabot2_wall_s,
provenance_cost) plus the details (every sample, the per-suite handshake table, the QEMU anchor,
the pabot runs, the write trace's cost). CPU time of this process is what the MIPS figures divide
by (the 2-core CI machine is shared); wall time for the rest. Wall time is read here only to
measure; nothing it reads reaches a simulation.

The benchmarks measure a checkout (`project`): its robot/ suite and, under its build/, the
reference firmware and the compute loop built from firmware/core_bench.c beside this module.
mips.py measures the code speed, qemu.py the QEMU anchor, parallel.py the pabot runs.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from .errors import BenchError
from .mips import FIRMWARE_INSTRUCTIONS, bare_compute_mips, core_bench_elf, firmware_mips, machine_compute
from .parallel import children_cpu_s, pabot_run
from .qemu import qemu_anchor
from .samples import Samples, measure

MHZ = 168

# the matrix of the user's report: each TLS version with its two suites (robot/post_large.robot)
MATRIX = (
    ("1.0", "TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA"), ("1.0", "TLS-RSA-WITH-AES-128-CBC-SHA"),
    ("1.1", "TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA"), ("1.1", "TLS-RSA-WITH-AES-128-CBC-SHA"),
    ("1.2", "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256"), ("1.2", "TLS-RSA-WITH-AES-128-GCM-SHA256"),
)
ECDHE_GCM = ("1.2", "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256")

# the performance targets (README.md, Benchmarks); direction "min": the value must be at least the target
TARGETS = {
    "machine_mips": (1500.0, "min", "compute loop in the machine"),
    "firmware_machine_mips": (450.0, "min", "the reference firmware's ECDHE code in the machine"),
    "scenario_speedup_min": (3.0, "min", "every handshake faster than a 168 MHz STM32F407"),
    "cli_cold_s": (0.6, "max", "one-shot CLI scenario, cold process"),
    "boot_cold_s": (0.3, "max", "boot to `ready`, cold"),
    "boot_snapshot_s": (0.020, "max", "boot to `ready` from the snapshot"),
    "suite_wall_s": (180.0, "max", "robot/post_large.robot, whole suite"),
    "rss_mb": (300.0, "max", "peak resident memory, one machine running a 64 KiB POST"),
    "pabot2_vs_serial": (0.60, "max", "the suite under pabot with 2 processes / serial, on 2 cores"),
}


# --- (3) boot ---------------------------------------------------------------------------------------------------------
def _boot_cold() -> float:
    from sim.scenario import boot

    start = time.perf_counter()
    boot("fixed", cache=False)
    return time.perf_counter() - start


# --- (4) and (5): scenarios ---------------------------------------------------------------------------------------
def _scenario(booted, version: str, suite: str, size: int) -> dict:
    from sim.scenario import Scenario, Step, run_scenario

    m = booted.backend
    m.restore(booted.snapshot)
    base = m.stats
    scenario = Scenario(firmware="fixed", steps=(Step("post", "/upload", size),),
                        tls_version=version, suite=suite)
    cpu = time.process_time()
    result = run_scenario(scenario, booted=booted)
    cpu = time.process_time() - cpu
    if not result.passed:
        raise BenchError(f"benchmark scenario TLS {version} {suite} POST {size} failed:\n{result.summary()}")
    stats = m.stats
    return {"virtual_ms": result.virtual_ns / 1e6, "wall_s": result.wall_s, "cpu_s": cpu,
            "instructions": result.instructions, "speedup": result.speedup,
            "cpu_speedup": result.virtual_ns / 1e9 / cpu,
            "exceptions": stats["exceptions"] - base["exceptions"],
            "mmio_accesses": stats["mmio_accesses"] - base["mmio_accesses"],
            "mips": result.instructions / result.wall_s / 1e6}


def handshake_matrix(booted, runs: int) -> list[dict]:
    rows = []
    for version, suite in MATRIX:
        _scenario(booted, version, suite, 1)                       # warm-up
        samples = [_scenario(booted, version, suite, 1) for _ in range(runs)]
        row = {"tls": version, "suite": suite}
        for key in samples[0]:
            row[key] = statistics.median(s[key] for s in samples)
        row["speedup_samples"] = [s["speedup"] for s in samples]
        rows.append(row)
    return rows


# --- the one-shot CLI scenario in a cold process ----------------------------------------------------------------
def cli_cold_s(project: Path, runs: int) -> Samples:
    """`python -m sim run ...` (one POST over ECDHE-GCM) in a fresh process, wall seconds; the
    first run (untimed) leaves Python's bytecode cache behind, as an installed package has."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    version, suite = ECDHE_GCM

    def once() -> float:
        with tempfile.TemporaryDirectory(prefix="bench-cli-") as out:
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "sim", "run", "--firmware", "fixed", "--tls", version,
                                   "--suite", suite, "--post", "/upload", "1", "--out", out],
                                  cwd=project, capture_output=True, text=True, env=env)
            wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise BenchError(f"the one-shot CLI scenario failed:\n{proc.stdout}{proc.stderr}")
        return wall
    return measure(once, runs)


# --- the compiled time base against the Python fallback ------------------------------------------------------------
_FALLBACK_PROBE = """
import json, sys, time
from pathlib import Path
from sim.bench.benchmarks import fallback_figures
print(json.dumps(fallback_figures(Path(sys.argv[1]))))
"""


def fallback_figures(project: Path) -> dict:
    """In this process (run with TLS_FW_SIM_NATIVE=0): the compute loop, the ECDHE code and one
    ECDHE-GCM handshake with the Python time base, one sample each (it is slow)."""
    from sim.machine.timebase import implementation
    from sim.scenario import boot

    mips, _ = machine_compute(core_bench_elf(project))
    booted = boot("fixed")
    fw = firmware_mips(booted, FIRMWARE_INSTRUCTIONS // 3, 1)
    handshake = _scenario(booted, *ECDHE_GCM, 1)
    return {"time_base": implementation(), "machine_mips": mips,
            "firmware_machine_mips": fw["machine_mips"].median, "scenario_speedup": handshake["speedup"],
            "handshake": handshake}


def _fallback(project: Path) -> dict:
    import os

    env = {**os.environ, "TLS_FW_SIM_NATIVE": "0"}
    proc = subprocess.run([sys.executable, "-c", _FALLBACK_PROBE, str(project)], cwd=project,
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise BenchError(f"the Python time base's benchmark failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- (6) the Robot suite, (7) memory: separate processes ---------------------------------------------------------
def suite_run(project: Path) -> dict:
    """`robot robot/post_large.robot` in a fresh process; per-test speedups from its result.json."""
    with tempfile.TemporaryDirectory(prefix="bench-suite-") as out:
        load, cpu, start = os.getloadavg()[0], children_cpu_s(), time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "robot", "--outputdir", out, "--loglevel", "WARN",
                               "--console", "none", str(project / "robot" / "post_large.robot")],
                              cwd=project, capture_output=True, text=True)
        wall, cpu = time.perf_counter() - start, children_cpu_s() - cpu
        results = [json.loads(p.read_text()) for p in Path(out).glob("artifacts/*/*/result.json")]
    speedups = [r["speedup"] for r in results]
    return {"wall_s": wall, "cpu_s": cpu, "load_average": load, "tests": len(results), "failed": proc.returncode,
            "speedup_min": min(speedups) if speedups else None,
            "speedup_median": statistics.median(speedups) if speedups else None}


_RSS_PROBE = """
import json, resource
from sim.scenario import Scenario, Step, boot, run_scenario
booted = boot("fixed", cache=False)
run_scenario(Scenario(firmware="fixed", steps=(Step("post", "/upload", 65536),), tls_version="1.2",
                      suite="TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256"), booted=booted)
print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
"""


def _rss_mb(project: Path) -> float:
    proc = subprocess.run([sys.executable, "-c", _RSS_PROBE], cwd=project, capture_output=True,
                          text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1]) / 1024      # ru_maxrss is in KiB


# --- (8) the host side ----------------------------------------------------------------------------------------------
def _link_frames_per_s() -> float:
    from sim.net.bench import link_frames_per_second

    return link_frames_per_second(total_bytes=2 << 20)["link_frames_per_s"]


# --- (9) provenance: the write trace a failing run's replay turns on ----------------------------------------------
PROVENANCE_POST = ("1.2", "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256", 16384)


def provenance_cost(booted, runs: int) -> dict:
    """One POST three ways, interleaved: plain (as every scenario runs), with the diagnosis' call
    probes, and with the probes and the write trace on the ranges a failing run's replay traces
    (sim/diagnosis/run.py). Costs are medians of (wall / plain wall) - 1 over the samples; the
    trace is on by default only if its cost stays under 10% (docs/diagnosis.md)."""
    from sim.diagnosis import Case
    from sim.diagnosis.provenance_facts import plan_ranges
    from sim.diagnosis.run import replay_traced, run_probed
    from sim.scenario import Scenario, Step, run_scenario

    version, suite, size = PROVENANCE_POST
    scenario = Scenario(firmware="fixed", steps=(Step("post", "/upload", size),), tls_version=version, suite=suite)
    case = Case(scenario)
    runner, probes, _ = run_probed(case, booted)            # warm-up, and the ranges a replay would trace
    ranges = plan_ranges(runner, probes)
    rows = []
    for _ in range(runs):
        plain = _timed(lambda: run_scenario(scenario, booted=booted))
        probed = _timed(lambda: run_probed(case, booted))
        traced = _timed(lambda: replay_traced(case, booted, ranges))
        rows.append((plain, probed, traced))
    return {"scenario": f"TLS {version} {suite} POST {size}", "ranges": len(ranges),
            "traced_bytes": sum(b - a for a, b, _ in ranges),
            "wall_s": {"plain": [r[0] for r in rows], "probes": [r[1] for r in rows], "trace": [r[2] for r in rows]},
            "probes_cost": Samples([b / a - 1 for a, b, _ in rows]), "cost": Samples([c / a - 1 for a, _, c in rows])}


# --- all of them ------------------------------------------------------------------------------------------------------
def run_benchmarks(project: Path, quick: bool = False, runs: int | None = None,
                   progress: Callable[[str], None] = lambda text: None) -> dict:
    """Every benchmark of the checkout `project`; `quick` skips the Robot suite and takes fewer samples."""
    from sim.scenario import boot
    from sim.tls.certs import generate_test_pki

    runs = runs or (3 if quick else 5)
    out: dict = {}
    details: dict = {}

    progress("compute loop: bare unicorn and the machine")
    elf = core_bench_elf(project)
    machine_runs = [machine_compute(elf) for _ in range(runs + 1)][1:]
    machine = Samples([mips for mips, _ in machine_runs])
    raw = measure(lambda: bare_compute_mips(elf, machine_runs[0][1]), runs)
    details["raw_mips"], details["machine_mips"] = raw.to_dict(), machine.to_dict()
    details["compute_instructions"] = machine_runs[0][1]

    progress("boot to `ready`: cold and from the snapshot")
    generate_test_pki()                                  # once per process, not a boot cost
    cold = measure(_boot_cold, runs)
    booted = boot("fixed")
    m = booted.backend
    snap = measure(lambda: _timed(lambda: m.restore(booted.snapshot)), runs * 4)
    details["boot_cold_s"], details["boot_snapshot_s"] = cold.to_dict(), snap.to_dict()

    progress("the reference firmware's ECDHE code: bare unicorn and the machine")
    fw = firmware_mips(booted, FIRMWARE_INSTRUCTIONS, runs)
    details["firmware"] = {"machine_mips": fw["machine_mips"].to_dict(), "bare_mips": fw["bare_mips"].to_dict(),
                           "instructions": fw["instructions"], "bare_instructions": fw["bare_instructions"],
                           "from": fw["from"]}

    progress(f"one handshake per suite of the matrix ({len(MATRIX)} suites)")
    matrix = handshake_matrix(booted, runs)
    details["handshakes"] = matrix

    progress("POST 64 KiB")
    post = [_scenario(booted, "1.2", "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256", 65536) for _ in range(runs + 1)][1:]
    post_rate = Samples([64 / p["wall_s"] for p in post])
    details["post64k"] = {"kib_per_s": post_rate.to_dict(), "wall_s": statistics.median(p["wall_s"] for p in post),
                          "virtual_ms": post[0]["virtual_ms"], "instructions": post[0]["instructions"],
                          "speedup": statistics.median(p["speedup"] for p in post)}

    progress("one-shot CLI scenario in a cold process")
    cli = cli_cold_s(project, runs)
    details["cli_cold_s"] = cli.to_dict()

    progress("the same with the Python time base (TLS_FW_SIM_NATIVE=0, a child process)")
    fallback = _fallback(project)
    details["fallback"] = fallback

    progress("link + host stack frames per second")
    link = measure(_link_frames_per_s, runs)
    details["link_frames_per_s"] = link.to_dict()

    progress("provenance: a POST plain, with the call probes, with the write trace")
    prov = provenance_cost(booted, runs)
    details["provenance"] = {**prov, "probes_cost": prov["probes_cost"].to_dict(), "cost": prov["cost"].to_dict()}

    progress("peak resident memory (a fresh process: boot + POST 64 KiB)")
    rss = measure(lambda: _rss_mb(project), 1 if quick else 3, warmup=0)
    details["rss_mb"] = rss.to_dict()

    progress("QEMU -icount shift=0 on the compute loop (the anchor)")
    qemu = qemu_anchor(project, runs)
    details["qemu"] = qemu

    suite = pabot = None
    if not quick:
        progress("robot robot/post_large.robot, and under pabot with 1 and 2 processes (3 runs each, interleaved)")
        suite_runs, pabot_runs = [], {1: [], 2: []}
        for _ in range(3):
            suite_runs.append(suite_run(project))
            for processes, samples in pabot_runs.items():
                samples.append(pabot_run(project, processes))
        suite = Samples([s["wall_s"] for s in suite_runs])
        details["suite"] = {"wall_s": suite.to_dict(), "tests": suite_runs[0]["tests"],
                            "cpu_s": [s["cpu_s"] for s in suite_runs],
                            "load_average": [s["load_average"] for s in suite_runs],
                            "failed_runs": sum(1 for s in suite_runs if s["failed"]),
                            "speedup_min": min(s["speedup_min"] or 0 for s in suite_runs),
                            "speedup_median": statistics.median(s["speedup_median"] or 0 for s in suite_runs)}
        pabot = {n: Samples([r["wall_s"] for r in rs]) for n, rs in pabot_runs.items()}
        details["pabot"] = {str(n): {"wall_s": pabot[n].to_dict(), "tests": rs[0]["tests"],
                                     "cpu_s": [r["cpu_s"] for r in rs],
                                     "load_average": [r["load_average"] for r in rs],
                                     "failed_runs": sum(1 for r in rs if r["failed"])}
                            for n, rs in pabot_runs.items()}

    out.update({
        "raw_mips": raw.median,
        "machine_mips": machine.median,
        "boot_cold_s": cold.median,
        "boot_snapshot_s": snap.median,
        "scenario_speedup_min": min(row["speedup"] for row in matrix),
        "post64k_kib_per_s": post_rate.median,
        "suite_wall_s": suite.median if suite is not None else None,
        "rss_mb": rss.median,
        "link_frames_per_s": link.median,
        "provenance_cost": prov["cost"].median,
        "machine_vs_raw": machine.median / raw.median,
        "firmware_machine_mips": fw["machine_mips"].median,
        "firmware_bare_mips": fw["bare_mips"].median,
        "firmware_machine_vs_bare": fw["machine_mips"].median / fw["bare_mips"].median,
        "cli_cold_s": cli.median,
        "fallback_machine_mips": fallback["machine_mips"],
        "fallback_firmware_mips": fallback["firmware_machine_mips"],
        "fallback_scenario_speedup": fallback["scenario_speedup"],
        "qemu_icount_mips": qemu.get("median"),
        "machine_vs_qemu": machine.median / qemu["median"] if "median" in qemu else None,
        "pabot1_wall_s": pabot[1].median if pabot else None,
        "pabot2_wall_s": pabot[2].median if pabot else None,
        "pabot2_vs_serial": pabot[2].median / suite.median if pabot else None,
    })
    spreads = {"raw_mips": raw, "machine_mips": machine, "boot_cold_s": cold, "boot_snapshot_s": snap,
               "cli_cold_s": cli,
               "post64k_kib_per_s": post_rate, "rss_mb": rss, "link_frames_per_s": link,
               "firmware_machine_mips": fw["machine_mips"], "firmware_bare_mips": fw["bare_mips"],
               "provenance_cost": prov["cost"]}
    if "mips" in qemu:
        spreads["qemu_icount_mips"] = Samples(qemu["mips"])
    if suite is not None:
        spreads["suite_wall_s"] = suite
    if pabot is not None:
        spreads["pabot1_wall_s"], spreads["pabot2_wall_s"] = pabot[1], pabot[2]
    out["spread"] = {k: v.spread() for k, v in spreads.items()}
    out["targets"] = {k: {"target": t, "kind": kind, "what": what,
                          "met": None if out.get(k) is None else
                          (out[k] >= t if kind == "min" else out[k] <= t)}
                      for k, (t, kind, what) in TARGETS.items()}
    out["details"] = details
    out["quick"] = quick
    out["runs"] = runs
    out["environment"] = _environment()
    return out


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _environment() -> dict:
    import unicorn

    from sim.machine.timebase import implementation

    try:
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), platform.processor())
    except OSError:
        cpu = platform.processor()
    return {"python": platform.python_version(), "unicorn": unicorn.__version__, "cpu": cpu,
            "time_base": implementation(),
            "load_average": list(__import__("os").getloadavg()),
            "max_rss_mb_this_process": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
