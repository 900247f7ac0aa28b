"""One TLS server and one HTTP app on one TCP connection.

`PeerSession` implements the host stack's StreamHandler (`connection_made`, `data_received`,
`eof_received`, `connection_lost`) over any connection object with `send(bytes)`, `close()` (FIN)
and `abort()` (RST): the emulated link's TCP (sim/net) or a real socket (sim/peer/server.py). It
never raises out of those methods: malformed input ends in the right alert and a clean close.

Paced sessions (`output_limit=N`, used on real sockets) hand decrypted requests to the HTTP app in
small slices and stop while the connection has N or more bytes queued for a client that does not
read; the connection object then also offers `pending_output()`, and the owner calls `resume()`
once it has written some of them. Unpaced sessions (the emulated link) answer everything at once,
so their bytes stay exactly what they always were.
"""

from __future__ import annotations

import traceback

from sim.http import DEFAULT_UPLOAD_LIMIT, HttpApp
from sim.seed import SeededRandom
from sim.tls.identity import IdentitySource
from sim.tls.policy import ServerPolicy
from sim.tls.protocol import AlertDescription
from sim.tls.server import ApplicationData, ConnectionFailed, HandshakeComplete, TlsServer
from sim.tls.sessions import SessionCache

# The shortest request that asks for a large body ("GET /bytes/1048576 HTTP/1.0" + CRLF CRLF) is
# 33 bytes, so a 64-byte slice completes at most two requests: a paced session's queue can exceed
# its limit by at most two responses, however many requests a client pipelines into one record.
HTTP_SLICE = 64


class PeerSession:
    """One TLS server + HTTP app on one TCP connection."""

    def __init__(self, policy: ServerPolicy, rng: SeededRandom, *, identities: IdentitySource | None = None,
                 pki=None, sessions: SessionCache | None = None, name: str = "session",
                 upload_limit: int = DEFAULT_UPLOAD_LIMIT, output_limit: int | None = None) -> None:
        self.name = name
        self.tls = TlsServer(policy, rng, identities=identities, pki=pki, sessions=sessions, name=name)
        self.http = HttpApp(upload_limit=upload_limit)
        self.output_limit = output_limit
        self.conn = None
        self.closed = False            # we asked the transport to close (FIN) or abort
        self.lost_reason: str | None = None
        self.handshake: HandshakeComplete | None = None
        self.failure: ConnectionFailed | None = None
        self.internal_errors: list[str] = []
        self._unread = bytearray()     # paced: decrypted request bytes the HTTP app has not seen yet

    @property
    def journal(self):
        return self.tls.journal

    @property
    def keylog_lines(self) -> list[str]:
        return self.tls.keylog_lines

    @property
    def waiting_for_output(self) -> bool:
        """Paced and holding requests until the client reads: take no more bytes from it for now."""
        return bool(self._unread)

    # --- StreamHandler ---------------------------------------------------------------------------
    def connection_made(self, conn) -> None:
        self.conn = conn
        local = getattr(conn, "local_address", None)      # (ip, port): named by the leaf without SNI
        if local:
            self.tls.server_address = local[0]
        self.journal.event("tcp", "connection established")

    def data_received(self, data: bytes) -> None:
        try:
            self._on_events(self.tls.receive(bytes(data)))
            self._pump()
        except Exception:  # a bug in the peer must not take the host stack down: report and close
            self._internal_error()
        self._flush()

    def eof_received(self) -> None:
        try:
            self.tls.eof_received()
            self.journal.event("tcp", "client sent FIN")
        except Exception:
            self._internal_error()
        self._flush(close=True)

    def connection_lost(self, reason: str | None) -> None:
        self.lost_reason = reason
        self.closed = True
        self.journal.event("tcp", f"connection closed{f' ({reason})' if reason else ''}")

    # --- paced sessions --------------------------------------------------------------------------
    def resume(self) -> None:
        """The connection wrote some queued bytes: answer more of the held requests."""
        if not self._unread:
            return
        try:
            self._pump()
        except Exception:
            self._internal_error()
        self._flush()

    # --- internals -------------------------------------------------------------------------------
    def _on_events(self, events: list) -> None:
        for event in events:
            if isinstance(event, HandshakeComplete):
                self.handshake = event
            elif isinstance(event, ApplicationData):
                if self.output_limit is None:
                    self._answer(event.data)
                else:
                    self._unread += event.data
            elif isinstance(event, ConnectionFailed):
                self.failure = event

    def _pump(self) -> None:
        while self._unread and not self.closed and not self.http.close_requested and not self._output_full():
            piece = bytes(self._unread[:HTTP_SLICE])
            del self._unread[:HTTP_SLICE]
            self._answer(piece)
            self._flush()
        if self.closed or self.http.close_requested:
            self._unread.clear()       # nothing more will be answered on this connection

    def _output_full(self) -> bool:
        return self.conn is not None and self.conn.pending_output() >= self.output_limit

    def _answer(self, request_bytes: bytes) -> None:
        response = self.http.receive(request_bytes)
        if response and self.tls.established and not self.tls.close_notify_sent:
            self.tls.send(response)
        if self.http.close_requested:
            self.tls.close()

    def _internal_error(self) -> None:
        text = traceback.format_exc()
        self.internal_errors.append(text)
        self._unread.clear()
        self.journal.event("internal_error", text.strip().splitlines()[-1], traceback=text)
        try:
            self.tls.abort(AlertDescription.INTERNAL_ERROR, "peer bug: see the journal's internal_error event")
        except Exception:
            pass

    def _flush(self, close: bool = False) -> None:
        if self.conn is None or self.closed:
            return
        try:
            out = self.tls.data_to_send()
            if out:
                self.conn.send(out)
            if close or self.tls.closed or self.tls.close_notify_sent:
                self.closed = True
                self.conn.close()
        except Exception:
            self.internal_errors.append(traceback.format_exc())
