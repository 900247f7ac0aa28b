"""The TLS/HTTP peer: what answers the firmware's connections, in the emulator and on real sockets.

* `PeerSession` (session.py): one TLS server (sim/tls) and one HTTP app (sim/http.py) on one TCP
  connection, over any transport with `send`, `close` and `abort`; sans-IO like both of them.
* `PeerFactory` (factory.py): one seeded session per connection; scenarios keep them all.
* `PeerServer` (server.py): the sessions on a real listening socket, bounded by `PeerLimits`.
* `JournalDirectory` (journal_dir.py): the per-start run directory journals and key logs go to.
* `PeerLimits`, `parse_listen`, `PeerError` (config.py): the options, checked before listening.
* `peer_command` (command.py): `python -m sim peer --listen HOST:PORT ...`.

This package is the only place that connects the sans-IO peer to real sockets and files. Names are
imported on first use, so the command line can read `PeerLimits` without loading the TLS stack.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "PeerSession": "session",
    "PeerFactory": "factory",
    "PeerServer": "server", "PeerStats": "server", "SocketConnection": "server",
    "JournalDirectory": "journal_dir",
    "PeerLimits": "config", "PeerError": "config", "ListenAddress": "config", "parse_listen": "config",
    "peer_command": "command",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'sim.peer' has no attribute {name!r}")
    return getattr(importlib.import_module(f"sim.peer.{_EXPORTS[name]}"), name)
