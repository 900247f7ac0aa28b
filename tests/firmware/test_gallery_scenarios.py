"""The defect gallery on the built-in machine: each variant passes where its defect stays hidden
and fails exactly under the condition that exposes it in the field; `fixed` passes the same
failing scenarios. Every failure is checked three ways: what the firmware printed, what the TLS
peer saw (its alert and the journal's record), and the defect's mechanism on the firmware itself
(the calls and memory a field engineer would look at with a debugger).

Scenarios: TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256 unless said otherwise; the POST body is
`body[i] = i % 251` (the oracle below is hashlib over that pattern).
"""

from __future__ import annotations

import hashlib

import pytest
from fw_gallery import GCM, Calls, Tasks, body_sha256, image, member_offset, post, u32

from sim.net.faults import StreamByte
from sim.net.frames import SYN, decode_tcp_frame
from sim.scenario import LinkFault
from sim.tls.policy import ServerPolicy

WANT_WRITE = -0x6880                    # MBEDTLS_ERR_SSL_WANT_WRITE
SMALL_WINDOW = 2048                     # a server advertising less than one 4 KiB record


@pytest.fixture(scope="module", autouse=True)
def built(firmware_elfs):
    """The session fixture builds every image first (incremental)."""
    return firmware_elfs


def assert_ok(run, size):
    assert run.step.ok, run.step.uart_lines[-6:]
    assert run.status_line() == (f"post: ok status=200 server_length={size} server_sha256={body_sha256(size)} "
                                 "match=yes")


def assert_bad_record_mac(run):
    """The report's symptom: the peer rejected a record with a fatal bad_record_mac alert, and the
    firmware read that alert."""
    assert run.status_line() == "post: error read -0x7780"
    assert "tls: last error was -0x7780 - SSL - A fatal alert message was received from our peer" in \
        run.step.uart_lines
    (alert,) = [a for a in run.step.alerts_sent_by_peer if a["level"] == "fatal"]
    assert alert["description"] == "bad_record_mac"
    failed = run.journal.first_failure()
    assert failed is not None and failed.content_type == "application_data"
    return failed


def tls_records(stream: bytes) -> list[tuple[int, int, int]]:
    """(offset, content type, length) of each record in a client byte stream (RFC 5246 §6.2.1)."""
    out, offset = [], 0
    while offset + 5 <= len(stream):
        length = int.from_bytes(stream[offset + 3:offset + 5], "big")
        out.append((offset, stream[offset], length))
        offset += 5 + length
    return out


# --- bug-tcp-nocopy: a lost segment is retransmitted from a buffer that was reused ---------------

# The client's handshake bytes end at stream offset 249 in this scenario (ClientHello, ECDHE
# ClientKeyExchange, ChangeCipherSpec, Finished); the first 4125-byte application record then
# goes out as segments [249, 1709) [1709, 3169) [3169, 4374). Byte 4000 is in the last one: the
# segment that is on the wire, unacknowledged, when the send callback returns.
RECORD_TAIL_BYTE = 4000


def drop_segment_with(stream_offset: int) -> tuple:
    return (LinkFault("device->host", "drop", (("when", StreamByte(stream_offset, dst_port=443)), ("limit", 1))),)


def device_segments(run) -> list[tuple[int, bytes, str]]:
    """(stream offset, payload, capture role) of every data segment the device put on the link."""
    out, isn = [], None
    for frame in run.runner.link.frames:
        view = decode_tcp_frame(frame.data)
        if frame.direction != "device->host" or frame.role == "arrived" or view is None:
            continue
        if view.tcp.has(SYN):
            isn = view.tcp.seq
        elif view.tcp.payload and isn is not None:
            out.append(((view.tcp.seq - isn - 1) & 0xFFFFFFFF, bytes(view.tcp.payload), frame.role))
    return out


def test_nocopy_passes_on_a_clean_link():
    assert_ok(post("bug-tcp-nocopy", 65536), 65536)


