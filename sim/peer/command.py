"""`python -m sim peer`: check the options, open the journal run directory, listen, serve until a signal.

Everything a user can get wrong (address, limits, suite, journal location, a port in use) is
refused before the "listening" line, as one line and exit status 2. SIGINT and SIGTERM stop the
server after it has journaled the connections still open.
"""

from __future__ import annotations

import signal
import threading

from sim.peer.config import PeerError, PeerLimits, parse_date, parse_listen
from sim.peer.factory import PeerFactory
from sim.peer.journal_dir import JournalDirectory
from sim.peer.server import PeerServer
from sim.tls.identity import FixedIdentities
from sim.tls.policy import ServerPolicy
from sim.tls.sni_leaves import default_identities
from sim.tls.user_chain import read_user_identity


def peer_command(args) -> int:
    """`python -m sim peer --listen HOST:PORT [--tls ..] [--suite ..] [--seed N] [--journal DIR]
    [--server-cert CHAIN.pem --server-key KEY.pem [--server-key-password P]] [--date DATE]
    [--max-connections N] [--handshake-timeout S] [--idle-timeout S]`. Bad input raises a SimError,
    which the command line's one error boundary reports (one line, exit 2)."""
    address = parse_listen(args.listen)
    limits = PeerLimits(max_connections=args.max_connections, handshake_timeout=args.handshake_timeout,
                        idle_timeout=args.idle_timeout)
    try:
        policy = ServerPolicy.from_cli(args.tls, args.suite)
    except ValueError as exc:
        raise PeerError(str(exc)) from None
    identities, identity_text = _identities(args, policy)

    signals = _StopSignals()
    with signals:
        factory = PeerFactory(policy, args.seed, identities=identities, keep_sessions=False)
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
        _log(identity_text)
        server.serve_forever()
    _log(f"stopped ({server.stop_reason}): {server.stats.summary()}")
    return 0


def _identities(args, policy: ServerPolicy):
    """The identity source the options ask for, checked now (a bad chain or key is exit 2 before
    listening), and a line saying what will be presented."""
    date = parse_date(args.date)
    cert, key, password = args.server_cert, args.server_key, args.server_key_password
    if cert is None and key is None:
        if password is not None:
            raise PeerError("--server-key-password without --server-key: give the encrypted key with --server-key")
        source = default_identities(date)
        roots = " and ".join(repr(root["label"]) for root in source.describe()["roots"])
        return source, (f"identity: a leaf per SNI name (or for the address without SNI) under {roots}, "
                        f"valid from {source.valid_from:%Y-%m-%d}; clients trust ca.pem or ca-p256.pem "
                        f"(`python -m sim.tls.certs --out DIR` writes them)")
    if cert is None or key is None:
        given, missing = ("--server-cert", "--server-key") if key is None else ("--server-key", "--server-cert")
        raise PeerError(f"{given} without {missing}: give the chain and its key together")
    identity = read_user_identity(cert, key, password=password, at=date)
    if policy.cert not in ("any", identity.kind):
        raise PeerError(f"--suite {args.suite} needs an {policy.cert.upper()} certificate but {key} is an "
                        f"{identity.kind.upper()} key: choose an {identity.kind.upper()} suite or leave --suite out")
    return FixedIdentities((identity,)), (f"identity: your chain from {cert}: {identity.label()}, "
                                          f"{len(identity.chain)} certificate(s), checked at {date:%Y-%m-%dT%H:%M:%SZ}")


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
