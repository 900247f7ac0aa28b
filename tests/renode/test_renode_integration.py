"""On a real Renode (skipped, with what to install, where Renode is absent).

Where an independent answer exists, it is the built-in machine: a different emulator (unicorn with
our own peripheral models) running the same ELF on the same platform file. The suites run through
the same Robot files and keyword library as on the built-in machine; only `--variable
BACKEND:renode` differs.
"""

from __future__ import annotations

import os
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
    log = machine.renode_log()[-2000:] if hasattr(machine, "renode_log") else ""
    pytest.fail(f"no `ready` within {BOOT_LIMIT_MS} ms of virtual time on {machine.name}; UART ended "
                f"with:\n{tail}\n{log}")


@pytest.fixture(scope="module")
def booted():
    from sim.renode import RenodeMachine
    machine = RenodeMachine(PLATFORM, seed=1)     # loads sim/platform/stm32f407.repl unchanged
    machine.load_elf(str(_firmware()))
    _boot_to_ready(machine)
    yield machine
    machine.close()


@pytest.fixture(scope="module")
def builtin_at_ready():
    from sim.machine import Machine
    machine = Machine(PLATFORM, seed=1)
    machine.load_elf(str(_firmware()))
    _boot_to_ready(machine)
    return machine


def test_the_reference_firmware_boots_to_ready_with_the_tx_flush_completed(booted):
    transcript = booted.uart("usart1").transcript
    assert b"net: link up 100M full-duplex" in transcript
    assert b"error" not in transcript               # the driver's DMAOMR.FTF wait ended
    assert booted.ethernet.mac_address == bytes.fromhex("020000000f07")
    assert booted.stats["ftf_cleared"] >= 1


def test_system_registers_at_ready_agree_with_the_built_in_machine(booted, builtin_at_ready):
    # at `ready` the shell task runs in thread mode on the process stack, and MSP still holds
    # where the first-task SVC left it; both emulators must show the same architectural state
    names = ("msp", "control", "primask", "faultmask", "basepri")
    assert {n: booted.read_register(n) for n in names} == {n: builtin_at_ready.read_register(n) for n in names}
    assert booted.read_register("control") & 0x2                      # SPSEL: a task on PSP
    assert booted.read_register("psp") == booted.read_register("sp")
    assert booted.read_register("msp") != booted.read_register("psp")


def test_same_seed_same_uart_bytes_and_restore_returns_to_the_same_state(booted):
    snap = booted.snapshot()
    booted.uart("usart1").write(b"net\r")
    booted.run(200 * MS)
    after_first = booted.uart("usart1").transcript
    booted.restore(snap)
    assert booted.uart("usart1").transcript == snap.uarts["usart1"][0]
    assert booted.cycles == snap.cycles
    booted.uart("usart1").write(b"net\r")
    booted.run(200 * MS)
    assert booted.uart("usart1").transcript == after_first
    assert b"net: ok" in after_first


def test_renodes_own_log_is_kept_and_shows_the_model_gaps_the_docs_name(booted):
    log = booted.renode_log()
    assert "ethernet.phy: Unhandled write to offset 0x0" in log       # PHY writes are ignored
    assert "ethernet: Unhandled write to offset" in log               # unmodelled MAC registers


def test_the_seedbug_diagnosis_names_the_same_dma_buffer_as_the_built_in_machine(tmp_path):
    from sim.scenario import Scenario, Step, run_scenario
    where = {}
    for backend in ("builtin", "renode"):
        result = run_scenario(Scenario(firmware="seedbug", backend=backend, tls_version="1.2",
                                       suite="TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256",
                                       steps=(Step("post", "/upload", 903, expect="bad_record_mac"),)),
                              tmp_path / backend)
        assert result.passed, result.summary()
        location = result.steps[0].diagnosis.to_dict()["difference"]["location"]
        where[backend] = {key: location.get(key) for key in
                          ("dma_buffer", "dma_descriptor", "dma_buffer_offset", "dma_segment_length")}
    assert where["renode"] == where["builtin"]
    assert "eth_tx_buffers" in where["renode"]["dma_buffer"]


# the suites whose keywords the Renode backend has everything for (docs/renode.md: gallery.robot
# needs the write trace, link.robot the cable)
@pytest.mark.parametrize("suite", ["get.robot", "post_large.robot", "device_initiated.robot", "server_identity.robot"])
def test_robot_suite_passes_on_renode(suite, tmp_path):
    path = ROOT / "robot" / suite
    if not path.is_file():
        pytest.fail(f"{path} is missing")
    # this interpreter's Robot: the one whose environment has pyrenode3
    command = [sys.executable, "-m", "robot", "--variable", "BACKEND:renode", "--outputdir", str(tmp_path),
               str(path)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                            timeout=SUITE_WALL_LIMIT_S, env=dict(os.environ))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
