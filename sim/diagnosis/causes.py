"""Name the cause class of a failed run from its evidence (collect.py), and say what proves it.

`classify(evidence)` is a pure function of the evidence dict: it never sees the firmware's name
or the scenario, so what it says follows from what the run showed. The rules are tried in a
fixed order, most specific proof first:

 1. truncated_hmac            the failed record verifies under the pre-RFC 6066 truncated-HMAC keys
 2. protocol_mistake          ... or under another known client mistake (not a sequence offset)
 3. retransmission_mismatch   a retransmitted segment differs from its first transmission
 4. missing_stream_bytes      the received stream is what the TLS layer produced with stretches
                              missing (or repeated), nothing altered
 5. transport_corruption      the received stream has bytes the TLS layer did not produce there
 6. concurrent_writers        two tasks inside mbedtls_ssl_write on one context at the same time
 7. memory_corruption         a write outside the record layer's own (the writer's stack pointer
                              outside its task's stack, exception stacking, DMA) hit the TLS
                              context before the failed record
 8. firmware_fault            the firmware stopped (a fault, a panic) before any record failed
 9. record_layer_state        the bytes arrived as produced, but the record's sequence number
                              (or nonce, key) disagrees with what the previous records prove
10. missing_stream_bytes      (again, one layer up) every record verified, but application bytes
                              counted as written are in no record (a call after WANT_WRITE with
                              other arguments)
11. unexplained               failed, and none of the above holds

Each `Cause` carries its key evidence line first (what a test or a person checks), then the
lines that support it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import quote
from .classes import cause_class

TRUNCATED = ("truncated_hmac_key", "truncated_hmac_rfc_keys", "truncated_hmac")
WANT_WRITE, WANT_READ = -0x6880, -0x6900


@dataclass
class Cause:
    key: str
    evidence: list[str] = field(default_factory=list)      # the key line first

    @property
    def title(self) -> str:
        return cause_class(self.key).title

    @property
    def key_line(self) -> str:
        return self.evidence[0] if self.evidence else ""

    def to_dict(self) -> dict:
        c = cause_class(self.key)
        return {"class": self.key, "title": c.title, "meaning": c.meaning, "look_at": c.look_at,
                "evidence": list(self.evidence)}


def classify(evidence: dict) -> Cause:
    outcome = evidence.get("outcome") or {}
    journal = evidence.get("journal") or {}
    failed = journal.get("failed")
    if outcome.get("ok") and failed is None and not journal.get("fatal_alerts_sent"):
        return Cause("none", ["the request succeeded and every record verified"])
    for rule in (_truncated_hmac, _protocol_mistake, _retransmission, _stream, _concurrent, _memory,
                 _firmware_fault, _record_state, _application_data):
        cause = rule(evidence)
        if cause is not None:
            return cause
    what = outcome.get("status_line") or outcome.get("outcome") or "the run failed"
    lines = [f"{what}: no evidence fits a known cause"]
    if failed is not None:
        lines.append(f"the server rejected {_record(failed)}; its bytes arrived as the TLS layer produced them"
                     if (evidence.get("stream") or {}).get("relation") in ("equal", "received_prefix") else
                     f"the server rejected {_record(failed)}")
    return Cause("unexplained", lines)


# --- the rules -----------------------------------------------------------------------------------------------
def _record(r: dict) -> str:
    return f"record #{r['index']} ({r['content_type']}, epoch {r['epoch']} seq {r['seq']})"


def _matched(failed: dict | None) -> list[dict]:
    return [a for a in (failed or {}).get("alternatives", []) if a.get("matched")]


def _truncated_hmac(e: dict) -> Cause | None:
    journal = e.get("journal") or {}
    failed = journal.get("failed")
    match = next((a for a in _matched(failed) if a.get("kind") in TRUNCATED), None)
    if match is None:
        return None
    lines = [f"the client's {_record(failed)} verifies only if {match['hypothesis']}"]
    if journal.get("truncated_hmac"):
        lines.append("truncated_hmac (RFC 6066 §7) was offered and accepted, and the suite is "
                     f"{journal.get('suite')} (a CBC suite: its records carry an HMAC)")
    if failed.get("seq") == 0 and failed.get("epoch") == 1:
        lines.append("it is the client's first protected record: the keys disagreed from the start, whatever "
                     "the request")
    return Cause("truncated_hmac", lines)


def _protocol_mistake(e: dict) -> Cause | None:
    failed = (e.get("journal") or {}).get("failed")
    match = next((a for a in _matched(failed) if a.get("kind") not in TRUNCATED + ("seq_offset",)), None)
    if match is None:
        return None
    return Cause("protocol_mistake", [f"the client's {_record(failed)} verifies only if {match['hypothesis']}"])


def _retransmission(e: dict) -> Cause | None:
    capture = e.get("capture") or {}
    differing = [r for r in capture.get("retransmissions", []) if r.get("differing_bytes")]
    if not differing:
        return None
    r = differing[0]
    lost = " (lost on the link)" if r.get("original_role") == "sent" else ""
    lines = [f"the TCP segment at stream offset {r['stream_offset']} ({r['length']} bytes) was retransmitted with "
             f"{r['differing_bytes']} bytes different from its first transmission (first at +{r['first_differing']}): "
             f"frame {r['original_frame']} at {quote.ms(r['original_time_ns'])}{lost}, "
             f"frame {r['retransmission_frame']} at {quote.ms(r['retransmission_time_ns'])}"]
    if r.get("original_as_handed"):
        lines.append("the first transmission carried exactly what the TLS layer had handed over; "
                     "the retransmission does not")
    sends = (e.get("calls") or {}).get("bio_send", [])
    handed_at = r.get("retransmitted_bytes_handed_at")
    if handed_at is not None:
        text = (f"the retransmitted bytes are what the TLS layer handed over later, at stream offset {handed_at}")
        orig = _send_at(sends, r["stream_offset"])
        later = _send_at(sends, handed_at)
        if orig is not None and later is not None:
            a = orig["args"][1] + (r["stream_offset"] - orig["stream_offset"])
            b = later["args"][1] + (handed_at - later["stream_offset"])
            if a == b:
                text += (f", from the same address {quote.hx(a)} (send callback call #{later['index']} at "
                         f"{quote.ms(later['entered_ns'])})")
                if r.get("acked_ns") is None or later["entered_ns"] < r["acked_ns"]:
                    text += (": the buffer was rewritten before the segment was acknowledged"
                             + (f" (ACK at {quote.ms(r['acked_ns'])})" if r.get("acked_ns") is not None else ""))
        lines.append(text)
    tcp_writes = (e.get("calls") or {}).get("tcp_write", [])
    if tcp_writes and all(not (c["args"][3] & 1) for c in tcp_writes):
        lines.append(f"every tcp_write() call ({len(tcp_writes)}) passed apiflags without TCP_WRITE_FLAG_COPY "
                     "(0x01): lwIP kept pointers into the caller's buffer")
    for p in (e.get("provenance") or {}).get("retransmitted_bytes", [])[:1]:
        lines.append(f"provenance: the source bytes at {quote.hx(p['address'])} held {p['bytes_at_original']} when "
                     f"the segment first went out ({quote.ms(p['original_sent_ns'])}) and "
                     f"{p['bytes_at_retransmission']} when it was retransmitted ({quote.ms(p['retransmitted_ns'])})")
        lines += ["provenance: " + s for s in quote.spans(p["spans"], "source bytes")]
    return Cause("retransmission_mismatch", lines)


def _send_at(sends: list[dict], offset: int) -> dict | None:
    return next((c for c in sends if c.get("stream_offset") is not None and c.get("result")
                 and c["stream_offset"] <= offset < c["stream_offset"] + c["result"]), None)


def _stream(e: dict) -> Cause | None:
    stream = e.get("stream") or {}
    relation = stream.get("relation")
    if relation in ("missing", "repeated", "missing_and_repeated"):
        return _missing(e, stream)
    if relation == "altered":
        return _altered(e, stream)
    return None


def _missing(e: dict, stream: dict) -> Cause:
    events = stream["events"]
    first = events[0]
    total = sum(ev["length"] for ev in events if ev["kind"] == "missing")
    what = "never reached the server" if first["kind"] == "missing" else "reached the server twice"
    lines = [f"{first['length']} bytes the TLS layer handed to the send callback {what}: stream offset "
             f"{first['sent_offset']}-{first['sent_offset'] + first['length'] - 1}; every byte before and after "
             f"arrived as produced"]
    if len(events) > 1:
        lines.append(f"{len(events)} such stretches, {total} bytes missing in all")
    calls = e.get("calls") or {}
    sends = calls.get("bio_send", [])
    socket = calls.get("socket_send", [])
    send = _send_at(sends, first["sent_offset"]) or _send_at(sends, max(0, first["sent_offset"] - 1))
    if send is not None:
        inner = [c for c in socket if send["entered_ns"] <= c["entered_ns"] <= (send["returned_ns"] or 1 << 62)]
        short = [c for c in inner if c["result"] is not None and 0 <= c["result"] < c["args"][2]]
        line = (f"send callback call #{send['index']} was handed {send['args'][2]} bytes and returned "
                f"{send['result']}")
        if short:
            c = short[0]
            line += (f", although lwip_send() took only {c['result']} of its {c['args'][2]} bytes "
                     f"(flags 0x{c['args'][3]:x}): the callback reported bytes the socket did not take")
        lines.append(line)
    if not (e.get("capture") or {}).get("faults"):
        lines.append("no fault on the link, and no retransmission differs: TCP delivered what it was given")
    return Cause("missing_stream_bytes", lines)


def _altered(e: dict, stream: dict) -> Cause:
    diff = stream.get("difference") or {}
    loc = diff.get("location") or {}
    first = stream["events"][0]
    where = f"stream offset {diff.get('first_offset', first['sent_offset'])}"
    if loc.get("frame") is not None:
        where += (f", TCP segment {loc.get('segment')}, Ethernet frame {loc['frame']} at frame offset "
                  f"{loc['frame_offset']}")
    if loc.get("dma_buffer") is not None:
        where += f", TX DMA buffer {loc['dma_buffer']} at buffer offset {loc.get('dma_buffer_offset')}"
    lines = [f"bytes changed between the TLS layer and the wire at {where}"
             + (f": {diff['pattern_summary']}" if diff.get("pattern_summary") else "")]
    if diff.get("common"):
        lines.append(f"{len(diff.get('regions', []))} changed regions, every one alike: {diff['common']}")
    capture = e.get("capture") or {}
    if not capture.get("retransmissions"):
        lines.append("the changed frames were first transmissions (nothing was retransmitted) and TCP accepted "
                     "them: the bytes were wrong before the checksums were computed")
    prov = e.get("provenance") or {}
    for place in prov.get("changed_bytes", [])[:2]:
        lines += ["provenance: " + s for s in quote.spans(place["spans"],
                                                           f"frame {place['frame']} offset {place['frame_offset']}:")]
    return Cause("transport_corruption", lines)


def _overlaps(writes: list[dict]) -> list[tuple[dict, dict]]:
    """(outer, inner): a call entered while another task's call on the same context was open."""
    out = []
    for inner in writes:
        for outer in writes:
            if outer is inner or outer["args"][0] != inner["args"][0]:
                continue
            if (outer.get("task") or {}).get("tcb") == (inner.get("task") or {}).get("tcb"):
                continue
            end = outer["returned_ns"] if outer["returned_ns"] is not None else 1 << 62
            if outer["entered_ns"] < inner["entered_ns"] < end:
                out.append((outer, inner))
    return out


