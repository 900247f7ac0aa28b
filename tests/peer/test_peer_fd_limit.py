"""At the file-descriptor limit the peer pauses accepting instead of retrying accept() in a busy
loop, keeps serving the connections it has, and accepts again once one closes.

The peer runs with a low RLIMIT_NOFILE. Every failed accept() prints one "out of file descriptors"
line, so the test counts retries instead of measuring CPU time.
"""

from __future__ import annotations

import re

from peerkit import SERVER_NAME, PeerProcess, client_context, connect, good_get

HELD = 60                 # more connections than the peer has descriptors for


def test_out_of_descriptors_pauses_accepting_and_recovers(peer_ca):
    ctx = client_context(peer_ca)
    paused = re.compile(r"out of file descriptors \(EMFILE").search
    with PeerProcess("--max-connections", "1000", nofile=48) as peer:
        with connect("127.0.0.1", peer.port) as raw, ctx.wrap_socket(raw, server_hostname=SERVER_NAME) as keep:
            held = [connect("127.0.0.1", peer.port) for _ in range(HELD)]
            peer.wait_for(paused)
            accepted = peer.count(lambda ln: "connection from" in ln)
            assert accepted < HELD + 1                     # the rest wait in the listen backlog
            # out of descriptors, the open connection is still served, round trip after round trip,
            # and the peer does not retry accept() meanwhile
            for i in range(50):
                keep.sendall(f"GET /while-paused-{i} HTTP/1.1\r\nHost: {SERVER_NAME}\r\n\r\n".encode())
                response = b""
                while not response.endswith(f"GET /while-paused-{i}\n".encode()):
                    chunk = keep.recv(65536)
                    assert chunk, "the peer closed the kept connection"
                    response += chunk
        closed = peer.wait_for(lambda ln: "session-0: closed" in ln)
        assert sum(1 for ln in peer.lines[:peer.lines.index(closed)] if paused(ln)) == 1, peer.lines

        for sock in held:                                   # every close lets one waiting connection in
            sock.close()
        peer.wait_for(lambda ln: ": closed" in ln, count=HELD + 1)
        good_get(ctx, "127.0.0.1", peer.port, "/after-the-limit")
        assert peer.stop() == 0
    summary = next(ln for ln in peer.lines if ln.startswith("peer: stopped (SIGTERM)"))
    failed = int(re.search(r"(\d+) failed accepts", summary).group(1))
    assert 1 <= failed <= HELD + 2                          # at most one per connection that closed
    assert failed == sum(1 for ln in peer.lines if paused(ln))
