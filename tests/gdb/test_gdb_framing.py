"""The RSP wire format without sockets: packets split anywhere, checksums, acks, Ctrl-C, escaping."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.gdb.rsp import (Ack, BadPacket, Interrupt, Packet, PacketReader, ProtocolError, escape, frame,
                         parse_hex, unescape)


def test_frame_matches_gdbs_examples():
    assert frame("g") == b"$g#67"
    assert frame("?") == b"$?#3f"
    assert frame("") == b"$#00"


@given(st.lists(st.binary(max_size=40).map(escape), min_size=1, max_size=6), st.data())
def test_packets_split_anywhere_come_out_whole(payloads, data):
    stream = b"+".join(frame(p) for p in payloads)
    reader = PacketReader()
    events = []
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    last = 0
    for cut in cuts + [len(stream)]:
        events += reader.feed(stream[last:cut])
        last = cut
    assert [e.payload for e in events if isinstance(e, Packet)] == payloads
    assert sum(isinstance(e, Ack) for e in events) == len(payloads) - 1


def test_bad_checksum_acks_and_interrupt_between_packets():
    events = PacketReader().feed(b"$qC#00+-\x03$qC#b4junk$g#6")
    assert events == [BadPacket(b"qC"), Ack(True), Ack(False), Interrupt(), Packet(b"qC")]


def test_a_dollar_without_end_is_dropped_once_it_exceeds_the_packet_limit():
    reader = PacketReader(max_payload=64)
    assert reader.feed(b"$" + b"a" * 100)[0] == BadPacket(b"a" * 80)
    assert reader.feed(b"$g#67") == [Packet(b"g")]


@given(st.binary(max_size=200))
def test_escape_round_trip_and_no_special_bytes(data):
    wire = escape(data)
    assert unescape(wire) == data
    plain = bytes(b for i, b in enumerate(wire) if i == 0 or wire[i - 1] != 0x7D)
    assert not set(plain) & set(b"#$*") and wire.count(b"}") >= data.count(b"}")


def test_bad_escape_and_hex_are_protocol_errors():
    with pytest.raises(ProtocolError, match="escape"):
        unescape(b"ab}")
    for text in ("", "0x10", "-1", "zz"):
        with pytest.raises(ProtocolError, match="not a hex number"):
            parse_hex(text, "address")
