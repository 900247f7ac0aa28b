"""The runner core: one run of a booted firmware against the host side, in virtual time.

`Runner` restores the boot snapshot, wires the machine's Ethernet to a `Link` and the virtual
internet (`sim.net.VirtualInternet`: the router, DHCP, DNS, SNTP, and the TLS/HTTP peer on the TLS
ports), and owns the virtual clock: it runs the machine in quanta that end at the next host event
(a frame arriving, a TCP timer), so every frame reaches the firmware at its exact virtual arrival
time; between quanta it moves the frames the firmware sent across the link
and fires host timers. `advance(until, ...)` does that until a condition holds or a limit ends it
- always with a message that says what was awaited and shows the last UART lines.

The core knows no shell protocol: how a scenario drives the firmware (typing commands on its UART,
or waiting for what the device does by itself) is the job of a subclass (`ScenarioRunner`).
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Callable

from sim.backend import RunResult
from sim.errors import BackendError, ScenarioError
from sim.frame_types import TxFrame
from sim.vtime import NS_PER_MS, NS_PER_S, EventQueue, cycles_to_ns, ns_to_cycles

from .artifacts import write_artifacts
from .boot import SHELL_UART, BootedMachine, boot_scenario
from .limits import Ending, WallLimit, describe_halt, run_until
from .locator import StreamLocator
from .model import LinkFault, Result, Scenario, StepResult, require_positive_seconds
from .uart import UartLines

DEVICE_IP = "192.0.2.10"
PEER_IP = "192.0.2.1"
PEER_PORT = 443
TLS_SEND_SYMBOL = "fw_tls_send"        # the image's Mbed TLS send callback (BIO), when it has one

QUANTUM_NS = 5 * NS_PER_MS          # longest machine slice without a host event in between
SETTLE_NS = 300 * NS_PER_MS         # after a step: let FIN/ACKs and the last alerts cross the link
PROGRESS_EVERY_S = 0.25             # wall seconds between progress reports of a long run


class Runner:
    """One run from the boot snapshot; `finish()` builds the Result (and writes the artifacts
    when `out_dir` is set)."""

    def __init__(self, scenario: Scenario, out_dir: Path | None = None, *, booted: BootedMachine | None = None,
                 debugger=None, progress: Callable[[str], None] | None = None) -> None:
        from sim.net.internet import VirtualInternet
        from sim.net.link import Link
        from sim.net.pcapng import PcapngWriter
        from sim.peer import PeerFactory
        from sim.seed import SeededRandom
        from sim.tls.policy import ServerPolicy

        from .identity import scenario_identity

        self.scenario = scenario
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.identity = scenario_identity(scenario)    # the chains the peer presents (checked: SimError)
        self.booted = booted or boot_scenario(scenario, self.identity)
        if self.booted.patch_key != self.identity.patch_key:
            raise ScenarioError("the boot given to this run was made with other flash patches than the scenario's "
                                "server identity asks for: boot it with boot_scenario(scenario)")
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
        self.policy = scenario.policy if scenario.policy is not None else ServerPolicy()
        # one identity source for every session: the server chooses a chain per ClientHello (SNI, or
        # the address connected to) and journals the choice
        self.peer = PeerFactory(self.policy, scenario.seed, identities=self.identity.source)
        self.sessions: list = []                       # every PeerSession of this run, in order
        self._sessions_by_step: list[list] = []
        # the device's whole world: router, DHCP, DNS, SNTP, the peer on the TLS ports, a sink elsewhere
        self.net = VirtualInternet(self.queue, rng=rng.child("host"), transmit=self.link.from_host,
                                   config=scenario.network, tls_application=self._new_session)
        self.stack = self.net.stack
        set_calendar = getattr(self.machine, "set_calendar", None)
        if set_calendar is not None:                 # the RTC starts at the scenario's date, as SNTP does
            set_calendar(self.net.clock.unix_ns(self.queue.now_ns))
        self.link.attach_host(self.net.handle_frame)
        self.link.attach_device(self.machine.ethernet.receive)
        self.locator = StreamLocator(self.link, self.machine.symbolize)

        self._pending_tx: list[TxFrame] = []
        self.uart = UartLines(self.machine, initial=self.booted.boot_transcript)
        self._line_start = len(self.uart.data)
        self._device_sent = bytearray()
        self._send_call: tuple[int, int, int] | None = None
        self._hooks: list[int] = []
        self.has_send_hook = False                       # the image has fw_tls_send, and it is hooked
        self.unfinished_step: StepResult | None = None   # the step a stop cut short, for finish()
        self.result: Result | None = None                # set by finish()
        self.booted.router.on_tx = self._pending_tx.append
        self.booted.router.on_uart = self._uart_output
        self._install_send_hook()
        self.started_wall = time.monotonic()
        self.wall = WallLimit(scenario.max_wall_s, paused=self._halted_wall_s)
        self.start_cycles = self.machine.cycles
        self.start_instructions = self.machine.stats.get("instructions", 0)
        self.limit_cycles = self.machine.cycles + ns_to_cycles(int(scenario.max_virtual_s * NS_PER_S), self.frequency)
        self._step_index = -1

    # --- wiring -----------------------------------------------------------------------------------
    def _new_session(self):
        session = self.peer()
        self.sessions.append(session)
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
        self.has_send_hook = True

        def on_return(ctx) -> None:
            if self._send_call is None:
                return
            context, buf, length = self._send_call
            self._send_call = None
            accepted = _signed32(self.machine.read_register("r0"))
            if accepted > 0:
                self._tls_sent(context, self.machine.read_memory(buf, min(accepted, length)))

        def on_entry(ctx) -> None:
            self._send_call = (self.machine.read_register("r0"), self.machine.read_register("r1"),
                               self.machine.read_register("r2"))
            lr = self.machine.read_register("lr") & ~1
            if lr not in self._return_hooks:
                self._return_hooks.add(lr)
                self._hooks.append(self.machine.hook(lr, on_return))

        self._return_hooks: set[int] = set()
        self._hooks.append(self.machine.hook(address, on_entry))

    def _tls_sent(self, context: int, data: bytes) -> None:
        """Bytes the TLS layer handed to TCP through the send callback with context `context`."""
        self._device_sent.extend(data)

    def _remove_hooks(self) -> None:
        for handle in self._hooks:
            self.machine.unhook(handle)
        self._hooks.clear()
        self.booted.router.on_tx = None
        self.booted.router.on_uart = None

    # --- the clock --------------------------------------------------------------------------------
    @property
    def now_ns(self) -> int:
        return cycles_to_ns(self.machine.cycles, self.frequency)

    def _halted_wall_s(self) -> float:
        """Wall time a GDB client held the firmware halted: the user's time, not the run's."""
        return getattr(self.debugger, "halted_wall_s", 0.0)

    def cycles_after(self, seconds: float, what: str = "the timeout") -> int:
        """The machine's cycle count `seconds` of virtual time from now."""
        seconds = require_positive_seconds(seconds, what)
        return self.machine.cycles + ns_to_cycles(int(seconds * NS_PER_S), self.frequency)

    def advance(self, until: Callable[[], bool], awaited: str, deadline_cycles: int) -> None:
        """Run machine and host side together until `until()` holds; a ScenarioError when the
        step's (`deadline_cycles`) or the scenario's limit, the wall-time limit, a fault or a
        debug stop with no debugger comes first."""
        deadline = min(deadline_cycles, self.limit_cycles)

        def quantum() -> int:
            target_ns = self.now_ns + QUANTUM_NS
            nxt = self.queue.next_time_ns()
            if nxt is not None:
                target_ns = min(target_ns, nxt)
            return max(1, min(ns_to_cycles(target_ns, self.frequency), deadline) - self.machine.cycles)

        def report() -> None:
            if self.progress is not None and time.monotonic() >= self._progress_at:
                self._progress_at = time.monotonic() + PROGRESS_EVERY_S
                self.progress(f"waiting for {awaited}: virtual {self.now_ns / NS_PER_MS:.1f} ms, "
                              f"{self.wall.elapsed():.1f} s wall")

        stop = run_until(self.machine, until, deadline=deadline, wall=self.wall, slice_cycles=quantum,
                         run_slice=self._run_slice, before_slice=report, after_slice=self._after_slice)
        if stop.ending is Ending.DONE:
            return
        if stop.ending is Ending.VIRTUAL_LIMIT:
            which = "scenario" if deadline == self.limit_cycles else "step"
            message = f"virtual-time limit ({which}) reached at {self.now_ns / NS_PER_MS:.1f} ms while waiting for {awaited}."
        elif stop.ending is Ending.WALL_LIMIT:
            message = (f"wall-time limit of {self.scenario.max_wall_s} s reached (virtual "
                       f"{self.now_ns / NS_PER_MS:.1f} ms) while waiting for {awaited}.")
        elif stop.ending is Ending.FAULT:
            message = f"the firmware stopped with a fault while waiting for {awaited}:\n{stop.result.fault}"
        else:
            message = describe_halt(self.machine, stop.result)
        raise ScenarioError(f"{message}\n{self.uart.tail()}")

    def _run_slice(self, budget: int) -> RunResult:
        if self.debugger is not None:
            return self.debugger.run(self.machine, budget)
        return self.machine.run(budget)

    def _after_slice(self, result: RunResult) -> None:
        """Hand the frames the firmware sent in the last slice to the link, each at its own time,
        then bring the host side up to the machine's time."""
        pending, self._pending_tx[:] = list(self._pending_tx), []
        for frame in pending:
            t = max(self.queue.now_ns, cycles_to_ns(frame.cycles, self.frequency))
            self.queue.advance_to(t)
            self.link.from_device(frame.data, frame)
        self.queue.advance_to(max(self.queue.now_ns, self.now_ns))

    def settle(self, duration_ns: int = SETTLE_NS) -> None:
        """Let the link quiesce (closing handshakes, final alerts) for a bounded virtual time."""
        end = self.machine.cycles + ns_to_cycles(duration_ns, self.frequency)

        def quiet() -> bool:
            open_conns = [c for c in self.stack.connections if c.state not in ("CLOSED", "TIME_WAIT")]
            return self.machine.cycles >= end or (not open_conns and self.link.in_flight == 0)

        self.advance(quiet, "the link to quiesce", end + 1)

    # --- the UART ---------------------------------------------------------------------------------
    def _uart_output(self, name: str, data: bytes) -> None:
        """Output of a UART the boot registered: the shell's is the console."""
        if name == SHELL_UART:
            self.uart.feed(data)

    def uart_text(self) -> str:
        return self.uart.text()

    def write_line(self, text: str) -> None:
        self.machine.uart(SHELL_UART).write(text.encode() + b"\r")

    def wait_for_line(self, pattern: str | re.Pattern, *, timeout_s: float, since: int | None = None,
                      awaited: str | None = None, partial_line: bool = False) -> re.Match:
        """Run until a UART line printed since byte `since` (default: since the run started)
        matches `pattern`; return its match."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = self.cycles_after(timeout_s)
        waiter = self.uart.expect(regex, since=self._line_start if since is None else since,
                                  partial_line=partial_line)
        try:
            self.advance(lambda: waiter.found, awaited or f"a UART line matching /{regex.pattern}/", deadline)
        finally:
            self.uart.cancel(waiter)
        return waiter.match

    # --- steps and their sessions -----------------------------------------------------------------
    def begin_step(self) -> int:
        """Start collecting the peer sessions and device-sent bytes of a new step."""
        self._step_index += 1
        self._sessions_by_step.append([])
        self._device_sent = bytearray()
        return self._step_index

    def step_sessions(self, index: int) -> list:
        return list(self._sessions_by_step[index])

    @property
    def device_sent(self) -> bytes:
        """What the firmware's TLS layer handed to TCP since the step began."""
        return bytes(self._device_sent)

    def diagnose(self, result: StepResult):
        """Explain the step's failing TLS session (None when nothing failed)."""
        from sim.tls.diagnosis import diagnose

        failing = [s for s in result.sessions if s.journal.first_failure() is not None
                   or any(str(a.get("level")) == "fatal" for a in s.journal.alerts())]
        if not failing and result.ok:
            return None
        session = failing[0] if failing else (result.sessions[0] if result.sessions else None)
        if session is None:
            return None
        return diagnose(session.journal, device_sent=result.device_sent or None,
                        locate=self.locator.for_connection(session.conn))

    # --- the end ----------------------------------------------------------------------------------
    def finish(self, steps: list[StepResult], error: str | None = None, *, interrupted: bool = False,
               failure: str | None = None) -> Result:
        """Detach from the machine and build the Result (and the artifacts when out_dir is set).
        A step a stop cut short (`unfinished_step`) is included, marked unfinished."""
        self._remove_hooks()
        steps = list(steps)
        if self.unfinished_step is not None and self.unfinished_step not in steps:
            steps.append(self.unfinished_step)
        result = Result(
            scenario=self.scenario, steps=steps, uart=bytes(self.uart.data),
            virtual_ns=self.now_ns - cycles_to_ns(self.start_cycles, self.frequency),
            wall_s=time.monotonic() - self.started_wall,
            instructions=self.machine.stats.get("instructions", 0) - self.start_instructions,
            out_dir=self.out_dir, error=error, interrupted=interrupted, failure=failure,
            unmodelled=_merge_unmodelled(self.booted.boot_unmodelled,
                                         getattr(self.machine, "unmodelled_accesses", list)()),
            stats={**{f"link_{k}": v for k, v in self.link.stats.items()},
                   **{f"host_{k}": v for k, v in self.stack.stats.items()},
                   **{f"net_{k}": v for k, v in self.net.all_stats().items()},
                   **{f"machine_{k}": v for k, v in self.machine.stats.items()}},
        )
        self._complete(result)
        result.identity = self.identity.report(result.exchanges)
        if self.out_dir is not None:
            write_artifacts(result, self.out_dir, capture=self.capture, keylog=self.keylog())
        self.result = result
        return result

    def _complete(self, result: Result) -> None:
        """What a subclass adds to the Result before the artifacts are written."""

    def _finish_quietly(self, steps: list[StepResult], error: str | None = None, *, interrupted: bool = False) -> None:
        """finish() on the way out of an exception: a second failure must not hide the first."""
        try:
            self.finish(steps, error, interrupted=interrupted)
        except Exception:
            pass

    def keylog(self) -> str:
        """NSS key log lines of every TLS session of this run."""
        return "".join(line + "\n" for s in self.sessions for line in s.keylog_lines)


def _fault_rule(fault: LinkFault):
    from sim.net.faults import FaultRule

    return FaultRule(kind=fault.kind, **dict(fault.params))


def _merge_unmodelled(*records) -> list[dict]:
    """The boot's and the run's records of unmodelled accesses as one (counts added)."""
    merged: dict[tuple, dict] = {}
    for record in records:
        for entry in record:
            key = (entry.get("address"), entry.get("access"), entry.get("function"))
            if key in merged:
                for counter in ("count", "not_recorded"):
                    if counter in entry:
                        merged[key][counter] = merged[key].get(counter, 0) + entry[counter]
            else:
                merged[key] = dict(entry)
    return list(merged.values())


def _signed32(value: int) -> int:
    value &= 0xFFFF_FFFF
    return value - (1 << 32) if value & 0x8000_0000 else value
