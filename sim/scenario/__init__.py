"""Scenarios: boot the firmware once, then replay GET/POST steps against the peer in virtual time.

    from sim.scenario import Scenario, Step, run_scenario
    result = run_scenario(Scenario(firmware="seedbug", tls_version="1.2",
                                   steps=(Step("post", "/upload", 903, expect="bad_record_mac"),)), "out/")
    print(result.summary())

One module per job:

    model.py         Scenario, Step, LinkFault (what to run); StepResult, Result (what it gave)
    boot.py          boot once per (image, platform, seed, backend) to `ready`, cache the snapshot
    limits.py        the one loop that runs a backend under virtual- and wall-time limits
    uart.py          the one UART line waiter
    runner.py        the runner core: virtual clock, quanta, frames across the link, the peer
    shell.py         the firmware shell protocol: commands typed, status lines parsed
    shell_runner.py  ScenarioRunner: a scenario driven through that shell
    locator.py       TCP stream offset -> segment, frame, DMA buffer (for the diagnosis)
    artifacts.py     the artifact directory: created before the run, seven files after it

The same scenario and seed give byte-identical artifacts.
"""

from sim.errors import ScenarioError

from .artifacts import ARTIFACT_FILES, OutDirError, prepare_out_dir, write_artifacts
from .boot import BootedMachine, BootFailed, BootInterrupted, boot, clear_boot_cache, platform_file
from .limits import Ending, Stop, WallLimit, describe_halt, run_until
from .locator import StreamLocator
from .model import (FIRMWARE_DIR, VARIANTS, InvalidScenario, LinkFault, Result, Scenario, Step, StepResult,
                    require_positive_seconds, require_seed, resolve_firmware)
from .runner import DEVICE_IP, PEER_IP, PEER_PORT, Runner
from .shell import READY_LINE
from .shell_runner import ScenarioRunner, run_scenario
from .uart import LineWaiter, UartLines

__all__ = [
    "ARTIFACT_FILES", "DEVICE_IP", "FIRMWARE_DIR", "PEER_IP", "PEER_PORT", "READY_LINE", "VARIANTS",
    "BootFailed", "BootInterrupted", "BootedMachine", "Ending", "InvalidScenario", "LineWaiter", "LinkFault",
    "OutDirError", "Result", "Runner", "Scenario", "ScenarioError", "ScenarioRunner", "Step", "StepResult",
    "Stop", "StreamLocator", "UartLines", "WallLimit",
    "boot", "clear_boot_cache", "describe_halt", "platform_file", "prepare_out_dir", "require_positive_seconds",
    "require_seed", "resolve_firmware", "run_scenario", "run_until", "write_artifacts",
]
