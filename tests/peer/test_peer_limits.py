"""The bounds of the peer on a socket: the connection cap, the handshake and idle deadlines, and
the output a paced session queues for a client that does not read.

The server runs in this process on a thread with an injected clock, so the deadlines are driven by
the test (no waiting for seconds to pass, no outcome that depends on how fast the machine is).
"""

from __future__ import annotations

import re
import socket
import ssl
import time

import pytest
from peerkit import GUARD, SERVER_NAME, client_context, connect, expected_get_body, good_get, read_until_closed

from sim.peer import PeerFactory, PeerLimits, PeerServer, PeerSession
from sim.tls.policy import ServerPolicy


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def until(predicate, what: str) -> None:
    deadline = time.monotonic() + GUARD
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting: {what}")
        time.sleep(0.01)


@pytest.fixture
def serve():
    servers = []

    def start(limits: PeerLimits, clock=time.monotonic) -> PeerServer:
        factory = PeerFactory(ServerPolicy(), seed=21)           # keeps sessions: the test reads journals
        server = PeerServer(factory, "127.0.0.1", 0, limits=limits, clock=clock).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def _client_hello(ctx: ssl.SSLContext) -> bytes:
    tls = ctx.wrap_bio(ssl.MemoryBIO(), out := ssl.MemoryBIO(), server_hostname=SERVER_NAME)
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return out.read()


def test_connections_over_the_cap_are_closed_at_once_and_counted(serve, peer_ca):
    server = serve(PeerLimits(max_connections=2))
    first, second = connect("127.0.0.1", server.port), connect("127.0.0.1", server.port)
    until(lambda: server.open_connections == 2, "two connections open")
    try:
        with connect("127.0.0.1", server.port) as third:
            assert read_until_closed(third) == b""        # closed by the peer without a byte
    except ConnectionResetError:
        pass                                             # the RST arrived before connect() returned
    until(lambda: server.stats.refused == 1, "the third connection counted as refused")
    first.close()
    until(lambda: server.open_connections == 1, "the peer saw the first client go")
    good_get(client_context(peer_ca), "127.0.0.1", server.port, "/after-the-cap")
    second.close()
    assert server.stats.refused == 1 and server.stats.accepted == 3


def test_a_trickling_client_does_not_hold_a_connection_past_the_handshake_deadline(serve, peer_ca):
    clock = FakeClock()
    server = serve(PeerLimits(handshake_timeout=30, idle_timeout=1000), clock)
    hello = _client_hello(client_context(peer_ca))
    with connect("127.0.0.1", server.port) as sock:
        until(lambda: server.open_connections == 1, "the peer accepted the connection")   # its clock starts
        for byte in hello:                               # a byte every 0.5 s, never idle, never done
            try:
                sock.send(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                break
            clock.now += 0.5
        read_until_closed(sock)
    (session,) = server.factory.sessions
    until(lambda: session.lost_reason is not None, "the peer closed its side")
    assert server.stats.handshake_timeouts == 1 and server.stats.idle_timeouts == 0
    assert session.handshake is None
    assert any(e["event"] == "deadline" and "--handshake-timeout" in e["text"] for e in session.journal.events)


def test_an_idle_connection_is_closed_after_the_idle_deadline_and_not_before(serve, peer_ca):
    clock = FakeClock()
    server = serve(PeerLimits(handshake_timeout=30, idle_timeout=60), clock)
    with connect("127.0.0.1", server.port) as raw, client_context(peer_ca).wrap_socket(
            raw, server_hostname=SERVER_NAME, suppress_ragged_eofs=False) as tls:
        for step in range(3):                            # a request every 50 s keeps it open for 150 s
            clock.now += 50
            tls.sendall(f"GET /keep-{step} HTTP/1.1\r\nHost: {SERVER_NAME}\r\n\r\n".encode())
            head = tls.recv(65536)
            assert head.startswith(b"HTTP/1.1 200 ") and head.endswith(expected_get_body(f"/keep-{step}")), head
        clock.now += 61
        assert tls.recv(65536) == b""                    # the peer's close_notify (a bare FIN would raise)
    (session,) = server.factory.sessions
    until(lambda: session.lost_reason is not None, "the peer closed its side")
    assert server.stats.idle_timeouts == 1 and server.stats.handshake_timeouts == 0
    assert any(e["event"] == "deadline" and "--idle-timeout" in e["text"] for e in session.journal.events)


# --- a client that pipelines requests and does not read -----------------------------------------------
class QueueConn:
    """A transport whose client reads only when the test says so."""

    def __init__(self) -> None:
        self.queued = bytearray()
        self.closed = False
        self.aborted = False

    def send(self, data: bytes) -> None:
        self.queued += data

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def pending_output(self) -> int:
        return len(self.queued)

    def take(self, n: int) -> bytes:
        out = bytes(self.queued[:n])
        del self.queued[:n]
        return out


def _handshake(session: PeerSession, conn: QueueConn, ctx: ssl.SSLContext):
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname=SERVER_NAME)
    for _ in range(10):
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            session.data_received(outgoing.read())
            incoming.write(conn.take(len(conn.queued)))
    session.data_received(outgoing.read())
    assert session.handshake is not None, session.journal.to_text()
    return tls, incoming, outgoing


