"""Shell-driven scenarios: the firmware is told what to do over its UART shell (`tls version`,
`tls suite`, `get`, `post`) and reports each request's outcome in status lines.

`ScenarioRunner` is the runner core plus that conversation: `configure()` sets the firmware's TLS
version and suite, `run_step(step)` types one request, waits for its status line, lets the link
quiesce, reads the report and diagnoses a failed session; `run()` does all of a scenario's steps.
"""

from __future__ import annotations

import re

from sim.errors import ScenarioError

from . import shell
from .model import Result, Step, StepResult
from .runner import Runner


class ScenarioRunner(Runner):
    """One shell-driven run of a scenario from the boot snapshot. Use `run()`; artifacts go to `out_dir`."""

    def command(self, text: str, reply: str | re.Pattern, *, timeout_s: float) -> tuple[re.Match, list[str]]:
        """Type a shell command, wait for its status line, return it and the lines printed."""
        regex = re.compile(reply) if isinstance(reply, str) else reply
        start = len(self.uart.data)
        self.write_line(text)
        match = self.wait_for_line(regex, timeout_s=timeout_s, since=start,
                                   awaited=f"the reply to '{text}' (a line matching /{regex.pattern}/)")
        return match, self.uart.lines_since(start)

    def configure_tls(self, version: str, suite: str) -> re.Match:
        """Set the firmware's TLS version and suite; returns the reply to the suite."""
        self.command(shell.tls_version_command(version), shell.TLS_VERSION_REPLY, timeout_s=shell.SETTING_TIMEOUT_S)
        match, _ = self.command(shell.tls_suite_command(suite), shell.TLS_SUITE_REPLY,
                                timeout_s=shell.SETTING_TIMEOUT_S)
        return match

    def configure(self) -> None:
        sc = self.scenario
        if sc.tls_version != "any" or sc.suite != "any":
            match = self.configure_tls(sc.tls_version, sc.suite)
            if shell.refused(match):
                raise ScenarioError(f"the firmware refused suite {sc.suite!r}: {match.group(0)}")

    def run_step(self, step: Step) -> StepResult:
        index = self.begin_step()
        started = self.now_ns
        start = len(self.uart.data)
        try:
            _, lines = self.command(shell.step_command(step), shell.RESULT_LINE, timeout_s=self.scenario.step_timeout_s)
            self.settle()
        except BaseException:
            # keep what the step produced so far (its lines, its TLS sessions) for the artifacts
            self.unfinished_step = self._step_result(step, index, self.uart.lines_since(start), started,
                                                     finished=False)
            raise
        result = self._step_result(step, index, lines, started)
        result.diagnosis = self.diagnose(result)
        return result

    def _step_result(self, step: Step, index: int, lines: list[str], started_ns: int, *,
                     finished: bool = True) -> StepResult:
        result = shell.parse_step(step, lines, finished=finished)
        result.sessions = self.step_sessions(index)
        result.device_sent = self.device_sent
        result.virtual_ns = self.now_ns - started_ns
        return result

    def run(self) -> Result:
        """Configure the firmware and run every step. A ScenarioError ends the run with its message
        as the result's error; on Ctrl-C the artifacts of what ran are written (verdict
        `interrupted`) before the KeyboardInterrupt goes on; any other exception is a bug: the
        artifacts are written, then its traceback shows."""
        steps: list[StepResult] = []
        try:
            self.configure()
            for step in self.scenario.steps:
                steps.append(self.run_step(step))
        except ScenarioError as exc:
            return self.finish(steps, str(exc))
        except KeyboardInterrupt:
            self._finish_quietly(steps, interrupted=True)
            raise
        except BaseException as exc:
            self._finish_quietly(steps, f"internal error: {type(exc).__name__}: {exc}")
            raise
        return self.finish(steps)