def _concurrent(e: dict) -> Cause | None:
    writes = (e.get("calls") or {}).get("tls_write", [])
    overlaps = _overlaps(writes)
    if not overlaps:
        return None
    journal = e.get("journal") or {}
    failed = journal.get("failed")
    if failed is None and not _lost_application_bytes(e):
        return None
    outer, inner = overlaps[0]
    lines = [f"{quote.task(inner)} called mbedtls_ssl_write on context {quote.hx(inner['args'][0])} "
             f"({inner['args'][2]} bytes) at {quote.ms(inner['entered_ns'])} while {quote.task(outer)}'s call "
             f"({outer['args'][2]} bytes, entered at {quote.ms(outer['entered_ns'])}) had not returned"]
    pairs = {(quote.task(o), quote.task(i)) for o, i in overlaps}
    lines.append(f"{len(overlaps)} overlapping call(s) in the run, between " +
                 "; ".join(f"{i} inside {o}" for o, i in sorted(pairs)))
    previous = journal.get("previous")
    if failed is not None:
        text = f"the server rejected {_record(failed)}"
        if previous is not None and previous.get("explicit_nonce") and previous.get("explicit_nonce") == \
                failed.get("explicit_nonce"):
            text += (f"; the record before it, {_record(previous)}, carries the same explicit nonce "
                     f"{failed['explicit_nonce']}: two records protected under one sequence number")
        lines.append(text)
    counter = ((e.get("provenance") or {}).get("tls_state") or {}).get("counter") or {}
    inner_task = (inner.get("task") or {}).get("name")
    end = outer["returned_ns"] if outer["returned_ns"] is not None else 1 << 62
    for change in counter.get("changes", []):
        w = change["writer"]
        if w.get("task") == inner_task and outer["entered_ns"] <= w["time_ns"] <= end:
            lines.append(f"provenance: {counter['field']} was set to {change['value']} by {quote.writer(w)}, while "
                         f"{quote.task(outer)}'s call was building its record on the same context")
            break
    return Cause("concurrent_writers", lines)


