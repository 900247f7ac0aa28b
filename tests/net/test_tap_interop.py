"""Interoperability with a TCP/IP stack nobody here wrote: the Linux kernel in a network namespace
of its own, reached through a TAP device. `curl` and `openssl s_client` run inside the namespace
(address 192.0.2.10, the device's) and speak HTTPS to our HostStack (192.0.2.1) carrying either
a Python-ssl server or the project's TLS peer. Only the namespace's own addresses are used."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from sslapp import HttpsHandler, pki_files, server_context

from sim.net.hoststack import HostStack
from sim.net.link import Link
from sim.net.pcapng import PcapngWriter
from sim.net.tap import RealtimeBridge, TapDevice
from sim.seed import SeededRandom
from sim.vtime import EventQueue

HOST_MAC, HOST_IP, DEVICE_IP = "02:00:00:00:00:01", "192.0.2.1", "192.0.2.10"
POST_SIZE = 300_000


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return "needs root for a network namespace and a TAP device (CI runs as root)"
    if not os.path.exists("/dev/net/tun"):
        return "no /dev/net/tun (tun module missing)"
    for tool in ("ip", "curl", "openssl"):
        if not shutil.which(tool):
            return f"{tool} is not installed"
    return None


@pytest.fixture(autouse=True)
def _prerequisites():
    """Only Renode-only tests may skip: anything else missing is a broken setup, said plainly."""
    reason = _why_not()
    if reason is not None:
        pytest.fail(f"the TAP interop test {reason}")


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)


@pytest.fixture(scope="module")
def namespace():
    ns, ifname = f"simnet{os.getpid()}", f"simtap{os.getpid() % 100000}"
    try:
        _ip("netns", "add", ns)
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"cannot create a network namespace: {exc.stderr.strip()}")
    tap = None
    try:
        tap = TapDevice(ifname)
        _ip("link", "set", ifname, "netns", ns)
        for args in (("link", "set", "lo", "up"), ("addr", "add", f"{DEVICE_IP}/24", "dev", ifname),
                     ("link", "set", ifname, "up")):
            _ip("netns", "exec", ns, "ip", *args)
        yield ns, tap
    finally:
        if tap is not None:
            tap.close()
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)


class Session:
    """One host side (fresh stack, link and capture) bridged to the namespace's TAP."""

    def __init__(self, tap: TapDevice, factory, capture_path: Path) -> None:
        while tap.read() is not None:            # frames the kernel sent while nobody listened
            pass
        self.queue = EventQueue()
        self.capture = PcapngWriter(capture_path)
        self.link = Link(self.queue, rng=SeededRandom(1, "link"), capture=self.capture)
        self.stack = HostStack(self.queue, mac=HOST_MAC, ip=HOST_IP, rng=SeededRandom(1, "host"),
                               transmit=self.link.from_host)
        self.link.attach_host(self.stack.handle_frame)
        self.link.attach_device(tap.write)
        self.stack.listen(443, factory)
        self.bridge = RealtimeBridge(self.queue, tap, self.link.from_device)

    def run(self, ns: str, cmd: list[str], workdir: Path, stdin: bytes = b"") -> tuple[int, bytes, str]:
        out, err, inp = workdir / "out", workdir / "err", workdir / "in"
        inp.write_bytes(stdin)
        with open(out, "wb") as fo, open(err, "wb") as fe, open(inp, "rb") as fi:
            proc = subprocess.Popen(["ip", "netns", "exec", ns, *cmd], stdin=fi, stdout=fo, stderr=fe)
            try:
                self.bridge.run(lambda: proc.poll() is not None, wall_timeout_s=60)
            finally:
                if proc.poll() is None:
                    proc.kill()
                proc.wait(timeout=10)
        return proc.returncode, out.read_bytes(), err.read_text(errors="replace")


def _python_ssl(files, keylog):
    handlers = []

    def factory():
        handlers.append(HttpsHandler(server_context(files, keylog)))
        return handlers[-1]
    return factory, lambda: keylog.read_text() if keylog.exists() else ""


def _sim_peer(files, keylog):
    from sim.peer import PeerFactory
    factory = PeerFactory(seed=5)
    return factory, factory.keylog


@pytest.mark.parametrize("server", ["python-ssl", "sim-peer"])
def test_curl_and_openssl_over_the_linux_kernel(namespace, tmp_path, server):
    ns, tap = namespace
    files = pki_files(tmp_path / "pki")
    factory, keylog = (_python_ssl if server == "python-ssl" else _sim_peer)(files, tmp_path / "keys.log")
    session = Session(tap, factory, tmp_path / "interop.pcapng")
    curl = ["curl", "-sS", "--max-time", "30", "--cacert", str(files["ca.pem"]),
            "--resolve", f"tls-peer.test:443:{HOST_IP}", "-H", "Connection: close"]

    rc, body, err = session.run(ns, curl + ["https://tls-peer.test/interop"], tmp_path)
    assert rc == 0, err
    assert b"GET /interop" in body or body == b"hello from the host stack\n"

    upload = bytes(i % 251 for i in range(POST_SIZE))
    (tmp_path / "upload.bin").write_bytes(upload)
    rc, body, err = session.run(ns, curl + ["--data-binary", f"@{tmp_path / 'upload.bin'}",
                                            "-H", "Content-Type: application/octet-stream",
                                            "https://tls-peer.test/upload"], tmp_path)
    assert rc == 0, err
    assert json.loads(body) == {"length": POST_SIZE, "sha256": hashlib.sha256(upload).hexdigest()}

    rc, out, err = session.run(ns, ["timeout", "30", "openssl", "s_client", "-connect", f"{HOST_IP}:443",
                                    "-servername", "tls-peer.test", "-CAfile", str(files["ca.pem"]),
                                    "-verify_return_error", "-ign_eof"], tmp_path,
                               stdin=b"GET /from-openssl HTTP/1.1\r\nHost: tls-peer.test\r\nConnection: close\r\n\r\n")
    assert rc == 0, err
    assert b"Verify return code: 0 (ok)" in out and b"HTTP/1.1 200 OK" in out

    stats = session.stack.stats
    assert stats["bad_checksum_tcp"] == stats["bad_checksum_ipv4"] == stats["malformed_tcp"] == 0
    conns = session.stack.connections
    assert len(conns) == 3 and all(c.peer_options.sack_permitted for c in conns)   # Linux offers, we decline
    assert sum(c.counters["bytes_in"] for c in conns) > POST_SIZE

    session.capture.add_secrets(keylog())
    session.capture.close()
    if shutil.which("tshark"):
        shown = subprocess.run(["tshark", "-n", "-r", str(tmp_path / "interop.pcapng"), "-Y", "http.request",
                                "-T", "fields", "-e", "http.request.method", "-e", "http.request.uri"],
                               capture_output=True, text=True, timeout=120, check=True).stdout.split("\n")
        assert {"GET\t/interop", "POST\t/upload", "GET\t/from-openssl"} <= set(shown)
