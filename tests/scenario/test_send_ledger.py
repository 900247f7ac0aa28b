"""fw_tls_send's bytes are given to the right connection when one TLS context serves connection
after connection, also when the host side learns of a connection after its first bytes were sent
(as on Renode, where frames reach the host at the end of a slice)."""

from __future__ import annotations

from dataclasses import dataclass

from sim.scenario.send_ledger import SendLedger, opens_connection

CTX = 0x20001000
HELLO = bytes([22, 3, 1, 0, 60, 1]) + bytes(59)          # record header + ClientHello (type 1)
KEY_EXCHANGE = bytes([22, 3, 3, 0, 70, 16]) + bytes(69)  # a ClientKeyExchange record (type 16)
APP = bytes([23, 3, 3, 0, 40]) + bytes(40)
ALERT = bytes([21, 3, 3, 0, 2, 1, 0])                    # close_notify


@dataclass(eq=False)
class Conn:
    name: str
    ended: bool = False


def ledger() -> SendLedger:
    return SendLedger(lambda conn: conn.ended)


def test_opens_connection_reads_the_record_and_handshake_types():
    assert opens_connection(HELLO)
    assert not opens_connection(KEY_EXCHANGE) and not opens_connection(APP) and not opens_connection(ALERT)
    assert not opens_connection(HELLO[:5])


def test_a_reused_context_follows_each_connection_the_host_saw_in_time():
    book, first, second = ledger(), Conn("1"), Conn("2")
    book.opened(first)
    book.sent(CTX, HELLO)
    book.sent(CTX, APP)
    first.ended = True
    book.opened(second)
    book.sent(CTX, HELLO)
    assert book.of(first) == HELLO + APP and book.of(second) == HELLO


def test_the_next_connections_first_flight_waits_until_the_host_sees_it():
    book, first, second = ledger(), Conn("1"), Conn("2")
    book.opened(first)
    book.sent(CTX, HELLO + APP)
    first.ended = True
    book.sent(CTX, HELLO)            # the device opened the next connection; its SYN is still on the way
    book.sent(CTX, KEY_EXCHANGE)
    book.opened(second)
    book.sent(CTX, APP)
    assert book.of(first) == HELLO + APP
    assert book.of(second) == HELLO + KEY_EXCHANGE + APP


def test_a_late_alert_on_an_ended_connection_stays_with_it():
    book, first, second = ledger(), Conn("1"), Conn("2")
    book.opened(first)
    book.sent(CTX, HELLO)
    first.ended = True
    book.sent(CTX, ALERT)            # the device's close_notify after the host side saw the end
    book.opened(second)
    book.sent(CTX, HELLO)
    assert book.of(first) == HELLO + ALERT and book.of(second) == HELLO


def test_bytes_before_any_connection_go_to_the_first():
    book, first = ledger(), Conn("1")
    book.sent(CTX, HELLO)
    book.opened(first)
    book.sent(CTX, APP)
    assert book.of(first) == HELLO + APP
