"""One GDB client on a TCP socket: acknowledgements (and NoAck mode), retransmission on `-`,
Ctrl-C detection, and reads that either block or only look (the run loop polls between machine
quanta; it blocks only while the target is halted).

Packets and Ctrl-C bytes are queued in the order they arrived: a Ctrl-C sent right behind a
`vCont;c` can arrive in the same read, and it interrupts that continue (GDB Remote Serial
Protocol, "Interrupts").
"""

from __future__ import annotations

import select
import socket
from collections import deque

from .rsp import Ack, BadPacket, Interrupt, Packet, PacketReader, frame


_SEND_STALL_S = 30                    # a client that reads nothing this long is given up
INTERRUPT = Interrupt()               # a Ctrl-C in Connection.packets


class ConnectionClosed(Exception):
    """The client went away (EOF or a socket error)."""


class Connection:
    def __init__(self, sock: socket.socket, peer: str) -> None:
        self.sock = sock
        self.peer = peer
        self.sock.setblocking(False)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._reader = PacketReader()
        self.no_ack = False
        self._last_sent: bytes | None = None
        # good packets and Ctrl-Cs (INTERRUPT) not yet handled, in arrival order
        self.packets: deque[bytes | Interrupt] = deque()
        self.closed = False

    # --- sending ----------------------------------------------------------------------------------
    def send(self, payload: bytes | str) -> None:
        data = frame(payload)
        self._last_sent = data
        self._write(data)

    def _write(self, data: bytes) -> None:
        if self.closed:
            raise ConnectionClosed("the GDB connection is closed")
        view = memoryview(data)
        stalled = 0
        while view:
            try:
                n = self.sock.send(view)
            except BlockingIOError:
                _, writable, _ = select.select([], [self.sock], [], 1.0)
                stalled = 0 if writable else stalled + 1
                if stalled >= _SEND_STALL_S:
                    self.close()
                    raise ConnectionClosed(f"the client read nothing for {_SEND_STALL_S} s") from None
                continue
            except OSError as exc:
                self.close()
                raise ConnectionClosed(str(exc)) from None
            view = view[n:]

    # --- receiving --------------------------------------------------------------------------------
    def poll(self, timeout: float | None = 0.0) -> bool:
        """Read what has arrived (waiting up to `timeout` seconds, None = forever); True if a
        packet or an interrupt is waiting. Raises ConnectionClosed at EOF."""
        if self.packets:
            return True
        readable, _, _ = select.select([self.sock], [], [], timeout)
        if not readable:
            return False
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return False
        except OSError as exc:
            self.close()
            raise ConnectionClosed(str(exc)) from None
        if not data:
            self.close()
            raise ConnectionClosed("the client closed the connection")
        for event in self._reader.feed(data):
            if isinstance(event, Packet):
                if not self.no_ack:
                    self._write(b"+")
                self.packets.append(event.payload)
            elif isinstance(event, BadPacket):
                if not self.no_ack:
                    self._write(b"-")               # GDB retransmits
            elif isinstance(event, Ack):
                if not event.good and self._last_sent is not None and not self.no_ack:
                    self._write(self._last_sent)
            elif isinstance(event, Interrupt):
                self.packets.append(INTERRUPT)
        return bool(self.packets)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self.sock.close()
            except OSError:
                pass
