"""Explain a failed connection from its journal, optionally with the bytes the device really sent.

`diagnose(journal, device_sent=..., locate=...)` tells apart:

* keys_mismatch       the client's first protected record (its Finished) already fails
* handshake_mismatch  the Finished record verifies but its verify_data does not (transcripts differ)
* record_corrupted    earlier protected records verified, one later record fails
* misframing          record lengths do not add up (bad header where a record should start,
                      a CBC length that is not whole blocks, the stream ending inside a record)
* replay_or_reorder   the record verifies under another sequence number, or repeats an earlier one
* client_mistake      the record verifies under a known client error (MtE/EtM, truncated HMAC
                      incl. PolarSSL key truncation, MAC over another length, GCM nonce)
* handshake_rejected  the server refused the handshake (no common suite, version, ...)
* client_alert        the client aborted with a fatal alert; no record failed at the server
* ok                  nothing failed

With `device_sent` (the exact bytes the firmware's TLS layer handed to TCP) it finds the first
byte that differs from what arrived, as record index and offset, TCP stream offset, and where
`locate(stream_offset)` says it travelled (a `sim.frame_types.StreamLocation`: TCP segment, frame,
frame offset, DMA buffer), and recognises a shift
(the following bytes are the intended ones displaced by k) and runs of stale or garbage bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from sim.frame_types import StreamLocation
from sim.tls.journal import C2S, Journal, JournalRecord
from sim.tls.protocol import RECORD_HEADER_LEN

WINDOW = 16          # bytes that must agree to call two streams aligned again
MAX_SHIFT = 64
MAX_REGIONS = 32


@dataclass
class Diagnosis:
    verdict: str
    summary: str
    text: str
    failure: dict | None = None
    difference: dict | None = None
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"verdict": self.verdict, "summary": self.summary, "failure": self.failure,
                "difference": self.difference, "details": self.details, "text": self.text}

    def __str__(self) -> str:
        return self.text


def diagnose(journal: Journal, *, device_sent: bytes | None = None,
             locate: Callable[[int], StreamLocation | None] | None = None) -> Diagnosis:
    lines: list[str] = []
    failed = journal.first_failure()
    info = journal.info
    if info.get("suite"):
        lines.append(f"Connection: {info.get('version')} {info.get('suite')}"
                     + ("" if not info.get("resumed") else " (resumed)")
                     + f"; EMS {'on' if info.get('extended_master_secret') else 'off'}"
                     + (f"; encrypt-then-MAC {'on' if info.get('encrypt_then_mac') else 'off'}"
                        if "CBC" in info.get("suite", "") else "")
                     + ("; truncated HMAC" if info.get("truncated_hmac") else ""))
    lines.append(f"Client->server: {journal.records_received} records, {journal.bytes_received} bytes received.")

    verdict, summary, failure = _classify(journal, failed, lines)
    device_sent = _comparable(journal, device_sent, failed, lines)

    difference = None
    if device_sent is not None:
        difference, location = _compare(journal, bytes(device_sent), bytes(journal.rx_stream), locate, lines)
        if difference is not None and difference.get("first_offset") is not None:
            if difference.get("record_part") == "record header" and verdict in ("record_corrupted", "keys_mismatch"):
                verdict = "misframing"     # a changed length field reframes everything after it
                lines.append("The first difference is in a record header: the record boundaries the server saw are "
                             "not the ones the device sent (misframing).")
            where = _where_text(difference, location)
            summary += f"; first differing byte at {where}"
            if difference.get("pattern_summary"):
                summary += f": {difference['pattern_summary']}"
        elif difference is not None and failed is not None and verdict in ("record_corrupted", "keys_mismatch"):
            summary += "; the bytes arrived exactly as the device's TLS layer sent them"
    return Diagnosis(verdict, summary, "\n".join([summary, ""] + lines) + "\n", failure, difference,
                     {"records_client_to_server": journal.records_received})


def _comparable(journal: Journal, device_sent: bytes | None, failed: JournalRecord | None,
                lines: list[str]) -> bytes | None:
    """What of the device's bytes to compare with the received stream the journal kept: all of them,
    or - when the journal reached its stream limit - as many as it kept, and nothing when the
    failed record lies beyond them."""
    if device_sent is None or journal.stream_complete:
        return device_sent
    sent = bytes(device_sent)
    kept = len(journal.rx_stream)
    limit = f"the journal kept the first {kept} of the {journal.bytes_received} bytes received (its stream limit)"
    if failed is not None and failed.end_offset > kept:
        lines += ["", f"No byte comparison with the device's {len(sent)} bytes: {limit}, and the failed record "
                      f"starts at stream offset {failed.stream_offset}."]
        return None
    lines += ["", f"The comparison covers the first {min(kept, len(sent))} bytes: {limit}."]
    return sent[:kept]


# --- classification ------------------------------------------------------------------------------
def _describe(r: JournalRecord) -> str:
    return f"record #{r.index} ({r.direction} {r.content_type}, epoch {r.epoch} seq {r.seq}, {r.length} bytes at stream offset {r.stream_offset})"


def _classify(journal: Journal, failed: JournalRecord | None, lines: list[str]):
    sent_fatal = next((r for r in journal.records if r.alert and r.alert.get("sent") and r.alert["level"] == "fatal"), None)
    got_fatal = next((r for r in journal.records if r.alert and not r.alert.get("sent") and r.alert["level"] == "fatal"), None)
    if failed is None:
        if got_fatal is not None:
            text = (f"The client aborted with a fatal {got_fatal.alert['description']} alert ({_describe(got_fatal)}); "
                    "every record the server received verified, so the client rejected something the server sent.")
            lines.append(text)
            return "client_alert", f"client sent fatal {got_fatal.alert['description']}; no record failed at the server", None
        lines.append("No record failed.")
        return "ok", "no record failed", None

    failure = {"record": failed.index, "direction": failed.direction, "epoch": failed.epoch, "seq": failed.seq,
               "content_type": failed.content_type, "length": failed.length, "stream_offset": failed.stream_offset,
               "failed_checks": [c.to_dict() for c in failed.failed_checks()], "error": failed.error,
               "alert_sent": sent_fatal.alert["description"] if sent_fatal else None}
    lines.append(f"Failed: {_describe(failed)}.")
    for c in failed.failed_checks():
        lines.append(f"  {c.name} check failed" + (f" ({c.detail})" if c.detail else ""))
        if c.expected or c.received:
            lines.append(f"    expected {c.expected}")
            lines.append(f"    received {c.received}")
    if failed.error:
        lines.append(f"  reason: {failed.error}")
    if sent_fatal is not None:
        lines.append(f"  the server answered with a fatal {sent_fatal.alert['description']} alert (record #{sent_fatal.index})")
    alert = sent_fatal.alert["description"] if sent_fatal else "no alert"
    names = {c.name for c in failed.failed_checks()}
    # protected records of this epoch before the failed one all verified (a failure ends the connection),
    # and there are as many as its sequence number (RFC 5246 §6.1: it restarts at 0 with each epoch)
    earlier = failed.seq if failed.protection != "plaintext" else 0

    if "header" in names or (failed.error or "").startswith("truncated"):
        prev = [r for r in journal.records_from(C2S) if r.index < failed.index]
        what = "the stream ended inside a record" if (failed.error or "").startswith("truncated") else \
            "the bytes where the next record should start are not a valid record header"
        lines.append(f"Misframing/truncation: {what}. {len(prev)} records before it were framed correctly, so "
                     "the length field of an earlier record, or the bytes in between, do not add up "
                     "(bytes inserted, lost or the stream cut).")
        return "misframing", f"{alert} at {_short(failed)}: record lengths do not add up ({what})", failure
    if "length" in names:
        lines.append("Misframing: the record's length cannot hold a valid protected record of this suite "
                     "(not whole cipher blocks, or too short for IV/MAC/tag): bytes were inserted or lost.")
        return "misframing", f"{alert} at {_short(failed)}: the record length does not fit the cipher (misframing)", failure
    if names & {"mac", "tag", "padding"}:
        duplicate = next((r for r in journal.records_from(C2S)
                          if r.index < failed.index and r.fingerprint == failed.fingerprint), None)
        matched = [a for a in failed.alternatives if a["matched"]]
        for a in failed.alternatives:
            lines.append(f"  tried: {a['hypothesis']}: {'MATCHES' if a['matched'] else 'no'}")
        if duplicate is not None:
            lines.append(f"Replay: {_short(failed)} is a byte-identical copy of record #{duplicate.index}.")
            return "replay_or_reorder", f"{alert} at {_short(failed)}: replay of record #{duplicate.index}", failure
        seq_match = next((a for a in matched if a.get("kind") == "seq_offset"), None)
        if seq_match is not None:
            k = seq_match["offset"]
            what = (f"it verifies with sequence number {failed.seq + k}: it was already counted {-k} record(s) ago "
                    "(replayed or reordered)" if k < 0 else
                    f"it verifies with sequence number {failed.seq + k}: {k} record(s) before it never arrived "
                    "(dropped or reordered)")
            lines.append(f"Replay/reordering: {what}.")
            return "replay_or_reorder", f"{alert} at {_short(failed)}: sequence mismatch, {what}", failure
        if matched:
            lines.append(f"Client mistake: the record verifies if {matched[0]['hypothesis']}.")
            return "client_mistake", f"{alert} at {_short(failed)}: {matched[0]['hypothesis']}", failure
        if failed.alternatives:
            lines.append("None of the known client mistakes reproduces the received bytes.")
        if failed.seq == 0 and failed.content_type == "handshake":
            premaster = [n for r in journal.records_from(C2S) for n in r.notes if n.startswith("premaster")]
            lines.append("Keys never matched: the client's first protected record (its Finished) already fails, so "
                         "client and server derived different keys (premaster/master secret, key-block layout, or a "
                         "disagreement on the record protection).")
            lines.extend(f"  {n}" for n in premaster)
            return "keys_mismatch", f"{alert} at {_short(failed)}: the client's Finished already fails, keys never matched", failure
        lines.append(f"One record corrupted: {earlier} earlier protected record(s) from the client in this epoch "
                     "verified with the same keys, so the keys match and this record's bytes changed after the client "
                     "protected them (in transit, or in the device's send path).")
        return ("record_corrupted",
                f"{alert} at {_short(failed)} after {earlier} good protected record(s): one record corrupted",
                failure)
    if "verify_data" in names:
        lines.append("Handshake mismatch: the Finished record decrypted and its MAC verified (the record keys match) "
                     "but verify_data differs: client and server hashed different handshake messages.")
        return "handshake_mismatch", f"{alert}: client Finished verify_data mismatch (transcripts differ)", failure
    lines.append("The server refused the connection during the handshake.")
    return "handshake_rejected", f"{alert}: {failed.error}", failure


def _short(r: JournalRecord) -> str:
    return f"record #{r.index} ({r.content_type}, seq {r.seq})"


# --- device_sent comparison ------------------------------------------------------------------------
def _frame(stream: bytes) -> list[tuple[int, int]]:
    """(offset, total length incl. header) of each record in an intended (device) stream."""
    out, pos = [], 0
    while pos + RECORD_HEADER_LEN <= len(stream):
        length = int.from_bytes(stream[pos + 3:pos + 5], "big")
        out.append((pos, RECORD_HEADER_LEN + length))
        pos += RECORD_HEADER_LEN + length
    return out


def _part(journal: Journal, record_offset: int, record_len: int, content_type: int) -> str:
    """Which part of a protected record a byte offset falls in (header / IV / nonce / ciphertext / MAC / tag)."""
    if record_offset < RECORD_HEADER_LEN:
        return "record header"
    info = journal.info
    suite = info.get("suite", "")
    frag_off = record_offset - RECORD_HEADER_LEN
    frag_len = record_len - RECORD_HEADER_LEN
    if content_type in (22, 21, 20) and record_offset < RECORD_HEADER_LEN:
        return "record header"
    if "GCM" in suite:
        if frag_off < 8:
            return "GCM explicit nonce"
        if frag_off >= frag_len - 16:
            return "GCM tag"
        return f"ciphertext (plaintext byte {frag_off - 8})"
    if "CBC" in suite:
        explicit = info.get("version") in ("TLS1.1", "TLS1.2")
        if explicit and frag_off < 16:
            return "CBC explicit IV"
        mac = 10 if info.get("truncated_hmac") else (20 if suite.endswith("SHA") else 48 if suite.endswith("384") else 32)
        if info.get("encrypt_then_mac") and frag_off >= frag_len - mac:
            return "MAC (encrypt-then-MAC)"
        body = frag_off - (16 if explicit else 0)
        return f"ciphertext (block {body // 16}, byte {body % 16})"
    return "fragment"


def _first_diff(a: bytes, ai: int, b: bytes, bi: int, limit: int) -> int:
    """Length of the common run of a[ai:] and b[bi:] (at most `limit`), compared in chunks."""
    n = 0
    while n < limit:
        m = min(4096, limit - n)
        if a[ai + n:ai + n + m] == b[bi + n:bi + n + m]:
            n += m
            continue
        while a[ai + n] == b[bi + n]:
            n += 1
        return n
    return n


def _align_run(a: bytes, ai: int, b: bytes, bi: int) -> int:
    return _first_diff(a, ai, b, bi, max(0, min(len(a) - ai, len(b) - bi)))


def _next_difference(sent: bytes, recv: bytes, start: int) -> int | None:
    n = min(len(sent), len(recv))
    if start >= n:
        return None
    i = start + _first_diff(sent, start, recv, start, n - start)
    return i if i < n else None


def _resync(sent: bytes, recv: bytes, start: int) -> int | None:
    """First offset >= start where the two streams agree again for WINDOW bytes (or up to the end)."""
    n = min(len(sent), len(recv))
    i = start
    while i < n:
        if sent[i] == recv[i]:
            end = min(n, i + WINDOW)
            if sent[i:end] == recv[i:end]:
                return i
        i += 1
    return None


def _earliest_insertion(sent: bytes, recv: bytes, d: int, k: int) -> int:
    """The earliest point where k inserted bytes can begin, given the first differing byte d: going
    back from d while the bytes before d also fit the displaced alignment (recv[x + k] == sent[x])."""
    r = d
    while r > max(0, d - k + 1) and recv[r - 1 + k] == sent[r - 1]:
        r -= 1
    return r


def _insertion_starts(sent: bytes, recv: bytes, firsts: list[int], locate) -> dict[int, int]:
    """For regions whose inserted bytes may begin before their first differing byte (a stale byte
    equal to the one it displaced), the start that puts them at the frame offset most regions share:
    a systematic defect inserts at the same place in every frame, and by chance alone a stale byte
    matches only now and then. {first differing byte: insertion start}, for the regions moved."""
    from collections import Counter

    if locate is None:
        return {}
    options: dict[int, dict[int, int]] = {}           # first -> {frame offset: start}
    for d in firsts:
        pattern = _pattern(sent, recv, d)
        lo, hi = pattern.get("start_candidates", (d, d))
        found = {}
        for candidate in range(lo, hi + 1):
            loc = _locate(locate, candidate)
            if loc is not None and loc.frame_offset is not None:
                found.setdefault(loc.frame_offset, candidate)
        options[d] = found
    votes = Counter(offset for found in options.values() for offset in found)
    if not votes:
        return {}
    best = max(votes.values())
    common = min(offset for offset, n in votes.items() if n == best)
    return {d: found[common] for d, found in options.items() if common in found and found[common] != d}


def _pattern(sent: bytes, recv: bytes, d: int, start: int | None = None) -> dict:
    """What happened at the first difference d: shift (bytes inserted/lost), overwrite, or garbage.
    `start` (inserted bytes only): where the insertion begins, when it is known to lie before d (see
    _insertion_starts)."""
    best = None
    for k in range(1, MAX_SHIFT + 1):
        # k bytes inserted: recv[d + k + j] == sent[d + j]
        run = _align_run(recv, d + k, sent, d)
        if run >= WINDOW and (best is None or run > best[2]):
            best = ("inserted", k, run)
        # k bytes lost: recv[d + j] == sent[d + k + j]
        run = _align_run(recv, d, sent, d + k)
        if run >= WINDOW and (best is None or run > best[2]):
            best = ("lost", k, run)
    resync = _resync(sent, recv, d + 1)
    if best is not None:
        kind, k, run = best
        if kind == "inserted":
            # a stale byte can equal the intended byte it displaced; then the insertion begins before
            # the first differing byte d: anywhere from the earliest consistent point to d
            earliest = _earliest_insertion(sent, recv, d, k)
            region = d if start is None or not earliest <= start <= d else start
            if region != d:
                run = _align_run(recv, region + k, sent, region)
            start = region + k
            if resync is not None and start < resync < start + run:
                run = resync - start           # past the realignment the two alignments agree by chance
            inserted = recv[region:start]
            shifted_end = start + run          # in recv coordinates
            out = {"kind": "shift", "shift": k, "start": region, "inserted_bytes": inserted.hex(),
                   "shifted_length": run, "shift_start": start, "shift_end": shifted_end,
                   "start_candidates": [earliest, d]}
            if len(set(inserted)) == 1:
                out["inserted_uniform"] = f"0x{inserted[0]:02x}"   # zeros etc.: too common to trace
            else:
                stale = sent.rfind(inserted, 0, region) if k >= 4 else -1
                if stale >= 0:
                    out["inserted_equal_earlier_at"] = stale
            text = (f"{k} byte(s) that the device did not send here ({inserted.hex()}), then the intended bytes "
                    f"displaced by +{k} for {run} bytes (received[x] = sent[x-{k}])")
            if resync is not None and resync >= shifted_end - WINDOW:
                lost = sent[shifted_end - k:shifted_end]
                out["resync_offset"] = resync
                out["lost_bytes"] = lost.hex()
                text += f"; aligned again at stream offset {resync} ({k} intended byte(s) before it, {lost.hex()}, never arrived)"
            out["text"] = text
            out["summary"] = f"{k} stale/garbage byte(s) inserted, then the intended bytes shifted by +{k}"
            return out
        out = {"kind": "shift", "shift": -k, "start": d, "lost_bytes": sent[d:d + k].hex(), "shifted_length": run,
               "shift_start": d, "shift_end": d + run,
               "text": f"{k} intended byte(s) ({sent[d:d + k].hex()}) are missing and the bytes after them arrive "
                       f"displaced by -{k} for {run} bytes (received[x] = sent[x+{k}])",
               "summary": f"{k} byte(s) lost, the following bytes shifted by -{k}"}
        if resync is not None:
            out["resync_offset"] = resync
        return out
    if resync is not None:
        m = resync - d
        changed = recv[d:resync]
        out = {"kind": "overwrite", "start": d, "length": m, "received_bytes": changed[:64].hex(), "sent_bytes": sent[d:resync][:64].hex(),
               "resync_offset": resync}
        if m == 1:
            mask = sent[d] ^ recv[d]
            out["xor"] = f"0x{mask:02x}"
            out["text"] = f"1 byte changed in place: sent 0x{sent[d]:02x}, received 0x{recv[d]:02x} (bits 0x{mask:02x} flipped)"
            out["summary"] = f"1 byte changed in place (xor 0x{mask:02x})"
        else:
            stale = sent.rfind(changed, 0, d) if m >= 4 else -1
            if stale >= 0:
                out["equal_earlier_at"] = stale
            out["text"] = (f"{m} bytes overwritten in place, then aligned again"
                           + (f" (they equal what the device sent at stream offset {stale}: stale data)" if stale >= 0 else ""))
            out["summary"] = f"{m} bytes overwritten in place" + (" with stale data" if stale >= 0 else "")
        return out
    return {"kind": "garbage", "start": d, "text": "the received bytes never realign with the intended stream from here on",
            "summary": "garbage from here on (no realignment found)"}


def _locate(locate, offset: int) -> StreamLocation | None:
    """The runner's locate is best effort: a byte it cannot place has no location."""
    try:
        return locate(offset)
    except Exception:
        return None


