"""The TLS server's states and every transition, in one table.

`TRANSITIONS[(state, what the client sent)]` is the state after the server handled it; a pair that
is not in the table is answered with a fatal unexpected_message alert (RFC 5246 §7.2.2). The flows
are RFC 5246 §7.3 (Figure 1, full handshake; Figure 2, abbreviated handshake): the server's own
flights (ServerHello ... ServerHelloDone, ChangeCipherSpec + Finished) are sent while handling the
client's message, so every state waits for the client.

A ClientHello is accepted in WAIT_CLIENT_HELLO; whether it starts a full or an abbreviated
handshake is known only once it has been negotiated, so the server then moves by the refined
input (CLIENT_HELLO or CLIENT_HELLO_RESUMING).

Alerts may arrive in every open state (RFC 5246 §7.2): a warning changes nothing, close_notify and
any fatal alert end the connection - as do a fatal alert the server sends and the end of the
client's stream (`ENDINGS`).
"""

from __future__ import annotations

import enum


class State(enum.StrEnum):
    WAIT_CLIENT_HELLO = "wait_client_hello"
    WAIT_CLIENT_KEY_EXCHANGE = "wait_client_key_exchange"
    WAIT_CHANGE_CIPHER_SPEC = "wait_change_cipher_spec"
    WAIT_FINISHED = "wait_finished"
    ESTABLISHED = "established"
    CLOSED = "closed"


class Received(enum.StrEnum):
    """What the client sent, as far as the state machine cares."""

    CLIENT_HELLO = "ClientHello"
    CLIENT_HELLO_RESUMING = "ClientHello (resuming a cached session)"
    CLIENT_KEY_EXCHANGE = "ClientKeyExchange"
    CHANGE_CIPHER_SPEC = "ChangeCipherSpec"
    FINISHED = "Finished"
    APPLICATION_DATA = "application_data"


S, R = State, Received

TRANSITIONS: dict[tuple[State, Received], State] = {
    (S.WAIT_CLIENT_HELLO, R.CLIENT_HELLO): S.WAIT_CLIENT_KEY_EXCHANGE,        # sent ServerHello..ServerHelloDone
    (S.WAIT_CLIENT_HELLO, R.CLIENT_HELLO_RESUMING): S.WAIT_CHANGE_CIPHER_SPEC,  # sent ServerHello, CCS, Finished
    (S.WAIT_CLIENT_KEY_EXCHANGE, R.CLIENT_KEY_EXCHANGE): S.WAIT_CHANGE_CIPHER_SPEC,
    (S.WAIT_CHANGE_CIPHER_SPEC, R.CHANGE_CIPHER_SPEC): S.WAIT_FINISHED,
    (S.WAIT_FINISHED, R.FINISHED): S.ESTABLISHED,                             # full: sent CCS, Finished
    (S.ESTABLISHED, R.APPLICATION_DATA): S.ESTABLISHED,
    (S.ESTABLISHED, R.CLIENT_HELLO): S.ESTABLISHED,       # renegotiation refused with a warning (RFC 5746 §4.4)
}


class Ending(enum.StrEnum):
    """What ends the connection from any open state."""

    CLOSE_NOTIFY_RECEIVED = "close_notify received"
    FATAL_ALERT_RECEIVED = "fatal alert received"
    FATAL_ALERT_SENT = "fatal alert sent"
    CLOSE_BEFORE_ESTABLISHED = "server closed before the handshake finished"
    END_OF_STREAM = "end of the client's stream"


ENDINGS: dict[Ending, State] = {ending: S.CLOSED for ending in Ending}


# a refined input is accepted wherever the input it refines is
REFINES = {R.CLIENT_HELLO_RESUMING: R.CLIENT_HELLO}


def accepted_in(state: State) -> list[Received]:
    """What the client may send in `state` (for the unexpected_message reason)."""
    return [received for (s, received) in TRANSITIONS if s == state and received not in REFINES]