def _failure_time(e: dict) -> int | None:
    """When the failed record was handed to the send callback (its construction ended)."""
    failed = (e.get("journal") or {}).get("failed")
    if failed is None:
        return None
    send = _send_at((e.get("calls") or {}).get("bio_send", []), failed["stream_offset"])
    return send["entered_ns"] if send is not None else None


def _memory(e: dict) -> Cause | None:
    state = (e.get("provenance") or {}).get("tls_state") or {}
    foreign = state.get("foreign_writes") or []
    limit = _failure_time(e)
    if limit is not None:
        foreign = [w for w in foreign if w["time_ns"] <= limit]
    if not foreign:
        return None
    journal = e.get("journal") or {}
    if journal.get("failed") is None and not _stopped(e):
        return None
    counter = [w for w in foreign if "cur_out_ctr" in (w.get("field") or "")]
    w = (counter or foreign)[0]
    lines = [f"{w['field']} at {quote.hx(w['address'])} was overwritten ({w['data']}) by {quote.writer(w, pc=True)}"]
    changes = (state.get("counter") or {}).get("changes") or []
    if counter and changes:
        first = counter[0]["time_ns"]
        before = [c["value"] for c in changes if c["writer"]["time_ns"] < first]
        after = [c["value"] for c in changes if limit is None or c["writer"]["time_ns"] <= limit]
        if after:
            lines.append(f"the outgoing sequence counter went from {before[-1] if before else '?'} to {after[-1]} "
                         "by the time the failed record was handed to the send callback: not the record layer's "
                         "count (one per record)")
    fields = sorted({f"{x['field']} by {x['function']}" for x in foreign})
    more = "at least " if len(foreign) >= 8 else ""
    if len(foreign) > 1:
        lines.append(f"{more}{len(foreign)} such writes into the TLS context before the failed record: "
                     + "; ".join(fields))
    failed = journal.get("failed")
    if failed is None:
        lines.append(f"then the firmware stopped: {_stopped(e)}")
        return Cause("memory_corruption", lines)
    text = f"the server rejected {_record(failed)}"
    if failed.get("explicit_nonce"):
        text += f", whose explicit nonce is {failed['explicit_nonce']} (the counter as it was overwritten)"
    if (e.get("stream") or {}).get("relation") in ("equal", "received_prefix", "received_more"):
        text += "; its bytes reached the server exactly as the TLS layer produced them"
    lines.append(text)
    return Cause("memory_corruption", lines)