def _read_plaintext(tls, incoming, data: bytes) -> bytes:
    incoming.write(data)
    out = bytearray()
    while True:
        try:
            chunk = tls.read(1 << 20)
        except ssl.SSLWantReadError:
            return bytes(out)
        if not chunk:
            return bytes(out)
        out += chunk


def test_a_paced_session_queues_a_bounded_amount_for_a_client_that_does_not_read(peer_ca):
    size, count, limit = 200_000, 40, 64 * 1024
    session = PeerFactory(ServerPolicy(), seed=3)(output_limit=limit)
    conn = QueueConn()
    session.connection_made(conn)
    tls, incoming, outgoing = _handshake(session, conn, client_context(peer_ca))
    requests = b"".join(f"GET /bytes/{size} HTTP/1.1\r\nHost: {SERVER_NAME}\r\n\r\n".encode() for _ in range(count))
    tls.write(requests)                                  # 40 pipelined requests in one record: 8 MB of answers
    session.data_received(outgoing.read())

    bound = limit + 2 * (size + 4096)                    # the limit plus at most two responses with overhead
    received = bytearray()
    high = 0
    while True:
        high = max(high, conn.pending_output())
        assert conn.pending_output() <= bound
        if not conn.queued and not session.waiting_for_output:
            break
        received += _read_plaintext(tls, incoming, conn.take(16384))     # the client reads a little
        session.resume()
    assert high >= limit                                 # it did hold back (the bound was reached)
    responses = re.split(rb"HTTP/1\.1 200 OK\r\n", bytes(received))[1:]
    assert len(responses) == count
    body = expected_get_body(f"/bytes/{size}")
    assert all(r.endswith(b"\r\n\r\n" + body) for r in responses)
    assert not session.internal_errors and session.failure is None


def test_a_client_that_does_not_read_does_not_stop_the_peer_serving_others(serve, peer_ca):
    server = serve(PeerLimits())
    ctx = client_context(peer_ca)
    raw = socket.socket()
    # a fixed receive buffer (no autotuning): with the peer's send buffer, far less than the 20 MB asked
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 256 * 1024)
    raw.settimeout(GUARD)
    raw.connect(("127.0.0.1", server.port))
    with raw, ctx.wrap_socket(raw, server_hostname=SERVER_NAME) as hog:
        pipelined = [b"GET /bytes/1000000 HTTP/1.1\r\nHost: x\r\n\r\n"] * 19
        hog.sendall(b"".join(pipelined) + b"GET /bytes/1000000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        for i in range(5):
            good_get(ctx, "127.0.0.1", server.port, f"/other-{i}")
        hog_session = server.factory.sessions[0]
        until(lambda: hog_session.waiting_for_output, "the peer holding the non-reading client's requests")
        received = bytearray()                           # now read: every held answer arrives complete
        while True:
            try:
                chunk = hog.recv(1 << 20)
            except ssl.SSLZeroReturnError:
                break
            if not chunk:
                break
            received += chunk
    assert received.count(b"HTTP/1.1 200 OK\r\n") == 20
