"""The Robot suite in parallel: `pabot --processes N --testlevelsplit --chunk` in a fresh
process, to set beside the serial `robot` run of the same suite (benchmarks.suite_run).
--testlevelsplit splits the one suite file by test, --chunk gives each process one contiguous
share (so each boots an image once), --no-pabotlib leaves out pabot's lock server, which no
test uses."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .errors import BenchError

SUITE = Path("robot") / "post_large.robot"


def pabot_command(processes: int, out: Path, suite: Path) -> list[str]:
    return [sys.executable, "-m", "pabot.pabot", "--processes", str(processes), "--testlevelsplit", "--chunk",
            "--no-pabotlib", "--pabotconsole", "none", "--outputdir", str(out), "--loglevel", "WARN", str(suite)]


def pabot_run(project: Path, processes: int) -> dict:
    """One pabot run of the suite with `processes` processes, the log and report included as in
    the serial run it is compared with: {"wall_s", "tests", "failed"}. Failed tests are counted,
    not raised (a run with failures is flagged beside its time)."""
    from robot.api import ExecutionResult

    with tempfile.TemporaryDirectory(prefix="bench-pabot-") as tmp:
        out = Path(tmp) / "out"
        suite = project / SUITE
        cmd = pabot_command(processes, out, suite)
        start = time.perf_counter()
        # cwd: pabot keeps .pabotsuitenames in the working directory
        proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if not (out / "output.xml").is_file():
            raise BenchError(f"pabot --processes {processes} wrote no output.xml (exit status {proc.returncode}):\n"
                             f"{(proc.stdout + proc.stderr)[-2000:]}")
        stats = ExecutionResult(str(out / "output.xml")).statistics.total
    return {"wall_s": wall, "tests": stats.passed + stats.failed, "failed": stats.failed}
