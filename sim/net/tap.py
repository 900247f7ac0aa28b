"""A Linux TAP device as the far end of the link, for interoperability runs against a real stack.

`TapDevice` opens a TAP interface (needs CAP_NET_ADMIN); `RealtimeBridge` lets a real peer -
the Linux kernel behind that interface, or a board on a bridged TAP - talk to the host side.

This is the one place in sim.net that reads a clock: a real peer lives in real time, so the
bridge pins the virtual clock to the monotonic wall clock while it runs. Runs through it are
therefore not reproducible frame for frame; emulated runs never use it.
"""

from __future__ import annotations

import errno
import fcntl
import os
import select
import struct
import time
from typing import Callable

from sim.vtime import NS_PER_S, EventQueue

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
IFNAMSIZ = 16


class TapDevice:
    def __init__(self, name: str) -> None:
        if not 0 < len(name.encode()) < IFNAMSIZ:
            raise ValueError(f"interface name {name!r} must be 1..15 bytes")
        try:
            self._fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
        except OSError as exc:
            raise OSError(exc.errno, f"cannot open /dev/net/tun ({exc.strerror}): a TAP device needs "
                                     "the tun module and CAP_NET_ADMIN (run as root)") from None
        try:
            fcntl.ioctl(self._fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
        except OSError as exc:
            os.close(self._fd)
            raise OSError(exc.errno, f"cannot create TAP interface {name!r}: {exc.strerror} "
                                     "(needs CAP_NET_ADMIN; is the name taken?)") from None
        self.name = name
        self.frames_in = 0
        self.frames_out = 0

    def fileno(self) -> int:
        return self._fd

    def read(self) -> bytes | None:
        """One frame from the interface, or None if none is waiting."""
        try:
            frame = os.read(self._fd, 65536)
        except BlockingIOError:
            return None
        self.frames_in += 1
        return frame

    def write(self, frame: bytes) -> bool:
        try:
            os.write(self._fd, frame)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EIO):     # queue full, or the interface is down
                return False
            raise
        self.frames_out += 1
        return True

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> "TapDevice":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RealtimeBridge:
    """Feeds frames from the TAP to `on_frame` and fires the queue's timers as wall time passes."""

    def __init__(self, queue: EventQueue, tap: TapDevice, on_frame: Callable[[bytes], object]) -> None:
        self.queue = queue
        self.tap = tap
        self.on_frame = on_frame

    def run(self, until: Callable[[], bool], *, wall_timeout_s: float) -> None:
        """Run until `until()` is true; TimeoutError after `wall_timeout_s` seconds."""
        origin = time.monotonic_ns() - self.queue.now_ns
        deadline = time.monotonic() + wall_timeout_s
        while not until():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the real-time run through {self.tap.name} did not finish "
                                   f"within {wall_timeout_s} s")
            self.queue.advance_to(max(self.queue.now_ns, time.monotonic_ns() - origin))
            nxt = self.queue.next_time_ns()
            wait = 0.02 if nxt is None else min(0.02, max(0.0, (nxt - self.queue.now_ns) / NS_PER_S))
            ready, _, _ = select.select([self.tap], [], [], wait)
            if not ready:
                continue
            while (frame := self.tap.read()) is not None:
                self.queue.advance_to(max(self.queue.now_ns, time.monotonic_ns() - origin))
                self.on_frame(frame)
