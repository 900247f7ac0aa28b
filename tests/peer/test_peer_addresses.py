"""`--listen` with IPv4 and IPv6 addresses: the listening line shows the real port, and a TLS client
(Python's ssl) is served on each address family the listener covers."""

from __future__ import annotations

import pytest
from peerkit import PeerProcess, client_context, good_get


@pytest.mark.parametrize("listen,shown,clients", [
    ("127.0.0.1:0", "127.0.0.1", ["127.0.0.1"]),
    ("0.0.0.0:0", "0.0.0.0", ["127.0.0.1"]),
    ("[::1]:0", "[::1]", ["::1"]),
    ("[::]:0", "[::]", ["::1", "127.0.0.1"]),        # dual stack: IPv4 clients too
    (":0", "127.0.0.1", ["127.0.0.1"]),             # no host: loopback
])
def test_listen_address(peer_ca, listen, shown, clients):
    ctx = client_context(peer_ca)
    with PeerProcess("--listen", listen) as peer:
        assert peer.port != 0
        assert f"listening on {shown}:{peer.port} " in peer.lines[0]
        for i, host in enumerate(clients):
            good_get(ctx, host, peer.port, f"/via-{host}")
            peer.wait_for(lambda ln: f"session-{i}: closed, TLS1.2" in ln)
        assert peer.stop() == 0
