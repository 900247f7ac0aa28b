"""What the server received against what the TLS layer produced (sim/diagnosis/stream.py): the
streams are built here from a known edit (a stretch cut out, a stretch sent twice, bytes changed),
and the comparison must find exactly that edit."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from sim.diagnosis.stream import compare_streams

# like ciphertext: pseudo-random bytes, in which a 16-byte window occurs once, so that an edit has
# one right answer (a stream of zeros has many)
produced = st.builds(lambda seed, n: random.Random(seed).randbytes(n), st.integers(0, 1 << 32), st.integers(200, 3000))


@given(produced, st.data())
def test_a_stretch_cut_out_is_missing(sent, data):
    start = data.draw(st.integers(20, len(sent) - 40))
    length = data.draw(st.integers(1, len(sent) - start - 32))
    received = sent[:start] + sent[start + length:]
    out = compare_streams(sent, received)
    assert out["relation"] == "missing"
    (event,) = out["events"]
    # the cut found is the one made (or, where the bytes beside it repeat, one that gives the same stream)
    assert (event["kind"], event["length"]) == ("missing", length)
    at = event["sent_offset"]
    assert sent[:at] + sent[at + length:] == received and abs(at - start) <= 16


@given(produced, st.data())
def test_a_stretch_sent_twice_is_repeated(sent, data):
    start = data.draw(st.integers(40, len(sent) - 20))
    length = data.draw(st.integers(16, start))
    received = sent[:start] + sent[start - length:start] + sent[start:]
    out = compare_streams(sent, received)
    assert out["relation"] == "repeated"
    (event,) = out["events"]
    assert (event["kind"], event["length"]) == ("repeated", length)
    at = event["sent_offset"]
    assert sent[:at] + sent[at - length:at] + sent[at:] == received and abs(at - start) <= 16


@given(produced, st.data())
def test_bytes_changed_in_place_are_altered(sent, data):
    at = data.draw(st.integers(0, len(sent) - 40))
    length = data.draw(st.integers(1, 8))
    received = bytearray(sent)
    for k in range(at, at + length):
        received[k] ^= 0x5A
    out = compare_streams(sent, bytes(received))
    assert out["relation"] == "altered"
    assert out["first_difference"] == at


@given(produced, st.integers(0, 100))
def test_equal_and_prefix(sent, cut):
    assert compare_streams(sent, sent)["relation"] == "equal"
    assert compare_streams(sent, sent[:len(sent) - 1 - cut])["relation"] == "received_prefix"
