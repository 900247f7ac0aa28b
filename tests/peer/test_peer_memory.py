"""A finished connection's session is freed as soon as the peer drops it: by reference counting,
without waiting for Python's cyclic garbage collector (which a busy peer triggers too rarely to keep
its memory flat), and without the factory keeping it."""

from __future__ import annotations

import gc
import socket
import time
import weakref

from peerkit import GUARD, client_context, connect, good_get, good_post, read_until_closed

from sim.peer import PeerFactory, PeerServer
from sim.tls.policy import ServerPolicy


class WatchedFactory(PeerFactory):
    """The factory a server uses, remembering each session only by a weak reference."""

    def __init__(self) -> None:
        super().__init__(ServerPolicy(), seed=8, keep_sessions=False)
        self.made: list[weakref.ref] = []

    def __call__(self, **kwargs):
        session = super().__call__(**kwargs)
        self.made.append(weakref.ref(session))
        return session


def test_finished_sessions_are_freed_without_the_cycle_collector(peer_ca):
    factory = WatchedFactory()
    ctx = client_context(peer_ca)
    gc.disable()
    try:
        with PeerServer(factory, "127.0.0.1", 0) as server:
            good_get(ctx, "127.0.0.1", server.port, "/freed")
            good_post(ctx, "127.0.0.1", server.port, bytes(50_000))
            with connect("127.0.0.1", server.port) as sock:            # garbage, then FIN
                sock.sendall(b"\x16\x03\x01\xff\xff" + bytes(1000))
                sock.shutdown(socket.SHUT_WR)
                read_until_closed(sock)
            deadline = time.monotonic() + GUARD
            while server.stats.accepted < 3 or server.open_connections:
                assert time.monotonic() < deadline, "the peer did not close its connections"
                time.sleep(0.01)
            assert len(factory.made) == 3 and factory.sessions == []
            assert [ref() for ref in factory.made] == [None, None, None]
    finally:
        gc.enable()
