"""The peer on real sockets: one thread, one selector, one PeerSession per accepted connection.

Bounded by `PeerLimits`: at most `max_connections` open (more are closed at once with RST and
counted), a handshake deadline and an idle deadline per connection, and per connection at most
`output_buffer` bytes queued for a client that does not read (then the server stops reading from
it: TCP flow control pushes back). A finished connection's session is written to the journal
directory (if any) and freed. When accept() fails for lack of file descriptors (EMFILE, ENFILE;
accept(2)), accepting pauses until a connection closes instead of retrying in a busy loop. On
`request_stop()` (the command line calls it on SIGINT and SIGTERM) the sessions still open are
journaled before the loop returns.

Wall-clock time here only bounds real I/O (deadlines, shutdown); the sessions never read a clock.
"""

from __future__ import annotations

import errno
import selectors
import socket
import threading
import time
from dataclasses import dataclass
from typing import Callable

from sim.peer.config import PeerError, PeerLimits
from sim.peer.factory import PeerFactory
from sim.peer.journal_dir import JournalDirectory
from sim.peer.session import PeerSession

RECV_SIZE = 65536
ACCEPTS_PER_WAKEUP = 64          # so a flood of new connections cannot starve the open ones
TICK = 0.2                       # seconds between deadline sweeps (and the longest stop() waits)
RETRY_ACCEPT_AFTER = 1.0         # out of descriptors with no connection of ours to wait for
_OUT_OF_DESCRIPTORS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
_LINGER_RST = b"\x01\x00\x00\x00\x00\x00\x00\x00"     # struct linger {on, 0 s}: close() sends RST


@dataclass
class PeerStats:
    accepted: int = 0
    refused: int = 0                 # over max_connections
    handshake_timeouts: int = 0
    idle_timeouts: int = 0
    failed_accepts: int = 0          # accept() out of descriptors; each one pauses accepting
    journal_errors: int = 0

    def summary(self) -> str:
        return (f"{self.accepted} connections, {self.refused} refused over the connection cap, "
                f"{self.handshake_timeouts} handshake deadlines, {self.idle_timeouts} idle deadlines, "
                f"{self.failed_accepts} failed accepts (out of file descriptors), "
                f"{self.journal_errors} journals not written")


class SocketConnection:
    """The `conn` a PeerSession talks to over a non-blocking socket, and what the loop knows of it."""

    def __init__(self, sock: socket.socket, address, session: PeerSession, now: float) -> None:
        self.sock = sock
        self.address = address
        self.local_address = _local_address(sock)
        self.session: PeerSession | None = session      # None once dropped (see PeerServer._drop)
        self.opened_at = now
        self.last_active = now
        self.outgoing = bytearray()
        self.close_requested = False     # the session asked for FIN once `outgoing` is sent
        self.aborted = False             # the session asked for RST
        self.write_shut = False          # our FIN is out
        self.eof = False                 # the client's FIN arrived
        self.broken = False              # send or receive failed: nothing more can move
        self.watching = 0                # selector events registered

    # what a PeerSession calls
    def send(self, data: bytes) -> None:
        self.outgoing += data

    def close(self) -> None:
        self.close_requested = True

    def abort(self) -> None:
        self.aborted = True

    def pending_output(self) -> int:
        return len(self.outgoing)

    @property
    def finished(self) -> bool:
        # after our FIN, wait for the client's FIN (so it reads our last bytes), then release
        return self.aborted or self.broken or (self.write_shut and self.eof)


def _local_address(sock: socket.socket) -> tuple[str, int] | None:
    """(ip, port) the client connected to, as it would name it: an IPv4 client on a dual-stack
    socket reached the IPv4 address, and a scope (%eth0) is no part of a certificate's address."""
    try:
        host, port = sock.getsockname()[:2]
    except OSError:
        return None
    host = host.split("%", 1)[0]
    if host.startswith("::ffff:") and "." in host:
        host = host[len("::ffff:"):]
    return host, port