def _stopped(e: dict) -> str | None:
    """What the firmware said (or the machine reported) when it stopped, if it did."""
    outcome = e.get("outcome") or {}
    if outcome.get("fault_lines"):
        return outcome["fault_lines"][0]
    return outcome.get("stopped")


def _firmware_fault(e: dict) -> Cause | None:
    stopped = _stopped(e)
    if stopped is None or (e.get("journal") or {}).get("failed") is not None:
        return None
    lines = [f"the firmware stopped before the request ended: {stopped}"]
    outcome = e.get("outcome") or {}
    lines += [f"  {line}" for line in outcome.get("fault_lines", [])[1:4]]
    if outcome.get("stopped") and outcome.get("fault_lines"):
        lines.append(f"the machine: {outcome['stopped']}")
    return Cause("firmware_fault", lines)


def _record_state(e: dict) -> Cause | None:
    journal = e.get("journal") or {}
    failed = journal.get("failed")
    relation = (e.get("stream") or {}).get("relation")
    if failed is None or failed.get("protection") == "plaintext" or relation not in (
            "equal", "received_prefix", "received_more", None):
        return None
    previous = journal.get("previous")
    nonce = failed.get("explicit_nonce")
    expected = f"{failed['seq']:016x}"
    shift = next((a for a in _matched(failed) if a.get("kind") == "seq_offset"), None)
    if nonce is not None and nonce != expected:
        reuse = previous is not None and previous.get("explicit_nonce") == nonce
        lines = [f"{_record(failed)} was protected with sequence number {nonce} (its explicit nonce) where the "
                 f"{failed['seq']} records before it in this epoch prove {expected}"
                 + ("; the record before it used the same one" if reuse else "")]
    elif shift is not None:
        lines = [f"{_record(failed)} verifies with sequence number {failed['seq'] + shift['offset']} where the "
                 f"records before it prove {failed['seq']}"]
    else:
        if failed.get("seq", 0) == 0 or relation is None:
            return None
        lines = [f"{_record(failed)} fails its check although its bytes reached the server as the TLS layer "
                 f"produced them and the {failed['seq']} protected records before it verified: the record layer's "
                 "state (sequence number, IV or key) changed"]
    counters = [(c["index"], c.get("out_counter")) for c in (e.get("calls") or {}).get("tls_write", [])
                if c.get("out_counter")]
    jumps = [(a, b) for a, b in zip(counters, counters[1:]) if int(b[1], 16) < int(a[1], 16)
             or int(b[1], 16) - int(a[1], 16) > 64]
    if jumps:
        (i, before), (k, after) = jumps[0]
        lines.append(f"the TLS context's outgoing sequence counter read {before} at mbedtls_ssl_write call #{i} and "
                     f"{after} at call #{k}: not a count of records")
    if relation is not None:
        lines.append("the bytes arrived exactly as the TLS layer produced them (the transport is not at fault)")
    return Cause("record_layer_state", lines)


