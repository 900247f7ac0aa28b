"""Scenarios: boot the firmware once, then replay GET/POST steps against the peer in virtual time
(shell-driven), or wait for the connections and requests the device makes by itself
(device-initiated).

    from sim.scenario import Scenario, Step, run_scenario
    result = run_scenario(Scenario(firmware="seedbug", tls_version="1.2",
                                   steps=(Step("post", "/upload", 903, expect="bad_record_mac"),)), "out/")
    print(result.summary())

One module per job:

    model.py         Scenario, Step, LinkFault (what to run); StepResult, Result (what it gave)
    boot.py          boot once per (image, platform, seed, backend): to `ready`, or at reset; cache the snapshot
    limits.py        the one loop that runs a backend under virtual- and wall-time limits
    uart.py          the one UART line waiter
    runner.py        the runner core: virtual clock, quanta, frames across the link, the peer
    shell.py         the firmware shell protocol: commands typed, status lines parsed
    shell_runner.py  ScenarioRunner: a scenario driven through that shell
    requests.py      RequestResult, RequestWatcher: the HTTP requests a device made, as the peer saw them
    identity.py      the server identity: the chains the peer presents, flash patches, the report
    device_result.py ConnectionResult, DeviceReport: what a device-initiated run reports
    device_runner.py DeviceRunner: a scenario in which the device acts by itself
    runners.py       the runner for a scenario's shape; run_scenario
    locator.py       TCP stream offset -> segment, frame, DMA buffer (for the diagnosis)
    artifacts.py     the artifact directory: created before the run, seven files after it

The same scenario and seed give byte-identical artifacts.
"""

from sim.errors import ScenarioError

from .artifacts import ARTIFACT_FILES, OutDirError, prepare_out_dir, write_artifacts
from .boot import (BootedMachine, BootFailed, BootInterrupted, boot, boot_at_reset, boot_scenario, clear_boot_cache,
                   platform_file, platform_uarts)
from .device_result import ConnectionResult, DeviceReport, StopCondition
from .device_runner import DeviceRunner
from .limits import Ending, Stop, WallLimit, describe_halt, run_until
from .locator import StreamLocator
from .model import (CONSOLE_AUTO, CONSOLE_NONE, FIRMWARE_DIR, IDENTITY_MODES, DeviceInitiated, InvalidScenario,
                    LinkFault, Result, Scenario, ServerIdentitySpec, Step, StepResult, firmware_variants,
                    require_positive_seconds, require_seed, resolve_firmware)
from .requests import RequestResult, RequestWatcher
from .runner import DEVICE_IP, PEER_IP, PEER_PORT, Runner
from .runners import run_scenario, runner_for
from .shell import READY_LINE
from .shell_runner import ScenarioRunner
from .uart import LineWaiter, UartLines

__all__ = [
    "ARTIFACT_FILES", "CONSOLE_AUTO", "CONSOLE_NONE", "DEVICE_IP", "FIRMWARE_DIR", "IDENTITY_MODES", "PEER_IP",
    "PEER_PORT", "READY_LINE",
    "BootFailed", "BootInterrupted", "BootedMachine", "ConnectionResult", "DeviceInitiated", "DeviceReport",
    "DeviceRunner", "Ending", "InvalidScenario", "LineWaiter", "LinkFault", "OutDirError", "RequestResult",
    "RequestWatcher", "Result", "Runner", "Scenario", "ScenarioError", "ScenarioRunner", "ServerIdentitySpec", "Step",
    "StepResult",
    "Stop", "StopCondition", "StreamLocator", "UartLines", "WallLimit",
    "boot", "boot_at_reset", "boot_scenario", "clear_boot_cache", "describe_halt", "firmware_variants", "platform_file",
    "platform_uarts", "prepare_out_dir", "require_positive_seconds", "require_seed", "resolve_firmware",
    "run_scenario", "run_until", "runner_for", "scenario_identity", "write_artifacts",
]


def __getattr__(name: str):
    if name == "VARIANTS":              # the older constant: the variants built now
        return firmware_variants()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def scenario_identity(scenario):
    """The scenario's server identity, checked (sim/scenario/identity.py; loaded on first use)."""
    from .identity import scenario_identity as prepare
    return prepare(scenario)
