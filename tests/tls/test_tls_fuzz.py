"""Property tests: whatever bytes arrive, the peer answers with the right alert or keeps waiting,
closes cleanly after a fatal alert, and never raises (through PeerSession, as the host stack calls it)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlskit import FakeConn, SessionDriver, client_hello, split_records
from sim.peer import PeerFactory
from sim.tls.policy import ServerPolicy
from sim.tls.protocol import MAX_CIPHERTEXT, MAX_PLAINTEXT

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
HANDSHAKE_ALERTS = {"decode_error", "illegal_parameter", "handshake_failure", "protocol_version", "unexpected_message",
                    "inappropriate_fallback", "unrecognized_name", "record_overflow"}
_FACTORY = PeerFactory(ServerPolicy(), seed=99)


def fresh():
    session = _FACTORY()
    conn = FakeConn()
    session.connection_made(conn)
    return session, conn


def outcome(session, conn) -> str | None:
    """Checks the invariants and returns the fatal alert sent, if any."""
    assert not session.internal_errors, session.internal_errors[0]
    out = conn.take()
    records = split_records(out)
    assert sum(5 + len(f) for _, _, f in records) == len(out), "the server wrote a partial record"
    if session.failure is None:
        assert not conn.closed or session.tls.close_notify_sent or session.tls.closed
        return None
    # a fatal alert is the last thing written, then FIN (never RST)
    assert records and records[-1][0] == 21
    assert conn.closed and not conn.aborted
    return session.failure.alert


@SETTINGS
@given(st.binary(max_size=400))
def test_random_bytes_at_the_start(data):
    session, conn = fresh()
    session.data_received(data)
    alert = outcome(session, conn)
    assert alert is None or alert in HANDSHAKE_ALERTS
    if alert is None:                       # nothing decisive yet: it must be an incomplete first record
        # an incomplete first record, or a handshake/alert record that is fine so far (a partial
        # ClientHello, a warning alert)
        assert len(data) < 5 or len(data) < 5 + int.from_bytes(data[3:5], "big") or data[:1] in (b"\x15", b"\x16")


@SETTINGS
@given(ctype=st.integers(0, 255), version=st.integers(0, 0xFFFF), body=st.binary(max_size=300),
       split=st.integers(0, 400))
def test_random_records_in_any_split(ctype, version, body, split):
    session, conn = fresh()
    record = bytes([ctype]) + version.to_bytes(2, "big") + len(body).to_bytes(2, "big") + body
    session.data_received(record[:split])
    session.data_received(record[split:])
    alert = outcome(session, conn)
    if ctype not in (20, 21, 22, 23):
        assert alert == "unexpected_message"
    elif version >> 8 != 3:
        assert alert == "protocol_version"
    elif ctype == 23 or ctype == 20:
        assert alert in ("unexpected_message", "decode_error", "illegal_parameter")
    else:
        assert alert is None or alert in HANDSHAKE_ALERTS


@SETTINGS
@given(length=st.integers(MAX_PLAINTEXT + 1, 0xFFFF), ctype=st.sampled_from([21, 22, 23]))
def test_oversized_records_get_record_overflow_at_once(length, ctype):
    """Plaintext over 2^14 (and anything over 2^14 + 2048) is refused from the header alone."""
    session, conn = fresh()
    session.data_received(bytes([ctype, 3, 1]) + length.to_bytes(2, "big") + b"\x00" * 7)
    assert outcome(session, conn) == "record_overflow"


@SETTINGS
@given(data=st.data())
def test_mutated_client_hello(data):
    record = bytearray(client_hello())
    body = record[5:]
    for _ in range(data.draw(st.integers(1, 4))):
        kind = data.draw(st.sampled_from(["flip", "truncate", "insert"])) if body else "insert"
        pos = data.draw(st.integers(0, max(0, len(body) - 1)))
        if kind == "flip":
            body[pos] ^= data.draw(st.integers(1, 255))
        elif kind == "truncate":
            del body[pos:]
        else:
            body[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
    session, conn = fresh()
    session.data_received(bytes(record[:3]) + len(body).to_bytes(2, "big") + bytes(body))
    if len(body):
        session.eof_received()
    alert = outcome(session, conn)
    assert alert is None or alert in HANDSHAKE_ALERTS


@SETTINGS
@given(msg_type=st.integers(0, 255), body=st.binary(max_size=600))
def test_random_handshake_message_after_client_hello(msg_type, body):
    session, conn = fresh()
    session.data_received(client_hello())
    conn.take()
    message = bytes([msg_type]) + len(body).to_bytes(3, "big") + body
    session.data_received(bytes([22, 3, 3]) + len(message).to_bytes(2, "big") + message)
    alert = outcome(session, conn)
    if msg_type != 16:                       # only a ClientKeyExchange is acceptable now
        assert alert == "unexpected_message"
    else:
        assert alert in (None, "decode_error", "illegal_parameter")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ctype=st.sampled_from([20, 21, 22, 23]), body=st.binary(max_size=200),
       length=st.none() | st.integers(MAX_CIPHERTEXT + 1, 0xFFFF), cipher=st.sampled_from(
           ["ECDHE-RSA-AES128-GCM-SHA256", "AES256-SHA256", "ECDHE-RSA-AES128-SHA"]))
def test_random_records_after_the_handshake(ca_path, ctype, body, length, cipher):
    d = SessionDriver(ca_path, "1.2", cipher)
    d.conn.take()
    header_len = len(body) if length is None else length
    d.session.data_received(bytes([ctype, 3, 3]) + header_len.to_bytes(2, "big") + body)
    alert = outcome(d.session, d.conn)
    if length is not None:
        assert alert == "record_overflow"
    elif len(body) == 0 and ctype != 23:
        assert alert == "bad_record_mac"     # an empty protected record cannot hold a MAC or tag
    else:
        assert alert == "bad_record_mac"     # random bytes never authenticate
    assert d.session.journal.first_failure() is not None


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(0, 100_000), cipher=st.sampled_from(["ECDHE-RSA-AES128-GCM-SHA256", "AES128-SHA"]))
def test_truncated_client_stream(ca_path, cut, cipher):
    d = SessionDriver(ca_path, "1.2", cipher)
    d.conn.take()
    stream = d.client.write(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 40000\r\n\r\n" + b"p" * 40000)
    cut = min(cut, len(stream))
    d.session.data_received(stream[:cut])
    d.session.eof_received()
    assert outcome(d.session, d.conn) is None          # truncation is journalled, no alert to a closed peer
    assert d.conn.closed
    boundaries, pos = {0}, 0
    for _, _, fragment in split_records(stream):
        pos += 5 + len(fragment)
        boundaries.add(pos)
    truncated = any(e["event"] == "truncated" for e in d.session.journal.events)
    assert truncated == (cut not in boundaries)
