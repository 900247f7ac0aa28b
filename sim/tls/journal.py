"""The record journal: every record in both directions, with the outcome of every check.

One `Journal` per TLS connection, built by observing the server's trace (`sim.tls.trace`): the
server never writes into it. `records` holds one `JournalRecord` per record (index, direction,
epoch, sequence number, content type, version, length, the stream offset of its first header byte,
checks, handshake message types, application-data digest and preview, alerts with their reason,
and for a failed MAC/tag the client mistakes that were tried). `to_json()` is deterministic (fixed
key order); `to_text()` is one aligned line per record plus indented detail lines for failures.

What a journal keeps is bounded (`JournalLimits`, docs/tls-journal.md): the client's byte stream up
to `stream_bytes` while the connection is open and `after_end_bytes` once it is over, `records`
records in detail and `events` events. Past a limit it counts instead of keeping, says so once in
an event `journal_limit`, and still keeps every failed record and every alert - what the diagnosis
of the first failure needs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import ClassVar

from sim.tls import trace
from sim.tls.records import Check

C2S = "client->server"
S2C = "server->client"
_ARROWS = {C2S: "C->S", S2C: "S->C"}       # the text form's narrow column
PREVIEW_BYTES = 48


def preview(data: bytes, n: int = PREVIEW_BYTES) -> str:
    text = "".join(chr(b) if 32 <= b < 127 else "." for b in data[:n])
    return text + ("..." if len(data) > n else "")


@dataclass
class JournalRecord:
    index: int
    direction: str
    epoch: int
    seq: int
    content_type: str
    version: str
    length: int
    stream_offset: int
    protection: str = "plaintext"
    checks: list[Check] = field(default_factory=list)
    handshake: list[str] = field(default_factory=list)
    app_data: dict | None = None
    alert: dict | None = None
    notes: list[str] = field(default_factory=list)
    alternatives: list[dict] = field(default_factory=list)
    error: str | None = None
    raw: bytes = field(default=b"", repr=False)      # header + fragment as received, kept for a failed record
    fingerprint: bytes = field(default=b"", repr=False, compare=False)   # SHA-256 of the received bytes

    @property
    def ok(self) -> bool:
        return self.error is None and all(c.ok for c in self.checks)

    @property
    def end_offset(self) -> int:
        return self.stream_offset + self.length + 5

    def failed_checks(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def set_app_data(self, data: bytes) -> None:
        self.app_data = {"length": len(data), "sha256": hashlib.sha256(data).hexdigest(), "preview": preview(data)}

    def to_dict(self) -> dict:
        out = {
            "index": self.index, "direction": self.direction, "epoch": self.epoch, "seq": self.seq,
            "content_type": self.content_type, "version": self.version, "length": self.length,
            "stream_offset": self.stream_offset, "protection": self.protection, "ok": self.ok,
            "checks": [c.to_dict() for c in self.checks],
        }
        if self.handshake:
            out["handshake"] = list(self.handshake)
        if self.app_data is not None:
            out["app_data"] = dict(self.app_data)
        if self.alert is not None:
            out["alert"] = dict(self.alert)
        if self.notes:
            out["notes"] = list(self.notes)
        if self.alternatives:
            out["alternatives"] = [dict(a) for a in self.alternatives]
        if self.error is not None:
            out["error"] = self.error
        if not self.ok:
            out["raw_hex"] = self.raw.hex()
        return out

    def summary(self) -> str:
        parts = []
        if self.handshake:
            parts.append(", ".join(self.handshake))
        if self.app_data is not None:
            parts.append(f"{self.app_data['length']} B sha256 {self.app_data['sha256'][:16]} \"{self.app_data['preview'][:24]}\"")
        if self.alert is not None:
            parts.append(f"alert {self.alert['level']} {self.alert['description']}")
        if self.content_type == "change_cipher_spec" and self.ok:
            parts.append("ChangeCipherSpec")
        if not self.ok:
            failed = [c.name for c in self.failed_checks()]
            parts.append("FAILED " + (", ".join(failed) if failed else (self.error or "")))
        return "; ".join(parts)


@dataclass(frozen=True)
class JournalLimits:
    """What one connection's journal keeps at most (the defaults hold a 1 MiB upload many times over)."""

    stream_bytes: int = 16 << 20     # client->server bytes kept while the connection is open
    after_end_bytes: int = 64 << 10  # kept after it ended (context after the failed record)
    records: int = 10_000            # records kept in detail; later accepted ones are counted only
    events: int = 1_000


