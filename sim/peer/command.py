"""`python -m sim peer`: check the options, open the journal run directory, listen, serve until a signal.

Everything a user can get wrong (address, limits, suite, journal location, a port in use) is
refused before the "listening" line, as one line and exit status 2. SIGINT and SIGTERM stop the
server after it has journaled the connections still open.
"""

from __future__ import annotations

import signal
import sys
import threading

from sim.errors import SimError
from sim.peer.config import PeerError, PeerLimits, parse_listen
from sim.peer.factory import PeerFactory
from sim.peer.journal_dir import JournalDirectory
from sim.peer.server import PeerServer
from sim.tls.policy import ServerPolicy


def peer_command(args) -> int:
    """`python -m sim peer --listen HOST:PORT [--tls ..] [--suite ..] [--seed N] [--journal DIR]
    [--max-connections N] [--handshake-timeout S] [--idle-timeout S]`."""
    try:
        return _serve(args)
    except SimError as exc:
        print(f"peer: error: {exc}", file=sys.stderr)
        return 2


def _serve(args) -> int:
    address = parse_listen(args.listen)
    limits = PeerLimits(max_connections=args.max_connections, handshake_timeout=args.handshake_timeout,
                        idle_timeout=args.idle_timeout)
    try:
        policy = ServerPolicy.from_cli(args.tls, args.suite)
    except ValueError as exc:
        raise PeerError(str(exc)) from None

    signals = _StopSignals()
    with signals:
        factory = PeerFactory(policy, args.seed, keep_sessions=False)
        journal = JournalDirectory.open(args.journal) if args.journal is not None else None
        try:
            server = PeerServer(factory, address.host, address.port, limits=limits, journal=journal, log=_log)
        except PeerError:
            if journal is not None:
                journal.discard()
            raise
        signals.server = server
        if signals.reason is not None:          # a signal came while we were starting
            server.request_stop(signals.reason)
        versions = ", ".join(policy.describe()["versions"])
        where = f"; journal in {journal.run_dir}" if journal is not None else ""
        _log(f"listening on {address.show(server.port)} ({versions}; "
             f"{'any suite' if args.suite == 'any' else args.suite}; seed {args.seed}{where}); Ctrl-C stops")
        server.serve_forever()
    _log(f"stopped ({server.stop_reason}): {server.stats.summary()}")
    return 0


def _log(text: str) -> None:
    try:
        print(f"peer: {text}", flush=True)
    except (OSError, ValueError):        # stdout closed or gone: serving matters more than the log
        pass


class _StopSignals:
    """While active, SIGINT and SIGTERM ask the server to stop (journaling open connections)."""

    _SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.server: PeerServer | None = None
        self.reason: str | None = None
        self._previous: dict = {}

    def _handle(self, signum, frame) -> None:
        self.reason = signal.Signals(signum).name
        if self.server is not None:
            self.server.request_stop(self.reason)

    def __enter__(self) -> "_StopSignals":
        if threading.current_thread() is threading.main_thread():
            for sig in self._SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
