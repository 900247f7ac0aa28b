"""Run control under GDB: the scenario runner calls `Debugger.run(machine, budget)` for every
machine quantum, on its one thread.

While GDB holds the target halted (after `--wait`, a breakpoint, a watchpoint, a step, Ctrl-C or
a new connection) `run` blocks, answering packets, until GDB resumes: nothing else runs, so
virtual time and the host side (TCP timers, the TLS peer) stand still and the peer never times
out under a breakpoint. A step is one `machine.step()`, handed back to the runner like any
quantum so that host events due at that cycle still fire. While the target runs, each call looks
at the sockets without blocking, for Ctrl-C and for a new client.

Detach resumes free running and keeps listening (several connections in turn); a client that
goes away does the same after removing its breakpoints. `kill` ends the scenario with a
ScenarioError that says so (the process is not killed).
"""

from __future__ import annotations

import errno
import select
import socket
import sys
import time
from typing import Callable

from sim.backend import Backend, RunResult, StopReason
from sim.errors import BackendError, ScenarioError

from .commands import SIGINT, SIGSEGV, SIGTRAP, Detach, Kill, Resume, Session
from .connection import INTERRUPT, Connection, ConnectionClosed
from .monitor import Monitor

_POLL_S = 0.25                     # blocking waits wake this often to check their deadline


class TargetKilled(ScenarioError):
    """GDB sent `kill`: the scenario ends here, with this message."""


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def gdb_command_line(elf: str | None, port: int) -> str:
    image = f" {elf}" if elf else ""
    return f'gdb-multiarch -iex "set osabi none"{image} -ex "target remote :{port}"'


