"""How the bytes the server received relate to the bytes the device's TLS layer handed on: the
same, a prefix, or different - and if different, whether every difference is a stretch missing
from the stream (or repeated in it) with everything around it intact, or whether bytes were
altered. The record-level diagnosis (`sim.tls.diagnosis`) says where the first change is and its
pattern; this module answers the one question it does not: were bytes lost, or changed?
"""

from __future__ import annotations

WINDOW = 16                 # bytes that must agree to call the two streams aligned
MAX_GAP = 1 << 20           # the longest missing or repeated stretch looked for
MAX_EVENTS = 64


def _common(a: bytes, i: int, b: bytes, j: int) -> int:
    """Length of the common run of a[i:] and b[j:]."""
    n = min(len(a) - i, len(b) - j)
    lo, hi = 0, n
    if a[i:i + n] == b[j:j + n]:
        return n
    while hi - lo > 1:                         # binary search on equal prefixes (bytes compare in C)
        mid = (lo + hi) // 2
        if a[i:i + mid] == b[j:j + mid]:
            lo = mid
        else:
            hi = mid
    return lo


def compare_streams(sent: bytes, received: bytes) -> dict:
    """The JSON-shaped relation of `received` to `sent`:

    relation  equal | received_prefix (the rest never arrived) | received_more | missing (stretches
              of sent are absent, nothing altered) | repeated (stretches arrive twice, nothing
              altered) | altered (bytes the device did not send at that place, or in-place changes)
    events    [{"kind": "missing"|"repeated"|"altered", "sent_offset", "received_offset", "length"}]
    """
    sent, received = bytes(sent), bytes(received)
    out: dict = {"sent_length": len(sent), "received_length": len(received)}
    i = j = 0
    events: list[dict] = []
    altered = False
    while i < len(sent) and j < len(received) and len(events) < MAX_EVENTS:
        run = _common(sent, i, received, j)
        i, j = i + run, j + run
        if i >= len(sent) or j >= len(received):
            break
        probe = received[j:j + WINDOW]
        found = sent.find(probe, i + 1, i + MAX_GAP + WINDOW) if len(probe) == WINDOW else -1
        if found > i:                                          # received goes on further ahead in sent
            events.append({"kind": "missing", "sent_offset": i, "received_offset": j, "length": found - i})
            i = found
            continue
        probe = sent[i:i + WINDOW]
        found = received.find(probe, j + 1, j + MAX_GAP + WINDOW) if len(probe) == WINDOW else -1
        if found > j:
            extra = received[j:found]
            repeat = len(extra) >= WINDOW and extra in sent[:i]
            events.append({"kind": "repeated" if repeat else "altered", "sent_offset": i, "received_offset": j,
                           "length": found - j})
            altered |= not repeat
            j = found
            continue
        # neither side continues the other: bytes changed in place (or from here on)
        resync = next((k for k in range(1, min(len(sent) - i, len(received) - j) - WINDOW + 1)
                       if sent[i + k:i + k + WINDOW] == received[j + k:j + k + WINDOW]), None)
        length = resync if resync is not None else min(len(sent) - i, len(received) - j)
        events.append({"kind": "altered", "sent_offset": i, "received_offset": j, "length": length})
        altered = True
        i, j = i + length, j + length
    if not events:
        relation = ("equal" if len(sent) == len(received) else
                    "received_prefix" if len(received) < len(sent) else "received_more")
    elif altered:
        relation = "altered"
    elif all(e["kind"] == "missing" for e in events):
        relation = "missing"
    elif all(e["kind"] == "repeated" for e in events):
        relation = "repeated"
    else:
        relation = "missing_and_repeated"
    out["relation"] = relation
    out["events"] = events
    out["first_difference"] = events[0]["sent_offset"] if events else None
    return out
