"""The cause classes the diagnosis can name, in one table: the key (stable, for tests and JSON),
the title (what a report says), what the class means, and where in the firmware to look.

Each class is a place between the application and the wire where the bytes or the state that
protects them went wrong; docs/diagnosis.md gives the evidence each one rests on.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CauseClass:
    key: str
    title: str
    meaning: str
    look_at: str


CLASSES: tuple[CauseClass, ...] = (
    CauseClass("transport_corruption", "transport corruption",
               "bytes changed between the TLS layer and the wire: the TLS layer produced a good record, the frame "
               "on the wire carried other bytes (first transmissions, TCP content)",
               "the TX path below the BIO callback: pbuf copies, the Ethernet driver's copy into its DMA buffers, "
               "descriptor sizes"),
    CauseClass("retransmission_mismatch", "retransmission mismatch",
               "a retransmitted TCP segment differs from its first transmission: the buffer it was sent from was "
               "rewritten before the segment was acknowledged",
               "zero-copy sends (lwIP tcp_write without TCP_WRITE_FLAG_COPY) from a buffer the TLS layer reuses"),
    CauseClass("missing_stream_bytes", "missing or duplicated stream bytes",
               "bytes handed on for sending never reached the server, or reached it twice, while every byte that "
               "did arrive is as produced: stretches of the TLS layer's output lost between the send callback and "
               "TCP, or application bytes counted as written that the TLS layer never put into a record",
               "the BIO send callback's return value against what the socket took (partial writes); the caller of "
               "mbedtls_ssl_write: after WANT_READ/WANT_WRITE it must call again with the same buffer and length"),
    CauseClass("record_layer_state", "record-layer state error",
               "a record was protected with a sequence number, nonce or key other than the one the previous "
               "records prove, while its bytes reached the server as produced",
               "the TLS context's record state (sequence counter, IV, keys): who changes it besides the record "
               "layer"),
    CauseClass("concurrent_writers", "concurrent writers",
               "two tasks built records on one TLS context at the same time (no lock): sequence numbers reused "
               "or skipped, records spliced",
               "every task that calls mbedtls_ssl_write/read/close_notify on the context; one mutex around them"),
    CauseClass("memory_corruption", "memory corruption of TLS state",
               "a write that is no part of the record layer changed the TLS context's keys, IV or sequence "
               "counter (a stack overflow, a heap overrun)",
               "the writer the provenance names: its task's stack size, the buffers next to the TLS context"),
    CauseClass("firmware_fault", "firmware fault",
               "the firmware stopped before the request ended (a fault, a panic, a failed assertion), with no "
               "record failing before it",
               "the fault report: the stacked frame, the task that ran and its stack"),
    CauseClass("truncated_hmac", "truncated-HMAC mistake",
               "the client negotiated truncated HMAC (RFC 6066 §7) and laid out its keys the pre-RFC way "
               "(PolarSSL 1.3, Mbed TLS before 2.7): its first protected record verifies only under that layout",
               "MBEDTLS_SSL_TRUNCATED_HMAC_COMPAT in the Mbed TLS configuration; or leave truncated HMAC off"),
    CauseClass("protocol_mistake", "record-protection mistake",
               "the failing record verifies under a known client error other than truncated HMAC (encrypt-then-MAC "
               "confusion, a MAC over another length, a GCM nonce other than the one sent)",
               "the record protection code of the TLS library or its configuration"),
    CauseClass("unexplained", "no cause found",
               "the run failed, but the evidence fits none of the classes",
               "the record-level diagnosis and the artifacts"),
    CauseClass("none", "no failure", "the run passed: nothing to explain", "-"),
)

BY_KEY = {c.key: c for c in CLASSES}


def cause_class(key: str) -> CauseClass:
    try:
        return BY_KEY[key]
    except KeyError:
        raise KeyError(f"unknown cause class {key!r}; known: {', '.join(BY_KEY)}") from None