def test_nocopy_fails_when_a_record_tail_segment_is_lost():
    run = post("bug-tcp-nocopy", 16384, faults=drop_segment_with(RECORD_TAIL_BYTE))
    failed = assert_bad_record_mac(run)
    (drop,) = run.runner.link.fault_log
    assert drop.kind == "drop"
    segments = device_segments(run)
    (lost,) = [(off, data) for off, data, role in segments if role == "sent"]
    (again,) = [data for off, data, role in segments if off == lost[0] and role == "wire"]
    # the original carried what TLS handed over; the retransmission carries other bytes ...
    sent = run.step.device_sent
    assert lost[1] == sent[lost[0]:lost[0] + len(lost[1])]
    assert again != lost[1] and len(again) == len(lost[1])
    # ... namely the next record's bytes at the same place of Mbed TLS's output buffer
    records = tls_records(sent)
    (index,) = [i for i, (off, _, length) in enumerate(records) if off <= lost[0] < off + 5 + length]
    record_start, next_start = records[index][0], records[index + 1][0]
    shift = lost[0] - record_start
    assert again == sent[next_start + shift:next_start + shift + len(again)]
    # the peer rejects the record whose tail was replaced
    assert failed.stream_offset == record_start


def test_nocopy_small_body_survives_the_same_loss():
    """One record: nothing rebuilds the buffer before the retransmission."""
    run = post("bug-tcp-nocopy", 903, faults=drop_segment_with(1000))
    assert [r.kind for r in run.runner.link.fault_log] == ["drop"]
    assert_ok(run, 903)


def test_fixed_survives_the_lost_segment():
    run = post("fixed", 16384, faults=drop_segment_with(RECORD_TAIL_BYTE))
    assert [r.kind for r in run.runner.link.fault_log] == ["drop"]
    assert_ok(run, 16384)


# --- bug-partial-send: the send callback reports bytes the socket did not take -----------------

def lwip_send_calls():
    def keep_buffer(call, machine):
        call.extra["data"] = machine.read_memory(call.args[1], call.args[2])
    return Calls(image("bug-partial-send"), "lwip_send", on_entry=keep_buffer)


def test_partial_send_passes_while_the_socket_takes_every_byte():
    """A LAN server acknowledges faster than the device encrypts: the send buffer never fills."""
    calls = lwip_send_calls()
    run = post("bug-partial-send", 65536, watch=(calls,))
    assert_ok(run, 65536)
    assert all(c.result == c.args[2] for c in calls.calls)


def test_partial_send_one_record_fits_a_small_window():
    assert_ok(post("bug-partial-send", 4000, window=SMALL_WINDOW), 4000)


def test_partial_send_fails_when_the_socket_takes_fewer_bytes():
    calls = lwip_send_calls()
    run = post("bug-partial-send", 65536, window=SMALL_WINDOW, watch=(calls,))
    failed = assert_bad_record_mac(run)
    short = [c for c in calls.calls if c.result is not None and 0 <= c.result < c.args[2]]
    assert short, "no short write: the field condition did not occur"
    # the wire carries exactly what the socket took ...
    wire = b"".join(c.extra["data"][:c.result] for c in calls.calls if c.result and c.result > 0)
    received = run.journal.rx_stream
    assert wire.startswith(received)
    # ... while TLS believes every byte went out: the stream lost the rest of the short write
    gap = sum(c.result for c in calls.calls[:calls.calls.index(short[0]) + 1] if c.result and c.result > 0)
    sent = run.step.device_sent
    assert received[:gap] == sent[:gap] and len(received) > gap
    missing = short[0].args[2] - short[0].result
    assert received[gap:gap + 64] == sent[gap + missing:gap + missing + 64]
    # the record the gap cut into is the one the peer rejects
    assert failed.stream_offset <= gap < failed.stream_offset + 5 + failed.length


def test_fixed_passes_with_the_small_window():
    assert_ok(post("fixed", 65536, window=SMALL_WINDOW), 65536)


# --- bug-want-write-args: after WANT_WRITE, the next mbedtls_ssl_write brings other data --------

