"""The TLS/HTTP peer on one TCP connection, its factory, and a thin real-socket adapter.

`PeerSession` implements the host stack's StreamHandler (`connection_made`, `data_received`,
`eof_received`, `connection_lost`) over any connection object with `send(bytes)`, `close()` (FIN)
and `abort()` (RST): the emulated link's TCP (sim/net) or a real socket (`serve`, below). It never
raises out of those methods: malformed input ends in the right alert and a clean close.

`PeerFactory(policy, seed, pki=...)` makes one session per connection (`factory()`), each with its
own seeded randomness (`SeededRandom(seed).child("peer/session-<n>")`), and collects their
journals and key log lines for the scenario's artifacts.

`python -m sim peer --listen HOST:PORT` serves the same peer to a real board or a TAP setup.
"""

from __future__ import annotations

import errno
import selectors
import socket
import sys
import threading
import time
import traceback
from pathlib import Path

from sim.http import DEFAULT_UPLOAD_LIMIT, HttpApp
from sim.seed import SeededRandom
from sim.tls.certs import TestPki, generate_test_pki
from sim.tls.policy import ServerPolicy
from sim.tls.protocol import AlertDescription
from sim.tls.server import ApplicationData, ConnectionFailed, HandshakeComplete, TlsServer
from sim.tls.sessions import SessionCache


class PeerSession:
    """One TLS server + HTTP app on one TCP connection."""

    def __init__(self, policy: ServerPolicy, rng: SeededRandom, *, pki: TestPki | None = None,
                 sessions: SessionCache | None = None, name: str = "session",
                 upload_limit: int = DEFAULT_UPLOAD_LIMIT) -> None:
        self.name = name
        self.tls = TlsServer(policy, rng, pki=pki, sessions=sessions, name=name)
        self.http = HttpApp(upload_limit=upload_limit)
        self.conn = None
        self.closed = False            # we asked the transport to close (FIN) or abort
        self.lost_reason: str | None = None
        self.handshake: HandshakeComplete | None = None
        self.failure: ConnectionFailed | None = None
        self.internal_errors: list[str] = []

    @property
    def journal(self):
        return self.tls.journal

    @property
    def keylog_lines(self) -> list[str]:
        return self.tls.keylog_lines

    # --- StreamHandler ---------------------------------------------------------------------------
    def connection_made(self, conn) -> None:
        self.conn = conn
        self.journal.event("tcp", "connection established")

    def data_received(self, data: bytes) -> None:
        try:
            self._on_events(self.tls.receive(bytes(data)))
        except Exception:  # a bug in the peer must not take the host stack down: report and close
            self._internal_error()
        self._flush()

    def eof_received(self) -> None:
        try:
            self.tls.eof_received()
            self.journal.event("tcp", "client sent FIN")
        except Exception:
            self._internal_error()
        self._flush(close=True)

    def connection_lost(self, reason: str | None) -> None:
        self.lost_reason = reason
        self.closed = True
        self.journal.event("tcp", f"connection closed{f' ({reason})' if reason else ''}")

    # --- internals -------------------------------------------------------------------------------
    def _on_events(self, events: list) -> None:
        for event in events:
            if isinstance(event, HandshakeComplete):
                self.handshake = event
            elif isinstance(event, ApplicationData):
                response = self.http.receive(event.data)
                if response and self.tls.established and not self.tls.close_notify_sent:
                    self.tls.send(response)
                if self.http.close_requested:
                    self.tls.close()
            elif isinstance(event, ConnectionFailed):
                self.failure = event

    def _internal_error(self) -> None:
        text = traceback.format_exc()
        self.internal_errors.append(text)
        self.journal.event("internal_error", text.strip().splitlines()[-1], traceback=text)
        try:
            self.tls.abort(AlertDescription.INTERNAL_ERROR, "peer bug: see the journal's internal_error event")
        except Exception:
            pass

    def _flush(self, close: bool = False) -> None:
        if self.conn is None or self.closed:
            return
        try:
            out = self.tls.data_to_send()
            if out:
                self.conn.send(out)
            if close or self.tls.closed or self.tls.close_notify_sent:
                self.closed = True
                self.conn.close()
        except Exception:
            self.internal_errors.append(traceback.format_exc())


class PeerFactory:
    """Callable with no args -> a new PeerSession; keeps every session for the artifacts."""

    def __init__(self, policy: ServerPolicy | None = None, seed: int | str | bytes = 1, *,
                 pki: TestPki | None = None, upload_limit: int = DEFAULT_UPLOAD_LIMIT) -> None:
        self.policy = policy or ServerPolicy()
        self.seed = seed
        self.pki = pki or generate_test_pki()
        self.upload_limit = upload_limit
        self.session_cache = SessionCache()
        self.sessions: list[PeerSession] = []
        self._root = SeededRandom(seed, "peer")

    def __call__(self) -> PeerSession:
        n = len(self.sessions)
        session = PeerSession(self.policy, self._root.child(f"session-{n}"), pki=self.pki,
                              sessions=self.session_cache, name=f"session-{n}", upload_limit=self.upload_limit)
        self.sessions.append(session)
        return session

    def keylog(self) -> str:
        """NSS key log text for every session so far (one CLIENT_RANDOM line each)."""
        return "".join(line + "\n" for s in self.sessions for line in s.keylog_lines)


# --- real sockets ---------------------------------------------------------------------------------
class SocketConnection:
    """The `conn` a PeerSession talks to, over a non-blocking socket."""

    def __init__(self, sock: socket.socket, address) -> None:
        self.sock = sock
        self.address = address
        self.outgoing = bytearray()
        self.close_requested = False
        self.aborted = False
        self.write_shut = False
        self.eof = False

    def send(self, data: bytes) -> None:
        self.outgoing += data

    def close(self) -> None:
        self.close_requested = True

    def abort(self) -> None:
        self.aborted = True


