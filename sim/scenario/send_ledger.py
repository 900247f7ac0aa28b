"""Which TLS connection the bytes of each `fw_tls_send(context, buf, len)` call belong to.

A device reuses one TLS context for connection after connection, and the host side learns of a
new connection only when the SYN reaches it. On the built-in machine that is at the exact cycle
the frame left; on Renode frames reach the host at the end of the slice they were sent in, so
the next connection's ClientHello can be handed to the TLS layer while the host still knows only
the previous, ended connection. Bytes are therefore kept apart until their connection is known:

- a context's bytes go to the connection it is bound to;
- once that connection has ended, a newer connection nobody is bound to takes the context over;
- with no such connection yet, bytes that open a connection (a TLS record carrying a ClientHello,
  RFC 5246 section 7.4.1.2) or follow such bytes wait for it; anything else (a late alert or
  close_notify of the ended connection) still belongs to the ended one.
"""

from __future__ import annotations

from typing import Callable, Generic, TypeVar

Session = TypeVar("Session")

HANDSHAKE = 22            # ContentType.handshake (RFC 5246 section 6.2.1)
CLIENT_HELLO = 1          # HandshakeType.client_hello (RFC 5246 section 7.4)


def opens_connection(data: bytes) -> bool:
    """A TLS record header (type, version 3.x, length) followed by a ClientHello's type byte."""
    return len(data) >= 6 and data[0] == HANDSHAKE and data[1] == 3 and data[5] == CLIENT_HELLO


class SendLedger(Generic[Session]):
    def __init__(self, ended: Callable[[Session], bool]) -> None:
        self._ended = ended
        self._sessions: list[Session] = []
        self._sent: dict[int, bytearray] = {}            # id(session) -> what its TLS layer sent
        self._bound: dict[int, Session] = {}             # context -> session
        self._waiting: dict[int, bytearray] = {}         # context -> bytes of a connection not seen yet

    def opened(self, session: Session) -> None:
        """The host side accepted a new connection; bytes waiting for one are its first."""
        self._sessions.append(session)
        self._sent[id(session)] = bytearray()
        for context, data in list(self._waiting.items()):
            self._bound[context] = session
            self._sent[id(session)] += data
            del self._waiting[context]

    def sent(self, context: int, data: bytes) -> None:
        """The TLS layer handed `data` to fw_tls_send on `context`."""
        current = self._bound.get(context)
        if current is None or self._ended(current):
            taken = {id(s) for s in self._bound.values()}
            newer = self._sessions[self._sessions.index(current) + 1:] if current is not None else self._sessions
            fresh = next((s for s in newer if id(s) not in taken), None)
            if fresh is not None:
                self._bound[context] = current = fresh
            elif current is not None and (context in self._waiting or opens_connection(data)):
                current = None                               # the next connection's, not seen yet
        if current is None:
            self._waiting.setdefault(context, bytearray()).extend(data)
        else:
            self._sent[id(current)].extend(data)

    def of(self, session: Session) -> bytes:
        """Everything the TLS layer sent on `session`'s connection."""
        return bytes(self._sent.get(id(session), b""))


__all__ = ["SendLedger", "opens_connection"]
