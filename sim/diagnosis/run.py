"""Diagnose one scenario: run it with the call probes, and when it fails, replay it with
provenance on and name the cause.

Scenarios are deterministic (docs/scenarios.md): the same boot snapshot, seed and field conditions
give the same run, instruction for instruction. So the expensive evidence - the write trace, which
slows the whole CPU down - is gathered only for a failing run, by running it again from the same
snapshot with the trace on, after checking that the replay reproduced the failure byte for byte
(the console, what the TLS layer handed to TCP, every frame on the link with its time, the peer's
journals). A replay that differs is an error (`ReplayDiverged`), never a quiet mix of two runs.

`Case` is a scenario plus the field condition a `Scenario` does not hold: the receive window the
host side advertises (`receive_window`, e.g. a server behind a slow link that acknowledges 2 KiB at
a time).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from sim.errors import ScenarioError, SimError
from sim.scenario import InvalidScenario, Result, Scenario, ScenarioRunner, StepResult, boot_scenario

from .causes import Cause, classify
from .collect import collect_evidence, failing_session
from .probes import CallProbes
from .provenance_facts import Provenance, plan_ranges
from .tasks import CURRENT

PROVENANCE_MODES = ("auto", "never")


class ReplayDiverged(ScenarioError):
    """The replay with provenance did not reproduce the first run byte for byte."""


@dataclass(frozen=True)
class Case:
    scenario: Scenario
    receive_window: int | None = None            # bytes the host side advertises (default: its own)

    def __post_init__(self) -> None:
        if self.receive_window is not None and not 1 <= self.receive_window <= 65535:
            raise InvalidScenario(f"the host's receive window must be 1..65535 bytes (no window scaling), "
                                f"not {self.receive_window}")


@dataclass
class Diagnosed:
    case: Case
    result: Result
    step: StepResult | None
    evidence: dict
    cause: Cause
    replay: dict | None = None                   # what the replay compared, when there was one
    runs: int = 1                                # scenario runs made (the replay included)
    extra: dict = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.cause.key != "none"

    def text(self) -> str:
        from .report import cause_text
        return cause_text(self.cause, self.evidence)


def run_case(case: Case, *, provenance: str = "auto", out_dir: str | Path | None = None,
             booted=None) -> Diagnosed:
    """Run `case` (its shell steps) with probes; on failure replay it with provenance (unless
    `provenance="never"`, or the backend cannot trace writes) and classify the evidence."""
    if provenance not in PROVENANCE_MODES:
        raise SimError(f"provenance must be one of {', '.join(PROVENANCE_MODES)}, not {provenance!r}")
    booted = booted or boot_scenario(case.scenario)
    runner, probes, result = run_probed(case, booted, out_dir)
    step = _last_step(result)
    if step is None:
        evidence = {"outcome": {"ok": False, "outcome": "error", "status_line": result.error}, "journal": {},
                    "stream": {}, "capture": {}, "calls": {}, "provenance": None}
        cause = classify(evidence)
        return Diagnosed(case, result, None, evidence, cause)
    evidence = collect_evidence(runner, step, probes)
    first_cause = classify(evidence)
    if first_cause.key == "none" or provenance == "never" or not hasattr(booted.backend, "trace_writes"):
        _append_cause(out_dir, first_cause, evidence)
        return Diagnosed(case, result, step, evidence, first_cause)
    ranges = plan_ranges(runner, probes)
    replay_runner, replay_probes, trace, replay_result = replay_traced(case, booted, ranges)
    replay = _compare(runner, result, replay_runner, replay_result)
    replay_step = _last_step(replay_result)
    evidence = collect_evidence(replay_runner, replay_step, replay_probes)
    session = failing_session(replay_step)
    locate = replay_runner.locator.for_connection(session.conn) if session is not None else (lambda offset: None)
    evidence["provenance"] = Provenance(replay_runner, trace, replay_probes).facts(evidence, locate)
    evidence["provenance"]["replay"] = replay
    cause = classify(evidence)
    _append_cause(out_dir, cause, evidence)
    return Diagnosed(case, result, step, evidence, cause, replay=replay, runs=2)


def _runner(case: Case, booted, out_dir) -> tuple[ScenarioRunner, CallProbes]:
    runner = ScenarioRunner(case.scenario, Path(out_dir) if out_dir is not None else None, booted=booted)
    if case.receive_window is not None:
        runner.stack.tcp_config = dataclasses.replace(runner.stack.tcp_config, receive_buffer=case.receive_window)
    probes = CallProbes(runner.machine, case.scenario.firmware_path()).attach()
    return runner, probes


def run_probed(case: Case, booted, out_dir=None) -> tuple[ScenarioRunner, CallProbes, Result]:
    """Run `case` from `booted`'s snapshot with the call probes attached."""
    runner, probes = _runner(case, booted, out_dir)
    try:
        result = runner.run()
    finally:
        probes.detach()
    return runner, probes, result