def _compare(journal: Journal, sent: bytes, recv: bytes, locate,
             lines: list[str]) -> tuple[dict, StreamLocation | None]:
    """The comparison (JSON-shaped, for Diagnosis.difference) and where its first differing byte travelled."""
    lines.append("")
    lines.append(f"Device TLS layer handed {len(sent)} bytes to TCP; the server received {len(recv)}.")
    n = min(len(sent), len(recv))
    first = _next_difference(sent, recv, 0)
    out: dict = {"device_sent_length": len(sent), "received_length": len(recv), "first_offset": first}
    location = None
    if first is None:
        if len(recv) < len(sent):
            lines.append(f"All {len(recv)} received bytes equal what the device sent; its last {len(sent) - len(recv)} "
                         "bytes never reached the server (the connection ended first).")
        elif len(recv) > len(sent):
            lines.append(f"The server received {len(recv) - len(sent)} bytes more than the device's TLS layer sent, "
                         f"starting at stream offset {len(sent)}.")
        else:
            lines.append("The bytes arrived exactly as the device's TLS layer sent them: the transport is not at fault; "
                         "the record was already wrong when the TLS layer produced it.")
        return out, None
    firsts = _region_firsts(sent, recv, first)
    starts = _insertion_starts(sent, recv, firsts, locate)
    if first in starts:
        # the first inserted byte(s) equal the bytes they displaced: the change begins before the
        # first differing byte, where the other regions' changes begin in their frames
        out["first_differing_offset"] = first
        first = starts[first]
        out["first_offset"] = first
    records = _frame(sent)
    k, (rec_off, rec_len) = next(((i, r) for i, r in enumerate(records) if r[0] <= first < r[0] + r[1]),
                                 (len(records), (first, 0)))
    out["client_record"] = k
    out["record_stream_offset"] = rec_off
    out["offset_in_record"] = first - rec_off
    journal_record = next((r for r in journal.records_from(C2S) if r.stream_offset == rec_off), None)
    if journal_record is not None:
        out["journal_record"] = journal_record.index
    ctype = sent[rec_off] if rec_off < len(sent) else 0
    out["record_part"] = _part(journal, first - rec_off, rec_len, ctype) if rec_len else "after the last record"
    if locate is not None:
        try:
            location = locate(first)
            out["location"] = location.to_dict() if location is not None else {}
        except Exception as exc:  # the runner's locate is best effort; say why it is missing
            out["location_error"] = f"{type(exc).__name__}: {exc}"
    pattern = _pattern(sent, recv, out.get("first_differing_offset", first), start=first)
    out["pattern"] = pattern
    out["pattern_summary"] = pattern["summary"]
    rec_name = f"journal record #{journal_record.index}" if journal_record is not None else f"client record {k}"
    lines.append(f"First differing byte: TCP stream offset {first} = {rec_name} (the client's record {k}, starting at "
                 f"stream offset {rec_off}), offset {first - rec_off} in the record "
                 f"({first - rec_off - RECORD_HEADER_LEN} into the fragment; {out['record_part']}).")
    if location is not None:
        lines.append("  travelled in: " + _location_text(location))
    if "first_differing_offset" in out:
        lines.append(f"  the first {out['first_differing_offset'] - first} inserted byte(s) equal the intended "
                     f"byte(s) they displaced, so the first differing byte is at stream offset "
                     f"{out['first_differing_offset']}; the change begins here, where the other regions begin in "
                     "their frames.")
    lines.append(f"  sent     {sent[first:first + 24].hex()}")
    lines.append(f"  received {recv[first:first + 24].hex()}")
    lines.append(f"  pattern: {pattern['text']}.")
    if pattern.get("inserted_uniform") is not None:
        lines.append(f"  the inserted bytes are all {pattern['inserted_uniform']}: memory the device never filled "
                     "(uninitialised or cleared buffer space) rather than data from the stream.")
    if pattern.get("inserted_equal_earlier_at") is not None:
        lines.append(f"  the inserted bytes equal what the device sent at stream offset "
                     f"{pattern['inserted_equal_earlier_at']}: stale data from an earlier use of a buffer.")
    if pattern["kind"] == "shift" and pattern["shift"] > 0:
        lines.append(f"  hint: a copy loop advanced its source by {pattern['shift']} bytes less than its destination "
                     f"(or believed a buffer holds {pattern['shift']} bytes fewer than the hardware was told): the "
                     "uninitialised bytes are sent and the rest of the data moves up.")
    if locate is not None and pattern.get("resync_offset") is not None:
        loc = _locate(locate, pattern["resync_offset"])
        if loc is not None:
            lines.append(f"  realigned at stream offset {pattern['resync_offset']}: " + _location_text(loc))
    located = _regions(sent, recv, firsts, starts, locate)
    regions = [region for region, _ in located]
    out["regions"] = regions
    if len(regions) > 1:
        count = f"at least {len(regions)}" if len(regions) >= MAX_REGIONS else str(len(regions))
        lines.append(f"{count} separate differing regions in the common {n} bytes:")
        common = _common_traits(located)
        if common:
            lines.append(f"  every region: {common}")
            out["common"] = common
        for reg, loc in located[:8]:
            lines.append(f"  stream offset {reg['offset']}: {reg['summary']}"
                         + (f"; {_location_text(loc)}" if loc is not None else ""))
    return out, location


