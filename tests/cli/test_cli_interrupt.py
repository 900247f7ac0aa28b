"""Ctrl-C ends a command cleanly: exit status 130, no traceback, and for `run` the artifacts of what
ran with the verdict `interrupted`.

Each test waits until the process has printed that it reached the phase under test, then sends
SIGINT; the phase lasts far longer than a signal takes to arrive (a 1 MiB POST, a firmware held
for a GDB client that never comes), and every assertion holds wherever in that phase it lands.
"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from sim.scenario import ARTIFACT_FILES, FIRMWARE_DIR

ROOT = Path(__file__).resolve().parents[2]
PATIENCE_S = 300              # only a broken build waits this long: then the test fails, saying so


class Running:
    """A `python -m sim ...` process whose output is read as it comes."""

    def __init__(self, *args) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "sim", *map(str, args)], cwd=ROOT, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines: queue.Queue[tuple[str, str | None]] = queue.Queue()
        self.seen = {"stdout": [], "stderr": []}
        self.open_streams = 2
        for name in ("stdout", "stderr"):
            threading.Thread(target=self._read, args=(name,), daemon=True).start()

    def _read(self, name: str) -> None:
        for line in getattr(self.proc, name):
            self.lines.put((name, line))
        self.lines.put((name, None))

    def _next(self, deadline: float) -> tuple[str, str | None] | None:
        try:
            name, line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return None
        if line is None:
            self.open_streams -= 1
        else:
            self.seen[name].append(line)
        return name, line

    def wait_for(self, text: str) -> None:
        deadline = time.monotonic() + PATIENCE_S
        while self.open_streams:
            got = self._next(deadline)
            if got is None:
                break
            if got[1] is not None and text in got[1]:
                return
        self.proc.kill()
        raise AssertionError(f"the process never printed {text!r}:\n{''.join(self.seen['stdout'] + self.seen['stderr'])}")

    def interrupt(self) -> tuple[int, str, str]:
        self.proc.send_signal(signal.SIGINT)
        try:
            status = self.proc.wait(timeout=PATIENCE_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("Ctrl-C did not end the process") from None
        deadline = time.monotonic() + PATIENCE_S
        while self.open_streams and self._next(deadline) is not None:      # the rest of the output
            pass
        return status, "".join(self.seen["stdout"]), "".join(self.seen["stderr"])


def _interrupted_artifacts(out: Path, stdout: str, stderr: str) -> dict:
    for name in ARTIFACT_FILES:
        assert (out / name).exists(), f"{name} missing after Ctrl-C:\n{stdout}{stderr}"
    result = json.loads((out / "result.json").read_text())
    assert result["verdict"] == "interrupted" and result["passed"] is False, result
    assert b"ready" in (out / "uart.log").read_bytes()             # the boot transcript at least
    assert "verdict: interrupted" in stdout
    return result


def test_ctrl_c_while_waiting_for_gdb_ends_cleanly(tmp_path):
    out = tmp_path / "out"
    run = Running("run", "--get", "/hello", "--gdb", "0", "--wait", "--out", out)
    run.wait_for("gdb: listening on 127.0.0.1:")
    status, stdout, stderr = run.interrupt()
    assert "Traceback" not in stdout + stderr, stdout + stderr
    assert status == 130, stdout + stderr
    _interrupted_artifacts(out, stdout, stderr)


def test_ctrl_c_during_a_long_post_writes_what_ran(tmp_path):
    out = tmp_path / "out"
    run = Running("run", "--post", "/upload", "1048576", "--max-virtual", "600", "--max-wall", "120", "--out", out)
    run.wait_for("run: waiting for the reply to 'post /upload 1048576'")      # the POST is under way
    status, stdout, stderr = run.interrupt()
    assert "Traceback" not in stdout + stderr, stdout + stderr
    assert "Exception ignored" not in stderr, stderr                  # not swallowed in a callback
    assert status == 130, stdout + stderr
    result = _interrupted_artifacts(out, stdout, stderr)
    assert all(not step["finished"] for step in result["steps"])     # the POST was cut short


def test_ctrl_c_during_boot_command(tmp_path):
    elf = FIRMWARE_DIR / "fixed.elf"
    run = Running("boot", elf, "--max-virtual", "100000", "--max-wall", "60")
    run.wait_for("ready")
    status, stdout, stderr = run.interrupt()
    assert "Traceback" not in stdout + stderr and "Exception ignored" not in stderr, stderr
    assert status == 130, stderr
    assert "boot: interrupted at virtual time" in stderr


def test_ctrl_c_during_a_device_initiated_run_writes_what_ran(tmp_path):
    """The image held at reset for a GDB client that never comes; Ctrl-C while the run waits."""
    out = tmp_path / "out"
    run = Running("run", "--firmware", "autopost-fixed", "--device-initiated", "--requests", "3",
                  "--gdb", "0", "--wait", "--out", out)
    run.wait_for("gdb: listening on 127.0.0.1:")
    status, stdout, stderr = run.interrupt()
    assert "Traceback" not in stdout + stderr and "Exception ignored" not in stderr, stdout + stderr
    assert status == 130, stdout + stderr
    for name in ARTIFACT_FILES:
        assert (out / name).exists(), f"{name} missing after Ctrl-C:\n{stdout}{stderr}"
    result = json.loads((out / "result.json").read_text())
    assert result["verdict"] == "interrupted" and result["connections"] == []
    assert result["device"] is None or result["device"]["stopped_by"] is None     # nothing stopped it
    assert "verdict: interrupted" in stdout
