"""The smallest failing POST body: bisection over the body size with deterministic runs.

Every run starts from the same boot snapshot with the same seed (the image boots once), so a size
always gives the same outcome and a bisection is sound - provided the failure is monotonic in the
size: every size below some threshold passes and every size from it fails. The sweep assumes that,
checks its two ends first (`--to` must fail, `--from` is the answer if it fails already), bisects
(about log2(to - from) runs) and then spends its remaining check runs on sizes above the threshold
that were not run. A size that passes above a failing one breaks the assumption: the sweep says
so, names both sizes, and reports the boundary it found as a boundary, not as the smallest
failing size (`monotonic` is False).

The threshold's meaning is read from the two runs on either side of it (sizes N-1 and N): what
changed between them in the capture and the journal (the largest frame, the number of records,
the largest record), and, when the failing run's diagnosis locates a change on the wire, where
(the first changed byte's offset in its frame and TX buffer).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable

from sim.errors import ScenarioError
from sim.scenario import InvalidScenario, Scenario, boot_scenario

DEFAULT_CHECKS = 2
MAX_SIZE = 0xFFFF_FFFF


@dataclass
class SizeRun:
    size: int
    passed: bool
    outcome: str
    evidence: dict | None = None
    cause: object | None = None

    def to_dict(self) -> dict:
        return {"size": self.size, "passed": self.passed, "outcome": self.outcome}


@dataclass
class SweepResult:
    low: int
    high: int
    runs: list[SizeRun] = field(default_factory=list)
    smallest_failing: int | None = None
    largest_passing: int | None = None
    monotonic: bool | None = None
    violations: list[tuple[int, int]] = field(default_factory=list)     # (passing size, smaller failing size)
    meaning: str = ""
    cause: object | None = None

    @property
    def found(self) -> bool:
        return self.smallest_failing is not None

    def summary(self) -> str:
        if not self.found:
            return f"no failing size from {self.low} to {self.high} bytes ({len(self.runs)} runs)"
        if self.monotonic is False:
            p, f = self.violations[0]
            return (f"not monotonic: {p} bytes pass although {f} fail; the bisection's boundary is "
                    f"{self.smallest_failing} "
                    f"bytes (largest passing below it {self.largest_passing}), a smaller failing size may exist "
                    f"({len(self.runs)} runs)")
        return f"{self.meaning} ({len(self.runs)} runs)"

    def sizes_text(self) -> str:
        """The sizes in the order they were run, a failing one marked with '!'."""
        return ", ".join(f"{r.size}{'' if r.passed else '!'}" for r in self.runs)

    def to_dict(self) -> dict:
        return {"from": self.low, "to": self.high, "smallest_failing": self.smallest_failing,
                "largest_passing": self.largest_passing, "monotonic": self.monotonic,
                "violations": [list(v) for v in self.violations], "meaning": self.meaning,
                "cause": self.cause.to_dict() if self.cause is not None else None,
                "runs": [r.to_dict() for r in self.runs]}


def sweep(scenario: Scenario, low: int, high: int, *, receive_window: int | None = None,
          checks: int = DEFAULT_CHECKS, progress: Callable[[str], None] | None = None) -> SweepResult:
    """Bisect the smallest failing body size of `scenario`'s POST step between `low` and `high`."""
    if len(scenario.steps) != 1 or scenario.steps[0].kind != "post":
        raise InvalidScenario("a size sweep needs a scenario of exactly one POST step")
    if not 0 <= low < high <= MAX_SIZE:
        raise InvalidScenario(f"the sweep needs 0 <= --from < --to <= {MAX_SIZE}, not {low} and {high}")
    if checks < 0:
        raise InvalidScenario(f"the number of check runs must be 0 or more, not {checks}")
    from sim.diagnosis import Case, run_case

    booted = boot_scenario(scenario)               # once; every run restores its snapshot
    result = SweepResult(low, high)
    done: dict[int, SizeRun] = {}

    def run(size: int) -> SizeRun:
        if size in done:
            return done[size]
        step = dataclasses.replace(scenario.steps[0], size=size, expect="any")
        case = Case(dataclasses.replace(scenario, steps=(step,)), receive_window)
        diagnosed = run_case(case, provenance="never", booted=booted)
        if diagnosed.result.error is not None and diagnosed.step is None:
            raise ScenarioError(f"the run with a {size}-byte body could not finish: {diagnosed.result.error}")
        passed = diagnosed.cause.key == "none"
        outcome = diagnosed.step.outcome if diagnosed.step is not None else "error"
        entry = done[size] = SizeRun(size, passed, outcome, diagnosed.evidence, diagnosed.cause)
        result.runs.append(entry)
        if progress is not None:
            progress(f"run {len(result.runs)}: {size} bytes {'pass' if passed else 'FAIL'} ({outcome})")
        return entry

    if run(high).passed:
        return result
    if not run(low).passed:
        result.smallest_failing, result.monotonic = low, True
        result.cause = done[low].cause
        result.meaning = f"fails at every size tried, from {low} bytes on: {done[low].cause.title}"
        return result
    lo, hi = low, high                             # lo passes, hi fails
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if run(mid).passed:
            lo = mid
        else:
            hi = mid
    result.smallest_failing, result.largest_passing = hi, lo
    result.cause = done[hi].cause
    for size in _check_sizes(hi, high, checks, done):
        if run(size).passed:
            result.violations.append((size, hi))
    result.monotonic = not result.violations
    result.meaning = threshold_meaning(done[lo], done[hi])
    return result


