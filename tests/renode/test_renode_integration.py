"""On a real Renode (skipped, with what to install, where Renode is absent).

The suites run through the same Robot files and keyword library as on the built-in machine; only
`--variable BACKEND:renode` differs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sim.platform import DEFAULT_REPL
from sim.renode import renode_status

ROOT = Path(__file__).resolve().parents[2]
PLATFORM = DEFAULT_REPL
FIXED_ELF = ROOT / "build" / "firmware" / "fixed.elf"
MS = 168_000                      # cycles per virtual millisecond at 168 MHz
BOOT_LIMIT_MS = 20_000            # virtual-time limit for reaching `ready`
SUITE_WALL_LIMIT_S = 3600         # wall-time limit for one Robot suite on Renode

AVAILABLE, REASON = renode_status()
# a CI job meant to run on Renode sets this, so a broken Renode set-up fails instead of skipping
REQUIRED = bool(os.environ.get("SIM_REQUIRE_RENODE"))
pytestmark = [pytest.mark.renode,
              pytest.mark.skipif(not AVAILABLE and not REQUIRED,
                                 reason=f"needs Renode 1.16.1 with pyrenode3 - {REASON}")]


@pytest.fixture(autouse=True)
def _renode_present():
    if not AVAILABLE:
        pytest.fail(f"SIM_REQUIRE_RENODE is set but {REASON}")


def _firmware() -> Path:
    if not FIXED_ELF.is_file():
        pytest.fail(f"{FIXED_ELF} is missing: run scripts/setup to build the firmware")
    return FIXED_ELF


def _boot_to_ready(machine) -> None:
    uart = machine.uart("usart1")
    for _ in range(BOOT_LIMIT_MS // 10):
        machine.run(10 * MS)
        if b"ready" in uart.transcript:
            return
    tail = uart.transcript[-400:].decode(errors="replace")
    pytest.fail(f"no `ready` within {BOOT_LIMIT_MS} ms of virtual time on Renode; UART ended with:\n{tail}")


@pytest.fixture(scope="module")
def booted():
    from sim.renode import RenodeMachine
    machine = RenodeMachine(PLATFORM, seed=1)     # loads sim/platform/stm32f407.repl unchanged
    machine.load_elf(str(_firmware()))
    _boot_to_ready(machine)
    yield machine
    machine.close()


def test_the_reference_firmware_boots_to_ready(booted):
    transcript = booted.uart("usart1").transcript
    assert b"net: link up 100M full-duplex" in transcript
    assert booted.ethernet.mac_address == bytes.fromhex("020000000f07")


def test_same_seed_same_uart_bytes_and_restore_replays_to_the_same_state(booted):
    snap = booted.snapshot()
    booted.uart("usart1").write(b"net\r")
    booted.run(200 * MS)
    after_first = booted.uart("usart1").transcript
    booted.restore(snap)
    assert booted.uart("usart1").transcript == snap.uarts["usart1"][0]
    booted.uart("usart1").write(b"net\r")
    booted.run(200 * MS)
    assert booted.uart("usart1").transcript == after_first
    assert b"net: ok" in after_first


@pytest.mark.parametrize("suite", ["get.robot", "post_large.robot"])
def test_robot_suite_passes_on_renode(suite, tmp_path):
    path = ROOT / "robot" / suite
    if not path.is_file():
        pytest.fail(f"{path} is missing")
    robot = shutil.which("robot") or f"{sys.executable} -m robot"
    command = robot.split() + ["--variable", "BACKEND:renode", "--outputdir", str(tmp_path), str(path)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                            timeout=SUITE_WALL_LIMIT_S, env=dict(os.environ))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