DEFAULT_LIMITS = JournalLimits()


@dataclass
class Journal:
    name: str = "session"
    records: list[JournalRecord] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    info: dict = field(default_factory=dict)
    rx_stream: bytearray = field(default_factory=bytearray, repr=False)   # client->server bytes as received (a prefix)
    tx_bytes: int = 0
    limits: JournalLimits = DEFAULT_LIMITS
    bytes_received: int = 0           # every client->server byte, kept or not
    records_received: int = 0         # every client->server record, kept or not
    records_not_kept: int = 0
    events_not_kept: int = 0

    # which method takes which trace event (by name: bound methods stored on the instance would make
    # every journal a reference cycle, freed only by the cycle collector)
    HANDLERS: ClassVar[dict[type, str]] = {
        trace.Started: "_on_started",
        trace.BytesReceived: "_on_bytes",
        trace.StateChanged: "_on_state",
        trace.StreamEnded: "_on_stream_ended",
        trace.RecordReceived: "_on_record_received",
        trace.RecordChecked: "_on_checked",
        trace.MistakesTried: "_on_mistakes",
        trace.HandshakeMessageReceived: "_on_handshake_message",
        trace.ApplicationDataReceived: "_on_application_data",
        trace.Note: "_on_note",
        trace.RecordDone: "_on_record_done",
        trace.RecordSent: "_on_record_sent",
        trace.ClientAlert: "_on_client_alert",
        trace.FatalAlertSent: "_on_fatal_alert_sent",
        trace.ClientHelloParsed: "_on_client_hello",
        trace.VersionChosen: "_on_version",
        trace.IdentityChosen: "_on_identity",
        trace.SessionNegotiated: "_on_session",
        trace.HandshakeFinished: "_on_handshake_finished",
    }

    def __post_init__(self) -> None:
        self._current: JournalRecord | None = None   # the received record being processed
        self._ended = False
        self._stream_complete = True                 # rx_stream holds every byte received so far
        self._after_end_kept = 0
        self._ignored_after_end = 0
        self._limits_reached: set[str] = set()

    # --- observing the server ----------------------------------------------------------------
    def observe(self, event) -> None:
        handler = self.HANDLERS.get(type(event))
        if handler is not None:
            getattr(self, handler)(event)

    def _on_started(self, e: trace.Started) -> None:
        self.info["policy"] = e.policy

    def _on_bytes(self, e: trace.BytesReceived) -> None:
        data = e.data
        self.bytes_received += len(data)
        if self._ended:
            self._ignored_after_end += len(data)
            if data:
                self.info["ignored_after_close"] = self._ignored_after_end
            room = self.limits.after_end_bytes - self._after_end_kept
            what = (f"the connection is over: the journal keeps {self.limits.after_end_bytes} bytes that arrived "
                    "after its end and counts the rest")
        else:
            room = self.limits.stream_bytes - len(self.rx_stream)
            what = (f"the journal keeps the first {self.limits.stream_bytes} bytes of the client's stream and "
                    "counts the rest")
        keep = data if len(data) <= room else data[:max(0, room)]
        if self._stream_complete:
            self.rx_stream += keep
            if self._ended:
                self._after_end_kept += len(keep)
        if len(keep) < len(data):
            self._stream_complete = False
            self._limit_reached("stream", what)

    def _on_state(self, e: trace.StateChanged) -> None:
        if e.new == "closed":
            self._ended = True

    def _on_stream_ended(self, e: trace.StreamEnded) -> None:
        self._current = None
        if e.truncated is not None:
            self.event("truncated", e.truncated)
        else:
            self.event("eof", f"the client closed TCP without close_notify in state {e.state}")

    def _on_record_received(self, e: trace.RecordReceived) -> None:
        record = JournalRecord(index=e.index, direction=C2S, epoch=e.epoch, seq=e.seq, content_type=e.content_type,
                               version=e.version, length=e.length, stream_offset=e.stream_offset,
                               protection=e.protection, raw=e.raw, error=e.error)
        record.fingerprint = hashlib.sha256(e.raw).digest()
        self.records_received += 1
        self._current = record
        self.records.append(record)

    def _on_checked(self, e: trace.RecordChecked) -> None:
        self._current.checks.extend(e.checks)

    def _on_mistakes(self, e: trace.MistakesTried) -> None:
        self._current.alternatives = [dict(a) for a in e.alternatives]
        matched = [a for a in e.alternatives if a["matched"]]
        if matched:
            self._current.notes.append("the failure matches: " + matched[0]["hypothesis"])

    def _on_handshake_message(self, e: trace.HandshakeMessageReceived) -> None:
        self._current.handshake.append(e.name)

    def _on_application_data(self, e: trace.ApplicationDataReceived) -> None:
        self._current.set_app_data(e.data)

    def _on_note(self, e: trace.Note) -> None:
        self._current.notes.append(e.text)

    def _on_record_done(self, e: trace.RecordDone) -> None:
        record, self._current = self._current, None
        if record is None or not record.ok:
            return
        record.raw = b""              # an accepted record's bytes are in the stream; its fingerprint stays
        if len(self.records) > self.limits.records and record.alert is None:
            self._drop(record)

    def _drop(self, record: JournalRecord) -> None:
        for i in range(len(self.records) - 1, -1, -1):
            if self.records[i] is record:
                del self.records[i]
                break
        self.records_not_kept += 1
        self._limit_reached("records", f"the journal keeps {self.limits.records} records in detail; from record "
                                       f"#{record.index} on it counts accepted records without alerts instead")

    def _on_record_sent(self, e: trace.RecordSent) -> None:
        self.tx_bytes = e.stream_offset + 5 + e.length
        record = JournalRecord(index=e.index, direction=S2C, epoch=e.epoch, seq=e.seq, content_type=e.content_type,
                               version=e.version, length=e.length, stream_offset=e.stream_offset,
                               protection=e.protection, handshake=list(e.handshake), notes=list(e.notes))
        if e.app_data is not None:
            record.set_app_data(e.app_data)
        if e.alert is not None:
            record.alert = dict(e.alert)
        if len(self.records) >= self.limits.records and record.alert is None:
            self.records_not_kept += 1
            self._limit_reached("records", f"the journal keeps {self.limits.records} records in detail; from record "
                                           f"#{record.index} on it counts accepted records without alerts instead")
            return
        self.records.append(record)

    def _on_client_alert(self, e: trace.ClientAlert) -> None:
        self._current.alert = {"level": e.level, "description": e.description, "sent": False,
                               "reason": f"received from the client in state {e.state}"}
        self.event("alert_received", f"{e.level} {e.description} in state {e.state}", alert=e.description)

    def _on_fatal_alert_sent(self, e: trace.FatalAlertSent) -> None:
        if e.ends_record and self._current is not None and self._current.error is None:
            self._current.error = e.reason
        if e.ends_record:
            self._current = None
        self.event("fatal_alert_sent", f"{e.description}: {e.reason}", alert=e.description)

    def _on_client_hello(self, e: trace.ClientHelloParsed) -> None:
        self._current.notes.append(f"ClientHello: client_version {e.client_version}, {len(e.cipher_suites)} suites, "
                                   f"extensions [{', '.join(e.extensions)}]" + (f", SNI {e.sni}" if e.sni else ""))
        info = self.info
        info["client_version"] = e.client_version
        info["client_random"] = e.random.hex()
        info["offered_suites"] = list(e.cipher_suites)
        info["offered_extensions"] = list(e.extensions)
        if e.sni is not None:
            info["sni"] = e.sni

    def _on_version(self, e: trace.VersionChosen) -> None:
        self.info["server_random"] = e.server_random.hex()
        self.info["version"] = e.version

    def _on_identity(self, e: trace.IdentityChosen) -> None:
        self.info["identity"] = dict(e.identity)
        self.event("identity", e.why, source=e.identity.get("source"), leaf_kind=e.identity.get("kind"),
                   host=e.identity.get("host"), fits=e.identity.get("fits"))

    def _on_session(self, e: trace.SessionNegotiated) -> None:
        info = self.info
        info["suite"] = e.suite
        info["resumed"] = e.resumed
        if e.group is not None:
            info["group"] = e.group
        info["extended_master_secret"] = e.extended_master_secret
        info["encrypt_then_mac"] = e.encrypt_then_mac
        info["truncated_hmac"] = e.truncated_hmac
        if e.max_fragment_length is not None:
            info["max_fragment_length"] = e.max_fragment_length
        if e.session_id:
            info["session_id"] = e.session_id.hex()

    def _on_handshake_finished(self, e: trace.HandshakeFinished) -> None:
        text = (f"{e.version} {e.suite}" + (" resumed" if e.resumed else "") + (f" {e.group}" if e.group else "")
                + (" EMS" if e.extended_master_secret else "") + (" EtM" if e.encrypt_then_mac else "")
                + (" truncated-HMAC" if e.truncated_hmac else ""))
        self.event("handshake_complete", text)

    def _limit_reached(self, which: str, text: str) -> None:
        if which not in self._limits_reached:
            self._limits_reached.add(which)
            self.events.append({"event": "journal_limit", "text": text})

    # --- reading -------------------------------------------------------------------------------
    def event(self, kind: str, text: str, **extra) -> None:
        if len(self.events) >= self.limits.events:
            self.events_not_kept += 1
            self._limit_reached("events", f"the journal keeps {self.limits.events} events and counts the rest")
            return
        entry = {"event": kind, "text": text}
        entry.update(extra)
        self.events.append(entry)

    @property
    def stream_complete(self) -> bool:
        """Whether `rx_stream` holds every byte the client sent (no limit was reached)."""
        return self._stream_complete

    def records_from(self, direction: str) -> list[JournalRecord]:
        return [r for r in self.records if r.direction == direction]

    def first_failure(self) -> JournalRecord | None:
        return next((r for r in self.records if r.direction == C2S and not r.ok), None)

    def alerts(self) -> list[dict]:
        return [dict(r.alert, index=r.index, direction=r.direction) for r in self.records if r.alert]

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "info": dict(self.info),
            "bytes": self._byte_counts(),
            "records": [r.to_dict() for r in self.records],
            "events": [dict(e) for e in self.events],
        }

    def _byte_counts(self) -> dict:
        out = {"client_to_server": self.bytes_received, "server_to_client": self.tx_bytes}
        if not self._stream_complete:
            out["client_to_server_kept"] = len(self.rx_stream)
        if self.records_not_kept:
            out["records_not_kept"] = self.records_not_kept
        if self.events_not_kept:
            out["events_not_kept"] = self.events_not_kept
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1) + "\n"

    def to_text(self) -> str:
        lines = [f"TLS record journal: {self.name}"]
        lines += [f"  {line}" for line in self._info_lines()]
        header = f"{'#':>4}  {'dir':<4}  {'ep':>2}  {'seq':>4}  {'type':<18}  {'ver':<6}  {'len':>5}  {'stream@':>8}  {'ok':<4}  summary"
        lines.append(header)
        lines.append("-" * len(header))
        for r in self.records:
            lines.append(f"{r.index:>4}  {_ARROWS.get(r.direction, r.direction):<4}  {r.epoch:>2}  {r.seq:>4}  {r.content_type:<18}  "
                         f"{r.version:<6}  {r.length:>5}  {r.stream_offset:>8}  {'ok' if r.ok else 'FAIL':<4}  "
                         f"{r.summary()}")
            if not r.ok:
                for c in r.checks:
                    text = f"{c.name}: {'ok' if c.ok else 'FAILED'}"
                    if c.detail:
                        text += f" ({c.detail})"
                    lines.append(f"{'':8}{text}")
                    if not c.ok and (c.expected or c.received):
                        lines.append(f"{'':10}expected {c.expected}")
                        lines.append(f"{'':10}received {c.received}")
                if r.error:
                    lines.append(f"{'':8}error: {r.error}")
            if r.alert is not None and r.alert.get("reason"):
                lines.append(f"{'':8}alert {'sent' if r.alert.get('sent') else 'received'}: {r.alert['reason']}")
            for note in r.notes:
                lines.append(f"{'':8}{note}")
            for alt in r.alternatives:
                verdict = "MATCHES" if alt["matched"] else "no"
                lines.append(f"{'':8}tried: {alt['hypothesis']}: {verdict}")
        if self.events:
            lines.append("")
            lines.append("events:")
            for e in self.events:
                lines.append(f"  {e['event']}: {e['text']}")
        return "\n".join(lines) + "\n"


    def _info_lines(self) -> list[str]:
        i = self.info
        out = []
        if "suite" in i:
            flags = [f"EMS {'on' if i.get('extended_master_secret') else 'off'}"]
            if "CBC" in i["suite"]:
                flags.append(f"encrypt-then-MAC {'on' if i.get('encrypt_then_mac') else 'off'}")
            if i.get("truncated_hmac"):
                flags.append("truncated HMAC")
            if i.get("max_fragment_length"):
                flags.append(f"max_fragment_length {i['max_fragment_length']}")
            out.append(f"negotiated: {i.get('version')} {i['suite']}" + (f" {i['group']}" if i.get("group") else "")
                       + (" (resumed)" if i.get("resumed") else "") + "; " + ", ".join(flags))
        if "client_version" in i:
            out.append(f"client: max {i['client_version']}" + (f", SNI {i['sni']}" if i.get("sni") else "")
                       + f", {len(i.get('offered_suites', []))} suites offered, extensions "
                       + "[" + ", ".join(i.get("offered_extensions", [])) + "]")
        if "client_random" in i:
            out.append(f"client_random {i['client_random']}")
        if "server_random" in i:
            out.append(f"server_random {i['server_random']}")
        if "session_id" in i:
            out.append(f"session_id {i['session_id']}")
        identity = i.get("identity")
        if identity:
            leaf = identity["chain"][0]
            out.append(f"identity: {identity['leaf_key']} leaf for {identity['host']} "
                       f"[{', '.join(identity['subject_alt_names'])}] under {identity['issuer_label']!r} "
                       f"({identity['source']}; chain of {len(identity['chain'])}, leaf sha256 {leaf['sha256'][:16]})")
        p = i.get("policy")
        if p:
            out.append(f"policy: {', '.join(p['versions'])}; {len(p['suites'])} suites; groups {', '.join(p['groups'])}; "
                       f"EtM {'on' if p['encrypt_then_mac'] else 'off'}, EMS {'on' if p['extended_master_secret'] else 'off'}, "
                       f"truncated_hmac {'on' + (' (PolarSSL key layout)' if p['truncated_hmac_compat'] else '') if p['truncated_hmac'] else 'off'}, "
                       f"record size {p['record_size']}, "
                       + ("RSA or ECDSA certificate" if p["cert"] == "any" else f"{p['cert'].upper()} certificate"))
        if i.get("ignored_after_close"):
            out.append(f"{i['ignored_after_close']} bytes arrived after the connection was over (not processed)")
        return out
