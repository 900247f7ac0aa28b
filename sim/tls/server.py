"""Sans-IO TLS 1.0-1.2 server: bytes in, bytes and events out; no sockets, threads or clocks.

    server = TlsServer(policy, SeededRandom(seed).child("session/0"))
    events = server.receive(data_from_client)       # -> HandshakeComplete, ApplicationData, ...
    server.send(b"HTTP/1.1 200 OK ...")             # application data
    wire = server.data_to_send()                    # bytes for the client

Any malformed or failing input ends in a fatal alert (in `data_to_send()`) and a
`ConnectionFailed` event naming the alert and the reason; `receive` never raises. The states and
what the client may send in each are the table in `sim.tls.states`. What the server does is
emitted as trace events (`sim.tls.trace`); `server.journal` (every record in both directions) and
the client-mistake search observe them, and `server.subscribe()` adds further observers. All
randomness (server random, session IDs, ECDHE keys, CBC IVs, the RSA premaster fallback) comes
from the `SeededRandom` given, so the same seed and the same client bytes give the same server
bytes.

The chain the server presents is chosen per ClientHello from an identity source
(`sim.tls.identity`): by default per-name leaves under the test PKI's RSA and P-256 roots, valid
at `date` (`sim.tls.sni_leaves`), named for the client's SNI or, without one, for `address` (the
address the client connected to). The choice and its reason are a trace event (`IdentityChosen`),
and the suite choice is limited to suites the chosen chain's key can serve.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from cryptography.hazmat.primitives.asymmetric import padding

from sim.seed import SeededRandom
from sim.tls import messages as msg
from sim.tls import negotiation, prf, trace
from sim.tls.certs import SERVER_IP
from sim.tls.groups import EphemeralKey, NamedGroup
from sim.tls.identity import HelloFacts, IdentityChoice, IdentityError, IdentitySource, PkiChains, choose_identity
from sim.tls.journal import DEFAULT_LIMITS, Journal, JournalLimits
from sim.tls.keylog import keylog_line
from sim.tls.mistakes import ReadContext, search_on_failure
from sim.tls.policy import ServerPolicy
from sim.tls.protocol import (
    MAX_CIPHERTEXT, MAX_FRAGMENT_LENGTHS, MAX_PLAINTEXT, TLS1_0, TLS1_2, TLS_EMPTY_RENEGOTIATION_INFO_SCSV,
    TLS_FALLBACK_SCSV, AlertDescription, AlertLevel, ContentType, ExtensionType, HandshakeType, TlsAlert,
    alert_name, content_type_name, extension_name, version_name)
from sim.tls.records import Check, CipherState, KeyMaterial, RawRecord, RecordFramer, slice_key_block
from sim.tls.sessions import CachedSession, SessionCache
from sim.tls.sni_leaves import DEFAULT_DATE, shared_default_identities
from sim.tls.states import ENDINGS, TRANSITIONS, Ending, Received, State, accepted_in
from sim.tls.suites import CipherSuite, suite_name


# --- events ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HandshakeComplete:
    version: str
    suite: str
    resumed: bool


@dataclass(frozen=True)
class ApplicationData:
    data: bytes


@dataclass(frozen=True)
class PeerClosed:
    """The client sent close_notify (the server has answered with its own)."""


@dataclass(frozen=True)
class AlertReceived:
    level: str
    description: str


@dataclass(frozen=True)
class ConnectionFailed:
    """The server sent a fatal alert; the connection is over."""

    alert: str
    reason: str


_HANDSHAKE_INPUTS = {HandshakeType.CLIENT_HELLO: Received.CLIENT_HELLO,
                     HandshakeType.CLIENT_KEY_EXCHANGE: Received.CLIENT_KEY_EXCHANGE,
                     HandshakeType.FINISHED: Received.FINISHED}


class TlsServer:
    # the method that handles each transition of sim.tls.states.TRANSITIONS (by name: bound methods
    # stored on the instance would make every server a reference cycle)
    HANDLERS: ClassVar[dict[tuple[State, Received], str]] = {
        (State.WAIT_CLIENT_HELLO, Received.CLIENT_HELLO): "_on_client_hello",
        (State.WAIT_CLIENT_KEY_EXCHANGE, Received.CLIENT_KEY_EXCHANGE): "_on_client_key_exchange",
        (State.WAIT_CHANGE_CIPHER_SPEC, Received.CHANGE_CIPHER_SPEC): "_on_change_cipher_spec",
        (State.WAIT_FINISHED, Received.FINISHED): "_on_finished",
        (State.ESTABLISHED, Received.APPLICATION_DATA): "_on_application_data",
        (State.ESTABLISHED, Received.CLIENT_HELLO): "_refuse_renegotiation",
    }

    def __init__(self, policy: ServerPolicy | None = None, rng: SeededRandom | None = None, *,
                 identities: IdentitySource | None = None, date: datetime | None = None,
                 address: str = SERVER_IP, pki=None, sessions: SessionCache | None = None,
                 name: str = "session", journal_limits: JournalLimits = DEFAULT_LIMITS,
                 observers: tuple = ()) -> None:
        """`identities`: where the chain comes from (default: per-name leaves under the test roots,
        valid at `date`, default the virtual calendar's default date); `address`: the server
        address the client connected to, named by the leaf when the client sends no SNI (a
        connection may set `server_address` before the ClientHello arrives). `pki`: an older
        surface, any object with `server_chain(kind)` and `server_key(kind)` (a `TestPki`), whose
        two fixed chains are then the candidates."""
        self.policy = policy or ServerPolicy()
        self._rng = rng or SeededRandom(1, "tls-server")
        if identities is None:
            identities = PkiChains(pki) if pki is not None else shared_default_identities(date or DEFAULT_DATE)
        self.identities = identities
        self.server_address = address
        self.identity: IdentityChoice | None = None      # the chain presented in the full handshake
        self._sessions = sessions
        self._trace = trace.Trace()
        self._emit = self._trace.emit
        self.journal = Journal(name, limits=journal_limits)
        self.subscribe(self.journal.observe)
        self.subscribe(search_on_failure)
        for observer in observers:
            self.subscribe(observer)
        self.keylog_lines: list[str] = []
        self.state = State.WAIT_CLIENT_HELLO
        self.version: int | None = None
        self.suite: CipherSuite | None = None
        self.resumed = False
        self.close_notify_sent = False
        self.close_notify_received = False
        self._framer = RecordFramer()
        self._handshake = msg.HandshakeReassembler()
        self._out = bytearray()
        self._tx_offset = 0
        self._records = 0                 # records so far in both directions: the next record's index
        self._records_received = 0
        self._record_version = TLS1_0     # header version of the record being processed
        self._read = CipherState()
        self._write = CipherState()
        self._pending_read: CipherState | None = None
        self._pending_write: CipherState | None = None
        self._read_epoch = 0
        self._write_epoch = 0
        self._rx_plain_seq = 0
        self._tx_plain_seq = 0
        self._transcript = bytearray()
        self._client_hello: msg.ClientHello | None = None
        self._client_record_version = TLS1_0
        self._server_random = b""
        self._master = b""
        self._key_block = b""
        self._keys: KeyMaterial | None = None
        self._ems = False
        self._etm = False
        self._trunc = False
        self._mfl_code: int | None = None
        self._group: NamedGroup | None = None
        self._ephemeral: EphemeralKey | None = None
        self._session_id = b""
        self._emit(trace.Started(self.policy.describe()))

    # --- public API --------------------------------------------------------------------------
    def subscribe(self, observer) -> None:
        """Call `observer(event)` for every trace event (`sim.tls.trace`) from now on."""
        self._trace.subscribe(observer)

    @property
    def closed(self) -> bool:
        return self.state == State.CLOSED

    @property
    def established(self) -> bool:
        return self.state == State.ESTABLISHED

    def data_to_send(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    def receive(self, data: bytes) -> list:
        """Feed bytes from the client; returns the events they caused. Never raises on bad input."""
        self._emit(trace.BytesReceived(bytes(data)))
        if self.closed:
            return []
        self._framer.feed(data)
        events: list = []
        try:
            while not self.closed:
                header = self._framer.peek_header()
                if header is None:
                    break
                self._check_header(*header)
                record = self._framer.next_record()
                if record is None:
                    break
                self._process(record, events)
                self._emit(trace.RecordDone())
        except TlsAlert as alert:
            self._fatal(alert, events)
        return events

    def eof_received(self) -> list:
        """The client closed its direction (TCP FIN)."""
        events: list = []
        if self.closed:
            return events
        truncated = None
        if self._framer.buffered:
            header = self._framer.peek_header()
            declared = f" (header says {header[2]} bytes)" if header else ""
            truncated = (f"the stream ended inside a record: {self._framer.buffered} bytes at stream offset "
                         f"{self._framer.stream_offset}{declared}")
            self._emit(trace.RecordReceived(
                index=self._next_index(), epoch=self._read_epoch, seq=self._next_rx_seq(),
                content_type=content_type_name(header[0]) if header else "incomplete",
                version=version_name(header[1]) if header else "-", length=header[2] if header else 0,
                stream_offset=self._framer.stream_offset, protection=self._read.describe(),
                raw=self._framer.pending(), error="truncated: " + truncated))
        self._emit(trace.StreamEnded(str(self.state), truncated))
        self._end(Ending.END_OF_STREAM)
        return events

    def send(self, data: bytes) -> None:
        """Queue application data (fragmented into records of at most the policy/MFL size)."""
        if self.state != State.ESTABLISHED or self.close_notify_sent:
            raise RuntimeError(f"cannot send application data in state {self.state}")
        if not data:
            return
        if self.policy.split_tls10_records and self.version == TLS1_0 and self.suite.mode == "cbc" and len(data) > 1:
            self._send_record(ContentType.APPLICATION_DATA, data[:1])
            data = data[1:]
        self._send_record(ContentType.APPLICATION_DATA, data)

    def abort(self, description: AlertDescription, reason: str) -> None:
        """Send a fatal alert and end the connection (for the application, e.g. on an internal error)."""
        if not self.closed:
            self._send_alert(AlertLevel.FATAL, description, reason)
            self._emit(trace.FatalAlertSent(alert_name(description), reason, ends_record=False))
            self._end(Ending.FATAL_ALERT_SENT)

    def close(self) -> None:
        """Send close_notify (idempotent)."""
        if self.closed:
            return
        if not self.close_notify_sent:
            self._send_alert(AlertLevel.WARNING, AlertDescription.CLOSE_NOTIFY, "server closes the connection")
        if self.state != State.ESTABLISHED:
            self._end(Ending.CLOSE_BEFORE_ESTABLISHED)

    # --- state machine -----------------------------------------------------------------------
    def _handle(self, received: Received, what: str, *args) -> None:
        """Run the handler for `received` in this state and move by the table; anything the table
        does not list is unexpected_message (RFC 5246 §7.2.2)."""
        handler = self.HANDLERS.get((self.state, received))
        if handler is None:
            accepted = ", ".join(accepted_in(self.state)) or "nothing"
            raise TlsAlert(AlertDescription.UNEXPECTED_MESSAGE,
                           f"{what} in state {self.state} (the server accepts {accepted} there)")
        outcome = getattr(self, handler)(*args) or received
        self._move(TRANSITIONS[(self.state, outcome)], outcome)

    def _move(self, new: State, trigger: str) -> None:
        old, self.state = self.state, new
        if old != new:
            self._emit(trace.StateChanged(str(old), str(new), str(trigger)))

    def _end(self, ending: Ending) -> None:
        self._move(ENDINGS[ending], ending)

    # --- record layer ------------------------------------------------------------------------
    def _next_rx_seq(self) -> int:
        return self._read.seq if self._read.active else self._rx_plain_seq

    def _next_index(self) -> int:
        self._records += 1
        return self._records - 1

    def _check_header(self, ctype: int, version: int, length: int) -> None:
        problem = None
        alert = AlertDescription.UNEXPECTED_MESSAGE
        if ctype not in ContentType._value2member_map_:
            problem = f"unknown record content type {ctype} (0x{ctype:02x})"
        elif version >> 8 != 3:
            problem = f"record version 0x{version:04x} is not TLS (major must be 3)"
            alert = AlertDescription.PROTOCOL_VERSION
        elif self.version is not None and self.state != State.WAIT_CLIENT_HELLO and version != self.version:
            problem = f"record version {version_name(version)} differs from the negotiated {version_name(self.version)}"
            alert = AlertDescription.PROTOCOL_VERSION
        elif length > MAX_CIPHERTEXT or (not self._read.active and length > MAX_PLAINTEXT):
            limit = MAX_CIPHERTEXT if self._read.active else MAX_PLAINTEXT
            problem = f"record length {length} exceeds the limit of {limit} bytes"
            alert = AlertDescription.RECORD_OVERFLOW
        elif length == 0 and not self._read.active and ctype != ContentType.APPLICATION_DATA:
            problem = f"zero-length {content_type_name(ctype)} record"
            alert = AlertDescription.DECODE_ERROR
        if problem is None:
            return
        offset = self._framer.stream_offset
        if self._records_received:
            problem += f" at stream offset {offset}, where the previous record ended (misframed stream?)"
        self._records_received += 1
        self._emit(trace.RecordReceived(
            index=self._next_index(), epoch=self._read_epoch, seq=self._next_rx_seq(),
            content_type=content_type_name(ctype), version=version_name(version), length=length,
            stream_offset=offset, protection=self._read.describe(), raw=self._framer.pending(5 + min(length, 64))))
        self._emit(trace.RecordChecked((Check("header", False, detail=problem),)))
        raise TlsAlert(alert, problem)

    def _process(self, record: RawRecord, events: list) -> None:
        epoch = self._read_epoch
        seq = self._next_rx_seq()
        index = self._next_index()
        self._records_received += 1
        self._record_version = record.version
        self._emit(trace.RecordReceived(
            index=index, epoch=epoch, seq=seq, content_type=content_type_name(record.content_type),
            version=version_name(record.version), length=len(record.fragment), stream_offset=record.stream_offset,
            protection=self._read.describe(), raw=record.wire))
        if self._read.active:
            context = self._read_context(record)
            opened = self._read.open(record.content_type, record.version, record.fragment)
            self._emit(trace.RecordChecked(tuple(opened.checks)))
            if not opened.ok:
                failed = [c for c in opened.checks if not c.ok]
                if any(c.name in ("mac", "tag", "padding") for c in failed):
                    self._emit(trace.ProtectionFailed(record.fragment, context))
                raise TlsAlert(AlertDescription.BAD_RECORD_MAC,
                               f"record {index} (epoch {epoch}, seq {seq}) failed its "
                               + " and ".join(c.name for c in failed) + " check")
            plaintext = opened.plaintext
        else:
            self._rx_plain_seq += 1
            plaintext = record.fragment
        limit = MAX_FRAGMENT_LENGTHS.get(self._mfl_code, MAX_PLAINTEXT)
        if len(plaintext) > limit:
            raise TlsAlert(AlertDescription.RECORD_OVERFLOW,
                           f"record {index} carries {len(plaintext)} plaintext bytes, more than {limit}")
        ctype = record.content_type
        if ctype != ContentType.HANDSHAKE and self._handshake.partial:
            raise TlsAlert(AlertDescription.UNEXPECTED_MESSAGE,
                           f"{content_type_name(ctype)} record in the middle of a fragmented handshake message")
        if ctype == ContentType.CHANGE_CIPHER_SPEC:
            if len(plaintext) != 1:
                raise TlsAlert(AlertDescription.DECODE_ERROR, f"ChangeCipherSpec of {len(plaintext)} bytes (must be 1)")
            if plaintext[0] != 1:
                raise TlsAlert(AlertDescription.ILLEGAL_PARAMETER, f"ChangeCipherSpec value {plaintext[0]} (must be 1)")
            self._handle(Received.CHANGE_CIPHER_SPEC, "ChangeCipherSpec", plaintext, events)
        elif ctype == ContentType.ALERT:
            self._on_alert(plaintext, events)
        elif ctype == ContentType.HANDSHAKE:
            if not plaintext:
                raise TlsAlert(AlertDescription.DECODE_ERROR, "empty handshake record")
            for message in self._handshake.feed(plaintext):
                self._emit(trace.HandshakeMessageReceived(message.name))
                self._handle(_HANDSHAKE_INPUTS.get(message.msg_type), message.name, message, events)
                if self.closed:
                    break
        else:
            self._handle(Received.APPLICATION_DATA, "application data", plaintext, events)

    def _read_context(self, record: RawRecord) -> ReadContext:
        return ReadContext(
            suite=self.suite, version=self.version, record_version=record.version, content_type=record.content_type,
            seq=self._read.seq, etm=self._etm, truncated_hmac=self._trunc,
            truncated_compat=self._trunc and self.policy.truncated_hmac_compat, keys=self._keys,
            key_block=self._key_block, iv=self._read.iv if self.version == TLS1_0 else None)

    def _send_record(self, ctype: int, payload: bytes, handshake: list[tuple[str, int]] | None = None,
                     alert: dict | None = None, notes: tuple[str, ...] = ()) -> None:
        """Fragment, protect and queue; trace every record. `handshake` = (name, length) per message."""
        version = self.version or min(self._client_record_version, TLS1_2)
        if ctype == ContentType.APPLICATION_DATA:
            size = min(self.policy.record_size, MAX_FRAGMENT_LENGTHS.get(self._mfl_code, MAX_PLAINTEXT))
        else:
            size = MAX_PLAINTEXT          # handshake flights are grouped by _send_handshake
        spans, pos = [], 0
        for name, length in handshake or []:
            spans.append((pos, pos + length, name))
            pos += length
        for start in range(0, max(len(payload), 1), size):
            chunk = payload[start:start + size]
            seq = self._write.seq if self._write.active else self._tx_plain_seq
            protection = self._write.describe()
            fragment = self._write.seal(ctype, version, chunk)
            if not self._write.active:
                self._tx_plain_seq += 1
            wire = bytes([ctype]) + version.to_bytes(2, "big") + len(fragment).to_bytes(2, "big") + fragment
            end = start + len(chunk)
            names = tuple(name if s >= start else name + " (continued)" for s, e, name in spans if s < end and e > start)
            self._emit(trace.RecordSent(
                index=self._next_index(), epoch=self._write_epoch, seq=seq, content_type=content_type_name(ctype),
                version=version_name(version), length=len(fragment), stream_offset=self._tx_offset,
                protection=protection, handshake=names,
                app_data=chunk if ctype == ContentType.APPLICATION_DATA else None, alert=alert, notes=notes))
            self._out += wire
            self._tx_offset += len(wire)

    def _send_handshake(self, messages: list[bytes]) -> None:
        """Coalesce a flight into records, never splitting a message unless it exceeds 2^14.

        RFC 6066 asks for handshake fragments within the max_fragment_length, but Mbed TLS (2.28) and
        PolarSSL clients cannot reassemble a handshake message split across TLS records ("TLS handshake
        fragmentation not supported"), and the Mbed TLS server does not split them either. So a message
        larger than the negotiated MFL (a certificate chain) goes whole in one record, like Mbed TLS.
        """
        limit = MAX_FRAGMENT_LENGTHS.get(self._mfl_code, MAX_PLAINTEXT)
        group: list[bytes] = []
        for m in messages + [None]:
            if group and (m is None or sum(map(len, group)) + len(m) > limit):
                names = [(msg.HandshakeMessage(g[0], g[4:]).name, len(g)) for g in group]
                self._send_record(ContentType.HANDSHAKE, b"".join(group), handshake=names)
                group = []
            if m is not None:
                self._transcript += m
                group.append(m)

    def _send_alert(self, level: int, description: int, reason: str) -> None:
        if description == AlertDescription.CLOSE_NOTIFY:
            self.close_notify_sent = True
        info = {"level": "fatal" if level == AlertLevel.FATAL else "warning",
                "description": alert_name(description), "sent": True, "reason": reason}
        self._send_record(ContentType.ALERT, bytes([level, description]), alert=info)

    def _send_change_cipher_spec(self) -> None:
        self._send_record(ContentType.CHANGE_CIPHER_SPEC, b"\x01",
                          notes=(f"server write state now {self._pending_write.describe()}",))
        self._write = self._pending_write
        self._write_epoch += 1

    def _fatal(self, alert: TlsAlert, events: list) -> None:
        self._send_alert(AlertLevel.FATAL, alert.description, alert.reason)
        self._emit(trace.FatalAlertSent(alert_name(alert.description), alert.reason, ends_record=True))
        self._end(Ending.FATAL_ALERT_SENT)
        events.append(ConnectionFailed(alert_name(alert.description), alert.reason))

    def _note(self, text: str) -> None:
        self._emit(trace.Note(text))

    # --- what the client sends -------------------------------------------------------------------
    def _on_change_cipher_spec(self, body: bytes, events: list) -> None:
        if self._pending_read is None:
            raise TlsAlert(AlertDescription.UNEXPECTED_MESSAGE, f"ChangeCipherSpec in state {self.state} before keys")
        self._read = self._pending_read
        self._pending_read = None
        self._read_epoch += 1
        self._note(f"client write state now {self._read.describe()}")

    def _on_alert(self, body: bytes, events: list) -> None:
        # alerts may arrive in any open state (sim.tls.states: ENDINGS)
        if not body or len(body) % 2:
            raise TlsAlert(AlertDescription.DECODE_ERROR, f"alert record of {len(body)} bytes (alerts are 2 bytes)")
        for i in range(0, len(body), 2):
            level, description = body[i], body[i + 1]
            if level not in (AlertLevel.WARNING, AlertLevel.FATAL):
                raise TlsAlert(AlertDescription.ILLEGAL_PARAMETER, f"alert level {level} (must be 1 or 2)")
            level_name = "fatal" if level == AlertLevel.FATAL else "warning"
            self._emit(trace.ClientAlert(level_name, alert_name(description), str(self.state)))
            if description == AlertDescription.CLOSE_NOTIFY:
                self.close_notify_received = True
                events.append(PeerClosed())
                if not self.close_notify_sent:
                    self._send_alert(AlertLevel.WARNING, AlertDescription.CLOSE_NOTIFY, "answer to the client's close_notify")
                self._end(Ending.CLOSE_NOTIFY_RECEIVED)
                return
            events.append(AlertReceived(level_name, alert_name(description)))
            if level == AlertLevel.FATAL:
                self._end(Ending.FATAL_ALERT_RECEIVED)
                return

    def _on_application_data(self, plaintext: bytes, events: list) -> None:
        self._emit(trace.ApplicationDataReceived(plaintext))
        if self.close_notify_sent:
            self._note("ignored: arrived after the server's close_notify")
        elif plaintext:
            events.append(ApplicationData(plaintext))

    def _refuse_renegotiation(self, message: msg.HandshakeMessage, events: list) -> None:
        # RFC 5746 §4.4 / RFC 5246 §7.2.2: we do not renegotiate; a warning lets the client go on
        self._note("renegotiation refused with a no_renegotiation warning")
        self._send_alert(AlertLevel.WARNING, AlertDescription.NO_RENEGOTIATION, "renegotiation is not supported")

    # --- handshake ---------------------------------------------------------------------------
    def _on_client_hello(self, message: msg.HandshakeMessage, events: list) -> Received:
        self._client_record_version = self._record_version
        hello = msg.parse_client_hello(message.body)
        self._client_hello = hello
        self._transcript = bytearray(message.raw)
        sni = hello.server_name()
        self._emit(trace.ClientHelloParsed(
            version_name(hello.client_version), hello.random, tuple(suite_name(s) for s in hello.cipher_suites),
            tuple(extension_name(t) for t, _ in hello.extensions), sni))

        version = negotiation.choose_version(self.policy, hello)
        self.version = version
        if TLS_FALLBACK_SCSV in hello.cipher_suites and version < self.policy.max_version:
            raise TlsAlert(AlertDescription.INAPPROPRIATE_FALLBACK,
                           f"FALLBACK_SCSV with {version_name(version)} but the server supports "
                           f"{version_name(self.policy.max_version)} (RFC 7507)")
        reneg = hello.renegotiation_info()
        if reneg:
            raise TlsAlert(AlertDescription.HANDSHAKE_FAILURE,
                           "renegotiation_info carries data in an initial handshake (RFC 5746 §3.6)")
        secure_reneg = reneg is not None or TLS_EMPTY_RENEGOTIATION_INFO_SCSV in hello.cipher_suites
        if self.policy.require_secure_renegotiation and not secure_reneg:
            raise TlsAlert(AlertDescription.HANDSHAKE_FAILURE,
                           "the client signals neither renegotiation_info nor the SCSV (RFC 5746), policy requires it")
        if 0 not in hello.compression_methods:
            raise TlsAlert(AlertDescription.ILLEGAL_PARAMETER, "ClientHello does not offer null compression")
        if self.policy.server_name is not None and sni is not None and sni != self.policy.server_name:
            raise TlsAlert(AlertDescription.UNRECOGNIZED_NAME,
                           f"SNI {sni!r} is not the policy's server name {self.policy.server_name!r}")
        mfl = hello.max_fragment_length() if self.policy.max_fragment_length else None
        if mfl is not None and mfl not in MAX_FRAGMENT_LENGTHS:
            raise TlsAlert(AlertDescription.ILLEGAL_PARAMETER, f"max_fragment_length code {mfl} (RFC 6066 allows 1-4)")
        client_ems = hello.has(ExtensionType.EXTENDED_MASTER_SECRET)
        if self.policy.require_extended_master_secret and not client_ems:
            raise TlsAlert(AlertDescription.HANDSHAKE_FAILURE, "policy requires extended_master_secret (RFC 7627)")
        ems = client_ems and self.policy.extended_master_secret

        self._server_random = self._rng.bytes(32)
        self._emit(trace.VersionChosen(version_name(version), self._server_random))

        cached = negotiation.resumable(self.policy, self._sessions, hello, version, ems, mfl)
        if cached is not None:
            self._resume(hello, cached, secure_reneg)
            return Received.CLIENT_HELLO_RESUMING

        identity = self._choose_identity(hello, version)
        suite, group, sig_alg = negotiation.choose_suite(self.policy, hello, version, identity.kind)
        self.suite, self._group = suite, group
        self._ems = ems
        self._etm = suite.mode == "cbc" and self.policy.encrypt_then_mac and hello.has(ExtensionType.ENCRYPT_THEN_MAC)
        self._trunc = suite.mode == "cbc" and self.policy.truncated_hmac and hello.has(ExtensionType.TRUNCATED_HMAC)
        self._mfl_code = mfl
        self._session_id = self._rng.bytes(32) if self.policy.session_resumption and self._sessions is not None else b""
        self._record_negotiation(resumed=False)

        extensions = self._server_extensions(hello, secure_reneg, full=True)
        flight = [msg.server_hello(version, self._server_random, self._session_id, suite.code, extensions),
                  msg.certificate(identity.identity.chain_der())]
        if suite.is_ecdhe:
            self._ephemeral = EphemeralKey(group, self._rng.child("ecdhe"))
            params = msg.ecdhe_params(group.code, self._ephemeral.public_bytes)
            signature = negotiation.sign(identity.key, hello.random + self._server_random + params, version, sig_alg)
            flight.append(msg.server_key_exchange(params, signature, sig_alg if version >= TLS1_2 else None))
        flight.append(msg.server_hello_done())
        self._send_handshake(flight)
        return Received.CLIENT_HELLO

    def _choose_identity(self, hello: msg.ClientHello, version: int) -> IdentityChoice:
        """The chain for this client (sim.tls.identity), announced to the observers before the suite
        choice, so a refusal that follows is journaled with the chain it was judged against."""
        facts = HelloFacts.from_client_hello(hello, version)
        try:
            choice = choose_identity(facts, self.identities, address=self.server_address,
                                     suites=self.policy.suite_list, groups=tuple(g.code for g in self.policy.group_list),
                                     prefer="ecdsa" if self.policy.cert == "ecdsa" else "rsa")
        except IdentityError as exc:
            raise TlsAlert(AlertDescription.INTERNAL_ERROR, f"no certificate to present: {exc}") from None
        self.identity = choice
        self._emit(trace.IdentityChosen(choice.describe(), choice.why))
        return choice

    def _server_extensions(self, hello: msg.ClientHello, secure_reneg: bool, full: bool) -> list[bytes]:
        ext = []
        if secure_reneg:
            ext.append(msg.extension(ExtensionType.RENEGOTIATION_INFO, b"\x00"))
        if full and hello.has(ExtensionType.SERVER_NAME):
            ext.append(msg.extension(ExtensionType.SERVER_NAME))
        if self._mfl_code is not None:
            ext.append(msg.extension(ExtensionType.MAX_FRAGMENT_LENGTH, bytes([self._mfl_code])))
        if self._trunc:
            ext.append(msg.extension(ExtensionType.TRUNCATED_HMAC))
        if full and self.suite.is_ecdhe and hello.has(ExtensionType.EC_POINT_FORMATS):
            ext.append(msg.extension(ExtensionType.EC_POINT_FORMATS, b"\x01\x00"))
        if self._etm:
            ext.append(msg.extension(ExtensionType.ENCRYPT_THEN_MAC))
        if self._ems:
            ext.append(msg.extension(ExtensionType.EXTENDED_MASTER_SECRET))
        return ext

    def _record_negotiation(self, resumed: bool) -> None:
        self._emit(trace.SessionNegotiated(
            suite=self.suite.mbedtls, resumed=resumed, group=self._group.name if self._group is not None else None,
            extended_master_secret=self._ems, encrypt_then_mac=self._etm, truncated_hmac=self._trunc,
            max_fragment_length=MAX_FRAGMENT_LENGTHS[self._mfl_code] if self._mfl_code is not None else None,
            session_id=self._session_id))

    def _resume(self, hello: msg.ClientHello, cached: CachedSession, secure_reneg: bool) -> None:
        self.resumed = True
        self.suite = cached.suite
        self._ems, self._etm, self._trunc = cached.extended_master_secret, cached.encrypt_then_mac, cached.truncated_hmac
        self._mfl_code = cached.max_fragment_code
        self._session_id = cached.session_id
        self._master = cached.master_secret
        self._note(f"resuming session {cached.session_id.hex()[:16]}...")
        self._record_negotiation(resumed=True)
        extensions = self._server_extensions(hello, secure_reneg, full=False)
        self._send_handshake([msg.server_hello(self.version, self._server_random, self._session_id,
                                               self.suite.code, extensions)])
        self._derive_keys()
        self._send_change_cipher_spec()
        self._send_handshake([msg.finished(self._verify_data(b"server finished"))])

    def _on_client_key_exchange(self, message: msg.HandshakeMessage, events: list) -> None:
        hello = self._client_hello
        if self.suite.key_exchange == "RSA":
            key = self.identity.key          # an RSA suite is only chosen for an RSA leaf
            # RFC 5246 §7.4.7.1: prepare the substitute first, then never branch visibly on the outcome
            substitute = hello.client_version.to_bytes(2, "big") + self._rng.child("rsa-premaster").bytes(46)
            encrypted = msg.parse_rsa_client_key_exchange(message.body, key.key_size // 8)
            try:
                decrypted = key.decrypt(encrypted, padding.PKCS1v15())
            except ValueError:
                decrypted = b""
            version_ok = len(decrypted) == 48 and decrypted[:2] == substitute[:2]
            premaster = decrypted if version_ok else substitute
            self._note("premaster: RSA-decrypted, client_version matches" if version_ok else
                       "premaster: decryption failed or wrong length/version, a random premaster was used "
                       "(RFC 5246 §7.4.7.1); the client's Finished will fail")
        else:
            public = msg.parse_ecdhe_client_key_exchange(message.body)
            premaster = self._ephemeral.shared_secret(public)
        self._transcript += message.raw
        if self._ems:
            session_hash = prf.transcript_hash(self.version, self.suite.prf, bytes(self._transcript))
            self._master = prf.extended_master_secret(self.version, self.suite.prf, premaster, session_hash)
        else:
            self._master = prf.master_secret(self.version, self.suite.prf, premaster, hello.random, self._server_random)
        self._derive_keys()
        self._note(f"master secret derived ({'extended, RFC 7627' if self._ems else 'classic'})")

    def _derive_keys(self) -> None:
        hello = self._client_hello
        self._key_block = prf.key_block(self.version, self.suite.prf, self._master, hello.random, self._server_random)
        compat = self._trunc and self.policy.truncated_hmac_compat
        self._keys = slice_key_block(self._key_block, self.suite, self.version, mac_key_len=10 if compat else None)
        k = self._keys
        common = dict(etm=self._etm, truncated_hmac=self._trunc)
        self._pending_read = CipherState(self.suite, self.version, enc_key=k.client_key, mac_key=k.client_mac,
                                         iv=k.client_iv, **common)
        self._pending_write = CipherState(self.suite, self.version, enc_key=k.server_key, mac_key=k.server_mac,
                                          iv=k.server_iv, rng=self._rng.child("record-iv"), **common)
        line = keylog_line(hello.random, self._master)
        self.keylog_lines.append(line)

    def _verify_data(self, label: bytes) -> bytes:
        return prf.finished_verify_data(self.version, self.suite.prf, self._master, label, bytes(self._transcript))

    def _on_finished(self, message: msg.HandshakeMessage, events: list) -> None:
        expected = self._verify_data(b"client finished")
        ok = message.body == expected
        self._emit(trace.RecordChecked((Check("verify_data", ok, expected=expected.hex(), received=message.body.hex(),
                                              detail="client Finished over the handshake transcript"),)))
        if len(message.body) != 12:
            raise TlsAlert(AlertDescription.DECODE_ERROR, f"Finished of {len(message.body)} bytes (must be 12)")
        if not ok:
            raise TlsAlert(AlertDescription.DECRYPT_ERROR,
                           "client Finished verify_data does not match the transcript (different handshake "
                           "messages or a different master secret)")
        self._transcript += message.raw
        if not self.resumed:
            self._send_change_cipher_spec()
            self._send_handshake([msg.finished(self._verify_data(b"server finished"))])
            if self._session_id and self._sessions is not None:
                self._sessions.put(CachedSession(self._session_id, self.version, self.suite, self._master, self._ems,
                                                 self._etm, self._trunc, self._mfl_code))
        self._emit(trace.HandshakeFinished(
            version_name(self.version), self.suite.mbedtls, self.resumed,
            self._group.name if self._group and not self.resumed else None, self._ems, self._etm, self._trunc))
        events.append(HandshakeComplete(version_name(self.version), self.suite.mbedtls, self.resumed))
