"""What a scenario is and what it produced: `Scenario` (firmware, platform, seed, TLS settings,
steps, link faults, limits), `Step`, and the results `StepResult` and `Result`.

Plain data: nothing here runs a machine. Bad values raise `InvalidScenario` (a `SimError`, so the
command line reports it in one line) at construction, before anything boots.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

from sim.errors import ScenarioError, SimError
from sim.platform import DEFAULT_REPL
from sim.vtime import NS_PER_MS, NS_PER_S

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FIRMWARE_DIR = PROJECT_ROOT / "build" / "firmware"
VARIANTS = ("fixed", "seedbug")
EXPECTATIONS = ("ok", "bad_record_mac", "any")
SEED_RANGE = range(0, 1 << 64)


class InvalidScenario(SimError, ValueError):
    """A scenario, step or limit that cannot be run as given; the message names the value and the fix."""


def require_positive_seconds(value: float, what: str) -> float:
    """`value` as a finite number of seconds above zero, or InvalidScenario naming `what`."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise InvalidScenario(f"{what} must be a number of seconds, not {value!r}") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise InvalidScenario(f"{what} must be a finite number of seconds above 0, not {value!r}")
    return seconds


def require_seed(value: int, what: str = "seed") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value not in SEED_RANGE:
        raise InvalidScenario(f"{what} must be an integer from 0 to 2**64-1, not {value!r}")
    return value


# --- what to run -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    kind: str                       # "get" | "post"
    path: str
    size: int = 0
    expect: str = "ok"              # "ok" | "bad_record_mac" | "any"

    def __post_init__(self) -> None:
        if self.kind not in ("get", "post"):
            raise InvalidScenario(f"step kind must be 'get' or 'post', not {self.kind!r}")
        if not self.path.startswith("/") or any(c.isspace() for c in self.path):
            raise InvalidScenario(f"a request path starts with '/' and has no spaces, unlike {self.path!r} "
                                  f"(e.g. /upload)")
        if self.kind == "post" and not 0 <= self.size <= 0xFFFF_FFFF:
            raise InvalidScenario(f"POST size must be 0 to 4294967295 bytes (the shell reads it as a "
                                  f"32-bit number), not {self.size}")
        if self.expect not in EXPECTATIONS:
            raise InvalidScenario(f"step expect must be one of {', '.join(EXPECTATIONS)}, not {self.expect!r}")

    def describe(self) -> str:
        return f"GET {self.path}" if self.kind == "get" else f"POST {self.path} {self.size} bytes"


@dataclass(frozen=True)
class LinkFault:
    """A fault rule for the link, by name (see sim.net.faults.FaultRule for the fields)."""

    direction: str                  # "device->host" | "host->device"
    kind: str                       # drop | corrupt | duplicate | reorder | truncate
    params: tuple = ()              # FaultRule keyword arguments as (name, value) pairs


@dataclass(frozen=True)
class Scenario:
    firmware: str = "fixed"                         # fixed | seedbug | path to an ELF
    steps: tuple[Step, ...] = ()
    tls_version: str = "any"                        # the firmware's `tls version`
    suite: str = "any"                              # the firmware's `tls suite`
    seed: int = 1
    repl: Path = DEFAULT_REPL
    backend: str = "builtin"
    policy: object | None = None                    # sim.tls.policy.ServerPolicy; None = accept everything
    faults: tuple[LinkFault, ...] = ()
    max_virtual_s: float = 60.0
    max_wall_s: float = 300.0
    boot_timeout_s: float = 10.0                    # virtual seconds to reach `ready`
    step_timeout_s: float = 30.0                    # virtual seconds per step

    def __post_init__(self) -> None:
        require_seed(self.seed)
        for name in ("max_virtual_s", "max_wall_s", "boot_timeout_s", "step_timeout_s"):
            require_positive_seconds(getattr(self, name), name)

    def firmware_path(self) -> Path:
        return resolve_firmware(self.firmware)


def resolve_firmware(firmware: str | Path) -> Path:
    """`fixed`/`seedbug` -> build/firmware/<variant>.elf; anything else is a path to an ELF."""
    name = str(firmware)
    if name in VARIANTS:
        path = FIRMWARE_DIR / f"{name}.elf"
        if not path.exists():
            raise ScenarioError(f"firmware variant {name!r} is not built ({path} is missing): run scripts/setup")
        return path
    path = Path(name)
    if not name or not path.exists():
        raise ScenarioError(f"firmware {name!r} is neither a variant ({', '.join(VARIANTS)}) nor an existing ELF file")
    if not path.is_file():
        raise ScenarioError(f"firmware {name!r} is a directory, not an ELF file: name the .elf file inside it, "
                            f"or a variant ({', '.join(VARIANTS)})")
    return path


# --- results ---------------------------------------------------------------------------------------

