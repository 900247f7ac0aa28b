"""Paths and the build entry point shared by the firmware tests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build" / "firmware"
VARIANTS = ("fixed", "seedbug", "autopost-fixed", "autopost-seedbug", "autopost-prod-fixed", "autopost-prod-seedbug")
# the defect gallery (firmware/gallery/): the shell image with one more defect each
GALLERY = ("bug-tcp-nocopy", "bug-partial-send", "bug-want-write-args", "bug-two-writers", "bug-stack-overflow",
           "bug-trunc-hmac")
# the console each image logs on: the shell images' USART1, the autopost images' USART2
CONSOLE = {"fixed": "usart1", "seedbug": "usart1", "autopost-fixed": "usart2", "autopost-seedbug": "usart2",
           "autopost-prod-fixed": "usart2", "autopost-prod-seedbug": "usart2", **dict.fromkeys(GALLERY, "usart1")}


# Variables of the firmware build a developer may have exported for their own builds; the tests
# describe the default images, so they pass these only explicitly.
BUILD_VARIABLES = ("FREERTOS_KERNEL_PATH", "VARIANTS", "BUILD_DIR", "PKI_DIR", "MBEDTLS_DIR", "LWIP_DIR",
                   "CROSS_COMPILE", "FW_AUTOPOST_POSTS", "FW_AUTOPOST_PERIOD_MS", "FW_AUTOPOST_BODY_SIZE",
                   "FW_AUTOPOST_PORT", "FW_AUTOPOST_TIME_WAIT_MS", "FW_AUTOPOST_HOST", "FW_AUTOPOST_PATH",
                   "FW_AUTOPOST_NTP_SERVER")


def build_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a build: this process's, without the build variables, plus `env`."""
    full_env = {k: v for k, v in os.environ.items() if k not in BUILD_VARIABLES}
    full_env.update(env or {})
    return full_env


def run_build(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT,
              timeout: float = 300) -> subprocess.CompletedProcess:
    full_env = build_env(env)
    return subprocess.run([str(ROOT / "scripts" / "build-firmware"), *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)
