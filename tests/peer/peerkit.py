"""Test kit for `python -m sim peer`: the peer as a subprocess, and clients nobody here wrote
(Python's ssl module, i.e. OpenSSL) that check what the peer answers against sim/http.py's routes.

Every wait has a wall-time guard so a broken peer fails a test instead of hanging it; no test
asserts how long anything took.
"""

from __future__ import annotations

import hashlib
import json
import re
import resource
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

SERVER_NAME = "tls-peer.test"
GUARD = 60.0                                     # seconds before a wait gives up (a hang guard only)
_LISTENING = re.compile(r"listening on (\[[^\]]+\]|[^ :]+):(\d+) ")


class PeerProcess:
    """`python -m sim peer ARGS` with its stdout collected line by line in a thread."""

    def __init__(self, *args: str, nofile: int | None = None) -> None:
        self.args = ["--listen", "127.0.0.1:0", *args] if "--listen" not in args else list(args)
        preexec = None
        if nofile is not None:
            def preexec():
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
        self.proc = subprocess.Popen([sys.executable, "-m", "sim", "peer", *self.args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, preexec_fn=preexec)
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.stderr = ""
        line = self.wait_for(_LISTENING.search)
        m = _LISTENING.search(line)
        self.host, self.port = m.group(1).strip("[]"), int(m.group(2))

    def _read(self) -> None:
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def wait_for(self, match, count: int = 1) -> str:
        """The `count`-th stdout line for which `match(line)` is true (waits for it)."""
        deadline = time.monotonic() + GUARD
        scanned, hits = 0, 0
        with self._cond:
            while True:
                for line in self.lines[scanned:]:
                    scanned += 1
                    if match(line):
                        hits += 1
                        if hits == count:
                            return line
                if self.proc.poll() is not None and not self._reader.is_alive():
                    raise AssertionError(f"the peer exited ({self.proc.returncode}) first:\n"
                                         + "\n".join(self.lines[-30:]) + "\n" + self.proc.stderr.read())
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"the peer printed {hits} of {count} expected lines:\n"
                                         + "\n".join(self.lines[-30:]))
                self._cond.wait(min(left, 0.5))

    def count(self, match) -> int:
        with self._cond:
            return sum(1 for ln in self.lines if match(ln))

    def rss_kib(self) -> int:
        return _status_kib(self.proc.pid, "VmRSS")

    def peak_rss_kib(self) -> int:
        return _status_kib(self.proc.pid, "VmHWM")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Signal the peer and wait for it; returns its exit status (stdout fully read)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=GUARD)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("the peer did not stop on " + signal.Signals(sig).name)
        self._reader.join(timeout=GUARD)
        self.stderr = self.proc.stderr.read()
        self.proc.stderr.close()
        self.proc.stdout.close()
        return rc

    def __enter__(self) -> "PeerProcess":
        return self

    def __exit__(self, *exc) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if not stream.closed:
                stream.close()


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def client_context(ca_path: Path, version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca_path)
    ctx.minimum_version = ctx.maximum_version = version
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")       # Debian's OpenSSL 3 refuses TLS 1.0/1.1 above level 0
    return ctx


def connect(host: str, port: int) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=GUARD)
    return sock


def https_request(ctx: ssl.SSLContext, host: str, port: int, request: bytes) -> bytes:
    """One TLS connection: send `request`, read until the peer closes; the raw HTTP response."""
    with connect(host, port) as raw, ctx.wrap_socket(raw, server_hostname=SERVER_NAME) as tls:
        tls.sendall(request)
        out = bytearray()
        while True:
            try:
                chunk = tls.recv(65536)
            except ssl.SSLZeroReturnError:
                break
            if not chunk:
                break
            out += chunk
        return bytes(out)


def split_response(raw: bytes) -> tuple[int, bytes]:
    """(status, body) of one HTTP/1.1 response with Content-Length."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    assert sep, f"no HTTP response: {raw[:200]!r}"
    status = int(head.split(b" ", 2)[1])
    length = int(re.search(rb"(?im)^content-length:\s*(\d+)\s*$", head).group(1))
    assert len(body) == length, f"body of {len(body)} bytes, Content-Length {length}"
    return status, body


def expected_get_body(path: str) -> bytes:
    """What GET `path` answers, written from sim/http.py's documented routes (not by calling it)."""
    m = re.fullmatch(r"/bytes/(\d+)", path)
    if m:
        return bytes(i % 251 for i in range(int(m.group(1))))
    return b"tls-fw-sim peer: GET " + path.encode() + b"\n"


def good_get(ctx: ssl.SSLContext, host: str, port: int, path: str) -> None:
    raw = https_request(ctx, host, port, f"GET {path} HTTP/1.1\r\nHost: {SERVER_NAME}\r\nConnection: close\r\n\r\n"
                        .encode())
    status, body = split_response(raw)
    assert status == 200 and body == expected_get_body(path), (status, body[:100])


def good_post(ctx: ssl.SSLContext, host: str, port: int, body: bytes) -> None:
    head = (f"POST /upload HTTP/1.1\r\nHost: {SERVER_NAME}\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n").encode()
    status, answer = split_response(https_request(ctx, host, port, head + body))
    assert status == 200
    assert json.loads(answer) == {"length": len(body), "sha256": hashlib.sha256(body).hexdigest()}


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the peer sends until it closes (FIN or RST)."""
    out = bytearray()
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        out += chunk
    return bytes(out)
