"""Device-initiated scenarios: nothing is typed; the image boots from reset, the virtual internet
serves its DHCP, DNS and SNTP, and the run waits for what the device does by itself - its
connections, its HTTP requests, a line on its console, a function it reaches - journalling every
connection and request.

`DeviceRunner` is the runner core plus:
- the console: the UART named by the scenario, or the first USART the image writes to (`auto`);
- one `RequestWatcher` per TLS connection (sim/scenario/requests.py); the chain each connection is
  presented is the TLS server's own choice for the name the device sent in SNI (or the address it
  connected to) from the scenario's identity source (sim/scenario/identity.py);
- the bytes the image's TLS layer sent (`fw_tls_send`, when it has one), assigned to the
  connection they were sent on, for the diagnosis;
- the stop conditions (N requests finished, a console line, a symbol reached), each with the
  virtual time it was met, so the report says which came first.
`run()` waits for the first stop condition; `wait_for_connection()` and `wait_for_request()` are
the steps the Robot keywords take.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

from sim.errors import BackendError, ScenarioError
from sim.vtime import NS_PER_S, cycles_to_ns, ns_to_cycles

from .boot import BootedMachine
from .device_result import ConnectionResult, DeviceReport, StopCondition
from .model import CONSOLE_AUTO, CONSOLE_NONE, InvalidScenario, Result, Scenario, StepResult
from .requests import RequestResult, RequestWatcher
from .runner import Runner
from .send_ledger import SendLedger


class DeviceRunner(Runner):
    """One device-initiated run from the reset snapshot. Use `run()`; artifacts go to `out_dir`."""

    def __init__(self, scenario: Scenario, out_dir: Path | None = None, *, booted: BootedMachine | None = None,
                 debugger=None, progress: Callable[[str], None] | None = None) -> None:
        if scenario.device is None:
            raise ValueError("DeviceRunner runs device-initiated scenarios (Scenario.device is None)")
        self.spec = scenario.device
        # what the wiring below may call before the first instruction runs
        self._watchers: list[RequestWatcher] = []
        self._ledger = SendLedger(_ended)              # fw_tls_send's bytes, per connection
        self.console: str | None = None
        self.other_uarts: dict[str, int] = {}
        self._symbol_reached_ns: int | None = None
        super().__init__(scenario, out_dir, booted=booted, debugger=debugger, progress=progress)
        console = self.spec.console
        if console not in (CONSOLE_AUTO, CONSOLE_NONE) and console not in self.booted.uarts:
            raise InvalidScenario(f"the console {console!r} is not a UART of the platform: give one of "
                                  f"{', '.join(self.booted.uarts)}, '{CONSOLE_AUTO}' or '{CONSOLE_NONE}'")
        if console not in (CONSOLE_AUTO, CONSOLE_NONE):
            self.console = console
        self.conditions: list[StopCondition] = []
        if self.spec.requests is not None:
            self.conditions.append(StopCondition("requests", self.spec.stop_conditions[0]))
        self._uart_waiter = None
        if self.spec.until_uart is not None:
            self.conditions.append(StopCondition("until-uart", f"'{self.spec.until_uart}' on the console"))
            text = self.spec.until_uart.encode().decode("latin-1")      # matched as the bytes typed
            self._uart_waiter = self.uart.expect(re.escape(text), since=0, partial_line=True)
        if self.spec.until_symbol is not None:
            self.conditions.append(StopCondition("until-symbol", f"the CPU at {self.spec.until_symbol}"))
            self._hook_symbol(self.spec.until_symbol)
        self._consumed_requests: set[int] = set()
        self._seen_connections = 0

    # --- wiring -----------------------------------------------------------------------------------
    def _new_session(self):
        """The peer for a new TLS connection, with its request watcher."""
        session = self.peer()
        self.sessions.append(session)
        self._ledger.opened(session)
        self._watchers.append(RequestWatcher(session, len(self.net.connections) + 1, lambda: self.queue.now_ns,
                                             expect=self.spec.expect))
        return session

    def _tls_sent(self, context: int, data: bytes) -> None:
        self._ledger.sent(context, data)

    def _uart_output(self, name: str, data: bytes) -> None:
        if self.console is None and self.spec.console == CONSOLE_AUTO:
            self.console = name                 # the first UART the image writes to
        if name == self.console:
            self.uart.feed(data)
        else:
            self.other_uarts[name] = self.other_uarts.get(name, 0) + len(data)

    def _hook_symbol(self, name: str) -> None:
        require_symbol(self.machine, name)

        def reached(ctx) -> None:
            if self._symbol_reached_ns is None:
                self._symbol_reached_ns = self.now_ns
                self.machine.request_stop()

        self._hooks.append(self.machine.hook(name, reached))

    # --- progress ---------------------------------------------------------------------------------
    def poll(self) -> None:
        """Bring the request records and the stop conditions up to date (between quanta)."""
        for watcher in self._watchers:
            watcher.poll()
        for c in self.conditions:
            if c.reached_ns is not None:
                continue
            if c.name == "requests":
                done = sorted(r.ended_ns for r in self.finished_requests())
                if len(done) >= self.spec.requests:
                    c.reached_ns = done[self.spec.requests - 1]
            elif c.name == "until-uart" and self._uart_waiter.found:
                c.reached_ns = cycles_to_ns(self._uart_waiter.cycles, self.frequency)
            elif c.name == "until-symbol" and self._symbol_reached_ns is not None:
                c.reached_ns = self._symbol_reached_ns

    def finished_requests(self) -> list[RequestResult]:
        return [r for w in self._watchers for r in w.requests]

    def _stopped(self) -> bool:
        self.poll()
        if not self.conditions:
            return self.machine.cycles >= self.limit_cycles    # no condition: the whole --max-virtual
        return any(c.reached_ns is not None for c in self.conditions)

    def _awaited(self) -> str:
        return " or ".join(c.awaited for c in self.conditions) or "the end of the virtual-time limit"

    # --- running ----------------------------------------------------------------------------------
    def run(self) -> Result:
        """Wait for the first stop condition, let the link settle, and build the Result. Errors
        and interrupts end as in ScenarioRunner.run (artifacts written in every case)."""
        try:
            self.advance(self._stopped, self._awaited(), self.limit_cycles)
            self.settle_for(self.spec.settle_s)
        except ScenarioError as exc:
            return self.finish([], str(exc))
        except KeyboardInterrupt:
            self._finish_quietly([], interrupted=True)
            raise
        except BaseException as exc:
            self._finish_quietly([], f"internal error: {type(exc).__name__}: {exc}")
            raise
        return self.finish([])

    def settle_for(self, seconds: float) -> None:
        """Run on for `seconds` of virtual time (not past the scenario's limit): the closes and
        alerts of the last connection cross the link, and the image logs what they did to it."""
        end = min(self.machine.cycles + ns_to_cycles(int(seconds * NS_PER_S), self.frequency), self.limit_cycles)
        self.advance(lambda: self.machine.cycles >= end, "the link to settle", end + 1)
        self.poll()

    def wait_for_connection(self, timeout_s: float, *, port: int | None = None) -> ConnectionResult:
        """Run until the device opens a connection not returned before (to `port`, if given)."""
        def found():
            for i, record in enumerate(self.net.connections[self._seen_connections:], self._seen_connections):
                if port is None or record.port == port:
                    return i
            return None

        what = f"a new connection{f' to port {port}' if port is not None else ''}"
        self.advance(lambda: found() is not None, what, self.cycles_after(timeout_s))
        index = found()
        self._seen_connections = index + 1
        return self.connection_result(index)

    def wait_for_request(self, timeout_s: float, *, method: str | None = None,
                         path: str | None = None) -> RequestResult:
        """Run until a request not returned before has finished (answered or failed), matching
        `method` and `path` when given."""
        def found():
            self.poll()
            for r in self.finished_requests():
                if id(r) in self._consumed_requests:
                    continue
                if (method is None or (r.method or "").upper() == method.upper()) and (path is None or r.path == path):
                    return r
            return None

        what = " ".join(x for x in ("a finished", method, path, "request") if x)
        self.advance(lambda: found() is not None, what, self.cycles_after(timeout_s))
        request = found()
        self._consumed_requests.add(id(request))
        return request

    # --- the result -------------------------------------------------------------------------------
    def connection_results(self) -> list[ConnectionResult]:
        self.poll()
        return [self.connection_result(i) for i in range(len(self.net.connections))]

    def connection_result(self, index: int) -> ConnectionResult:
        record = self.net.connections[index]
        session = record.handler if record.application == "tls" else None
        watcher = next((w for w in self._watchers if w.session is session), None) if session is not None else None
        result = ConnectionResult(
            index=index + 1, time_ns=record.time_ns, device=record.device, address=record.address,
            port=record.port, name=record.name, application=record.application,
            requests=list(watcher.requests) if watcher is not None else [],
            unfinished=watcher.unfinished() if watcher is not None else None,
            sessions=[session] if session is not None else [],
            sink=record.to_dict().get("sink"), state=record.connection.state,
            device_sent=self._ledger.of(session) if session is not None else b"")
        return result

    def diagnose_connection(self, connection: ConnectionResult):
        from sim.tls.diagnosis import diagnose

        if not connection.sessions:
            return None
        session = connection.sessions[0]
        journal = session.journal
        failed = journal.first_failure() is not None or any(str(a.get("level")) == "fatal" for a in journal.alerts())
        if not failed and connection.ok:
            return None
        return diagnose(journal, device_sent=connection.device_sent if self.has_send_hook else None,
                        locate=self.locator.for_connection(session.conn))

    def _complete(self, result: Result) -> None:
        connections = self.connection_results()
        for c in connections:
            c.diagnosis = self.diagnose_connection(c)
        result.connections = connections
        date = self.net.clock.iso(self.net.clock.origin_ns)
        report = DeviceReport(
            console=self.console,
            console_how=("none asked for" if self.spec.console == CONSOLE_NONE
                         else "named" if self.spec.console != CONSOLE_AUTO
                         else "auto: the first USART the image wrote to" if self.console
                         else "auto: no USART printed anything"),
            conditions=list(self.conditions), leases=[e.to_dict() for e in self.net.leases],
            dns_answers=[a.to_dict() for a in self.net.dns_answers],
            time_answers=[a.to_dict() for a in self.net.time_answers], date=date,
            other_uarts=dict(self.other_uarts), notes=self._notes())
        result.device = report

    def _notes(self) -> list[str]:
        notes = self.identity.date_notes()
        if not self.net.connections and not self.net.leases:
            notes.append("the image sent no DHCP request and opened no connection: check that its Ethernet "
                         "driver started (the console and the capture show how far it got)")
        return notes

    def finish(self, steps: list[StepResult] | tuple = (), error: str | None = None, *, interrupted: bool = False,
               failure: str | None = None) -> Result:
        return super().finish([], error, interrupted=interrupted, failure=failure)


def require_symbol(backend, name: str) -> int:
    """The address of function `name` in the loaded image, or InvalidScenario saying what to give."""
    try:
        return backend.symbol_address(name)
    except (KeyError, LookupError, BackendError):
        raise InvalidScenario(f"the image has no symbol {name!r} to stop at: give a function it defines "
                              f"(e.g. the name of its error handler)") from None


def _ended(session) -> bool:
    return session.lost_reason is not None or session.closed


__all__ = ["DeviceRunner", "require_symbol"]