def replay_traced(case: Case, booted, ranges: list[tuple[int, int, str]]):
    """Run `case` again from the same snapshot with the probes and the write trace on `ranges`
    (plan_ranges): (runner, probes, trace, result)."""
    runner, probes = _runner(case, booted, None)
    machine = runner.machine
    try:
        context = machine.symbol_address(CURRENT)
    except Exception:
        context = None
    trace = machine.trace_writes([(a, b) for a, b, _ in ranges], context_word=context)
    try:
        result = runner.run()
    finally:
        trace.stop()
        probes.detach()
    return runner, probes, trace, result


def _last_step(result: Result) -> StepResult | None:
    return result.steps[-1] if result.steps else None


def _fingerprint(runner: ScenarioRunner, result: Result) -> dict[str, str]:
    def digest(*parts: bytes) -> str:
        h = hashlib.sha256()
        for part in parts:
            h.update(len(part).to_bytes(8, "little") + part)
        return h.hexdigest()

    frames = [f"{f.frame_id} {f.direction} {f.time_ns} {f.role}".encode() + f.data for f in runner.link.frames]
    return {"console": digest(result.uart),
            "tls_layer_output": digest(*(s.device_sent for s in result.steps)),
            "frames": digest(*frames),
            "journals": digest(*(s.journal.to_json().encode() for s in runner.sessions)),
            "outcome": digest(*(repr((s.outcome, s.error_where, s.error_code, s.status)).encode()
                                for s in result.steps))}


def _compare(first_runner, first: Result, replay_runner, replay: Result) -> dict:
    a, b = _fingerprint(first_runner, first), _fingerprint(replay_runner, replay)
    differ = [k for k in a if a[k] != b[k]]
    if differ or (first.error or "") != (replay.error or ""):
        raise ReplayDiverged(f"the replay with provenance did not reproduce the run ({', '.join(differ) or 'error'} "
                             f"differ): the run depends on something besides its snapshot, seed and field "
                             f"conditions, so its provenance would describe another run")
    return {"identical": True, "compared": sorted(a), "frames": len(replay_runner.link.frames),
            "tls_layer_bytes": sum(len(s.device_sent) for s in replay.steps)}


def _append_cause(out_dir, cause: Cause, evidence: dict) -> None:
    """The cause section at the end of the run's diagnosis.txt, and cause.json: the class, its
    evidence lines and the evidence it was named from (what `classify` reads, as JSON)."""
    if out_dir is None:
        return
    from .report import cause_text

    path = Path(out_dir) / "diagnosis.txt"
    if path.exists():
        with path.open("a") as f:
            f.write("\n== cause ==\n" + cause_text(cause, evidence))
    (Path(out_dir) / "cause.json").write_text(json.dumps({"cause": cause.to_dict(), "evidence": evidence},
                                                         indent=1, sort_keys=True) + "\n")
