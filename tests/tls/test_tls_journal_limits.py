"""Bounded memory per connection: the journal stops keeping the client's bytes once the connection is
over, keeps at most its documented limits while it is open, says so when a limit is reached, and
still keeps what the diagnosis of the first failure needs."""

from __future__ import annotations

import gc
import tracemalloc
import weakref

from tlskit import MemoryClient, client_context, split_records
from sim.http import HttpApp
from sim.seed import SeededRandom
from sim.tls.diagnosis import diagnose
from sim.tls.journal import DEFAULT_LIMITS, JournalLimits
from sim.tls.policy import ServerPolicy
from sim.tls.server import ConnectionFailed, TlsServer

GCM = ("1.2", "ECDHE-RSA-AES128-GCM-SHA256")
CHUNK = 64 << 10


def connected(ca_path, limits: JournalLimits = DEFAULT_LIMITS) -> tuple[TlsServer, MemoryClient]:
    srv = TlsServer(ServerPolicy(), SeededRandom(3).child("limits"), journal_limits=limits)
    client = MemoryClient(client_context(ca_path, *GCM))
    client.handshake(srv)
    return srv, client


def corrupt_one(srv: TlsServer, client: MemoryClient, size: int = 3000) -> tuple[int, int]:
    """Send one application-data record with a flipped byte; returns (its stream offset, the byte's)."""
    start = len(client.sent)
    wire = bytearray(client.write(b"b" * size))
    at = 5 + size // 3                           # a ciphertext byte inside the record
    wire[at] ^= 0x10
    events = srv.receive(bytes(wire))
    assert [e.alert for e in events if isinstance(e, ConnectionFailed)] == ["bad_record_mac"]
    return start, start + at


def test_after_a_fatal_alert_the_stream_is_counted_not_kept(ca_path):
    srv, client = connected(ca_path)
    record_offset, flipped = corrupt_one(srv, client)
    kept_at_failure = len(srv.journal.rx_stream)
    # the client goes on sending 20 MB (as a device mid-upload does) after the alert
    later = bytes(range(256)) * (CHUNK // 256)
    for _ in range(20 * 16):
        srv.receive(later)
    journal = srv.journal
    sent_after = 20 * 16 * CHUNK
    assert journal.bytes_received == kept_at_failure + sent_after
    assert len(journal.rx_stream) == kept_at_failure + DEFAULT_LIMITS.after_end_bytes
    assert journal.info["ignored_after_close"] == sent_after
    assert journal.to_dict()["bytes"]["client_to_server"] == kept_at_failure + sent_after
    assert journal.to_dict()["bytes"]["client_to_server_kept"] == len(journal.rx_stream)
    limit_events = [e for e in journal.events if e["event"] == "journal_limit"]
    assert len(limit_events) == 1 and "after its end" in limit_events[0]["text"]
    assert "journal_limit: the connection is over" in journal.to_text()

    # the diagnosis of the failure is unchanged: record, offset of the flipped byte, pattern
    diagnosis = diagnose(journal, device_sent=bytes(client.sent))
    assert diagnosis.verdict == "record_corrupted"
    assert diagnosis.failure["stream_offset"] == record_offset
    assert diagnosis.difference["first_offset"] == flipped
    assert diagnosis.difference["pattern"]["xor"] == "0x10"


def test_what_a_failed_connection_keeps_does_not_grow_with_what_follows(ca_path):
    """Measured with tracemalloc (allocation sizes, not time): 20 MB after the failure leave the
    journal's footprint where 1 MB left it."""
    def retained_after(megabytes: int) -> int:
        srv, client = connected(ca_path)
        corrupt_one(srv, client)
        chunk = b"\x17\x03\x03\x40\x00" + bytes(CHUNK - 5)
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(megabytes * 16):
            srv.receive(chunk)
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        assert srv.journal.bytes_received > megabytes << 20
        return after - before

    small, large = retained_after(1), retained_after(20)
    assert large < DEFAULT_LIMITS.after_end_bytes + (64 << 10)
    assert abs(large - small) < 16 << 10


def test_limits_while_open_are_reported_and_keep_the_failure(ca_path):
    limits = JournalLimits(stream_bytes=20_000, records=12, events=1_000)
    srv, client = connected(ca_path, limits)
    for i in range(40):
        srv.receive(client.write(b"%04d" % i + b"." * 996))
        srv.data_to_send()
    _, flipped = corrupt_one(srv, client, size=500)
    journal = srv.journal
    # the stream is kept up to its limit, every byte is counted
    assert len(journal.rx_stream) == 20_000 and journal.bytes_received == len(client.sent)
    assert not journal.stream_complete
    # 12 records in detail, the rest counted; the failed record and the alert are kept all the same
    failed = journal.first_failure()
    assert failed is not None and failed.index > 40 and failed.raw
    assert any(r.alert and r.alert["description"] == "bad_record_mac" for r in journal.records)
    assert len(journal.records) <= limits.records + 2
    counts = journal.to_dict()["bytes"]
    assert counts["records_not_kept"] == journal.records_not_kept > 0
    assert counts["client_to_server_kept"] == 20_000
    texts = " | ".join(e["text"] for e in journal.events if e["event"] == "journal_limit")
    assert "first 20000 bytes" in texts and "12 records" in texts

    diagnosis = diagnose(journal, device_sent=bytes(client.sent))
    assert diagnosis.verdict == "record_corrupted"
    assert f"after {failed.seq} good protected record(s)" in diagnosis.summary
    # the failed record lies beyond the kept stream: no byte comparison, and the text says why
    assert flipped > 20_000 and diagnosis.difference is None
    assert (f"No byte comparison with the device's {len(client.sent)} bytes: the journal kept the first 20000 of "
            f"the {journal.bytes_received} bytes received") in diagnosis.text


def test_an_accepted_record_keeps_a_fingerprint_not_its_bytes(ca_path):
    srv, client = connected(ca_path)
    record = client.write(b"hello")
    srv.receive(record + record)                 # the second copy is a replay
    journal = srv.journal
    accepted, replayed = [r for r in journal.records if r.content_type == "application_data"]
    assert accepted.ok and accepted.raw == b"" and accepted.fingerprint == replayed.fingerprint
    assert not replayed.ok and replayed.raw == record
    assert split_records(srv.data_to_send())[-1][0] == 21
    assert diagnose(journal).summary.endswith(f"replay of record #{accepted.index}")


def test_a_finished_connection_is_freed_by_reference_counting(ca_path):
    """A busy peer must not wait for the cycle collector: the server, its journal (with a failure
    the mistake search looked at) and the HTTP app hold no reference cycles."""
    gc.disable()
    try:
        srv, client = connected(ca_path)
        corrupt_one(srv, client)
        app = HttpApp()
        app.receive(b"POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
                    b"GET /text/3 HTTP/1.1\r\nHost: h\r\n\r\n")
        refs = [weakref.ref(obj) for obj in (srv, srv.journal, app)]
        del srv, client, app
        assert [ref() for ref in refs] == [None, None, None]
    finally:
        gc.enable()
