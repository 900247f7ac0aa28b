"""Diagnosis against the device's own bytes: a systematic shift in large frames (the kind of defect a
TX copy loop produces) is found, located and described as such."""

from __future__ import annotations

import pytest

from tlskit import MemoryClient, client_context
from sim.frame_types import DmaLocation, StreamLocation
from sim.http import pattern_bytes
from sim.seed import SeededRandom
from sim.tls.diagnosis import diagnose
from sim.tls.policy import ServerPolicy
from sim.tls.server import TlsServer

MSS = 1460
HEADERS = 54          # Ethernet 14 + IPv4 20 + TCP 20


def broken_tx_path(stream: bytes, buffer_size: int = 1024, lost: int = 4):
    """Like a driver that copies only buffer_size-4 bytes per TX buffer while the descriptor says
    buffer_size: frames over buffer_size get 4 stale bytes at buffer_size-4 and the rest moves up 4."""
    received, segments, previous = bytearray(), [], bytes(1514)
    for k, start in enumerate(range(0, len(stream), MSS)):
        frame = bytes(HEADERS) + stream[start:start + MSS]
        if len(frame) > buffer_size:
            cut = buffer_size - lost
            sent_frame = frame[:cut] + previous[cut:buffer_size] + frame[cut:len(frame) - lost]
        else:
            sent_frame = frame
        previous = frame
        segments.append((start, len(frame) - HEADERS))
        received += sent_frame[HEADERS:]
    def locate(offset: int) -> StreamLocation:
        for k, (start, n) in enumerate(segments):
            if start <= offset < start + n:
                x = HEADERS + offset - start
                index = x // buffer_size
                dma = DmaLocation(descriptor=0x2000_0000 + 16 * index, buffer_index=index,
                                  buffer=0x2000_1000 + index * buffer_size,
                                  buffer_symbol=f"eth_tx_buffers+0x{index * buffer_size:x}",
                                  offset=x % buffer_size, segment_length=buffer_size)
                return StreamLocation(segment=k, tcp_seq=start, frame=10 + 2 * k, frame_offset=x, dma=dma)
        raise KeyError(offset)
    return bytes(received), locate


@pytest.mark.parametrize("version,cipher", [("1.2", "ECDHE-RSA-AES128-GCM-SHA256"), ("1.0", "AES128-SHA")])
def test_shift_in_large_frames_is_located_and_explained(ca_path, version, cipher):
    server = TlsServer(ServerPolicy(), SeededRandom(8).child("diag"))
    client = MemoryClient(client_context(ca_path, version, cipher))
    client.handshake(server)
    handshake = len(client.sent)
    client.write(b"POST /upload HTTP/1.1\r\nHost: tls-peer.test\r\nContent-Length: 20000\r\n\r\n")
    body = pattern_bytes(20000)
    for i in range(0, len(body), 4096):
        client.write(body[i:i + 4096])
    sent = bytes(client.sent)
    received, locate = broken_tx_path(sent)
    assert received[:handshake] == sent[:handshake]        # the handshake's frames are all small
    server.receive(received[handshake:])

    d = diagnose(server.journal, device_sent=sent, locate=locate)
    assert d.verdict == "record_corrupted"
    first = d.difference["first_offset"]
    pattern = d.difference["pattern"]
    assert pattern["kind"] == "shift" and pattern["shift"] == 4
    # the 4 stale bytes start at frame offset 1020; the first *differing* byte is there too unless a
    # stale byte happens to equal the intended one (1 in 256 per byte), then a byte or two later
    location = d.difference["location"]
    assert location == locate(first).to_dict()
    assert 1020 <= location["frame_offset"] < 1024 and location["dma_buffer_offset"] == location["frame_offset"]
    start = first - (location["frame_offset"] - 1020)
    assert received[start + 4:start + 100] == sent[start:start + 96]
    assert "displaced by +4" in d.text and f"frame offset {location['frame_offset']}" in d.summary
    assert "start at frame offset 1020" in d.difference["common"] or "starts at frame offset 1020" in d.difference["common"]
    failed = server.journal.first_failure()
    assert d.difference["journal_record"] == failed.index
    assert failed.stream_offset <= first < failed.end_offset


def test_identical_bytes_clear_the_transport(ca_path):
    server = TlsServer(ServerPolicy(), SeededRandom(8).child("diag"))
    client = MemoryClient(client_context(ca_path, "1.2", "AES128-GCM-SHA256"))
    client.handshake(server)
    record = bytearray(client.write(b"hello"))
    record[-1] ^= 1                                      # the "device" itself sent a bad tag
    client.sent[-1] ^= 1
    server.receive(bytes(record))
    d = diagnose(server.journal, device_sent=bytes(client.sent))
    assert d.verdict == "record_corrupted"
    assert "arrived exactly as the device's TLS layer sent them" in d.text


def test_ok_and_client_alert():
    server = TlsServer(ServerPolicy(), SeededRandom(8).child("diag"))
    assert diagnose(server.journal).verdict == "ok"
    server.receive(b"\x15\x03\x01\x00\x02\x02\x30")        # the client gives up: fatal unknown_ca
    d = diagnose(server.journal)
    assert d.verdict == "client_alert" and "unknown_ca" in d.summary


def test_a_stale_byte_equal_to_the_one_it_displaced_does_not_move_the_located_change(ca_path):
    """The first inserted byte of one frame happens to equal the intended byte it displaced (1 in 256
    per frame): the change still begins at frame offset 1020, where every other region's begins, and
    the diagnosis says why the first differing byte is one later."""
    server = TlsServer(ServerPolicy(), SeededRandom(8).child("diag"))
    client = MemoryClient(client_context(ca_path, "1.2", "ECDHE-RSA-AES128-GCM-SHA256"))
    client.handshake(server)
    handshake = len(client.sent)
    client.write(b"POST /upload HTTP/1.1\r\nHost: tls-peer.test\r\nContent-Length: 20000\r\n\r\n")
    body = pattern_bytes(20000)
    for i in range(0, len(body), 4096):
        client.write(body[i:i + 4096])
    sent = bytes(client.sent)
    received, locate = broken_tx_path(sent)
    start = next(i for i in range(len(sent)) if locate(i).frame_offset == 1020
                 and received[i + 4:i + 40] == sent[i:i + 36])         # the first frame the copy broke
    received = bytearray(received)
    received[start] = sent[start]                    # the stale byte equals the intended one
    server.receive(bytes(received[handshake:]))

    d = diagnose(server.journal, device_sent=sent, locate=locate)
    assert d.difference["first_differing_offset"] == start + 1
    assert d.difference["first_offset"] == start
    assert d.difference["location"]["frame_offset"] == 1020
    assert d.difference["pattern"]["start"] == start and d.difference["pattern"]["shift"] == 4
    assert "starts at frame offset 1020" in d.difference["common"]
    assert f"first differing byte is at stream offset {start + 1}" in d.text
