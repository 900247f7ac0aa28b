"""The benchmarks behind `scripts/bench`: emulation speed and scenario cost, beside the limit of
our own design (bare unicorn with instruction counting, in the same run) and real time (a
168 MHz STM32F407), as ratios, since absolute times vary between machines.

Each benchmark runs a few times after a warm-up; `run_benchmarks` returns the medians under the
keys README.md's Benchmarks section lists (raw_mips, machine_mips, boot_cold_s, boot_snapshot_s,
scenario_speedup_min, post64k_kib_per_s, suite_wall_s, rss_mb, link_frames_per_s, qemu_icount_mips,
pabot1_wall_s, pabot2_wall_s, provenance_cost) plus the details (every sample, the per-suite
handshake table, the same comparison on the reference firmware's own code, the QEMU anchor, the
pabot runs, the write trace's cost). Wall time is read here only to measure; nothing it reads
reaches a simulation.

The benchmarks measure a checkout (`project`): its robot/ suite and, under its build/, the
reference firmware and the compute loop built from firmware/core_bench.c beside this module.
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
from dataclasses import dataclass, field
from importlib.resources import as_file, files
from pathlib import Path
from typing import Callable

from unicorn import arm_const as A

from sim.baremetal import ImageBuildError, build_image

from .errors import BenchError
from .parallel import children_cpu_s, pabot_run
from .qemu import qemu_anchor

MHZ = 168

# the matrix of the user's report: each TLS version with its two suites (robot/post_large.robot)
MATRIX = (
    ("1.0", "TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA"), ("1.0", "TLS-RSA-WITH-AES-128-CBC-SHA"),
    ("1.1", "TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA"), ("1.1", "TLS-RSA-WITH-AES-128-CBC-SHA"),
    ("1.2", "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256"), ("1.2", "TLS-RSA-WITH-AES-128-GCM-SHA256"),
)
COMPUTE_INSTRUCTIONS = 40_000_000      # of the core_bench compute loop, per run
FIRMWARE_INSTRUCTIONS = 6_000_000      # of the reference firmware's ECDHE code, per run
FIRMWARE_MARK = "mbedtls_ecdh_calc_secret"      # where that code starts (client side of ECDHE)

# the performance targets (README.md, Benchmarks); direction "min": the value must be at least the target
TARGETS = {
    "machine_vs_raw": (0.75, "min", "machine MIPS / bare counted unicorn, compute loop"),
    "scenario_speedup_min": (3.0, "min", "every handshake faster than a 168 MHz STM32F407"),
    "boot_cold_s": (0.3, "max", "boot to `ready`, cold"),
    "boot_snapshot_s": (0.020, "max", "boot to `ready` from the snapshot"),
    "suite_wall_s": (180.0, "max", "robot/post_large.robot, whole suite"),
    "rss_mb": (300.0, "max", "peak resident memory, one machine running a 64 KiB POST"),
    "pabot2_vs_serial": (0.60, "max", "the suite under pabot with 2 processes / serial, on 2 cores"),
}


@dataclass
class Samples:
    values: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def spread(self) -> str:
        lo, hi = min(self.values), max(self.values)
        if len(self.values) < 2 or not self.median:
            return "-"
        return f"±{(hi - lo) / 2 / abs(self.median) * 100:.1f}%"

    def to_dict(self) -> dict:
        return {"median": self.median, "min": min(self.values), "max": max(self.values),
                "samples": self.values}


def _measure(fn: Callable[[], float], runs: int, warmup: int = 1) -> Samples:
    for _ in range(warmup):
        fn()
    return Samples([fn() for _ in range(runs)])


# --- (1) and (2): the compute loop, bare and inside the machine -----------------------------------------------
def _core_bench_elf(project: Path) -> Path:
    try:
        with as_file(files(__package__) / "firmware") as source_dir:
            return build_image("core_bench", source_dir, project / "build" / "bench-firmware",
                               defines={"WORKLOAD": 1, "ITERATIONS": 100_000_000}, variant="compute")
    except ImageBuildError as exc:
        raise BenchError(f"cannot build the compute loop (sim/bench/firmware/core_bench.c): {exc}") from None


def _bare_core(memories: list[tuple[int, bytes, bool]]):
    """A UnicornCore (counted, same TLB policy as the machine) with plain memory, no hooks."""
    import ctypes

    from unicorn import unicorn_const as U

    from sim.machine.cpu import UnicornCore

    core = UnicornCore()
    keep = []
    for base, data, code in memories:
        buf = (ctypes.c_ubyte * len(data)).from_buffer_copy(data)
        keep.append(buf)
        core.map_buffer(base, buf, U.UC_PROT_READ | U.UC_PROT_EXEC if code else U.UC_PROT_ALL)
        if not code:
            core.add_data_ram(base, base + len(data))
    core._bench_buffers = keep
    return core


def _bare_compute_mips(elf: Path, count: int) -> float:
    from sim.machine.elf import read_elf

    image = read_elf(elf)
    flash = bytearray(0x10_0000)
    for seg in image.segments:
        off = seg.load_address - 0x0800_0000
        flash[off:off + len(seg.data)] = seg.data
    # the startup touches CPACR and the loop's end SysTick: plain RAM stands in for the SCS here
    core = _bare_core([(0x0800_0000, bytes(flash), True), (0x2000_0000, bytes(0x2_0000), False),
                       (0x1000_0000, bytes(0x1_0000), False), (0xE000_E000, bytes(0x1000), False)])
    uc = core.uc
    uc.reg_write(A.UC_ARM_REG_MSP, int.from_bytes(flash[0:4], "little"))
    start = time.perf_counter()
    core.start(int.from_bytes(flash[4:8], "little"), count)
    elapsed = time.perf_counter() - start
    return (core.counter - 1) / elapsed / 1e6


def _machine_compute_mips(elf: Path, count: int) -> float:
    from sim.machine import Machine

    m = Machine()
    m.load_elf(elf)
    start = time.perf_counter()
    m.run(count)
    elapsed = time.perf_counter() - start
    return m.stats["instructions"] / elapsed / 1e6


# --- the same comparison on the reference firmware's own code -------------------------------------------------
class _Reached(Exception):
    pass


def _reached(ctx) -> None:
    raise _Reached()


def _firmware_at_mark(booted) -> None:
    """Run the ECDHE-GCM scenario until the firmware enters FIRMWARE_MARK (CPU halted there)."""
    from sim.scenario import Scenario, ScenarioRunner, Step

    m = booted.backend
    scenario = Scenario(firmware="fixed", steps=(Step("post", "/upload", 1, expect="any"),),
                        tls_version="1.2", suite="TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256")
    runner = ScenarioRunner(scenario, booted=booted)
    handle = m.hook(FIRMWARE_MARK, _reached)
    try:
        runner.run()
    except _Reached:
        return
    finally:
        m.unhook(handle)
        runner.finish([])                        # detach the runner's hooks and callbacks
    raise BenchError(f"the reference firmware never reached {FIRMWARE_MARK}")


_CONTEXT = (tuple(getattr(A, f"UC_ARM_REG_R{i}") for i in range(13))
            + (A.UC_ARM_REG_LR, A.UC_ARM_REG_CONTROL, A.UC_ARM_REG_MSP, A.UC_ARM_REG_PSP,
               A.UC_ARM_REG_XPSR, A.UC_ARM_REG_APSR_NZCV, A.UC_ARM_REG_BASEPRI, A.UC_ARM_REG_PRIMASK,
               A.UC_ARM_REG_FPSCR) + tuple(A.UC_ARM_REG_S0 + i for i in range(32)))


def firmware_mips(booted, count: int, runs: int) -> dict:
    """Machine MIPS and bare counted unicorn MIPS on the reference firmware's ECDHE arithmetic,
    from the same CPU state: the bare core has the firmware's memory and registers but no
    peripherals, so it stops at the first MMIO access (the instructions up to there count)."""
    m = booted.backend
    _firmware_at_mark(booted)
    state = m.snapshot()
    regs = [m.core.uc.reg_read(r) for r in _CONTEXT]
    pc = m.read_register("pc")
    memories = [(r.base, bytes(r.view), not r.writable) for r in m.bus.memories if r.base == r.alias_of]

    def machine_run() -> float:
        m.restore(state)
        before = m.stats["instructions"]
        start = time.perf_counter()
        m.run(count)
        elapsed = time.perf_counter() - start
        return (m.stats["instructions"] - before) / elapsed / 1e6

    executed = []
    core = _bare_core(memories)        # one core: its translated code stays warm, as the machine's

    def bare_run() -> float:
        import unicorn

        for buf, (_, data, _) in zip(core._bench_buffers, memories):
            buf[:] = data
        for reg, value in zip(_CONTEXT, regs):
            core.uc.reg_write(reg, value)
        start = time.perf_counter()
        try:
            core.start(pc, count)
        except unicorn.UcError:
            pass                       # an MMIO access: what ran until there is the sample
        elapsed = time.perf_counter() - start
        executed.append(core.counter - 1)
        return (core.counter - 1) / elapsed / 1e6

    machine = _measure(machine_run, runs)
    bare = _measure(bare_run, runs)
    m.restore(booted.snapshot)
    return {"machine_mips": machine, "bare_mips": bare, "instructions": count,
            "bare_instructions": min(executed), "from": FIRMWARE_MARK}


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
    result = run_scenario(scenario, booted=booted)
    if not result.passed:
        raise BenchError(f"benchmark scenario TLS {version} {suite} POST {size} failed:\n{result.summary()}")
    stats = m.stats
    return {"virtual_ms": result.virtual_ns / 1e6, "wall_s": result.wall_s,
            "instructions": result.instructions, "speedup": result.speedup,
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

    progress("compute loop: bare counted unicorn and the machine")
    elf = _core_bench_elf(project)
    raw = _measure(lambda: _bare_compute_mips(elf, COMPUTE_INSTRUCTIONS), runs)
    machine = _measure(lambda: _machine_compute_mips(elf, COMPUTE_INSTRUCTIONS), runs)
    details["raw_mips"], details["machine_mips"] = raw.to_dict(), machine.to_dict()

    progress("boot to `ready`: cold and from the snapshot")
    generate_test_pki()                                  # once per process, not a boot cost
    cold = _measure(_boot_cold, runs)
    booted = boot("fixed")
    m = booted.backend
    snap = _measure(lambda: _timed(lambda: m.restore(booted.snapshot)), runs * 4)
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

    progress("link + host stack frames per second")
    link = _measure(_link_frames_per_s, runs)
    details["link_frames_per_s"] = link.to_dict()

    progress("provenance: a POST plain, with the call probes, with the write trace")
    prov = provenance_cost(booted, runs)
    details["provenance"] = {**prov, "probes_cost": prov["probes_cost"].to_dict(), "cost": prov["cost"].to_dict()}

    progress("peak resident memory (a fresh process: boot + POST 64 KiB)")
    rss = _measure(lambda: _rss_mb(project), 1 if quick else 3, warmup=0)
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
        "qemu_icount_mips": qemu.get("median"),
        "machine_vs_qemu": machine.median / qemu["median"] if "median" in qemu else None,
        "pabot1_wall_s": pabot[1].median if pabot else None,
        "pabot2_wall_s": pabot[2].median if pabot else None,
        "pabot2_vs_serial": pabot[2].median / suite.median if pabot else None,
    })
    spreads = {"raw_mips": raw, "machine_mips": machine, "boot_cold_s": cold, "boot_snapshot_s": snap,
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

    try:
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), platform.processor())
    except OSError:
        cpu = platform.processor()
    return {"python": platform.python_version(), "unicorn": unicorn.__version__, "cpu": cpu,
            "load_average": list(__import__("os").getloadavg()),
            "max_rss_mb_this_process": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