def test_want_write_args_passes_while_writes_never_block():
    assert_ok(post("bug-want-write-args", 65536), 65536)


def test_want_write_args_loses_the_chunk_after_each_want_write():
    def keep_buffer(call, machine):
        call.extra["data"] = machine.read_memory(call.args[1], call.args[2])
    calls = Calls(image("bug-want-write-args"), "mbedtls_ssl_write", on_entry=keep_buffer)
    run = post("bug-want-write-args", 65536, window=SMALL_WINDOW, watch=(calls,))
    # every record verifies, so no alert: the server waits for the body bytes that never come,
    # and the firmware, believing the request complete, times out waiting for the answer
    assert run.status_line() == "post: error read -0x6800"
    header = ("POST /upload HTTP/1.1\r\nHost: tls-peer.test\r\nContent-Type: application/octet-stream\r\n"
              "Content-Length: 65536\r\nConnection: close\r\n\r\n")
    assert f"Write to server: {len(header) + 65536} bytes written" in run.step.uart_lines
    assert run.journal.first_failure() is None
    assert not [a for a in run.step.alerts_sent_by_peer if a["level"] == "fatal"]
    # the contract violation: a call that returned WANT_WRITE, then a call with other data
    writes = [c for c in calls.calls if c.args[2] > 0]
    after = [i for i in range(1, len(writes)) if writes[i - 1].result == WANT_WRITE]
    assert after, "no WANT_WRITE: the field condition did not occur"
    for i in after:
        assert writes[i].extra["data"] != writes[i - 1].extra["data"]
        assert writes[i].result == writes[i].args[2]          # reported as written
    # what the server received: every chunk but those
    expected = [c.extra["data"] for i, c in enumerate(writes) if i not in after]
    received = [r.app_data["sha256"] for r in run.journal.records_from("client->server")
                if r.content_type == "application_data"]
    assert received == [hashlib.sha256(d).hexdigest() for d in expected]


# --- bug-two-writers: a keep-alive task writes while the shell task is inside mbedtls_ssl_write --

def test_two_writers_pass_when_the_request_ends_before_the_first_beat():
    assert_ok(post("bug-two-writers", 16384), 16384)


@pytest.mark.parametrize("tls,suite", [("1.2", GCM), ("1.0", "TLS-RSA-WITH-AES-128-CBC-SHA")])
def test_two_writers_fail_when_the_beat_lands_in_a_record(tls, suite):
    calls = Calls(image("bug-two-writers"), "mbedtls_ssl_write")
    run = post("bug-two-writers", 65536, tls=tls, suite=suite, watch=(calls,))
    failed = assert_bad_record_mac(run)
    # the heartbeat entered mbedtls_ssl_write while the shell task was inside it
    beats = [c for c in calls.calls if c.task == "heartbeat"]
    assert beats and all(c.args[2] == 0 for c in beats)
    assert calls.entered_during("heartbeat", "main")
    # on the wire: the heartbeat's empty record just before the rejected one, built with the same
    # sequence number as it (GCM's explicit nonce is the sequence number, RFC 5288 §3 as Mbed TLS
    # does it), so the rejected record was protected under a sequence number already used
    records = run.journal.records_from("client->server")
    before = records[records.index(failed) - 1]
    assert before.ok and before.app_data["length"] == 0
    if suite == GCM:
        stream = run.journal.rx_stream
        nonce = lambda r: stream[r.stream_offset + 5:r.stream_offset + 13]
        assert nonce(failed) == nonce(before) == before.seq.to_bytes(8, "big")


def test_fixed_passes_the_long_upload():
    assert_ok(post("fixed", 65536), 65536)


# --- bug-stack-overflow: the upload task's stack ends where the TLS session does ----------------

def test_stack_overflow_passes_when_the_request_fits_one_smaller_record():
    run = post("bug-stack-overflow", 3900)
    assert_ok(run, 3900)
    assert run.journal.first_failure() is None          # the closing alert verified as well