def show_address(address) -> str:
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class PeerServer:
    """Serve `factory`'s sessions on HOST:PORT (IPv4 or IPv6 literal, or a name). `log` gets one line
    per notable event; `clock` is injectable so deadline logic can be tested without waiting."""

    def __init__(self, factory: PeerFactory, host: str = "127.0.0.1", port: int = 0, *,
                 limits: PeerLimits | None = None, journal: JournalDirectory | None = None,
                 log: Callable[[str], None] | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.factory = factory
        self.limits = limits or PeerLimits()
        self.journal = journal
        self.log = log or (lambda text: None)
        self.stats = PeerStats()
        self._clock = clock
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            self._listener = socket.create_server(
                (host, port), family=family, backlog=128,
                dualstack_ipv6=host == "::" and socket.has_dualstack_ipv6())
        except OSError as exc:
            shown = f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}"
            raise PeerError(f"--listen {shown}: cannot listen ({exc.strerror or exc}); "
                            "choose another address or port (0 picks a free port)") from None
        self._listener.setblocking(False)
        self.address = self._listener.getsockname()[:2]
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ, None)
        self._conns: dict[SocketConnection, None] = {}      # insertion-ordered set
        self._accepting = True
        self._retry_accept_at = 0.0
        self._next_sweep = 0.0
        self._stop_reason: str | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.address[1]

    @property
    def stop_reason(self) -> str | None:
        return self._stop_reason

    @property
    def open_connections(self) -> int:
        return len(self._conns)

    # --- running ------------------------------------------------------------------------------
    def start(self) -> "PeerServer":
        self._thread = threading.Thread(target=self.serve_forever, name="tls-peer", daemon=True)
        self._thread.start()
        return self

    def request_stop(self, reason: str = "stopped") -> None:
        """Ask the loop to journal the open sessions and return (safe from a signal handler)."""
        if self._stop_reason is None:
            self._stop_reason = reason

    def stop(self) -> None:
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> "PeerServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def serve_forever(self) -> None:
        try:
            while self._stop_reason is None:
                for key, mask in self._selector.select(timeout=TICK):
                    conn = key.data
                    if conn is None:
                        self._accept()
                        continue
                    if conn not in self._conns:
                        continue                 # dropped earlier in this batch
                    if mask & selectors.EVENT_READ:
                        self._read(conn)
                    self._service(conn)
                now = self._clock()
                if now >= self._next_sweep:
                    self._sweep(now)
                    self._next_sweep = now + TICK
                if not self._accepting and not self._conns and now >= self._retry_accept_at:
                    self._resume_accepting()
        finally:
            self._shutdown()

    # --- accepting ----------------------------------------------------------------------------
    def _accept(self) -> None:
        for _ in range(ACCEPTS_PER_WAKEUP):
            try:
                sock, address = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in _OUT_OF_DESCRIPTORS:
                    self._pause_accepting(exc)
                # else: that one connection failed before we got it (ECONNABORTED, EPROTO, ...)
                return
            if len(self._conns) >= self.limits.max_connections:
                self._refuse(sock, address)
                continue
            self._open(sock, address)

    def _open(self, sock: socket.socket, address) -> None:
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:                  # reset by the client before we got to it
            sock.close()
            return
        session = self.factory(output_limit=self.limits.output_buffer)
        conn = SocketConnection(sock, address, session, self._clock())
        self._conns[conn] = None
        self.stats.accepted += 1
        session.connection_made(conn)
        self.log(f"{session.name}: connection from {show_address(address)}")
        self._watch(conn, selectors.EVENT_READ)

    def _refuse(self, sock: socket.socket, address) -> None:
        self.stats.refused += 1
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
        except OSError:
            pass
        sock.close()
        self.log(f"refused {show_address(address)}: {len(self._conns)} connections open "
                 f"(--max-connections {self.limits.max_connections})")

    def _pause_accepting(self, exc: OSError) -> None:
        self.stats.failed_accepts += 1
        self._accepting = False
        self._retry_accept_at = self._clock() + RETRY_ACCEPT_AFTER
        self._selector.unregister(self._listener)
        self.log(f"out of file descriptors ({errno.errorcode.get(exc.errno, exc.errno)}: {exc.strerror}) with "
                 f"{len(self._conns)} connections open: accepting paused until one closes "
                 "(raise `ulimit -n` or lower --max-connections)")

    def _resume_accepting(self) -> None:
        if not self._accepting and self._stop_reason is None:
            self._accepting = True
            self._selector.register(self._listener, selectors.EVENT_READ, None)

    # --- moving bytes -------------------------------------------------------------------------
    def _read(self, conn: SocketConnection) -> None:
        now = self._clock()              # before the I/O: a clock read after it could see a later time
        try:
            data = conn.sock.recv(RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            conn.broken = True
            conn.session.connection_lost(f"receive failed: {exc.strerror or exc}")
            return
        if not data:
            conn.eof = True
            conn.session.eof_received()
            return
        if not conn.write_shut:          # bytes after our FIN do not keep a connection alive
            conn.last_active = now
        conn.session.data_received(data)

    def _write(self, conn: SocketConnection) -> None:
        now = self._clock()
        while conn.outgoing and not conn.aborted and not conn.broken:
            try:
                n = conn.sock.send(conn.outgoing)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno not in (errno.EPIPE, errno.ECONNRESET):
                    conn.session.journal.event("tcp", f"send failed: {exc.strerror or exc}")
                conn.broken = True
                conn.outgoing.clear()
                return
            del conn.outgoing[:n]
            conn.last_active = now
        if conn.close_requested and not conn.outgoing and not conn.write_shut and not conn.broken:
            conn.write_shut = True
            try:
                conn.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def _service(self, conn: SocketConnection) -> None:
        """Write what can be written, let a paced session answer more, then drop the connection or
        wait for the events it needs next."""
        limit = self.limits.output_buffer
        while True:
            self._write(conn)
            if conn.finished or not conn.session.waiting_for_output or len(conn.outgoing) >= limit:
                break
            conn.session.resume()
        if conn.finished:
            self._drop(conn)
            return
        events = 0
        if not conn.eof and not conn.session.waiting_for_output and len(conn.outgoing) < limit:
            events |= selectors.EVENT_READ
        if conn.outgoing:
            events |= selectors.EVENT_WRITE
        self._watch(conn, events)

    def _watch(self, conn: SocketConnection, events: int) -> None:
        if events == conn.watching:
            return
        if conn.watching == 0:
            self._selector.register(conn.sock, events, conn)
        elif events == 0:
            self._selector.unregister(conn.sock)
        else:
            self._selector.modify(conn.sock, events, conn)
        conn.watching = events

    # --- ending -------------------------------------------------------------------------------
    def _sweep(self, now: float) -> None:
        for conn in list(self._conns):
            if conn.session.handshake is None and now - conn.opened_at >= self.limits.handshake_timeout:
                self.stats.handshake_timeouts += 1
                self._expire(conn, f"no finished handshake after {self.limits.handshake_timeout:g} s "
                                   "(--handshake-timeout)")
            elif now - conn.last_active >= self.limits.idle_timeout:
                self.stats.idle_timeouts += 1
                self._expire(conn, f"no byte sent or received for {self.limits.idle_timeout:g} s (--idle-timeout)")

    def _expire(self, conn: SocketConnection, why: str) -> None:
        session = conn.session
        session.journal.event("deadline", f"{why}: closed by the peer")
        tls = session.tls
        if tls.established and not tls.close_notify_sent:
            tls.close()                  # a courtesy close_notify; the socket closes right after
            conn.send(tls.data_to_send())
        self._write(conn)
        del session, tls                 # nothing here holds the session once _drop lets it go
        self._drop(conn, reason=why)

    def _drop(self, conn: SocketConnection, reason: str | None = None) -> None:
        self._watch(conn, 0)
        try:
            self._close(conn, reason)
        finally:
            # session.conn points back at conn: without this, each session would wait for the cyclic
            # garbage collector, and a busy peer would hold hundreds of finished sessions at a time.
            # The connection stops counting as open only now, when nothing here holds its session.
            conn.session = None
            self._conns.pop(conn, None)
            self._resume_accepting()

    def _close(self, conn: SocketConnection, reason: str | None) -> None:
        """Close the socket, end the session and journal it."""
        session = conn.session
        try:
            if conn.aborted:
                conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
        except OSError:
            pass
        conn.sock.close()                # before the journal: at the descriptor limit, the file needs this one
        if session.lost_reason is None:
            session.connection_lost(reason or ("aborted" if conn.aborted else "closed"))
        summary = (f"{session.handshake.version} {session.handshake.suite}" if session.handshake
                   else "no handshake")
        failure = f", failed: {session.failure.alert} ({session.failure.reason})" if session.failure else ""
        ended = f", {reason}" if reason else ""
        self.log(f"{session.name}: closed, {summary}{failure}{ended}")
        if self.journal is not None:
            try:
                self.journal.write(session)
            except OSError as exc:
                self.stats.journal_errors += 1
                self.log(f"{session.name}: journal not written: {exc}")

    def _shutdown(self) -> None:
        if self._stop_reason is None:
            self._stop_reason = "the loop ended"
        reason = self._stop_reason
        for conn in list(self._conns):
            conn.session.journal.event("peer", f"the peer stopped ({reason}) with the connection open")
            self._drop(conn, reason=f"peer stopped ({reason})")
        self._selector.close()
        self._listener.close()
