"""Scenarios: boot the firmware once, then replay GET/POST steps against the peer in virtual time.

A `Scenario` names the firmware, the platform, the seed, the TLS settings of both ends, the steps
(`GET PATH`, `POST PATH SIZE`), link faults and limits. `ScenarioRunner` owns the virtual clock:
it runs the machine in quanta that end at the next host event (a frame arriving, a TCP timer), so
every frame reaches the firmware at its exact virtual arrival time; between quanta it moves frames
across the `Link`, fires host timers, and checks for the awaited UART line. It stops on success,
on a failed expectation, at the virtual-time limit or at the wall-time limit - always with a
message that says what was awaited and shows the last UART lines.

The machine is booted once per (firmware, platform, seed, backend) and snapshotted when it prints
`ready` (link up, shell waiting); every scenario starts from that snapshot.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from sim.backend import Backend, RunResult, StopReason
from sim.backends import create_backend
from sim.errors import BackendError, ScenarioError
from sim.frame_types import TxFrame
from sim.platform import DEFAULT_REPL
from sim.vtime import NS_PER_MS, NS_PER_S, EventQueue, cycles_to_ns, ns_to_cycles

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FIRMWARE_DIR = PROJECT_ROOT / "build" / "firmware"
VARIANTS = ("fixed", "seedbug")

DEVICE_IP = "192.0.2.10"
PEER_IP = "192.0.2.1"
PEER_MAC = bytes.fromhex("020000000001")
PEER_PORT = 443
READY_LINE = "ready"
TLS_SEND_SYMBOL = "fw_tls_send"

QUANTUM_NS = 5 * NS_PER_MS          # longest machine slice without a host event in between
SETTLE_NS = 300 * NS_PER_MS         # after a step: let FIN/ACKs and the last alerts cross the link
UART_TAIL = 20                      # UART lines shown in error messages
PROGRESS_EVERY_S = 0.25             # wall seconds between progress reports of a long run

_RESULT_LINE = re.compile(r"^(get|post): (ok|error)\b(.*)$")
_FATAL_ALERT = re.compile(r"is a fatal alert message \(msg (\d+)\)")
_RETURNED = re.compile(r"(\w+)\(\) returned (-?\d+) \((-0x[0-9a-fA-F]+)\)")


# --- what to run -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    kind: str                       # "get" | "post"
    path: str
    size: int = 0
    expect: str = "ok"              # "ok" | "bad_record_mac" | "any"

    def __post_init__(self) -> None:
        if self.kind not in ("get", "post"):
            raise ValueError(f"step kind must be 'get' or 'post', not {self.kind!r}")
        if not self.path.startswith("/"):
            raise ValueError(f"step path must start with '/': {self.path!r}")
        if self.kind == "post" and self.size < 0:
            raise ValueError(f"POST size must be >= 0, got {self.size}")
        if self.expect not in ("ok", "bad_record_mac", "any"):
            raise ValueError(f"step expect must be ok, bad_record_mac or any, not {self.expect!r}")

    @property
    def command(self) -> str:
        return f"get {self.path}" if self.kind == "get" else f"post {self.path} {self.size}"

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
    if not path.exists():
        raise ScenarioError(f"firmware {name!r} is neither a variant ({', '.join(VARIANTS)}) nor an existing ELF file")
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

    @property
    def alerts_sent_by_peer(self) -> list[dict]:
        return [a for s in self.sessions for a in s.journal.alerts() if a.get("direction") == "server->client"]

    @property
    def outcome(self) -> str:
        if self.ok:
            return "ok"
        if self.fatal_alert == 20 or any(a.get("description") == "bad_record_mac" for a in self.alerts_sent_by_peer):
            return "bad_record_mac"
        return "error"

    def meets_expectation(self) -> bool:
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

    @property
    def passed(self) -> bool:
        return self.error is None and all(s.meets_expectation() for s in self.steps)

    @property
    def verdict(self) -> str:
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
        lines.append(f"verdict: {self.verdict}; virtual {self.virtual_ns / NS_PER_MS:.1f} ms in {self.wall_s:.2f} s wall "
                     f"({self.speedup:.1f}x real time), {self.instructions} instructions")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        sc = self.scenario
        return {
            "verdict": self.verdict, "passed": self.passed, "error": self.error,
            "scenario": {"firmware": sc.firmware, "backend": sc.backend, "seed": sc.seed, "tls_version": sc.tls_version,
                         "suite": sc.suite, "steps": [dataclasses.asdict(s) for s in sc.steps]},
            "steps": [s.to_dict() for s in self.steps],
            "virtual_ms": self.virtual_ns / NS_PER_MS, "wall_s": round(self.wall_s, 3),
            "speedup": round(self.speedup, 2), "instructions": self.instructions,
            "artifacts": {k: str(v) for k, v in self.artifacts.items()}, "stats": self.stats,
        }


# --- booting once, starting many times ----------------------------------------------------------------

class _Router:
    """Callbacks are registered on a booted backend once; each scenario points them at itself."""

    def __init__(self) -> None:
        self.on_tx: Callable[[TxFrame], None] | None = None
        self.on_uart: Callable[[bytes], None] | None = None
        self.on_send_entry: Callable | None = None

    def tx(self, frame: TxFrame) -> None:
        if self.on_tx is not None:
            self.on_tx(frame)

    def uart(self, data: bytes) -> None:
        if self.on_uart is not None:
            self.on_uart(data)


@dataclass
class BootedMachine:
    backend: Backend
    snapshot: object
    router: _Router
    boot_transcript: bytes
    boot_cycles: int
    boot_wall_s: float


_BOOT_CACHE: dict[tuple, BootedMachine] = {}


_DIGESTS: dict[tuple, str] = {}


def _file_digest(path: Path) -> str:
    """SHA-256 of a file, remembered while its size and mtime stay the same (ELFs with debug info
    are megabytes, and every scenario asks for its boot)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _DIGESTS:
        _DIGESTS[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return _DIGESTS[key]


def boot(firmware: str | Path, *, repl: Path = DEFAULT_REPL, seed: int = 1, backend: str = "builtin",
         timeout_s: float = 10.0, max_wall_s: float = 120.0, cache: bool = True,
         fault_mode: str = "firmware") -> BootedMachine:
    """Boot to `ready` (or reuse the cached boot of the same image, platform, seed and backend).

    Scenarios run with `fault_mode="firmware"`: a fault enters the firmware's own handler, as on
    the board (the reference image prints its crash dump), and the run ends with the machine's
    report - stacked frame, decoded CFSR/HFSR, faulting symbol - once the handler parks the CPU."""
    elf = resolve_firmware(firmware)
    key = (backend, _file_digest(elf), _file_digest(Path(repl)), seed, fault_mode)
    if cache and key in _BOOT_CACHE:
        return _BOOT_CACHE[key]
    machine = create_backend(backend, Path(repl), seed=seed, fault_mode=fault_mode)
    machine.load_elf(str(elf))
    machine.reset()
    router = _Router()
    uart = machine.uart("usart1")
    uart.on_output(router.uart)
    machine.ethernet.on_transmit(router.tx)
    started = time.monotonic()
    limit = ns_to_cycles(int(timeout_s * NS_PER_S), machine.frequency)
    seen = bytearray()

    def watch(data: bytes) -> None:
        seen.extend(data)
        if b"\n" + READY_LINE.encode() in b"\n" + bytes(seen).replace(b"\r", b""):
            machine.request_stop()

    router.on_uart = watch
    # Frames the firmware sends before `ready` (none expected: no traffic until a command) go nowhere.
    while True:
        text = bytes(seen).replace(b"\r", b"").decode("latin-1")
        if any(line == READY_LINE for line in text.split("\n")):
            break
        if machine.cycles >= limit:
            raise ScenarioError(f"the firmware did not print '{READY_LINE}' within {timeout_s} s of virtual time "
                                f"({elf.name}).\n{_tail(text)}")
        if time.monotonic() - started > max_wall_s:
            raise ScenarioError(f"boot of {elf.name} hit the wall-time limit of {max_wall_s} s before '{READY_LINE}' "
                                f"(virtual {cycles_to_ns(machine.cycles, machine.frequency) / NS_PER_MS:.1f} ms).\n{_tail(text)}")
        result = machine.run(min(limit - machine.cycles, ns_to_cycles(100 * NS_PER_MS, machine.frequency)))
        if result.reason is StopReason.FAULT:
            raise ScenarioError(f"the firmware faulted during boot:\n{result.fault}\n{_tail(text)}")
        if result.reason in (StopReason.BREAKPOINT, StopReason.WATCHPOINT):
            raise ScenarioError(f"during boot: {_halt_message(machine, result)}\n{_tail(text)}")
    router.on_uart = None
    booted = BootedMachine(machine, machine.snapshot(), router, bytes(uart.transcript), machine.cycles,
                           time.monotonic() - started)
    if cache:
        _BOOT_CACHE[key] = booted
    return booted


def clear_boot_cache() -> None:
    _BOOT_CACHE.clear()


def _halt_message(machine: Backend, result: RunResult) -> str:
    """A stop only a debugger expects (BKPT instruction, breakpoint, watchpoint) with none attached."""
    pc = machine.read_register("pc")
    where = machine.symbolize(pc)
    what = "a watchpoint" if result.reason is StopReason.WATCHPOINT else "a BKPT instruction or breakpoint"
    return (f"the firmware stopped at {what} at pc 0x{pc:08x}" + (f" ({where})" if where else "")
            + " with no debugger attached (on hardware a BKPT without a debugger escalates to HardFault); "
            "attach GDB with --gdb PORT to inspect it")


def _tail(text: str, n: int = UART_TAIL) -> str:
    lines = [ln for ln in text.replace("\r", "").split("\n")]
    while lines and not lines[-1].strip():
        lines.pop()
    shown = lines[-n:]
    if not shown:
        return "(the UART printed nothing)"
    return "last UART lines:\n" + "\n".join(f"  | {ln}" for ln in shown)


# --- running ----------------------------------------------------------------------------------------

class ScenarioRunner:
    """One run of a scenario from the boot snapshot. Use `run()`; artifacts go to `out_dir`."""

    def __init__(self, scenario: Scenario, out_dir: Path | None = None, *, booted: BootedMachine | None = None,
                 debugger=None, progress: Callable[[str], None] | None = None) -> None:
        from sim.net.hoststack import HostStack
        from sim.net.link import Link
        from sim.net.pcapng import PcapngWriter
        from sim.peer import PeerFactory
        from sim.seed import SeededRandom
        from sim.tls.policy import ServerPolicy

        self.scenario = scenario
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.booted = booted or boot(scenario.firmware, repl=scenario.repl, seed=scenario.seed,
                                     backend=scenario.backend, timeout_s=scenario.boot_timeout_s,
                                     max_wall_s=scenario.max_wall_s)
        self.machine = self.booted.backend
        self.machine.restore(self.booted.snapshot)
        self.debugger = debugger
        self.progress = progress
        self._progress_at = 0.0
        if debugger is not None:
            debugger.bind(self)         # GDB's monitor commands reach the peer journal and the boot snapshot
        self.frequency = self.machine.frequency
        rng = SeededRandom(scenario.seed, "scenario")

        self.queue = EventQueue(cycles_to_ns(self.machine.cycles, self.frequency))
        self.capture = PcapngWriter()
        self.link = Link(self.queue, rng=rng.child("link"), capture=self.capture)
        for fault in scenario.faults:
            self.link.add_fault(fault.direction, _fault_rule(fault))
        self.stack = HostStack(self.queue, mac=PEER_MAC, ip=PEER_IP, rng=rng.child("host"),
                               transmit=self.link.from_host)
        self.link.attach_host(self.stack.handle_frame)
        self.link.attach_device(self.machine.ethernet.receive)
        self.policy = scenario.policy if scenario.policy is not None else ServerPolicy()
        self.peer = PeerFactory(self.policy, scenario.seed)
        self._sessions_by_step: list[list] = []
        self.stack.listen(PEER_PORT, self._new_session)

        self._pending_tx: list[TxFrame] = []
        self._uart_buffer = bytearray(self.booted.boot_transcript)
        self._line_start = len(self._uart_buffer)
        self._awaited: re.Pattern | None = None
        self._device_sent = bytearray()
        self._send_call: tuple[int, int] | None = None
        self._hooks: list[int] = []
        self.booted.router.on_tx = self._pending_tx.append
        self.booted.router.on_uart = self._on_uart
        self._install_send_hook()
        self.started_wall = time.monotonic()
        self.start_cycles = self.machine.cycles
        self.start_instructions = self.machine.stats.get("instructions", 0)
        self.limit_cycles = self.machine.cycles + ns_to_cycles(int(scenario.max_virtual_s * NS_PER_S), self.frequency)
        self._step_index = -1

    # --- wiring -----------------------------------------------------------------------------------
    def _new_session(self):
        session = self.peer()
        if self._step_index >= 0:
            self._sessions_by_step[self._step_index].append(session)
        return session

    def _install_send_hook(self) -> None:
        """Capture what the firmware's TLS layer hands to TCP: buffer and length at entry of the
        send callback, the accepted count (r0) when it returns to its caller."""
        try:
            address = self.machine.symbol_address(TLS_SEND_SYMBOL)
        except (KeyError, BackendError, LookupError):
            return          # a user ELF without our symbol: the diagnosis works without it

        def on_return(ctx) -> None:
            if self._send_call is None:
                return
            buf, length = self._send_call
            self._send_call = None
            accepted = _signed32(self.machine.read_register("r0"))
            if accepted > 0:
                self._device_sent.extend(self.machine.read_memory(buf, min(accepted, length)))

        def on_entry(ctx) -> None:
            self._send_call = (self.machine.read_register("r1"), self.machine.read_register("r2"))
            lr = self.machine.read_register("lr") & ~1
            if lr not in self._return_hooks:
                self._return_hooks.add(lr)
                self._hooks.append(self.machine.hook(lr, on_return))

        self._return_hooks: set[int] = set()
        self._hooks.append(self.machine.hook(address, on_entry))

    def _remove_hooks(self) -> None:
        for handle in self._hooks:
            self.machine.unhook(handle)
        self._hooks.clear()
        self.booted.router.on_tx = None
        self.booted.router.on_uart = None

    def _on_uart(self, data: bytes) -> None:
        start = len(self._uart_buffer)
        self._uart_buffer.extend(data)
        if self._awaited is not None and b"\n" in data:
            tail = self._uart_buffer[max(self._line_start, start - 512):].decode("latin-1").replace("\r", "")
            if any(self._awaited.search(line) for line in tail.split("\n")[:-1]):
                self.machine.request_stop()

    # --- the clock --------------------------------------------------------------------------------
    @property
    def now_ns(self) -> int:
        return cycles_to_ns(self.machine.cycles, self.frequency)

    def _wall_elapsed(self) -> float:
        """Wall time of this run, less the time a GDB client held the firmware halted (the user's)."""
        return time.monotonic() - self.started_wall - getattr(self.debugger, "halted_wall_s", 0.0)

    def _advance(self, until: Callable[[], bool], awaited: str, deadline_cycles: int) -> None:
        """Run machine and host side together until `until()` holds or a limit is hit."""
        deadline_cycles = min(deadline_cycles, self.limit_cycles)
        while not until():
            if self.machine.cycles >= deadline_cycles:
                which = "scenario" if deadline_cycles == self.limit_cycles else "step"
                raise ScenarioError(f"virtual-time limit ({which}) reached at {self.now_ns / NS_PER_MS:.1f} ms while "
                                    f"waiting for {awaited}.\n{self._uart_tail()}")
            if self._wall_elapsed() > self.scenario.max_wall_s:
                raise ScenarioError(f"wall-time limit of {self.scenario.max_wall_s} s reached (virtual "
                                    f"{self.now_ns / NS_PER_MS:.1f} ms) while waiting for {awaited}.\n{self._uart_tail()}")
            if self.progress is not None and time.monotonic() >= self._progress_at:
                self._progress_at = time.monotonic() + PROGRESS_EVERY_S
                self.progress(f"waiting for {awaited}: virtual {self.now_ns / NS_PER_MS:.1f} ms, "
                              f"{self._wall_elapsed():.1f} s wall")
            target_ns = self.now_ns + QUANTUM_NS
            nxt = self.queue.next_time_ns()
            if nxt is not None:
                target_ns = min(target_ns, nxt)
            budget = max(1, min(ns_to_cycles(target_ns, self.frequency), deadline_cycles) - self.machine.cycles)
            result = self._run_machine(budget)
            self._move_frames()
            self.queue.advance_to(max(self.queue.now_ns, self.now_ns))
            if result.reason is StopReason.FAULT:
                raise ScenarioError(f"the firmware stopped with a fault while waiting for {awaited}:\n"
                                    f"{result.fault}\n{self._uart_tail()}")

    def _run_machine(self, budget: int) -> RunResult:
        if self.debugger is not None:
            return self.debugger.run(self.machine, budget)
        result = self.machine.run(budget)
        if result.reason in (StopReason.BREAKPOINT, StopReason.WATCHPOINT):
            raise ScenarioError(_halt_message(self.machine, result) + "\n" + self._uart_tail())
        return result

    def _move_frames(self) -> None:
        """Hand the frames the firmware sent in the last slice to the link, each at its own time."""
        pending, self._pending_tx[:] = list(self._pending_tx), []
        for frame in pending:
            t = max(self.queue.now_ns, cycles_to_ns(frame.cycles, self.frequency))
            self.queue.advance_to(t)
            self.link.from_device(frame.data, frame)

    def _uart_text(self) -> str:
        return self._uart_buffer.decode("latin-1").replace("\r", "")

    def _uart_tail(self) -> str:
        return _tail(self._uart_text())

    def _lines_since(self, offset: int) -> list[str]:
        text = self._uart_buffer[offset:].decode("latin-1").replace("\r", "")
        return text.split("\n")

    # --- UART conversation ------------------------------------------------------------------------
    def write_line(self, text: str) -> None:
        self.machine.uart("usart1").write(text.encode() + b"\r")

    def wait_for_line(self, pattern: str | re.Pattern, *, timeout_s: float, since: int | None = None,
                      awaited: str | None = None) -> re.Match:
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        start = self._line_start if since is None else since
        found: list[re.Match] = []

        def seen() -> bool:
            for line in self._lines_since(start)[:-1]:
                m = regex.search(line)
                if m:
                    found.append(m)
                    return True
            return False

        self._awaited = regex
        try:
            self._advance(seen, awaited or f"a UART line matching /{regex.pattern}/",
                          self.machine.cycles + ns_to_cycles(int(timeout_s * NS_PER_S), self.frequency))
        finally:
            self._awaited = None
        return found[0]

    def command(self, text: str, result: str, *, timeout_s: float) -> tuple[re.Match, list[str]]:
        """Type a shell command, wait for its status line, return it and the lines printed."""
        start = len(self._uart_buffer)
        self.write_line(text)
        match = self.wait_for_line(result, timeout_s=timeout_s, since=start,
                                   awaited=f"the reply to '{text}' (a line matching /{result}/)")
        return match, [ln for ln in self._lines_since(start)[:-1]]

    def settle(self, duration_ns: int = SETTLE_NS) -> None:
        """Let the link quiesce (closing handshakes, final alerts) for a bounded virtual time."""
        end = self.machine.cycles + ns_to_cycles(duration_ns, self.frequency)

        def quiet() -> bool:
            open_conns = [c for c in self.stack.connections if c.state not in ("CLOSED", "TIME_WAIT")]
            return self.machine.cycles >= end or (not open_conns and self.link.in_flight == 0)

        self._advance(quiet, "the link to quiesce", end + 1)

    # --- the scenario ------------------------------------------------------------------------------
    def configure(self) -> None:
        sc = self.scenario
        if sc.tls_version != "any" or sc.suite != "any":
            self.command(f"tls version {sc.tls_version}", r"^tls: (version .* ok|error.*)$", timeout_s=2.0)
            match, _ = self.command(f"tls suite {sc.suite}", r"^tls: (suite .* ok|error.*)$", timeout_s=2.0)
            if match.group(1).startswith("error"):
                raise ScenarioError(f"the firmware refused suite {sc.suite!r}: {match.group(0)}")

    def run_step(self, step: Step) -> StepResult:
        self._step_index += 1
        self._sessions_by_step.append([])
        self._device_sent = bytearray()
        started = self.now_ns
        _, lines = self.command(step.command, _RESULT_LINE, timeout_s=self.scenario.step_timeout_s)
        self.settle()
        result = _parse_step(step, lines)
        result.sessions = list(self._sessions_by_step[self._step_index])
        result.device_sent = bytes(self._device_sent)
        result.virtual_ns = self.now_ns - started
        result.diagnosis = self._diagnose(result)
        return result

    def _diagnose(self, result: StepResult):
        from sim.tls.diagnosis import diagnose

        failing = [s for s in result.sessions if s.journal.first_failure() is not None
                   or any(str(a.get("level")) == "fatal" for a in s.journal.alerts())]
        if not failing and result.ok:
            return None
        session = failing[0] if failing else (result.sessions[0] if result.sessions else None)
        if session is None:
            return None
        return diagnose(session.journal, device_sent=result.device_sent or None, locate=self._locator(session))

    def _locator(self, session) -> Callable[[int], dict]:
        """Map a client->server TCP stream offset to its segment, frame and DMA buffer."""
        conn = session.conn
        rx_log = list(getattr(conn, "rx_log", []) or [])

        def locate(offset: int) -> dict:
            for index, seg in enumerate(rx_log):
                if seg.stream_offset <= offset < seg.stream_offset + seg.length:
                    where = {"segment": index + 1, "tcp_seq": seg.seq}
                    if seg.frame_id is None:
                        return where
                    frame_offset = seg.payload_offset + (offset - seg.stream_offset)
                    where.update(frame=seg.frame_id, frame_offset=frame_offset)
                    info = self.link.frame_info(seg.frame_id)
                    tx = info.tx
                    if tx is None and info.sent_as is not None:
                        tx = self.link.frame_info(info.sent_as).tx
                    if tx is not None:
                        for n, dma in enumerate(tx.segments):
                            if dma.frame_offset <= frame_offset < dma.frame_offset + dma.length:
                                inner = frame_offset - dma.frame_offset
                                where.update(dma_descriptor=f"0x{dma.descriptor:08x}",
                                             dma_buffer_index=n, dma_buffer_offset=inner,
                                             dma_buffer=self._symbolize(dma.buffer),
                                             dma_segment_length=dma.length)
                                break
                    return where
            return {}

        return locate

    def _symbolize(self, address: int) -> str:
        name = self.machine.symbolize(address)
        return f"0x{address:08x}" + (f" ({name})" if name else "")

    def run(self) -> Result:
        error = None
        steps: list[StepResult] = []
        try:
            self.configure()
            for step in self.scenario.steps:
                steps.append(self.run_step(step))
        except ScenarioError as exc:
            error = str(exc)
        return self.finish(steps, error)

    def finish(self, steps: list[StepResult], error: str | None = None) -> Result:
        """Detach from the machine and build the Result (and the artifacts when out_dir is set)."""
        self._remove_hooks()
        result = Result(
            scenario=self.scenario, steps=steps, uart=bytes(self._uart_buffer),
            virtual_ns=self.now_ns - cycles_to_ns(self.start_cycles, self.frequency),
            wall_s=time.monotonic() - self.started_wall,
            instructions=self.machine.stats.get("instructions", 0) - self.start_instructions,
            out_dir=self.out_dir, error=error,
            stats={**{f"link_{k}": v for k, v in self.link.stats.items()},
                   **{f"host_{k}": v for k, v in self.stack.stats.items()},
                   **{f"machine_{k}": v for k, v in self.machine.stats.items()}},
        )
        if self.out_dir is not None:
            write_artifacts(result, self)
        return result


def _fault_rule(fault: LinkFault):
    from sim.net.faults import FaultRule

    return FaultRule(kind=fault.kind, **dict(fault.params))


def _signed32(value: int) -> int:
    value &= 0xFFFF_FFFF
    return value - (1 << 32) if value & 0x8000_0000 else value


_KV = re.compile(r"(\w+)=(\S+)")


def _parse_step(step: Step, lines: list[str]) -> StepResult:
    """Read the firmware's report of one command (the shell protocol in firmware/README.md)."""
    result = StepResult(step=step, uart_lines=lines)
    for line in lines:
        m = _FATAL_ALERT.search(line)
        if m:
            result.fatal_alert = int(m.group(1))
        if line.startswith("tls: handshake ok "):
            parts = line.split()
            if len(parts) >= 5:
                result.tls_version, result.tls_suite = parts[3], parts[4]
        if re.match(r"^HTTP/1\.[01] \d{3}", line):
            result.status = int(line.split()[1])
        if line.startswith(f"{step.kind}: body ") or line.startswith(f"{step.kind}: ok "):
            fields = dict(_KV.findall(line))
            if "sha256" in fields:
                result.body_sha256 = fields["sha256"]
            if "length" in fields:
                result.body_length = int(fields["length"])
            if "status" in fields:
                result.status = int(fields["status"])
            if "server_sha256" in fields:
                result.server_sha256 = fields["server_sha256"]
            if "server_length" in fields:
                result.server_length = int(fields["server_length"])
            if "match" in fields:
                result.digest_match = fields["match"] == "yes"
        m = _RESULT_LINE.match(line)
        if m and m.group(1) == step.kind:
            result.ok = m.group(2) == "ok"
            if not result.ok:
                rest = m.group(3).split()
                if rest:
                    result.error_where = rest[0]
                if len(rest) > 1:
                    result.error_code = rest[1]
    return result


# --- artifacts ----------------------------------------------------------------------------------

def write_artifacts(result: Result, runner: ScenarioRunner) -> dict[str, Path]:
    """uart.log capture.pcapng journal.json journal.txt diagnosis.txt ladder.svg result.json"""
    from sim.ladder import ladder_svg

    out = runner.out_dir
    assert out is not None
    out.mkdir(parents=True, exist_ok=True)
    sessions = [s for step in result.steps for s in step.sessions]
    keylog = runner.peer.keylog()
    if keylog:
        runner.capture.add_secrets(keylog)
    paths = {
        "uart": out / "uart.log", "capture": out / "capture.pcapng", "journal_json": out / "journal.json",
        "journal_text": out / "journal.txt", "diagnosis": out / "diagnosis.txt", "ladder": out / "ladder.svg",
        "result": out / "result.json",
    }
    paths["uart"].write_bytes(result.uart)
    paths["capture"].write_bytes(runner.capture.to_bytes())
    paths["journal_json"].write_text(json.dumps(
        {"sessions": [{"step": _step_of(result, s), **s.journal.to_dict()} for s in sessions]},
        indent=1) + "\n")
    paths["journal_text"].write_text("\n".join(
        f"=== {s.journal.name} ({_step_of(result, s)}) ===\n{s.journal.to_text()}" for s in sessions) or "(no TLS connection)\n")
    diag_lines = []
    for step in result.steps:
        diag_lines.append(f"== {step.step.describe()}: {step.outcome} ==")
        diag_lines.append(step.diagnosis.text if step.diagnosis is not None else "no failure to explain\n")
    if result.error:
        diag_lines.append(f"== scenario error ==\n{result.error}\n")
    paths["diagnosis"].write_text("\n".join(diag_lines))
    paths["ladder"].write_text(ladder_svg(
        [(f"{_step_of(result, s)}", s.journal) for s in sessions],
        title=f"{result.scenario.firmware} TLS {result.scenario.tls_version} {result.scenario.suite}"))
    result.artifacts = paths
    paths["result"].write_text(json.dumps(result.to_dict(), indent=1) + "\n")
    return paths


def _step_of(result: Result, session) -> str:
    for step in result.steps:
        if session in step.sessions:
            return step.step.describe()
    return "?"


def run_scenario(scenario: Scenario, out_dir: Path | None = None, **kwargs) -> Result:
    return ScenarioRunner(scenario, out_dir, **kwargs).run()


# --- command line -------------------------------------------------------------------------------

def run_command(args) -> int:
    """`python -m sim run ...` (arguments in sim/cli.py)."""
    from rich.console import Console

    console = Console(stderr=True)
    if args.get is not None:
        step = Step("get", args.get)
    else:
        path, size = args.post
        try:
            step = Step("post", path, int(size))
        except ValueError as exc:
            console.print(f"[red]error:[/] --post needs PATH SIZE with an integer SIZE ({exc})")
            return 2
    if args.wait and args.gdb is None:
        console.print("[red]error:[/] --wait halts the firmware for GDB: give --gdb PORT too")
        return 2
    expect = {"ok": "ok", "bad_record_mac": "bad_record_mac", "any": "any"}[args.expect]
    step = dataclasses.replace(step, expect=expect)
    scenario = Scenario(firmware=args.firmware, steps=(step,), tls_version=args.tls, suite=args.suite,
                        seed=args.seed, repl=args.repl, backend=args.backend,
                        max_virtual_s=args.max_virtual, max_wall_s=args.max_wall)
    try:
        with console.status(f"booting {args.firmware} on {args.backend}..."):
            booted = boot(args.firmware, repl=args.repl, seed=args.seed, backend=args.backend,
                          max_wall_s=args.max_wall)
        debugger = None
        if args.gdb is not None:
            from sim.gdb import attach_debugger
            debugger = attach_debugger(booted.backend, args.gdb, wait=args.wait,
                                       log=lambda text: console.print(text, soft_wrap=True, markup=False,
                                                                      highlight=False),
                                       connect_timeout_s=args.max_wall)
        title = f"{step.describe()} over TLS {args.tls} ({args.suite})"
        with console.status(title + "...") as status:
            try:
                result = run_scenario(scenario, args.out, booted=booted, debugger=debugger,
                                      progress=lambda text: status.update(f"{title}: {text}"))
            finally:
                if debugger is not None:
                    debugger.close("the scenario is over")
    except (ScenarioError, BackendError) as exc:
        console.print(f"[red]error:[/] {exc}")
        return 2
    print(result.summary())
    print(f"artifacts: {args.out}/ (uart.log capture.pcapng journal.json journal.txt diagnosis.txt ladder.svg result.json)")
    if result.error is not None:
        return 2                      # the scenario could not run to its end
    return 0 if result.passed else 1