def _lost_application_bytes(e: dict) -> int:
    """Application bytes handed to mbedtls_ssl_write (a repeated call after WANT_READ/WANT_WRITE
    with the same buffer and length counted once) that are in no record the server received."""
    writes = [c for c in (e.get("calls") or {}).get("tls_write", []) if c["args"][2] > 0]
    if not writes:
        return 0
    handed = sum(c["args"][2] for k, c in enumerate(writes)
                 if not (k and writes[k - 1]["result"] in (WANT_WRITE, WANT_READ) and _same(writes[k - 1], c)))
    return handed - (e.get("journal") or {}).get("application_bytes", 0)


def _same(a: dict, b: dict) -> bool:
    """The same call again, as the contract after WANT_READ/WANT_WRITE asks: buffer, length, bytes."""
    return (a["args"][1], a["args"][2], a.get("data_sha256")) == (b["args"][1], b["args"][2], b.get("data_sha256"))


def _application_data(e: dict) -> Cause | None:
    """Missing stream bytes one layer up: the application's bytes never became records."""
    journal = e.get("journal") or {}
    if journal.get("failed") is not None:
        return None
    writes = [c for c in (e.get("calls") or {}).get("tls_write", []) if c["args"][2] > 0]
    misuse = [(a, b) for a, b in zip(writes, writes[1:]) if a["result"] in (WANT_WRITE, WANT_READ) and not _same(a, b)]
    lost = _lost_application_bytes(e)
    if lost <= 0:
        return None
    lines = [f"{lost} bytes the application handed to mbedtls_ssl_write never reached the server: they are in no "
             f"record, and every record verified ({journal.get('application_bytes', 0)} application bytes arrived)"]
    if misuse:
        a, b = misuse[0]
        if (a["args"][1], a["args"][2]) == (b["args"][1], b["args"][2]):
            other = "the same buffer and length but other contents (sha256 " \
                    f"{(b.get('data_sha256') or '?')[:16]}... instead of {(a.get('data_sha256') or '?')[:16]}...)"
        else:
            other = f"({quote.hx(b['args'][1])}, {b['args'][2]}) instead of the same buffer and length"
        lines.append(f"mbedtls_ssl_write({quote.hx(a['args'][0])}, {quote.hx(a['args'][1])}, {a['args'][2]}) returned "
                     f"{quote.code(a['result'])} at {quote.ms(a['returned_ns'])}, and the next call came with {other}")
        in_records = {r.get("app_sha256") for r in journal.get("records", [])}
        if b.get("data_sha256") and b["data_sha256"] not in in_records:
            lines.append(f"the {b['args'][2]} bytes of that next call (sha256 {b['data_sha256'][:16]}...) are in no "
                         f"record the server received: it returned {quote.code(b['result'])}, but Mbed TLS only "
                         "flushed the record it still held")
        if len(misuse) > 1:
            lines.append(f"{len(misuse)} calls after a WANT_READ/WANT_WRITE changed the arguments")
    for p in (e.get("provenance") or {}).get("application_bytes", [])[:1]:
        lines += ["provenance: " + s for s in quote.spans(p["spans"], "application buffer")]
        if p.get("rewritten_between"):
            lines.append(f"provenance: the application rewrote its buffer after the call that returned "
                         f"{quote.code(p['want_result'])} ({quote.ms(p['want_returned_ns'])}) and before the next "
                         f"call ({quote.ms(p['next_entered_ns'])}): the bytes Mbed TLS was still to send were "
                         "replaced, not resent")
    status = (e.get("outcome") or {}).get("status_line")
    if status:
        lines.append(f"the firmware's status: {status}")
    return Cause("missing_stream_bytes", lines)