class Debugger:
    """A GDB server bound to one machine; see the module docstring for the run-control rules."""

    def __init__(self, machine: Backend, listener: socket.socket, *, wait: bool,
                 log: Callable[[str], None] = _stderr, connect_timeout_s: float | None = None) -> None:
        self.machine = machine
        self.listener = listener
        self.listener.setblocking(False)
        self.port: int = listener.getsockname()[1]
        self.log = log
        self.connect_timeout_s = connect_timeout_s
        self.monitor = Monitor(machine)
        self.conn: Connection | None = None
        self.session: Session | None = None
        self.halted = wait
        self.connections = 0                  # clients served so far
        self.halted_wall_s = 0.0              # wall time spent halted under a connected client
        self._resume: Resume | None = None    # GDB's resume request, carried out by the next run()
        self._closed = False

    # --- the runner's side ----------------------------------------------------------------------
    def bind(self, runner) -> None:
        """The scenario runner introduces itself: monitor commands can then reach the peer's
        journal and the boot snapshot."""
        self.monitor.runner = runner

    def run(self, machine: Backend, budget: int) -> RunResult:
        if machine is not self.machine:
            raise BackendError("this debugger serves another machine: attach it to the backend the "
                               "scenario runs on (the booted machine)")
        if self._closed:
            return self._unattended(machine.run(budget))
        self._poll()
        if self.halted:
            self._serve()
        resume, self._resume = self._resume, None
        if resume is not None and resume.step:
            # interrupts stay pending while GDB steps (C_MASKINTS, like OpenOCD's maskisr auto),
            # so `next`/`step` never land in a handler; they are taken when GDB continues
            result = machine.step(mask_interrupts=True)
            self._stopped(result)
            if result.reason is StopReason.FAULT:
                self._serve()                 # GDB looks at the faulting state before the runner ends
            return self._for_runner(result)
        result = machine.run(budget)
        if result.reason in (StopReason.BREAKPOINT, StopReason.WATCHPOINT):
            self._stopped(result)
            self._serve()
        elif result.reason is StopReason.FAULT and self.conn is not None:
            self._stopped(result)             # let GDB look at the faulting state first
            self._serve()
        return self._for_runner(result)

    def _unattended(self, result: RunResult) -> RunResult:
        """After close(): a debug stop has nobody to report to."""
        if result.reason in (StopReason.BREAKPOINT, StopReason.WATCHPOINT):
            pc = self.machine.read_register("pc")
            where = self.machine.symbolize(pc)
            raise ScenarioError(f"the firmware stopped ({result.reason.value}) at pc 0x{pc:08x}"
                                f"{f' ({where})' if where else ''} after the GDB server on port "
                                f"{self.port} was closed")
        return result

    @staticmethod
    def _for_runner(result: RunResult) -> RunResult:
        """Stops GDB has handled are ordinary ends of a quantum for the runner; faults are not."""
        if result.reason in (StopReason.BREAKPOINT, StopReason.WATCHPOINT, StopReason.STEP):
            return RunResult(StopReason.REQUESTED, result.cycles)
        return result

    def close(self, message: str | None = None) -> None:
        """The scenario is over: tell a client that waits for a stop that the program exited,
        remove its breakpoints, stop listening."""
        if self._closed:
            return
        self._closed = True
        if self.conn is not None:
            try:
                if not self.halted:               # GDB waits for a stop reply: it can take these
                    if message:
                        self.conn.send("O" + (message.rstrip("\n") + "\n").encode().hex())
                    self.conn.send("W00")
            except ConnectionClosed:
                pass
            self._drop(None)
        self.listener.close()

    # --- stops ------------------------------------------------------------------------------------
    def _stopped(self, result: RunResult) -> None:
        """The target halted: build the stop reply and send it to the client, if there is one."""
        self.halted = True
        session = self.session
        if session is None:
            if result.reason is not StopReason.FAULT:
                pc = self.machine.read_register("pc")
                where = self.machine.symbolize(pc)
                self.log(f"gdb: the firmware halted ({result.reason.value}) at pc 0x{pc:08x}"
                         f"{f' ({where})' if where else ''}; waiting for GDB on port {self.port}")
            return
        if result.reason is StopReason.BREAKPOINT:
            reply = session.stop_reply(SIGTRAP, breakpoint=result.address)
        elif result.reason is StopReason.WATCHPOINT:
            reply = session.stop_reply(SIGTRAP, watch=(result.watch_kind or "access", result.address or 0))
        elif result.reason is StopReason.FAULT:
            self._console(f"the firmware faulted:\n{result.fault}")
            reply = session.stop_reply(SIGSEGV)
        else:
            reply = session.stop_reply(SIGTRAP)
        self._send_stop(reply)

    def _interrupt(self) -> None:
        self.halted = True
        if self.session is not None:
            self._send_stop(self.session.stop_reply(SIGINT))

    def _send_stop(self, reply: str) -> None:
        if self.session is not None:
            self.session.last_stop = reply
        try:
            if self.conn is not None:
                self.conn.send(reply)
        except ConnectionClosed:
            self._drop("went away")

    def _console(self, text: str) -> None:
        if self.conn is not None:
            try:
                self.conn.send("O" + (text.rstrip("\n") + "\n").encode().hex())
            except ConnectionClosed:
                self._drop("went away")

    # --- sockets ----------------------------------------------------------------------------------
    def _poll(self) -> None:
        """Between quanta, without blocking: a new client, Ctrl-C, stray packets."""
        self._accept(0.0)
        if self.conn is None:
            return
        try:
            self.conn.poll(0.0)
        except ConnectionClosed:
            self._drop("went away")
            return
        self._handle_packets()

    def _accept(self, timeout: float) -> None:
        readable, _, _ = select.select([self.listener], [], [], timeout)
        if not readable:
            return
        try:
            sock, address = self.listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        peer = f"{address[0]}:{address[1]}"
        if self.conn is not None:
            self.log(f"gdb: refused a second client from {peer}: {self.conn.peer} is connected "
                     f"(detach it first)")
            sock.close()
            return
        self.conn = Connection(sock, peer)
        self.session = Session(self.machine, self.monitor, log=self.log)
        self.connections += 1
        self.halted = True                    # GDB expects a stopped target when it connects
        self._resume = None
        self.log(f"gdb: client {peer} connected; the firmware is halted")

    def _drop(self, why: str | None) -> None:
        """The client is gone: remove what it inserted and let the firmware run."""
        if self.session is not None:
            self.session.clear()
        if self.conn is not None:
            peer = self.conn.peer
            self.conn.close()
            if why:
                self.log(f"gdb: client {peer} {why}; the firmware runs on")
        self.conn = None
        self.session = None
        self.halted = False
        self._resume = None

    def _serve(self) -> None:
        """Block while halted, answering packets, until GDB resumes, detaches or goes away."""
        waiting_since = time.monotonic()
        while self.halted and not self._closed:
            if self.conn is None:
                if (self.connect_timeout_s is not None
                        and time.monotonic() - waiting_since > self.connect_timeout_s):
                    raise ScenarioError(
                        f"no GDB connected to port {self.port} within {self.connect_timeout_s:g} s "
                        f"(wall) while the firmware was halted; connect with: "
                        f"{gdb_command_line(self._elf(), self.port)}")
                self._accept(_POLL_S)
                continue
            started = time.monotonic()
            try:
                self.conn.poll(_POLL_S)
                self._accept(0.0)              # refuse a second client promptly
                self._handle_packets()
            except ConnectionClosed:
                self._drop("went away")
            finally:
                self.halted_wall_s += time.monotonic() - started

    def _handle_packets(self) -> None:
        while self.conn is not None and self.conn.packets:
            payload = self.conn.packets.popleft()
            if payload is INTERRUPT:
                if not self.halted:            # Ctrl-C while halted: nothing to interrupt
                    self._interrupt()
                continue
            session = self.session
            action = session.handle(payload)
            try:
                if isinstance(action, list):
                    for reply in action:
                        self.conn.send(reply)
                    if session.no_ack_requested:
                        self.conn.no_ack = True
                        session.no_ack_requested = False
                elif isinstance(action, Resume):
                    self._resume = action
                    self.halted = False
                    return                     # the rest waits for the next stop
                elif isinstance(action, Detach):
                    self.conn.send("OK")
                    self._drop("detached")
                elif isinstance(action, Kill):
                    if action.reply:
                        self.conn.send("OK")
                    self._drop(None)
                    raise TargetKilled(f"GDB killed the target (kill): the scenario ends at virtual time "
                                       f"{self.machine.cycles / self.machine.frequency * 1000:.3f} ms")
            except ConnectionClosed:
                self._drop("went away")

    def _elf(self) -> str | None:
        image = getattr(self.machine, "image", None)
        return getattr(image, "path", None)


