"""robotframework is the `robot` extra (only the Robot keyword library uses it, and only the
`robot` runner loads that library): the peer and the emulator must work without it, and the peer
without unicorn too (it is the part a developer runs beside a real board)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXED_ELF = ROOT / "build" / "firmware" / "fixed.elf"


def without(modules: list[str], argv: list[str]) -> list[str]:
    """`python -m sim ARGV` in a process where importing any of `modules` raises ImportError."""
    code = ("import runpy, sys\n"
            f"sys.modules.update(dict.fromkeys({modules!r}))\n"        # None: the import fails
            f"sys.argv = ['sim'] + {argv!r}\n"
            "runpy.run_module('sim', run_name='__main__', alter_sys=True)\n")
    return [sys.executable, "-c", code]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_peer_serves_without_unicorn_or_robot(tmp_path):
    port = free_port()
    proc = subprocess.Popen(without(["unicorn", "robot"], ["peer", "--listen", f"127.0.0.1:{port}"]),
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60          # a bound on the wait, not a measurement
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    out, err = proc.communicate()
                    pytest.fail(f"the peer never accepted a connection (exit {proc.returncode}):\n{out}{err}")
                time.sleep(0.05)
        assert proc.poll() is None                # serving, not crashed after the accept
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def test_boot_runs_without_robot(tmp_path):
    assert FIXED_ELF.is_file(), "build/firmware/fixed.elf is missing: run scripts/setup"
    proc = subprocess.run(without(["robot"], ["boot", str(FIXED_ELF), "--until", "ready", "--max-virtual", "5"]),
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "ready" in proc.stdout
