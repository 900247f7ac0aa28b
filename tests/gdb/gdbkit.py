"""Helpers for the GDB server tests: a raw RSP client (every byte under the test's control) and a
debugger serving a machine from a thread that plays the scenario runner's loop."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

from sim.gdb import attach_debugger
from sim.gdb.rsp import checksum

ROOT = Path(__file__).resolve().parents[2]
FIXED_ELF = ROOT / "build" / "firmware" / "fixed.elf"
QUANTUM = 168_000                     # 1 ms of virtual time per run() call, as a runner would


class RspClient:
    """Speaks the protocol by hand: `request(payload)` sends a packet, checks the `+` and returns
    the reply payload (after acking it)."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = bytearray()
        self.no_ack = False

    def close(self) -> None:
        self.sock.close()

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed the connection")
        self.buf += data

    def read_byte(self) -> int:
        while not self.buf:
            self._fill()
        b = self.buf[0]
        del self.buf[:1]
        return b

    def read_packet(self) -> bytes:
        """The next `$...#cs` from the server (checksum verified, then acked)."""
        while True:
            while b"$" not in self.buf:
                self._fill()
            start = self.buf.index(b"$")
            while b"#" not in self.buf[start:] or len(self.buf) < self.buf.index(b"#", start) + 3:
                self._fill()
            end = self.buf.index(b"#", start)
            payload = bytes(self.buf[start + 1:end])
            cs = int(self.buf[end + 1:end + 3], 16)
            del self.buf[:end + 3]
            assert cs == checksum(payload), f"bad checksum from the server on {payload!r}"
            if not self.no_ack:
                self.sock.sendall(b"+")
            return payload

    def send(self, payload: bytes | str) -> None:
        data = payload.encode("latin-1") if isinstance(payload, str) else payload
        self.sock.sendall(b"$" + data + b"#%02x" % checksum(data))
        if not self.no_ack:
            assert self.read_byte() == ord("+"), "the server did not acknowledge the packet"

    def request(self, payload: bytes | str) -> bytes:
        self.send(payload)
        return self.read_packet()

    def console_and_reply(self, payload: bytes | str) -> tuple[str, bytes]:
        """For qRcmd: the `O` console output, then the final reply."""
        self.send(payload)
        text = ""
        while True:
            reply = self.read_packet()
            if reply.startswith(b"O") and reply != b"OK":
                text += bytes.fromhex(reply[1:].decode()).decode()
            else:
                return text, reply

    def monitor(self, command: str) -> tuple[str, bytes]:
        return self.console_and_reply("qRcmd," + command.encode().hex())


def stop_fields(reply: bytes) -> dict[str, str]:
    """`T05thread:1;0f:...;swbreak:;` -> {'signal': '05', 'thread': '1', '0f': ..., 'swbreak': ''}"""
    assert reply[:1] == b"T", reply
    fields = {"signal": reply[1:3].decode()}
    for item in reply[3:].decode().split(";"):
        if item:
            key, _, value = item.partition(":")
            fields[key] = value
    return fields


def le32(hex_text: str) -> int:
    return int.from_bytes(bytes.fromhex(hex_text), "little")


class ServedMachine:
    """A machine whose run loop is a thread calling `debugger.run(machine, QUANTUM)` until stopped,
    as the scenario runner does; `errors` keeps what run() raised."""

    def __init__(self, machine, *, wait: bool = True) -> None:
        self.machine = machine
        self.log: list[str] = []
        self.debugger = attach_debugger(machine, 0, wait=wait, log=self.log.append, connect_timeout_s=20)
        self.port = self.debugger.port
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                self.debugger.run(self.machine, QUANTUM)
        except BaseException as exc:          # handed to the test
            self.errors.append(exc)

    def running_cycles(self, timeout: float = 10.0) -> bool:
        """True once virtual time moves on (the machine runs)."""
        start = self.machine.cycles
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.machine.cycles > start + 10 * QUANTUM:
                return True
            time.sleep(0.01)
        return False

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=30)
        self.debugger.close()
