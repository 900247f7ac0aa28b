"""The runner for a scenario's shape: `ScenarioRunner` drives our reference firmware's shell,
`DeviceRunner` waits for what an image does by itself (`Scenario.device`)."""

from __future__ import annotations

from .device_runner import DeviceRunner
from .model import Result, Scenario
from .runner import Runner
from .shell_runner import ScenarioRunner


def runner_for(scenario: Scenario, out_dir=None, **kwargs) -> Runner:
    cls = DeviceRunner if scenario.device is not None else ScenarioRunner
    return cls(scenario, out_dir, **kwargs)


def run_scenario(scenario: Scenario, out_dir=None, **kwargs) -> Result:
    return runner_for(scenario, out_dir, **kwargs).run()


__all__ = ["run_scenario", "runner_for"]
