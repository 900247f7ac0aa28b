"""The Robot suite in parallel: `pabot --processes N --testlevelsplit --chunk` in a fresh
process, to set beside the serial `robot` run of the same suite (benchmarks.suite_run).
--testlevelsplit splits the one suite file by test, --chunk gives each process one contiguous
share (so each boots an image once), --no-pabotlib leaves out pabot's lock server, which no
test uses."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .errors import BenchError

SUITE = Path("robot") / "post_large.robot"


def pabot_command(processes: int, out: Path, suite: Path) -> list[str]:
    return [sys.executable, "-m", "pabot.pabot", "--processes", str(processes), "--testlevelsplit", "--chunk",
            "--no-pabotlib", "--pabotconsole", "quiet", "--outputdir", str(out), "--loglevel", "WARN", str(suite)]


def children_cpu_s() -> float:
    """CPU seconds (user + system) of the child processes waited for so far, grandchildren
    included: a suite run's CPU time, which unlike its wall time does not grow when other work
    shares the machine."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def pabot_run(project: Path, processes: int) -> dict:
    """One pabot run of the suite with `processes` processes, the log and report included as in
    the serial run it is compared with: {"wall_s", "tests", "failed"}. Failed tests are counted,
    not raised (a run with failures is flagged beside its time); `cpu_s` and `load_average` (the
    machine's 1-minute load when the run started) say how much the machine was shared."""
    from robot.api import ExecutionResult

    with tempfile.TemporaryDirectory(prefix="bench-pabot-") as tmp:
        out = Path(tmp) / "out"
        suite = (project / SUITE).resolve()        # pabot runs in the temporary directory
        cmd = pabot_command(processes, out, suite)
        load, cpu, start = os.getloadavg()[0], children_cpu_s(), time.perf_counter()
        # cwd: pabot keeps .pabotsuitenames in the working directory
        proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
        wall, cpu = time.perf_counter() - start, children_cpu_s() - cpu
        if not (out / "output.xml").is_file():
            raise BenchError(f"pabot --processes {processes} wrote no output.xml (exit status {proc.returncode}):\n"
                             f"{(proc.stdout + proc.stderr)[-2000:]}")
        stats = ExecutionResult(str(out / "output.xml")).statistics.total
    return {"wall_s": wall, "cpu_s": cpu, "load_average": load, "tests": stats.passed + stats.failed,
            "failed": stats.failed}
