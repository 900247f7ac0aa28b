"""What the TLS server did, as events for observers: bytes and records in and out, check results,
handshake messages, alerts, negotiation results and state transitions.

The server only emits these (`Trace.emit`); the record journal (`sim.tls.journal`) and the
client-mistake search (`sim.tls.mistakes`) subscribe, so neither sits inside the protocol logic.
Events are delivered synchronously, in the order they were emitted, to observers in the order they
subscribed. An observer may return further events, which are then delivered the same way (the
mistake search answers `ProtectionFailed` with `MistakesTried`); observers hold no reference back to
the trace, so a finished connection is freed by reference counting alone.

A received record's events arrive between its `RecordReceived` and either `RecordDone` (it was
accepted) or a `FatalAlertSent` (it ended the connection).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sim.tls.records import Check

Observer = Callable[[Any], Iterable[Any] | None]


class Trace:
    """The server's event bus: `subscribe(observer)`, then every `emit(event)` reaches it."""

    def __init__(self) -> None:
        self._observers: list[Observer] = []

    def subscribe(self, observer: Observer) -> None:
        self._observers.append(observer)

    def emit(self, event: Any) -> None:
        for observer in tuple(self._observers):
            for follow_up in observer(event) or ():
                self.emit(follow_up)


# --- the connection ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Started:
    policy: dict                        # ServerPolicy.describe()


@dataclass(frozen=True)
class BytesReceived:
    data: bytes                         # client->server bytes exactly as they arrived (also after the end)


@dataclass(frozen=True)
class StateChanged:
    old: str
    new: str
    trigger: str                        # what moved it: a message name, "fatal alert sent", "eof", ...


@dataclass(frozen=True)
class StreamEnded:
    """The client closed its direction (TCP FIN) while the connection was open."""

    state: str
    truncated: str | None = None        # the reason, when the stream ended inside a record


# --- records ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RecordReceived:
    index: int                          # position among all records of the connection, both directions
    epoch: int
    seq: int
    content_type: str
    version: str
    length: int
    stream_offset: int
    protection: str
    raw: bytes                          # header + fragment as received (a prefix for a bad header)
    error: str | None = None            # set for a record the stream ended inside


@dataclass(frozen=True)
class RecordChecked:
    checks: tuple[Check, ...]           # outcomes of checks on the record being processed


@dataclass(frozen=True)
class ProtectionFailed:
    """The record's MAC, tag or padding failed; `context` is the read state it was opened with."""

    fragment: bytes
    context: Any                        # sim.tls.mistakes.ReadContext


@dataclass(frozen=True)
class MistakesTried:
    alternatives: tuple[dict, ...]      # every hypothesis tried, each with "matched"


@dataclass(frozen=True)
class HandshakeMessageReceived:
    name: str


@dataclass(frozen=True)
class ApplicationDataReceived:
    data: bytes


@dataclass(frozen=True)
class Note:
    text: str                           # a remark on the record being processed


@dataclass(frozen=True)
class RecordDone:
    """The record being processed was accepted."""


@dataclass(frozen=True)
class RecordSent:
    index: int
    epoch: int
    seq: int
    content_type: str
    version: str
    length: int
    stream_offset: int
    protection: str
    handshake: tuple[str, ...] = ()
    app_data: bytes | None = None
    alert: dict | None = None
    notes: tuple[str, ...] = ()


# --- alerts ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClientAlert:
    level: str
    description: str
    state: str


@dataclass(frozen=True)
class FatalAlertSent:
    description: str
    reason: str
    ends_record: bool                   # the alert answers the received record being processed


# --- handshake -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClientHelloParsed:
    client_version: str
    random: bytes
    cipher_suites: tuple[str, ...]
    extensions: tuple[str, ...]
    sni: str | None


@dataclass(frozen=True)
class IdentityChosen:
    """The chain the server presents to this client, and why (`sim.tls.identity.choose_identity`)."""

    identity: dict                      # IdentityChoice.describe(): source, kind, leaf, SANs, chain, host, fits
    why: str


@dataclass(frozen=True)
class VersionChosen:
    version: str
    server_random: bytes


@dataclass(frozen=True)
class SessionNegotiated:
    suite: str
    resumed: bool
    group: str | None
    extended_master_secret: bool
    encrypt_then_mac: bool
    truncated_hmac: bool
    max_fragment_length: int | None
    session_id: bytes


@dataclass(frozen=True)
class HandshakeFinished:
    version: str
    suite: str
    resumed: bool
    group: str | None
    extended_master_secret: bool
    encrypt_then_mac: bool
    truncated_hmac: bool
