"""End to end through Link + HostStack: a TLS exchange whose capture tshark decrypts on its own,
and byte-identical captures for the same seed."""

from __future__ import annotations

import hashlib
import shutil
import subprocess

import pytest
from netkit import HOST_IP, HOST_MAC, MiniClient
from sslapp import HttpsClient, HttpsHandler, client_context, pki_files, server_context

from sim.net import faults
from sim.net.hoststack import HostStack
from sim.net.link import HOST_TO_DEVICE, Link
from sim.net.pcapng import PcapngWriter
from sim.seed import SeededRandom
from sim.vtime import NS_PER_MS, NS_PER_S, EventQueue

@pytest.fixture
def _tshark():
    if not shutil.which("tshark") or not shutil.which("capinfos"):
        pytest.fail("tshark/capinfos missing: install the Debian package tshark (scripts/setup does)")


needs_tshark = pytest.mark.usefixtures("_tshark")


class Wire:
    """Queue + capture + link + host stack, with a MiniClient as the device."""

    def __init__(self, seed: int, path=None, **stack_kw) -> None:
        self.queue = EventQueue()
        self.capture = PcapngWriter(path)
        self.link = Link(self.queue, rng=SeededRandom(seed, "link"), capture=self.capture)
        self.stack = HostStack(self.queue, mac=HOST_MAC, ip=HOST_IP, rng=SeededRandom(seed, "host"),
                               transmit=self.link.from_host, **stack_kw)
        self.link.attach_host(self.stack.handle_frame)
        self.client = MiniClient(self.queue, self.link.from_device)
        self.link.attach_device(self.client.receive)

    def run_until(self, done, limit_ns: int = 30 * NS_PER_S) -> None:
        while not done():
            nxt = self.queue.next_time_ns()
            assert nxt is not None and nxt <= limit_ns, "exchange stalled"
            self.queue.advance_to(nxt)


def https_exchange(tmp_path, request: bytes, *, with_secrets: bool = True):
    files = pki_files(tmp_path / "pki")
    keylog = tmp_path / "keys.log"
    wire = Wire(1, tmp_path / "capture.pcapng")
    server = HttpsHandler(server_context(files, keylog))
    wire.stack.listen(443, lambda: server)
    https = HttpsClient(client_context(files), wire.client.send, request)
    wire.client.on_data = https.on_data
    wire.client.on_established = https.start
    wire.client.connect()
    wire.run_until(lambda: wire.client.eof and wire.stack.connections[0].state in ("TIME_WAIT", "CLOSED"))
    if with_secrets:
        assert wire.capture.add_secrets(keylog.read_text()) == 1
    wire.capture.close()
    return wire, server, https


def tshark_http(path) -> list[str]:
    out = subprocess.run(["tshark", "-n", "-r", str(path), "-Y", "http", "-T", "fields",
                          "-e", "frame.number", "-e", "http.request.method", "-e", "http.request.uri",
                          "-e", "http.response.code", "-e", "http.file_data"],
                         capture_output=True, text=True, timeout=120, check=True)
    return [line for line in out.stdout.splitlines() if line.strip()]


@needs_tshark
def test_tshark_decrypts_the_capture_with_the_embedded_key_log(tmp_path):
    request = b"GET /secret-path HTTP/1.1\r\nHost: tls-peer.test\r\nConnection: close\r\n\r\n"
    wire, server, https = https_exchange(tmp_path, request)
    assert server.requests == [b"GET /secret-path HTTP/1.1"]
    assert https.response.startswith(b"HTTP/1.1 200 OK") and https.response.endswith(b"hello from the host stack\n")

    rows = [r.split("\t") for r in tshark_http(tmp_path / "capture.pcapng")]
    assert [r[1:3] for r in rows if r[1]] == [["GET", "/secret-path"]]
    (resp,) = [r for r in rows if r[3]]
    assert resp[3] == "200" and "hello from the host stack" in resp[4]

    info = subprocess.run(["capinfos", str(tmp_path / "capture.pcapng")], capture_output=True, text=True,
                          timeout=60, check=True).stdout
    assert "Number of decryption secrets in file: 1" in info
    assert "Capture application: tls-fw-sim" in info
    assert "nanoseconds" in info


@needs_tshark
def test_without_the_secrets_block_tshark_sees_no_http(tmp_path):
    request = b"GET /secret-path HTTP/1.1\r\nHost: tls-peer.test\r\nConnection: close\r\n\r\n"
    https_exchange(tmp_path, request, with_secrets=False)
    assert tshark_http(tmp_path / "capture.pcapng") == []


def plaintext_exchange(seed: int) -> tuple[bytes, Wire]:
    """20 KB up, 60 KB down over a lossy host->device lane; returns the capture bytes."""
    class Echo:
        def connection_made(self, conn):
            self.conn, self.got = conn, 0

        def data_received(self, data):
            self.got += len(data)
            if self.got == 20_000:
                self.conn.send(bytes(range(256)) * 234 + b"end")
                self.conn.close()

        def eof_received(self):
            pass

        def connection_lost(self, reason):
            pass

    wire = Wire(seed, delayed_ack_ns=40 * NS_PER_MS, rto_min_ns=200 * NS_PER_MS)
    wire.stack.listen(443, Echo)
    for rule in (faults.drop(probability=0.08), faults.duplicate(probability=0.05),
                 faults.reorder(probability=0.05), faults.corrupt(probability=0.03)):
        wire.link.add_fault(HOST_TO_DEVICE, rule)
    wire.client.on_established = lambda: wire.client.send(b"u" * 20_000)
    wire.client.connect()
    wire.run_until(lambda: wire.client.eof and wire.stack.connections[0].state in ("TIME_WAIT", "CLOSED"),
                   limit_ns=120 * NS_PER_S)
    assert bytes(wire.client.received) == bytes(range(256)) * 234 + b"end"
    return wire.capture.to_bytes(), wire


def test_same_seed_gives_a_byte_identical_capture():
    first, wire = plaintext_exchange(11)
    second, _ = plaintext_exchange(11)
    assert hashlib.sha256(first).digest() == hashlib.sha256(second).digest()
    assert wire.link.fault_log, "the faults must have fired for this test to mean something"
    conn = wire.stack.connections[0]
    assert conn.counters["retransmitted_segments"] > 0
    other, _ = plaintext_exchange(12)
    assert other != first


def test_logs_map_stream_bytes_to_the_captured_frames_that_carried_them():
    _, wire = plaintext_exchange(11)
    conn = wire.stack.connections[0]
    down = bytes(range(256)) * 234 + b"end"
    for log, stream, direction in ((conn.rx_log, b"u" * 20_000, "device->host"),
                                   (conn.tx_log, down, "host->device")):
        assert log
        for seg in log:
            info = wire.link.frame_info(seg.frame_id)
            assert info.direction == direction
            carried = info.data[seg.payload_offset:seg.payload_offset + seg.length]
            assert carried == stream[seg.stream_offset:seg.stream_offset + seg.length]
    covered = sorted((s.stream_offset, s.stream_offset + s.length) for s in conn.rx_log)
    assert covered[0][0] == 0 and all(a[1] == b[0] for a, b in zip(covered, covered[1:]))
    assert len({s.stream_offset for s in conn.tx_log}) < len(conn.tx_log)   # retransmissions are logged too
