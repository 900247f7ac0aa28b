"""Evidence: everything a run shows about why it failed, as one JSON-shaped dict the classifier
reads (causes.py) - and nothing that names the firmware or the scenario it came from.

    outcome     what the firmware printed (status, error, the alert it read)
    journal     the peer's record journal: the failed record and its neighbours, the negotiation,
                the mistakes the peer tried, the application data it received
    stream      what the TLS layer handed to TCP against what the server received (stream.py),
                with the record-level diagnosis' location of the first change
    capture     retransmissions and their payloads, link faults (capture.py)
    calls       the firmware's calls of mbedtls_ssl_write, the BIO send callback, lwip_send and
                tcp_write, each with its task (probes.py)
    provenance  (replays only) who last wrote the bytes that matter (provenance_facts.py)
"""

from __future__ import annotations

from sim.tls.journal import C2S

from .capture import capture_facts
from .probes import CallProbes
from .stream import compare_streams

GCM_NONCE = 8                 # TLS 1.2 AES-GCM explicit nonce (RFC 5288 §3)
RECORDS_KEPT = 400            # client records described around the failure (bounded evidence)


def failing_session(step):
    """The TLS session a step's diagnosis is about (the one with a failed record or an alert)."""
    failing = [s for s in step.sessions if s.journal.first_failure() is not None
               or any(str(a.get("level")) == "fatal" for a in s.journal.alerts())]
    if failing:
        return failing[0]
    return step.sessions[0] if step.sessions else None


def collect_evidence(runner, step, probes: CallProbes | None) -> dict:
    """The evidence of one finished step of a shell-driven run."""
    session = failing_session(step)
    evidence: dict = {"outcome": _outcome(step, getattr(runner.result, "error", None)), "journal": {}, "stream": {},
                      "capture": {}, "calls": {}, "provenance": None}
    if session is not None:
        journal = session.journal
        evidence["journal"] = journal_facts(journal)
        if step.device_sent:
            evidence["stream"] = compare_streams(step.device_sent, bytes(journal.rx_stream))
            evidence["stream"]["complete"] = journal.stream_complete
            diagnosis = step.diagnosis
            if diagnosis is not None and diagnosis.difference:
                evidence["stream"]["difference"] = _difference(diagnosis.difference)
        conn = session.conn
        if conn is not None:
            (_, device_port), (_, peer_port) = conn.remote_address, conn.local_address
            evidence["capture"] = capture_facts(runner.link, device_port, peer_port, bytes(step.device_sent) or None)
    if probes is not None:
        evidence["calls"] = calls_facts(probes)
    return evidence


FAULT_LINES = ("panic:", "hardfault:")         # what our images print when they stop (firmware/board/fault.c)


def _outcome(step, error: str | None) -> dict:
    status = next((line for line in reversed(step.uart_lines) if ": ok" in line or ": error" in line), None)
    stopped = None
    if error and "the firmware stopped" in error:
        stopped = next((line.strip() for line in error.splitlines() if line.strip() and "firmware stopped" not in line),
                       error.splitlines()[0])
    return {"ok": step.ok, "outcome": step.outcome, "status_line": status, "finished": step.finished,
            "stopped": stopped, "fault_lines": [line for line in step.uart_lines if line.startswith(FAULT_LINES)][:6],
            "error_where": step.error_where,
            "error_code": step.error_code, "peer_alerts": [a.get("description") for a in step.alerts_sent_by_peer
                                                          if a.get("level") == "fatal"],
            "written_line": next((line for line in step.uart_lines if line.startswith("Write to server:")), None)}


def journal_facts(journal) -> dict:
    info = journal.info
    stream = bytes(journal.rx_stream)
    failed = journal.first_failure()
    records = journal.records_from(C2S)
    gcm = "GCM" in (info.get("suite") or "")

    def describe(r) -> dict:
        out = {"index": r.index, "content_type": r.content_type, "epoch": r.epoch, "seq": r.seq,
               "length": r.length, "stream_offset": r.stream_offset, "ok": r.ok, "protection": r.protection}
        if r.app_data is not None:
            out["app_length"] = r.app_data["length"]
            out["app_sha256"] = r.app_data["sha256"]
        if gcm and r.protection != "plaintext" and r.stream_offset + 5 + GCM_NONCE <= len(stream):
            out["explicit_nonce"] = stream[r.stream_offset + 5:r.stream_offset + 5 + GCM_NONCE].hex()
        if not r.ok:
            out["failed_checks"] = [c.name for c in r.failed_checks()]
            out["error"] = r.error
            out["alternatives"] = [{"kind": a.get("kind"), "hypothesis": a["hypothesis"], "matched": a["matched"],
                                    **({"offset": a["offset"]} if "offset" in a else {})} for a in r.alternatives]
        return out

    around = records
    if failed is not None and len(records) > RECORDS_KEPT:
        k = records.index(failed)
        around = records[max(0, k - RECORDS_KEPT + 8):k + 8]
    facts = {
        "version": info.get("version"), "suite": info.get("suite"),
        "truncated_hmac": bool(info.get("truncated_hmac")), "encrypt_then_mac": bool(info.get("encrypt_then_mac")),
        "offered_extensions": list(info.get("offered_extensions", [])),
        "records": [describe(r) for r in around],
        "records_received": journal.records_received, "bytes_received": journal.bytes_received,
        "application_bytes": sum(r.app_data["length"] for r in records if r.app_data is not None and r.ok),
        "failed": describe(failed) if failed is not None else None,
        "fatal_alerts_sent": [r.alert["description"] for r in journal.records
                              if r.alert and r.alert.get("sent") and r.alert.get("level") == "fatal"],
        "fatal_alerts_received": [r.alert["description"] for r in journal.records
                                  if r.alert and not r.alert.get("sent") and r.alert.get("level") == "fatal"],
    }
    if failed is not None:
        k = records.index(failed)
        facts["previous"] = describe(records[k - 1]) if k > 0 else None
    return facts


def _difference(difference: dict) -> dict:
    """The record-level diagnosis' account of the first change (sim.tls.diagnosis)."""
    keep = ("first_offset", "client_record", "record_stream_offset", "offset_in_record", "record_part",
            "location", "pattern_summary", "common")
    out = {k: difference[k] for k in keep if k in difference}
    pattern = difference.get("pattern") or {}
    out["pattern"] = {k: v for k, v in pattern.items() if k in ("kind", "shift", "start", "length", "text")}
    out["regions"] = [{"offset": r["offset"], "summary": r["summary"], "location": r.get("location") or {}}
                      for r in difference.get("regions", [])[:8]]
    return out


def calls_facts(probes: CallProbes) -> dict:
    """Each role's calls (JSON-shaped), with the stream offsets of the BIO send calls."""
    out: dict[str, list[dict]] = {}
    offsets: dict[int, int] = {}          # by BIO context: bytes accepted so far
    for kind, call in probes.events:
        if kind == "return" and call.role == "bio_send":
            start = offsets.get(call.args[0], 0)
            call.state["stream_offset"] = start
            offsets[call.args[0]] = start + max(0, call.result or 0)
    for call in probes.calls:
        if call.role == "bio_set":
            continue
        out.setdefault(call.role, []).append(call.to_dict())
    return out
