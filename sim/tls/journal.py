"""The record journal: every record in both directions, with the outcome of every check.

One `Journal` per TLS connection. `records` holds one `JournalRecord` per record (index, direction,
epoch, sequence number, content type, version, length, the stream offset of its first header byte,
checks, handshake message types, application-data digest and preview, alerts with their reason,
and for a failed MAC/tag the client mistakes that were tried). `to_json()` is deterministic (fixed
key order); `to_text()` is one aligned line per record plus indented detail lines for failures.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

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
    raw: bytes = field(default=b"", repr=False)      # header + fragment as on the wire (not in JSON)

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


@dataclass
class Journal:
    name: str = "session"
    records: list[JournalRecord] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    info: dict = field(default_factory=dict)
    rx_stream: bytearray = field(default_factory=bytearray, repr=False)   # client->server bytes as received
    tx_bytes: int = 0

    def add(self, **fields) -> JournalRecord:
        record = JournalRecord(index=len(self.records), **fields)
        self.records.append(record)
        return record

    def event(self, kind: str, text: str, **extra) -> None:
        entry = {"event": kind, "text": text}
        entry.update(extra)
        self.events.append(entry)

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
            "bytes": {"client_to_server": len(self.rx_stream), "server_to_client": self.tx_bytes},
            "records": [r.to_dict() for r in self.records],
            "events": [dict(e) for e in self.events],
        }

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
        p = i.get("policy")
        if p:
            out.append(f"policy: {', '.join(p['versions'])}; {len(p['suites'])} suites; groups {', '.join(p['groups'])}; "
                       f"EtM {'on' if p['encrypt_then_mac'] else 'off'}, EMS {'on' if p['extended_master_secret'] else 'off'}, "
                       f"truncated_hmac {'on' + (' (PolarSSL key layout)' if p['truncated_hmac_compat'] else '') if p['truncated_hmac'] else 'off'}, "
                       f"record size {p['record_size']}, {p['cert'].upper()} certificate")
        if i.get("ignored_after_close"):
            out.append(f"{i['ignored_after_close']} bytes arrived after the connection was over (not processed)")
        return out
