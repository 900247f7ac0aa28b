"""The sans-IO server and PeerSession in-process, driven by OpenSSL (Python's ssl over memory BIOs)."""

from __future__ import annotations

import hashlib
import json
import ssl

import pytest

from tlskit import MemoryClient, SessionDriver, client_context, client_hello, split_records
from sim.frame_types import StreamLocation
from sim.http import pattern_bytes
from sim.seed import SeededRandom
from sim.tls.diagnosis import diagnose
from sim.tls.policy import ServerPolicy
from sim.tls.server import ApplicationData, ConnectionFailed, HandshakeComplete, TlsServer
from sim.tls.sessions import SessionCache

GCM = ("1.2", "ECDHE-RSA-AES128-GCM-SHA256")
CBC10 = ("1.0", "AES128-SHA")


def server(policy=None, seed=1, sessions=None) -> TlsServer:
    return TlsServer(policy or ServerPolicy(), SeededRandom(seed).child("test"), sessions=sessions)


def connect(ca_path, srv, version="1.2", cipher=None, ctx=None, **kw) -> MemoryClient:
    client = MemoryClient(ctx or client_context(ca_path, version, cipher), **kw)
    events = client.handshake(srv)
    assert any(isinstance(e, HandshakeComplete) for e in events), srv.journal.to_text()
    return client


def post_request(n: int) -> bytes:
    return (b"POST /upload HTTP/1.1\r\nHost: tls-peer.test\r\nContent-Type: application/octet-stream\r\n"
            + f"Content-Length: {n}\r\nConnection: close\r\n\r\n".encode() + pattern_bytes(n))


@pytest.mark.parametrize("version,cipher,etm", [(*GCM, True), (*CBC10, False), ("1.1", "ECDHE-RSA-AES128-SHA", True)])
def test_one_corrupted_byte_is_named_and_answered_with_bad_record_mac(ca_path, version, cipher, etm):
    d = SessionDriver(ca_path, version, cipher, ServerPolicy(encrypt_then_mac=etm))
    handshake_bytes = len(d.client.sent)
    wire = bytearray(d.client.write(post_request(3000)))
    records = split_records(bytes(wire))
    # the application-data record carrying the body (TLS 1.0 splits 1/n-1: take the biggest one)
    target = max(range(len(records)), key=lambda i: len(records[i][2]))
    start = sum(5 + len(r[2]) for r in records[:target])
    corrupt_at = start + 5 + 700                       # a ciphertext byte well inside the record
    wire[corrupt_at] ^= 0x04
    d.session.data_received(bytes(wire))

    # the peer sends bad_record_mac (encrypted: it has sent its CCS) and closes with FIN, not RST
    assert d.session.failure is not None and d.session.failure.alert == "bad_record_mac"
    assert d.conn.closed and not d.conn.aborted
    assert not d.session.internal_errors
    with pytest.raises(ssl.SSLError, match="(?i)bad.record.mac"):
        d.client.read_all(d.conn.take())

    journal = d.session.journal
    failed = journal.first_failure()
    expected_offset = handshake_bytes + start
    assert failed.stream_offset == expected_offset and failed.content_type == "application_data"
    check = "tag" if cipher.endswith("GCM-SHA256") else ("mac" if etm else None)
    failed_names = {c.name for c in failed.failed_checks()}
    assert check in failed_names if check else failed_names & {"mac", "padding"}
    text_line = next(line for line in journal.to_text().splitlines() if line.lstrip().startswith(f"{failed.index} "))
    assert "FAIL" in text_line and "application_data" in text_line
    assert json.loads(journal.to_json())["records"][failed.index]["ok"] is False

    diagnosis = diagnose(journal, device_sent=bytes(d.client.sent),
                         locate=lambda offset: StreamLocation(segment=offset // 1460, tcp_seq=offset, frame=3 + offset // 1460,
                                                              frame_offset=54 + offset % 1460))
    assert diagnosis.verdict == "record_corrupted"
    assert diagnosis.difference["first_offset"] == handshake_bytes + corrupt_at
    assert diagnosis.difference["journal_record"] == failed.index
    assert diagnosis.difference["offset_in_record"] == corrupt_at - start
    assert diagnosis.difference["pattern"]["kind"] == "overwrite" and diagnosis.difference["pattern"]["xor"] == "0x04"
    assert f"record #{failed.index}" in diagnosis.summary
    assert f"stream offset {handshake_bytes + corrupt_at}" in diagnosis.text
    assert "frame offset" in diagnosis.text
    assert diagnosis.to_dict()["verdict"] == "record_corrupted"