@dataclass
class StepResult:
    step: Step
    ok: bool = False                                # the firmware printed `<cmd>: ok`
    status: int | None = None                       # HTTP status the firmware saw
    error_where: str | None = None                  # connect|handshake|write|read|http
    error_code: str | None = None                   # e.g. -0x7780
    fatal_alert: int | None = None                  # alert number the firmware reported (msg N)
    tls_version: str | None = None
    tls_suite: str | None = None
    body_sha256: str | None = None                  # what the firmware sent (POST) / got (GET)
    body_length: int | None = None
    server_sha256: str | None = None                # what the peer computed (POST)
    server_length: int | None = None
    digest_match: bool | None = None
    uart_lines: list[str] = field(default_factory=list)
    sessions: list = field(default_factory=list)     # PeerSessions opened during the step
    device_sent: bytes = b""                         # bytes the firmware's TLS layer handed to TCP
    diagnosis: object | None = None                  # sim.tls.diagnosis.Diagnosis of the failing session
    virtual_ns: int = 0
    finished: bool = True                            # False: the run stopped before the step's status line

    @property
    def alerts_sent_by_peer(self) -> list[dict]:
        return [a for s in self.sessions for a in s.journal.alerts() if a.get("direction") == "server->client"]

    @property
    def outcome(self) -> str:
        if not self.finished:
            return "unfinished"
        if self.ok:
            return "ok"
        if self.fatal_alert == 20 or any(a.get("description") == "bad_record_mac" for a in self.alerts_sent_by_peer):
            return "bad_record_mac"
        return "error"

    def meets_expectation(self) -> bool:
        if not self.finished:
            return False
        if self.step.expect == "any":
            return True
        if self.step.expect == "ok":
            return self.ok and self.status == 200 and self.digest_match is not False
        return self.outcome == "bad_record_mac"

    def to_dict(self) -> dict:
        return {
            "step": dataclasses.asdict(self.step), "outcome": self.outcome, "ok": self.ok,
            "meets_expectation": self.meets_expectation(), "status": self.status,
            "error_where": self.error_where, "error_code": self.error_code, "fatal_alert": self.fatal_alert,
            "tls_version": self.tls_version, "tls_suite": self.tls_suite,
            "body_length": self.body_length, "body_sha256": self.body_sha256,
            "server_length": self.server_length, "server_sha256": self.server_sha256,
            "digest_match": self.digest_match, "peer_alerts": self.alerts_sent_by_peer,
            "device_sent_bytes": len(self.device_sent), "virtual_ms": self.virtual_ns / NS_PER_MS,
            "diagnosis": self.diagnosis.summary if self.diagnosis is not None else None,
            "finished": self.finished,
        }


@dataclass
class Result:
    scenario: Scenario
    steps: list[StepResult]
    uart: bytes
    virtual_ns: int
    wall_s: float
    instructions: int
    out_dir: Path | None = None
    error: str | None = None                         # set when the scenario could not complete
    artifacts: dict[str, Path] = field(default_factory=dict)
    stats: dict[str, int] = field(default_factory=dict)
    interrupted: bool = False                        # stopped from outside (Ctrl-C, a Robot stop signal)
    failure: str | None = None                       # a check outside the steps failed (a Robot assertion)

    @property
    def passed(self) -> bool:
        return (not self.interrupted and self.error is None and self.failure is None
                and all(s.meets_expectation() for s in self.steps))

    @property
    def verdict(self) -> str:
        if self.interrupted:
            return "interrupted"
        if self.error is not None:
            return "error"
        return "pass" if self.passed else "fail"

    @property
    def speedup(self) -> float:
        """Emulated time / wall time: how much faster than the real board."""
        return (self.virtual_ns / NS_PER_S) / self.wall_s if self.wall_s > 0 else float("inf")

    @property
    def diagnosis(self):
        return next((s.diagnosis for s in self.steps if s.diagnosis is not None), None)

    def summary(self) -> str:
        lines = []
        for s in self.steps:
            mark = "ok " if s.meets_expectation() else "BAD"
            detail = f"status {s.status}" if s.ok else f"{s.error_where or '?'} {s.error_code or ''}".strip()
            if s.fatal_alert is not None:
                detail += f", fatal alert {s.fatal_alert}"
            lines.append(f"[{mark}] {s.step.describe():28} -> {s.outcome:15} ({detail}; expected {s.step.expect})")
            if s.diagnosis is not None:
                lines.append(f"      diagnosis: {s.diagnosis.summary}")
        if self.error:
            lines.append(f"error: {self.error}")
        if self.failure:
            lines.append(f"failed: {self.failure}")
        if self.interrupted:
            lines.append("interrupted: the run was stopped before the scenario finished")
        lines.append(f"verdict: {self.verdict}; virtual {self.virtual_ns / NS_PER_MS:.1f} ms in {self.wall_s:.2f} s wall "
                     f"({self.speedup:.1f}x real time), {self.instructions} instructions")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        sc = self.scenario
        return {
            "verdict": self.verdict, "passed": self.passed, "error": self.error,
            "interrupted": self.interrupted, "failure": self.failure,
            "scenario": {"firmware": sc.firmware, "backend": sc.backend, "seed": sc.seed, "tls_version": sc.tls_version,
                         "suite": sc.suite, "steps": [dataclasses.asdict(s) for s in sc.steps]},
            "steps": [s.to_dict() for s in self.steps],
            "virtual_ms": self.virtual_ns / NS_PER_MS, "wall_s": round(self.wall_s, 3),
            "speedup": round(self.speedup, 2), "instructions": self.instructions,
            "artifacts": {k: str(v) for k, v in self.artifacts.items()}, "stats": self.stats,
        }
