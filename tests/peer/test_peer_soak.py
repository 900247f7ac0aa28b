"""Soak: 2,000 connections on loopback, mixed as a peer left running meets them (good TLS clients
doing a GET or a POST, garbage, oversized ClientHellos and records, clients that stall), against
`python -m sim peer --journal`. Every good client is served, and once the connections are over the
peer's resident memory is within 20 MB of what it was when it started listening.

The mix is fixed (seeded), every client ends its own connection (a stalled one is closed by the test
later, never by a deadline), and the peer's log says when it has closed them all: nothing depends on
how fast the machine is.
"""

from __future__ import annotations

import collections
import random
import shutil
import socket
import ssl
import subprocess
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

from peerkit import (
    SERVER_NAME,
    PeerProcess,
    client_context,
    connect,
    expected_get_body,
    good_get,
    good_post,
    read_until_closed,
)

CONNECTIONS = 2000
WORKERS = 12
MAX_STALLED = 40          # stalled connections held open at once, plus at most one per worker
RSS_MARGIN_KIB = 20 * 1024

# what each connection does: MIX[index % 20]
MIX = (["get"] * 5 + ["post"] * 2 + ["get-tls1.0", "curl"] + ["garbage"] * 3 + ["big-hello"] * 2
       + ["big-record"] * 2 + ["stall"] * 2 + ["half-hello"] * 2)
GOOD = {"get", "post", "get-tls1.0", "curl"}


def _handshake_record(fragment: bytes) -> bytes:
    return b"\x16\x03\x01" + len(fragment).to_bytes(2, "big") + fragment


def _big_client_hello() -> bytes:
    """A ClientHello whose header announces 2**24-1 bytes (RFC 5246 §7.4: uint24 length), sent as
    about 200 KB of full-size handshake records (RFC 5246 §6.2.1: at most 2**14 bytes each)."""
    body = b"\x01\xff\xff\xff\x03\x03" + bytes(200_000)
    return b"".join(_handshake_record(body[i:i + 16384]) for i in range(0, len(body), 16384))


def _big_record() -> bytes:
    """A record header announcing 65,535 bytes (over the 2**14 + 2048 any record may have)."""
    return b"\x16\x03\x03\xff\xff" + bytes(70_000)


class Clients:
    def __init__(self, port: int, ca, curl: str) -> None:
        self.port = port
        self.ca = ca
        self.curl = curl
        self.tls12 = client_context(ca)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)      # TLS 1.0 is what the firmware may speak
            self.tls10 = client_context(ca, ssl.TLSVersion.TLSv1)
        hello_client = self.tls12.wrap_bio(ssl.MemoryBIO(), out := ssl.MemoryBIO(), server_hostname=SERVER_NAME)
        try:
            hello_client.do_handshake()
        except ssl.SSLWantReadError:
            pass
        self.hello = out.read()
        self.big_hello = _big_client_hello()
        self.big_record = _big_record()
        self.stalled: collections.deque[socket.socket] = collections.deque()
        self._lock = threading.Lock()

    def run(self, i: int) -> str:
        """Do connection i's part; returns its kind. A stalled connection stays open until MAX_STALLED
        newer ones are (or the end): the stalled ones open at once never depend on thread timing."""
        kind = MIX[i % len(MIX)]
        rng = random.Random(i)
        if kind == "get":
            path = rng.choice([f"/bytes/{rng.randrange(0, 40_000)}", f"/soak-{i}"])
            good_get(self.tls12, "127.0.0.1", self.port, path)
        elif kind == "post":
            good_post(self.tls12, "127.0.0.1", self.port, rng.randbytes(rng.randrange(0, 60_000)))
        elif kind == "get-tls1.0":
            good_get(self.tls10, "127.0.0.1", self.port, f"/soak-tls10-{i}")
        elif kind == "curl":
            run = subprocess.run([self.curl, "-sS", "--fail", "--cacert", str(self.ca), "--resolve",
                                  f"{SERVER_NAME}:{self.port}:127.0.0.1", f"https://{SERVER_NAME}:{self.port}/curl-{i}"],
                                 capture_output=True, timeout=60)
            assert run.returncode == 0 and run.stdout == expected_get_body(f"/curl-{i}"), run.stderr
        elif kind in ("garbage", "big-hello", "big-record"):
            data = {"garbage": lambda: rng.randbytes(rng.randrange(1, 8192)),
                    "big-hello": lambda: self.big_hello, "big-record": lambda: self.big_record}[kind]()
            with connect("127.0.0.1", self.port) as sock:
                try:
                    sock.sendall(data)
                    sock.shutdown(socket.SHUT_WR)
                except (BrokenPipeError, ConnectionResetError):
                    pass                                 # the peer gave up on the bytes first: fine
                read_until_closed(sock)
        else:                                            # stall: nothing, or half a ClientHello
            sock = connect("127.0.0.1", self.port)
            if kind == "half-hello":
                sock.sendall(self.hello[:len(self.hello) // 2])
            with self._lock:
                self.stalled.append(sock)
                oldest = self.stalled.popleft() if len(self.stalled) > MAX_STALLED else None
            if oldest is not None:
                oldest.close()
        return kind

    def close_stalled(self) -> None:
        while self.stalled:
            self.stalled.popleft().close()


def test_soak_mixed_connections(tmp_path, peer_ca):
    curl = shutil.which("curl")
    assert curl, "curl is not installed: run scripts/setup (it installs openssl and curl)"
    # the cap is tested on its own; here it only must not refuse a good client while the peer has
    # not yet seen the end of the connections clients already closed
    with PeerProcess("--journal", str(tmp_path / "journal"), "--max-connections", "1000") as peer:
        start_kib = peer.rss_kib()
        clients = Clients(peer.port, peer_ca, curl)
        served = {kind: 0 for kind in GOOD}
        with ThreadPoolExecutor(WORKERS) as pool:
            for kind in pool.map(clients.run, range(CONNECTIONS)):       # re-raises a client's failure
                if kind in served:
                    served[kind] += 1
        clients.close_stalled()
        peer.wait_for(lambda ln: ": closed" in ln, count=CONNECTIONS)
        end_kib, peak_kib = peer.rss_kib(), peer.peak_rss_kib()
        assert peer.stop() == 0
    summary = next(ln for ln in peer.lines if ln.startswith("peer: stopped (SIGTERM)"))
    print(f"peer RSS: {start_kib} KiB at start, {end_kib} KiB after {CONNECTIONS} connections, "
          f"peak {peak_kib} KiB; {summary}")
    assert served == {kind: sum(MIX[i % len(MIX)] == kind for i in range(CONNECTIONS)) for kind in GOOD}
    assert f"{CONNECTIONS} connections, 0 refused" in summary and "0 journals not written" in summary
    assert end_kib - start_kib <= RSS_MARGIN_KIB, (start_kib, end_kib)
    assert len(list((tmp_path / "journal" / "run-0001").glob("session-*.journal.json"))) == CONNECTIONS