def test_get_post_keep_alive_and_close_notify(ca_path):
    d = SessionDriver(ca_path, *GCM)
    d.session.data_received(d.client.write(b"GET /text/50 HTTP/1.1\r\nHost: tls-peer.test\r\n\r\n"))
    reply = d.client.read_all(d.conn.take())
    assert reply.startswith(b"HTTP/1.1 200 OK") and reply.endswith(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwx")
    assert not d.conn.closed
    d.session.data_received(d.client.write(post_request(70000)))
    reply = d.client.read_all(d.conn.take())
    body = reply.split(b"\r\n\r\n", 1)[1]
    assert json.loads(body) == {"length": 70000, "sha256": hashlib.sha256(pattern_bytes(70000)).hexdigest()}
    # Connection: close -> the server sent close_notify and FIN
    assert d.session.tls.close_notify_sent and d.conn.closed
    assert d.factory.keylog().startswith("CLIENT_RANDOM " + d.session.journal.info["client_random"])


def test_client_close_notify_is_answered(ca_path):
    d = SessionDriver(ca_path, *GCM)
    with pytest.raises(ssl.SSLWantReadError):
        d.client.tls.unwrap()
    d.session.data_received(d.client.take())
    out = d.conn.take()
    assert [(t, f) for t, _, f in split_records(out)] and split_records(out)[-1][0] == 21
    d.client.incoming.write(out)
    d.client.tls.unwrap()                                 # the client accepts the server's close_notify
    assert d.session.tls.close_notify_received and d.conn.closed


def test_same_seed_same_transcript_bytes(ca_path):
    """Record a live client's bytes, replay them: the same seed gives byte-identical server output."""
    srv = server(seed=42)
    client = MemoryClient(client_context(ca_path, *GCM))
    chunks, server_out = [], bytearray()
    for _ in range(10):
        try:
            client.tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            chunks.append(client.take())
            srv.receive(chunks[-1])
            out = srv.data_to_send()
            server_out += out
            client.incoming.write(out)
    chunks.append(client.take() + client.write(post_request(5000)))
    events = srv.receive(chunks[-1])
    srv.send(b"reply")
    server_out += srv.data_to_send()
    assert any(isinstance(e, ApplicationData) for e in events)

    replay = server(seed=42)
    replay_out = bytearray()
    for chunk in chunks:
        replay.receive(chunk)
        replay_out += replay.data_to_send()
    replay.send(b"reply")
    replay_out += replay.data_to_send()
    assert bytes(replay_out) == bytes(server_out)
    assert replay.journal.to_json() == srv.journal.to_json()
    assert replay.keylog_lines == srv.keylog_lines

    other = server(seed=43)
    other_out = bytearray()
    for chunk in chunks:
        other.receive(chunk)
        other_out += other.data_to_send()
    assert other_out[:200] != server_out[:200]           # a different server random and ECDHE key
    # the client's key exchange was for the other server's key: its Finished cannot verify
    assert diagnose(other.journal).verdict == "keys_mismatch"


def test_session_resumption_by_id(ca_path):
    cache = SessionCache()
    first = server(sessions=cache)
    ctx = client_context(ca_path, *GCM)
    client = connect(ca_path, first, ctx=ctx)
    client.read_all(b"")
    session = client.tls.session
    assert first.journal.info["session_id"] == session.id.hex()
    second = server(seed=2, sessions=cache)
    again = connect(ca_path, second, ctx=ctx, session=session)
    assert again.tls.session_reused and second.resumed
    assert second.journal.info["resumed"] is True
    assert second.keylog_lines[0].split()[2] == first.keylog_lines[0].split()[2]


@pytest.mark.parametrize("policy,client,alert,reason", [
    (ServerPolicy(versions=("1.2",)), ("1.0", "AES128-SHA"), "protocol_version", "at least TLS1.2"),
    (ServerPolicy(suites=("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",)), GCM, "handshake_failure", "no cipher suite"),
    (ServerPolicy(groups=("x25519",)), GCM, "handshake_failure", "no common group"),
    (ServerPolicy(server_name="other.test"), GCM, "unrecognized_name", "SNI"),
])
def test_picky_policies_refuse_with_the_right_alert(ca_path, policy, client, alert, reason):
    srv = server(policy)
    ctx = client_context(ca_path, *client)
    if "no common group" in reason:
        ctx.set_ecdh_curve("prime256v1")
    c = MemoryClient(ctx)
    with pytest.raises(ssl.SSLError):
        c.handshake(srv)
    failure = srv.journal.first_failure()
    assert failure is not None and reason in failure.error
    sent = [r.alert for r in srv.journal.records if r.alert and r.alert["sent"]]
    assert sent == [{"level": "fatal", "description": alert, "sent": True, "reason": failure.error}]
    assert diagnose(srv.journal).verdict == "handshake_rejected"


def test_record_size_and_mac_then_encrypt_policy(ca_path):
    srv = server(ServerPolicy(record_size=1000, encrypt_then_mac=False))
    client = connect(ca_path, srv, "1.2", "ECDHE-RSA-AES128-SHA")
    assert srv.journal.info["encrypt_then_mac"] is False
    srv.send(b"z" * 5000)
    out = srv.data_to_send()
    assert [len(f) for t, _, f in split_records(out)] == [16 + 1008 + 16] * 5   # IV + 1000+20 MAC padded
    assert client.read_all(out) == b"z" * 5000


def test_replayed_and_dropped_records_are_told_apart(ca_path):
    srv = server()
    client = connect(ca_path, srv, *GCM)
    r1, r2, r3 = (client.write(b"record %d" % i) for i in range(3))
    assert srv.receive(r1 + r1) and srv.closed
    diagnosis = diagnose(srv.journal)
    assert diagnosis.verdict == "replay_or_reorder" and "replay" in diagnosis.summary

    srv = server()
    client = connect(ca_path, srv, *GCM)
    r1, r2, r3 = (client.write(b"record %d" % i) for i in range(3))
    srv.receive(r1 + r3)
    diagnosis = diagnose(srv.journal)
    assert diagnosis.verdict == "replay_or_reorder" and "never arrived" in diagnosis.summary


def test_keys_never_matched_when_the_premaster_is_damaged(ca_path):
    """RSA key exchange: a damaged premaster is silently replaced (no padding oracle), so the failure
    shows up as the client's Finished failing its MAC - and the diagnosis says keys never matched."""
    srv = server()
    client = MemoryClient(client_context(ca_path, "1.2", "AES128-GCM-SHA256"))
    with pytest.raises(ssl.SSLWantReadError):
        client.tls.do_handshake()
    srv.receive(client.take())
    client.incoming.write(srv.data_to_send())
    with pytest.raises(ssl.SSLWantReadError):
        client.tls.do_handshake()
    flight = bytearray(client.take())
    flight[5 + 4 + 2 + 100] ^= 0xFF                       # inside the encrypted premaster
    events = srv.receive(bytes(flight))
    assert [e.alert for e in events if isinstance(e, ConnectionFailed)] == ["bad_record_mac"]
    diagnosis = diagnose(srv.journal)
    assert diagnosis.verdict == "keys_mismatch"
    assert "random premaster was used" in diagnosis.text


def test_truncated_stream_and_bad_cbc_length_are_misframing(ca_path):
    srv = server()
    client = connect(ca_path, srv, *GCM)
    record = client.write(b"x" * 500)
    srv.receive(record[:300])
    srv.eof_received()
    diagnosis = diagnose(srv.journal)
    assert diagnosis.verdict == "misframing" and "ended inside a record" in diagnosis.summary

    srv = server()
    client = connect(ca_path, srv, "1.2", "AES128-SHA")
    record = bytearray(client.write(b"y" * 100))
    extra = b"\x00\x00\x00"
    length = int.from_bytes(record[3:5], "big") + len(extra)
    record[3:5] = length.to_bytes(2, "big")
    srv.receive(bytes(record) + extra)
    diagnosis = diagnose(srv.journal)
    assert diagnosis.verdict == "misframing" and "length" in diagnosis.summary


def test_misframed_header_found_by_comparison(ca_path):
    srv = server()
    client = connect(ca_path, srv, *GCM)
    sent_before = len(client.sent)
    record = client.write(b"q" * 100) + client.write(b"r" * 100)
    damaged = bytearray(record)
    damaged[4] ^= 0x02                                    # the first record's length field
    srv.receive(bytes(damaged))
    diagnosis = diagnose(srv.journal, device_sent=bytes(client.sent))
    assert diagnosis.verdict == "misframing"
    assert diagnosis.difference["first_offset"] == sent_before + 4
    assert diagnosis.difference["record_part"] == "record header"


@pytest.mark.parametrize("record,alert", [
    (client_hello(suites=(0xC02F, 0x5600), version=0x0302), "inappropriate_fallback"),
    (client_hello(suites=(0x1301, 0x0005)), "handshake_failure"),
    (client_hello(version=0x0200), "protocol_version"),
    (b"\x17\x03\x01\x00\x05hello", "unexpected_message"),
    (b"GET / HTTP/1.1\r\n\r\n", "unexpected_message"),
    (b"\x16\x03\x01\x48\x01" + b"\x00" * 10, "record_overflow"),
    (b"\x16\x03\x01\x00\x04\x02\x00\x00\x00", "unexpected_message"),
])
def test_bad_openings_get_the_right_alert(record, alert):
    srv = server()
    events = srv.receive(record)
    assert [e.alert for e in events if isinstance(e, ConnectionFailed)] == [alert]
    (ctype, version, fragment), = split_records(srv.data_to_send())
    assert ctype == 21 and fragment[0] == 2


def test_a_peer_bug_becomes_internal_error_not_an_exception(ca_path, monkeypatch):
    d = SessionDriver(ca_path, *GCM)
    monkeypatch.setattr(d.session.http, "receive", lambda data: 1 / 0)
    d.session.data_received(d.client.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"))   # must not raise
    assert "ZeroDivisionError" in d.session.internal_errors[0]
    with pytest.raises(ssl.SSLError, match="(?i)internal.error"):
        d.client.read_all(d.conn.take())
    assert d.conn.closed
    assert any(e["event"] == "internal_error" for e in d.session.journal.events)


@pytest.mark.parametrize("curve,group", [("prime256v1", "secp256r1"), ("secp384r1", "secp384r1"),
                                         ("X25519", "x25519"), ("secp521r1", "secp521r1")])
def test_ecdhe_groups(ca_path, curve, group):
    srv = server()
    ctx = client_context(ca_path, *GCM)
    ctx.set_ecdh_curve(curve)
    client = connect(ca_path, srv, ctx=ctx)
    assert srv.journal.info["group"] == group
    srv.send(b"ok")
    assert client.read_all(srv.data_to_send()) == b"ok"