def _region_firsts(sent: bytes, recv: bytes, first: int) -> list[int]:
    """The first differing byte of each differing region (at most MAX_REGIONS)."""
    n = min(len(sent), len(recv))
    firsts, d = [], first
    while d is not None and d < n and len(firsts) < MAX_REGIONS:
        firsts.append(d)
        resync = _pattern(sent, recv, d).get("resync_offset")
        if resync is None:
            break
        d = _next_difference(sent, recv, resync)
    return firsts


def _regions(sent: bytes, recv: bytes, firsts: list[int], starts: dict[int, int],
             locate) -> list[tuple[dict, StreamLocation | None]]:
    """Each differing region (JSON-shaped) with where its first byte travelled."""
    regions = []
    for d in firsts:
        pattern = _pattern(sent, recv, d, start=starts.get(d))
        start = pattern["start"]
        region = {"offset": start, "kind": pattern["kind"], "summary": pattern["summary"]}
        loc = None
        if locate is not None:
            try:
                loc = locate(start)
                region["location"] = loc.to_dict() if loc is not None else {}
            except Exception:
                pass
        regions.append((region, loc))
    return regions


def _common_traits(located: list[tuple[dict, StreamLocation | None]]) -> str:
    """What all differing regions share (same pattern, same place in their frame/buffer): the fingerprint
    of a systematic defect rather than random corruption."""
    from collections import Counter

    def most(values) -> tuple:
        value, count = Counter(values).most_common(1)[0]
        return value, count

    traits = []
    n = len(located)
    summary, count = most(r["summary"] for r, _ in located)
    if count * 4 >= n * 3:
        traits.append(summary if count == n else f"{count} of {n}: {summary}")
    for offset_of, label in ((lambda loc: loc.frame_offset, "frame offset"),
                             (lambda loc: loc.dma.offset if loc.dma is not None else None, "DMA buffer offset")):
        values = [offset_of(loc) if loc is not None else None for _, loc in located]
        if None in values:
            continue
        value, count = most(values)
        if count == n:
            traits.append(f"starts at {label} {value}")
        elif count * 4 >= n * 3:
            # a stale byte that happens to equal the intended one moves a region's first difference
            traits.append(f"{count} of {n} start at {label} {value}"
                          + (" (the others a few bytes later)" if all(value <= v <= value + 8 for v in values) else ""))
    return "; ".join(traits)


def _location_text(loc: StreamLocation, *, brief: bool = False) -> str:
    """Segment, frame and buffer first; `brief`: the segment and frame only."""
    parts = [f"TCP segment {loc.segment}"]
    if loc.frame is not None:
        parts += [f"Ethernet frame {loc.frame}", f"frame offset {loc.frame_offset}"]
    if brief:
        return ", ".join(parts)
    dma = loc.dma
    if dma is not None:
        parts += [f"DMA buffer {dma.buffer_text}", f"buffer offset {dma.offset}"]
    parts.append(f"tcp_seq {loc.tcp_seq}")
    if dma is not None:
        parts += [f"dma_descriptor 0x{dma.descriptor:08x}", f"dma_buffer_index {dma.buffer_index}",
                  f"dma_segment_length {dma.segment_length}"]
    return ", ".join(parts)


def _where_text(diff: dict, location: StreamLocation | None) -> str:
    text = f"stream offset {diff['first_offset']}"
    if "journal_record" in diff:
        text += f" (record #{diff['journal_record']} +{diff['offset_in_record']})"
    else:
        text += f" (client record {diff.get('client_record')} +{diff.get('offset_in_record')})"
    if location is not None:
        text += " in " + _location_text(location, brief=True)
    return text