class PeerServer:
    """A selector loop serving PeerSessions on a listening socket (one thread, no per-connection threads).

    Wall-clock timeouts here only bound real I/O (idle connections, shutdown); the peer itself
    never reads a clock.
    """

    def __init__(self, factory: PeerFactory, host: str = "127.0.0.1", port: int = 0, *,
                 journal_dir: Path | None = None, idle_timeout: float = 30.0, log=None) -> None:
        self.factory = factory
        self.journal_dir = journal_dir
        self.idle_timeout = idle_timeout
        self.log = log
        self._listener = socket.create_server((host, port), reuse_port=False)
        self._listener.setblocking(False)
        self.address = self._listener.getsockname()[:2]
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ, None)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._written = 0

    @property
    def port(self) -> int:
        return self.address[1]

    def start(self) -> "PeerServer":
        self._thread = threading.Thread(target=self.serve_forever, name="tls-peer", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> "PeerServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def serve_forever(self) -> None:
        conns: dict[socket.socket, tuple[SocketConnection, PeerSession, list[float]]] = {}
        try:
            while not self._stop.is_set():
                for key, _ in self._selector.select(timeout=0.05):
                    if key.fileobj is self._listener:
                        self._accept(conns)
                    else:
                        self._read(key.fileobj, conns)
                now = time.monotonic()
                for sock, (conn, session, last) in list(conns.items()):
                    self._write(conn, session)
                    if self._finished(conn, session) or now - last[0] > self.idle_timeout:
                        if now - last[0] > self.idle_timeout:
                            session.journal.event("tcp", f"idle for {self.idle_timeout} s: closed by the adapter")
                        self._drop(sock, conns)
        finally:
            for sock in list(conns):
                self._drop(sock, conns)
            self._selector.close()
            self._listener.close()

    def _accept(self, conns) -> None:
        try:
            sock, address = self._listener.accept()
        except OSError:
            return
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = SocketConnection(sock, address)
        session = self.factory()
        conns[sock] = (conn, session, [time.monotonic()])
        self._selector.register(sock, selectors.EVENT_READ, None)
        session.connection_made(conn)
        if self.log:
            self.log(f"{session.name}: connection from {address[0]}:{address[1]}")

    def _read(self, sock, conns) -> None:
        conn, session, last = conns[sock]
        last[0] = time.monotonic()
        try:
            data = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            session.connection_lost(f"receive failed: {exc}")
            self._drop(sock, conns)
            return
        if data:
            session.data_received(data)
        else:
            conn.eof = True
            self._selector.unregister(sock)
            session.eof_received()
        self._write(conn, session)

    def _write(self, conn: SocketConnection, session: PeerSession) -> None:
        while conn.outgoing and not conn.aborted:
            try:
                n = conn.sock.send(conn.outgoing)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno not in (errno.EPIPE, errno.ECONNRESET):
                    session.journal.event("tcp", f"send failed: {exc}")
                conn.outgoing.clear()
                conn.eof = True
                return
            del conn.outgoing[:n]
        if conn.close_requested and not conn.outgoing and not conn.write_shut:
            conn.write_shut = True
            try:
                conn.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    @staticmethod
    def _finished(conn: SocketConnection, session: PeerSession) -> bool:
        # after our FIN, wait for the client's FIN (so it reads our last bytes), then release
        return conn.aborted or (conn.write_shut and conn.eof)

    def _drop(self, sock, conns) -> None:
        conn, session, _ = conns.pop(sock)
        try:
            self._selector.unregister(sock)
        except (KeyError, ValueError):
            pass
        if conn.aborted:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()
        if session.lost_reason is None:
            session.connection_lost("aborted" if conn.aborted else "closed")
        if self.log:
            summary = (f"{session.handshake.version} {session.handshake.suite}" if session.handshake
                       else "no handshake")
            failure = f", failed: {session.failure.alert} ({session.failure.reason})" if session.failure else ""
            self.log(f"{session.name}: closed, {summary}{failure}")
        if self.journal_dir is not None:
            self._write_journal(session)

    def _write_journal(self, session: PeerSession) -> None:
        d = self.journal_dir
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{session.name}.journal.json").write_text(session.journal.to_json())
        (d / f"{session.name}.journal.txt").write_text(session.journal.to_text())
        with open(d / "keylog.txt", "a") as f:
            for line in session.keylog_lines:
                f.write(line + "\n")


def parse_listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--listen {text!r}: use HOST:PORT, e.g. 127.0.0.1:8443")
    return host.strip("[]") or "127.0.0.1", int(port)


def peer_command(args) -> int:
    """`python -m sim peer --listen HOST:PORT [--tls ..] [--suite ..] [--seed N] [--journal DIR]`."""
    try:
        host, port = parse_listen(args.listen)
        policy = ServerPolicy.from_cli(args.tls, args.suite)
    except ValueError as exc:
        print(f"peer: error: {exc}", file=sys.stderr)
        return 2
    factory = PeerFactory(policy, args.seed)
    try:
        server = PeerServer(factory, host, port, journal_dir=args.journal,
                            log=lambda text: print(f"peer: {text}", flush=True))
    except OSError as exc:
        print(f"peer: error: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return 2
    versions = ", ".join(policy.describe()["versions"])
    print(f"peer: listening on {server.address[0]}:{server.port} ({versions}; "
          f"{'any suite' if args.suite == 'any' else args.suite}; seed {args.seed}); Ctrl-C stops", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("peer: stopped", flush=True)
    return 0
