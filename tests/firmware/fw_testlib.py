"""Paths and the build entry point shared by the firmware tests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build" / "firmware"
VARIANTS = ("fixed", "seedbug")


def run_build(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT,
              timeout: float = 300) -> subprocess.CompletedProcess:
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([str(ROOT / "scripts" / "build-firmware"), *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)