def attach_debugger(backend: Backend, port: int, *, wait: bool, log: Callable[[str], None] = _stderr,
                    connect_timeout_s: float | None = None) -> Debugger:
    """Listen for GDB on 127.0.0.1:`port` (0 picks a free port: see `Debugger.port`) and return the
    Debugger the scenario runner hands its quanta to. With `wait` the firmware starts halted."""
    if getattr(backend, "name", None) != "builtin":
        raise BackendError(f"the GDB server here serves the built-in machine, not the "
                           f"{getattr(backend, 'name', '?')} backend; with Renode use its own GDB "
                           f"server (start_gdb_server(port))")
    if not 0 <= int(port) <= 65535:
        raise BackendError(f"GDB port {port} is outside 0..65535")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(("127.0.0.1", int(port)))
    except OSError as exc:
        listener.close()
        hint = "another program (or GDB server) uses it; " if exc.errno == errno.EADDRINUSE else ""
        raise BackendError(f"cannot listen for GDB on 127.0.0.1:{port}: {exc.strerror}; {hint}"
                           f"choose another port with --gdb PORT") from None
    listener.listen(1)
    debugger = Debugger(backend, listener, wait=wait, log=log, connect_timeout_s=connect_timeout_s)
    log(f"gdb: listening on 127.0.0.1:{debugger.port}; connect with:\n  "
        f"{gdb_command_line(debugger._elf(), debugger.port)}")
    if wait:
        log("gdb: the firmware is halted until GDB connects and continues")
    return debugger
