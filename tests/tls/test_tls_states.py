"""The server's state table and its trace: the states a real client (OpenSSL) walks through, what
each state refuses, and a journal built from nothing but the trace."""

from __future__ import annotations

import pytest

from tlskit import MemoryClient, client_context, client_hello, split_records
from sim.seed import SeededRandom
from sim.tls import trace
from sim.tls.journal import Journal
from sim.tls.policy import ServerPolicy
from sim.tls.server import ConnectionFailed, HandshakeComplete, TlsServer
from sim.tls.sessions import SessionCache
from sim.tls.states import REFINES, TRANSITIONS, State

GCM = ("1.2", "ECDHE-RSA-AES128-GCM-SHA256")


def recorded_server(**kw) -> tuple[TlsServer, list]:
    seen: list = []
    srv = TlsServer(ServerPolicy(), SeededRandom(5).child("states"), observers=(seen.append,), **kw)
    return srv, seen


def transitions(seen: list) -> list[tuple[str, str]]:
    return [(e.old, e.new) for e in seen if isinstance(e, trace.StateChanged)]


def test_every_transition_has_a_handler_and_every_handler_a_transition():
    assert set(TlsServer.HANDLERS) == {k for k in TRANSITIONS if k[1] not in REFINES}
    assert all(callable(getattr(TlsServer, name)) for name in TlsServer.HANDLERS.values())


def test_full_then_abbreviated_handshake_walk_the_table(ca_path):
    cache = SessionCache()
    srv, seen = recorded_server(sessions=cache)
    ctx = client_context(ca_path, *GCM)
    client = MemoryClient(ctx)
    assert any(isinstance(e, HandshakeComplete) for e in client.handshake(srv))
    assert transitions(seen) == [("wait_client_hello", "wait_client_key_exchange"),
                                 ("wait_client_key_exchange", "wait_change_cipher_spec"),
                                 ("wait_change_cipher_spec", "wait_finished"),
                                 ("wait_finished", "established")]
    client.read_all(b"")                         # let OpenSSL take the session

    again, seen = recorded_server(sessions=cache)
    resumed = MemoryClient(ctx, session=client.tls.session)
    resumed.handshake(again)
    assert resumed.tls.session_reused
    assert transitions(seen) == [("wait_client_hello", "wait_change_cipher_spec"),
                                 ("wait_change_cipher_spec", "wait_finished"),
                                 ("wait_finished", "established")]


def _finished_record() -> bytes:
    message = b"\x14\x00\x00\x0c" + bytes(12)
    return b"\x16\x03\x03\x00\x10" + message


@pytest.mark.parametrize("opening,then,accepted", [
    (b"", _finished_record(), "ClientHello"),
    (b"", b"\x14\x03\x01\x00\x01\x01", "ClientHello"),                      # ChangeCipherSpec
    (client_hello(), client_hello(record_version=0x0303), "ClientKeyExchange"),
    (client_hello(), b"\x14\x03\x03\x00\x01\x01", "ClientKeyExchange"),
    (client_hello(), b"\x17\x03\x03\x00\x02hi", "ClientKeyExchange"),       # application data
])
def test_a_pair_missing_from_the_table_is_unexpected_message(opening, then, accepted):
    srv, seen = recorded_server()
    srv.receive(opening)
    srv.data_to_send()
    events = srv.receive(then)
    failed = [e for e in events if isinstance(e, ConnectionFailed)]
    assert [e.alert for e in failed] == ["unexpected_message"]
    assert f"the server accepts {accepted} there" in failed[0].reason
    (ctype, _, fragment), = split_records(srv.data_to_send())
    assert ctype == 21 and fragment == b"\x02\x0a"
    assert srv.state == State.CLOSED and transitions(seen)[-1][1] == "closed"


def test_the_journal_is_built_from_the_trace_alone(ca_path):
    """Replaying the recorded trace into a fresh Journal gives the server's journal, byte for byte:
    nothing reaches the journal except through events."""
    srv, seen = recorded_server()
    client = MemoryClient(client_context(ca_path, "1.0", "AES128-SHA"))
    client.handshake(srv)
    wire = bytearray(client.write(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 900\r\n\r\n" + bytes(900)))
    wire[-30] ^= 0x01
    srv.receive(bytes(wire))
    assert srv.closed and srv.journal.first_failure() is not None
    assert srv.journal.first_failure().alternatives          # the mistake search answered through the trace
    rebuilt = Journal(srv.journal.name)
    for event in seen:
        rebuilt.observe(event)
    assert rebuilt.to_json() == srv.journal.to_json()
    assert rebuilt.to_text() == srv.journal.to_text()