def test_stack_overflow_corrupts_the_sequence_counter_with_a_full_record():
    elf = image("bug-stack-overflow")
    ssl_at = member_offset(elf, "tls_session", "ssl")
    ctr_at = ssl_at + member_offset(elf, "mbedtls_ssl_context", "cur_out_ctr")
    host_at = ssl_at + member_offset(elf, "mbedtls_ssl_context", "hostname")

    def look(call, machine):
        tasks = Tasks(machine, elf)
        session = u32(machine, machine.symbol_address("session_mem"))
        bottom, _ = tasks.stack()
        call.extra.update(ctr=machine.read_memory(session + ctr_at, 8), hostname=u32(machine, session + host_at),
                          ctr_address=session + ctr_at, bottom=bottom, guard=machine.read_memory(bottom, 16))
    calls = Calls(elf, "mbedtls_ssl_write", on_entry=look)
    run = post("bug-stack-overflow", 4000, watch=(calls,))
    failed = assert_bad_record_mac(run)
    first, second = [c for c in calls.calls if c.task == "upload"][:2]
    assert first.args[2] == 4096                          # a full-size record (headers + body)
    # the session sits right below the upload task's stack
    assert 0 < first.extra["bottom"] - first.extra["ctr_address"] <= 64
    # TLS 1.2: Finished was record 0, so the first application record is 1 and the next 2 ...
    assert first.extra["ctr"] == (1).to_bytes(8, "big")
    assert second.extra["ctr"] != (2).to_bytes(8, "big")
    # ... but the write of the full record left something else there; what the kernel watches
    # (the 16 fill bytes at the stack's end) and the host name pointer next to it are intact
    assert second.extra["guard"] == b"\xa5" * 16
    assert second.extra["hostname"] == first.extra["hostname"]
    assert failed.seq == 2
    assert not [line for line in run.step.uart_lines if line.startswith("panic")]
    # on the wire, the rejected record's explicit nonce is the counter as the overflow left it
    stream = run.journal.rx_stream
    assert stream[failed.stream_offset + 5:failed.stream_offset + 13] == second.extra["ctr"]


def test_fixed_passes_the_full_record():
    assert_ok(post("fixed", 4000), 4000)


# --- bug-trunc-hmac: the pre-2.7 truncated HMAC against a server that follows RFC 6066 ----------

CBC = "TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA256"


@pytest.mark.parametrize("policy,suite", [
    (ServerPolicy(), CBC),                                                       # not echoed
    (ServerPolicy(truncated_hmac=True, truncated_hmac_compat=True), CBC),        # an old server
    (ServerPolicy(truncated_hmac=True), GCM),                                    # no HMAC at all
], ids=["server-declines", "server-pre-2.7", "gcm"])
def test_trunc_hmac_passes_where_the_key_layout_does_not_matter(policy, suite):
    assert_ok(post("bug-trunc-hmac", 903, suite=suite, policy=policy), 903)


def test_trunc_hmac_fails_against_an_rfc_6066_server():
    run = post("bug-trunc-hmac", 903, suite=CBC, policy=ServerPolicy(truncated_hmac=True))
    assert run.status_line() == "post: error handshake -0x7780"
    journal = run.journal
    assert "truncated_hmac" in journal.info["offered_extensions"] and journal.info["truncated_hmac"]
    failed = journal.first_failure()
    # the first protected record, the client's Finished, fails the MAC check ...
    assert (failed.content_type, failed.epoch, failed.seq) == ("handshake", 1, 0)
    # ... and verifies under the PolarSSL 1.3 / Mbed TLS < 2.7 key layout
    matched = [a["kind"] for a in failed.alternatives if a["matched"]]
    assert matched == ["truncated_hmac_key"]
    (alert,) = run.step.alerts_sent_by_peer
    assert alert["description"] == "bad_record_mac"


def test_fixed_does_not_offer_truncated_hmac():
    run = post("fixed", 903, suite=CBC, policy=ServerPolicy(truncated_hmac=True))
    assert_ok(run, 903)
    assert "truncated_hmac" not in run.journal.info["offered_extensions"]