def _check_sizes(smallest: int, high: int, checks: int, done: dict) -> list[int]:
    """Sizes above the threshold not yet run: right above it, then spread up to `high`."""
    out: list[int] = []
    candidates = [smallest + 1] + [smallest + (high - smallest) * k // (checks + 1) for k in range(checks, 0, -1)]
    for size in candidates:
        if len(out) >= checks:
            break
        if smallest < size <= high and size not in done and size not in out:
            out.append(size)
    return out


# --- what the threshold means ---------------------------------------------------------------------------
def _metrics(evidence: dict) -> dict[str, int]:
    capture = evidence.get("capture") or {}
    records = (evidence.get("journal") or {}).get("records") or []
    app = [r for r in records if r.get("content_type") == "application_data" and r.get("app_length") is not None]
    return {"largest_frame": capture.get("largest_frame", 0), "largest_payload": capture.get("largest_payload", 0),
            "data_segments": capture.get("first_transmissions", 0), "application_records": len(app),
            "largest_application_record": max((r["app_length"] for r in app), default=0)}


def threshold_meaning(passing: SizeRun, failing: SizeRun) -> str:
    """One sentence from the runs at N-1 (passes) and N (fails)."""
    n = failing.size
    cause = failing.cause
    before, after = _metrics(passing.evidence or {}), _metrics(failing.evidence or {})
    diff = ((failing.evidence or {}).get("stream") or {}).get("difference") or {}
    location = diff.get("location") or {}
    title = cause.title if cause is not None else "a failure"
    tail = f"first failing body {n} bytes ({title})"
    frame_offset = location.get("frame_offset")
    if frame_offset is not None and before["largest_frame"] <= frame_offset < after["largest_frame"]:
        header = after["largest_frame"] - after["largest_payload"]
        where = ""
        if location.get("dma_buffer") is not None:
            where = (f" (the change begins at offset {location.get('dma_buffer_offset')} of TX DMA buffer "
                     f"{location['dma_buffer']})")
        return (f"fails once a frame exceeds {frame_offset} bytes, i.e. a TCP segment carries more than "
                f"{frame_offset - header} payload bytes{where}: {tail}; the largest frame was "
                f"{before['largest_frame']} bytes at {passing.size} and {after['largest_frame']} at {n}")
    if after["application_records"] > before["application_records"] and before["application_records"]:
        return (f"fails once the request no longer fits {before['application_records']} application record(s) "
                f"(the largest held {before['largest_application_record']} bytes at {passing.size}): {tail}")
    changed = [k for k in before if before[k] != after[k]]
    if changed:
        parts = ", ".join(f"{k.replace('_', ' ')} {before[k]} -> {after[k]}" for k in changed)
        return f"fails from {n} bytes on ({parts} between {passing.size} and {n}): {tail}"
    return f"fails from {n} bytes on: {tail}; nothing the capture and the journal count changed from {passing.size}"
