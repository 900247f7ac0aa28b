"""What a scenario is and what it produced: `Scenario` (firmware, platform, seed, TLS settings,
steps, link faults, limits), `Step`, and the results `StepResult` and `Result`.

Plain data: nothing here runs a machine. Bad values raise `InvalidScenario` (a `SimError`, so the
command line reports it in one line) at construction, before anything boots.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from sim.errors import ScenarioError, SimError
from sim.platform import DEFAULT_REPL
from sim.vtime import NS_PER_MS, NS_PER_S

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FIRMWARE_DIR = PROJECT_ROOT / "build" / "firmware"
EXPECTATIONS = ("ok", "bad_record_mac", "any")
SEED_RANGE = range(0, 1 << 64)
ON_UNMAPPED = ("fault", "warn")
IDENTITY_MODES = ("test-pki", "user", "substitute-trust")


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


CONSOLE_AUTO = "auto"                # the first USART the image writes to
CONSOLE_NONE = "none"                # no console: uart.log stays empty
SYMBOL_NAME = re.compile(r"^[A-Za-z_.$][A-Za-z0-9_.$]*$")


@dataclass(frozen=True)
class DeviceInitiated:
    """The device acts by itself: the scenario serves the network (DHCP, DNS, SNTP, the peer) and
    waits for the device's own connections and requests until a stop condition.

    `requests`: stop once that many HTTP requests were answered or failed; `until_uart`: once the
    console prints a line containing the text; `until_symbol`: once the CPU reaches the function
    (e.g. the image's own success or error handler). With none of them the run lasts the scenario's
    `max_virtual_s` and ends normally. `expect` applies to every request that finished: `ok`
    (answered 2xx), `bad_record_mac` (failed with that alert), `any`. `console`: the UART that
    carries the image's log (a USART of the platform, `auto`, or `none`)."""

    requests: int | None = None
    until_uart: str | None = None
    until_symbol: str | None = None
    expect: str = "ok"
    console: str = CONSOLE_AUTO
    settle_s: float = 1.0           # after the stop: let closes, alerts and the log lines they cause through

    def __post_init__(self) -> None:
        if self.requests is not None and (isinstance(self.requests, bool) or not isinstance(self.requests, int)
                                          or self.requests < 1):
            raise InvalidScenario(f"the number of requests to wait for must be a whole number from 1 up, "
                                  f"not {self.requests!r}")
        if self.until_uart is not None and (not self.until_uart or "\n" in self.until_uart or "\r" in self.until_uart):
            raise InvalidScenario(f"the UART text to stop at must be the text of one line (not empty), "
                                  f"not {self.until_uart!r}")
        if self.until_symbol is not None and not SYMBOL_NAME.match(self.until_symbol):
            raise InvalidScenario(f"{self.until_symbol!r} is not a symbol name: give a function of the image, "
                                  f"e.g. Error_Handler")
        if self.expect not in EXPECTATIONS:
            raise InvalidScenario(f"expect must be one of {', '.join(EXPECTATIONS)}, not {self.expect!r}")
        if not self.console or any(c.isspace() for c in self.console):
            raise InvalidScenario(f"the console must name a USART of the platform (e.g. usart2), "
                                  f"'{CONSOLE_AUTO}' or '{CONSOLE_NONE}', not {self.console!r}")
        require_positive_seconds(self.settle_s, "the settle time")

    @property
    def stop_conditions(self) -> list[str]:
        out = []
        if self.requests is not None:
            out.append(f"{self.requests} request{'s' if self.requests != 1 else ''} answered or failed")
        if self.until_uart is not None:
            out.append(f"'{self.until_uart}' on the console")
        if self.until_symbol is not None:
            out.append(f"the CPU at {self.until_symbol}")
        return out


@dataclass(frozen=True)
class ServerIdentitySpec:
    """Which certificate chain the peer presents (docs/server-identity.md):

    - `test-pki` (the default): a leaf per SNI name under the test roots; what an image built to
      trust the test CA - or one that does not verify the server at all - accepts;
    - `user`: your chain (`cert`, PEM, leaf first) and its key (`key`, PEM, RSA or ECDSA;
      `password` for an encrypted one), checked before the firmware starts;
    - `substitute-trust`: every CA certificate the image embeds is replaced, in emulated flash
      only, by a same-length look-alike, and the peer presents leaves per SNI name under them.

    Only the shape is checked here; the files and the image are read when the scenario is
    prepared (sim.scenario.identity), still before anything boots."""

    mode: str = "test-pki"
    cert: str | None = None
    key: str | None = None
    password: str | None = field(default=None, repr=False)    # never written to an artifact

    def __post_init__(self) -> None:
        if self.mode not in IDENTITY_MODES:
            raise InvalidScenario(f"the server identity must be one of {', '.join(IDENTITY_MODES)}, "
                                  f"not {self.mode!r}")
        if self.mode == "user":
            missing = [what for what, value in (("the chain (cert)", self.cert), ("its key (key)", self.key))
                       if not value]
            if missing:
                raise InvalidScenario(f"serving your own chain needs {' and '.join(missing)}: give the PEM "
                                      f"chain and its private key together")
        else:
            given = [name for name in ("cert", "key", "password") if getattr(self, name) is not None]
            if given:
                raise InvalidScenario(f"{', '.join(given)} belong{'s' if len(given) == 1 else ''} to the 'user' "
                                      f"server identity, not to {self.mode!r}: choose one of the two")

    def describe(self) -> dict:
        out: dict = {"mode": self.mode}
        if self.mode == "user":
            out.update(cert=str(self.cert), key=str(self.key), key_password_given=self.password is not None)
        return out


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
    network: object | None = None                   # sim.net.InternetConfig; None = its defaults
    device: DeviceInitiated | None = None           # set: the device acts by itself (no shell, no steps)
    identity: ServerIdentitySpec = ServerIdentitySpec()     # the chain the peer presents
    faults: tuple[LinkFault, ...] = ()
    max_virtual_s: float = 60.0
    max_wall_s: float = 300.0
    boot_timeout_s: float = 10.0                    # virtual seconds to reach `ready`
    on_unmapped: str = "fault"                      # "warn": unmodelled hardware reads 0, is recorded
    step_timeout_s: float = 30.0                    # virtual seconds per step

    def __post_init__(self) -> None:
        require_seed(self.seed)
        if self.on_unmapped not in ON_UNMAPPED:
            raise InvalidScenario(f"on_unmapped must be one of {', '.join(ON_UNMAPPED)}, not {self.on_unmapped!r}")
        if self.device is not None and self.steps:
            raise InvalidScenario("a device-initiated scenario has no shell steps: the device makes its own "
                                  "requests (give either steps or device, not both)")
        for name in ("max_virtual_s", "max_wall_s", "boot_timeout_s", "step_timeout_s"):
            require_positive_seconds(getattr(self, name), name)
        if not isinstance(self.identity, ServerIdentitySpec):
            raise InvalidScenario(f"identity must be a ServerIdentitySpec, not {self.identity!r}")

    def firmware_path(self) -> Path:
        return resolve_firmware(self.firmware)


def firmware_variants(directory: Path = FIRMWARE_DIR) -> tuple[str, ...]:
    """The reference images this checkout has built, by name: the firmware Makefile writes one
    `build/firmware/<variant>.elf` per variant it knows (`make -C firmware variants` lists them),
    so what is there is what a name can mean - no list here to fall behind the Makefile."""
    if not directory.is_dir():
        return ()
    return tuple(sorted(p.stem for p in directory.glob("*.elf") if p.is_file()))


def __getattr__(name: str):
    if name == "VARIANTS":              # the older constant: now whatever is built
        return firmware_variants()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _variant_path(name: str) -> Path | None:
    """build/firmware/<name>.elf for a bare variant name, when it is built."""
    if not name or "/" in name or "\\" in name or name.startswith(".") or name.endswith(".elf"):
        return None
    path = FIRMWARE_DIR / f"{name}.elf"
    return path if path.is_file() else None


def default_on_unmapped(firmware: str | Path) -> str:
    """Our reference images run strict (an unmodelled access is a bug in them or in the platform);
    a user's image goes on past hardware the platform does not model, and the report lists it."""
    return "fault" if _variant_path(str(firmware)) is not None else "warn"


def resolve_firmware(firmware: str | Path) -> Path:
    """A variant name (`fixed`, `autopost-prod-seedbug`, ...: build/firmware/<variant>.elf) or the
    path of an ELF."""
    name = str(firmware)
    variant = _variant_path(name)
    if variant is not None:
        return variant
    path = Path(name)
    built = ", ".join(firmware_variants()) or "none built yet"
    if not name or not path.exists():
        raise ScenarioError(f"firmware {name!r} is neither a variant ({built}) nor an existing ELF file: give the "
                            f"path of an ELF, or build the reference variants with scripts/build-firmware "
                            f"(`make -C firmware variants` names them)")
    if not path.is_file():
        raise ScenarioError(f"firmware {name!r} is a directory, not an ELF file: name the .elf file inside it, "
                            f"or a variant ({built})")
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

    def describe(self) -> str:
        return self.step.describe()

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
    connections: list = field(default_factory=list)  # device-initiated: ConnectionResult per TCP connection
    unmodelled: list[dict] = field(default_factory=list)  # accesses to unmodelled hardware (on_unmapped="warn")
    device: object | None = None                     # device-initiated: DeviceReport (console, stop, DHCP/DNS/SNTP)
    identity: dict | None = None                     # the server identity: mode, what was found, what was served

    @property
    def requests(self) -> list:
        """Device-initiated: every request that finished (answered or failed), in connection order."""
        return [r for c in self.connections for r in c.requests]

    @property
    def passed(self) -> bool:
        if self.interrupted or self.error is not None or self.failure is not None:
            return False
        if not all(s.meets_expectation() for s in self.steps):
            return False
        if self.scenario.device is not None:
            requests = self.requests
            if not all(r.meets_expectation() for r in requests):
                return False
            if self.scenario.device.expect == "bad_record_mac" and not requests:
                return False                         # the failure it was to show never came
        return True

    @property
    def exchanges(self) -> list:
        """What carried TLS sessions, for the artifacts: the steps, or the device's connections."""
        return list(self.steps) + [c for c in self.connections if c.sessions]

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
        return next((s.diagnosis for s in self.exchanges if s.diagnosis is not None), None)

    def summary(self) -> str:
        lines = identity_lines(self.identity)
        if self.device is not None:
            lines += self.device.summary_lines()
        for c in self.connections:
            tls = f", {c.tls_version} {c.suite}" if c.suite else ""
            sni = f", SNI {c.sni}" if c.sni else ""
            lines.append(f"{c.describe()}: {c.outcome}{sni}{tls}")
            for r in c.requests + ([c.unfinished] if c.unfinished is not None else []):
                mark = "ok " if r.meets_expectation() else ("   " if not r.finished else "BAD")
                detail = f"status {r.status}" if r.status is not None else (r.reason or "")
                lines.append(f"  [{mark}] {r.describe():28} -> {r.outcome:15} ({detail}; expected {r.expect})")
            if c.diagnosis is not None:
                lines.append(f"      diagnosis: {c.diagnosis.summary}")
        for s in self.steps:
            mark = "ok " if s.meets_expectation() else "BAD"
            detail = f"status {s.status}" if s.ok else f"{s.error_where or '?'} {s.error_code or ''}".strip()
            if s.fatal_alert is not None:
                detail += f", fatal alert {s.fatal_alert}"
            lines.append(f"[{mark}] {s.step.describe():28} -> {s.outcome:15} ({detail}; expected {s.step.expect})")
            if s.diagnosis is not None:
                lines.append(f"      diagnosis: {s.diagnosis.summary}")
        if self.unmodelled:
            lines.append("unmodelled hardware the firmware touched (reads gave 0, writes were ignored):")
            for u in self.unmodelled:
                if u.get("address") is None:
                    lines.append(f"  ... and {u['not_recorded']} more not recorded")
                    continue
                lines.append(f"  {u['address']} ({u['block'] or 'reserved'}) {u['access']} {u['count']}x "
                             f"by {u['function'] or '?'}")
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
            "scenario": {"firmware": sc.firmware, "backend": sc.backend, "seed": sc.seed, "on_unmapped": sc.on_unmapped,
                         "tls_version": sc.tls_version, "server_identity": sc.identity.describe(),
                         "suite": sc.suite, "steps": [dataclasses.asdict(s) for s in sc.steps],
                         **({"device_initiated": dataclasses.asdict(sc.device)} if sc.device is not None else {})},
            "steps": [s.to_dict() for s in self.steps],
            **({"device": self.device.to_dict() if self.device is not None else None,
                "connections": [c.to_dict() for c in self.connections]} if sc.device is not None else {}),
            "virtual_ms": self.virtual_ns / NS_PER_MS, "wall_s": round(self.wall_s, 3),
            "speedup": round(self.speedup, 2), "instructions": self.instructions,
            "unmodelled": self.unmodelled,
            "server_identity": self.identity,
            "artifacts": {k: str(v) for k, v in self.artifacts.items()}, "stats": self.stats,
        }


def identity_lines(report: dict | None) -> list[str]:
    """The console lines that say which identity the peer presented (from Result.identity)."""
    if not report:
        return []
    lines = [f"identity: {report['text']}"]
    for r in report.get("replaced", []):
        lines.append(f"  replaced {r['format'].upper()} CA {r['subject']!r} at {r['address']} ({r['section']}, "
                     f"{r['length']} bytes, flash {r['load_address']})")
    served: dict[str, list[str]] = {}
    for s in report.get("served", []):
        served.setdefault(s["label"], []).append(s["exchange"])
    for label, exchanges in served.items():
        lines.append(f"  served {label} to {', '.join(exchanges)}")
    if report.get("hint"):
        lines.append(f"  hint: {report['hint']}")
    return lines
