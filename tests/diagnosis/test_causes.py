"""The cause rules on evidence built by hand, one fact at a time: which fact makes which class, and
which class wins when a run shows more than one (sim/diagnosis/causes.py, docs/diagnosis.md).
The real runs are in test_gallery_evidence.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.diagnosis import BY_KEY, cause_class, classify

WANT_WRITE = -0x6880            # MBEDTLS_ERR_SSL_WANT_WRITE


def record(index, seq, *, ok=True, content_type="application_data", nonce=None, **extra):
    out = {"index": index, "content_type": content_type, "epoch": 1, "seq": seq, "length": 4120,
           "stream_offset": 300 + 4125 * (index - 4), "ok": ok, "protection": "aead"}
    if nonce is not None:
        out["explicit_nonce"] = nonce
    if not ok:
        out.update(failed_checks=["aead_tag"], error="bad_record_mac", alternatives=[])
    out.update(extra)
    return out


def failed_run(**parts) -> dict:
    """A POST that drew bad_record_mac on record #6 (seq 2), its bytes as produced."""
    previous, failed = record(5, 1, nonce=f"{1:016x}"), record(6, 2, ok=False, nonce=f"{2:016x}")
    evidence = {
        "outcome": {"ok": False, "outcome": "bad_record_mac", "status_line": "post: error read -0x7780"},
        "journal": {"records": [previous, failed], "failed": failed, "previous": previous,
                    "application_bytes": 4096, "fatal_alerts_sent": ["bad_record_mac"]},
        "stream": {"relation": "equal", "events": []}, "capture": {"retransmissions": [], "faults": []},
        "calls": {}, "provenance": None}
    for key, value in parts.items():
        evidence[key] = {**(evidence[key] or {}), **value} if isinstance(value, dict) else value
    return evidence


def write(index, task, entered, returned, length=4096, *, result=None, buffer=0x10000744, sha="aa", tcb=None):
    return {"index": index, "task": {"name": task, "tcb": tcb or hash(task) & 0xFFFF}, "args": [0x10000278, buffer,
            length, 0], "entered_ns": entered, "returned_ns": returned,
            "result": length if result is None else result, "data_sha256": sha}


def test_a_passing_run_has_no_cause():
    passed = {"outcome": {"ok": True}, "journal": {"failed": None, "fatal_alerts_sent": []}}
    assert classify(passed).key == "none"


def test_bytes_that_arrived_as_produced_with_a_wrong_nonce_are_a_record_state_error():
    e = failed_run(journal={"failed": record(6, 2, ok=False, nonce="0400000014ed0209")})
    cause = classify(e)
    assert cause.key == "record_layer_state"
    assert "0400000014ed0209" in cause.key_line and f"{2:016x}" in cause.key_line


def test_a_retransmission_that_differs_outranks_the_altered_stream_it_causes():
    retransmission = {"stream_offset": 3168, "length": 1205, "differing_bytes": 1200, "first_differing": 0,
                      "original_frame": 19, "original_time_ns": 2_058_100_000, "original_role": "sent",
                      "retransmission_frame": 24, "retransmission_time_ns": 4_593_600_000, "acked_ns": None}
    e = failed_run(stream={"relation": "altered", "events": [{"kind": "altered", "sent_offset": 3168,
                                                               "received_offset": 3168, "length": 1205}]},
                   capture={"retransmissions": [retransmission]})
    cause = classify(e)
    assert cause.key == "retransmission_mismatch"
    assert "frame 19" in cause.key_line and "frame 24" in cause.key_line and "lost on the link" in cause.key_line


def test_a_stretch_missing_from_the_stream_is_missing_stream_bytes():
    e = failed_run(stream={"relation": "missing", "events": [{"kind": "missing", "sent_offset": 6088,
                                                               "received_offset": 6088, "length": 2410}]})
    cause = classify(e)
    assert cause.key == "missing_stream_bytes"
    assert cause.key_line.startswith("2410 bytes the TLS layer handed to the send callback never reached the "
                                     "server: stream offset 6088-8497")


def test_application_bytes_in_no_record_are_missing_stream_bytes_even_without_an_alert():
    writes = [write(0, "main", 10, 20, result=WANT_WRITE, sha="aa"),       # Mbed TLS keeps this record
              write(1, "main", 30, 40, sha="bb"),                          # other data, "written"
              write(2, "main", 50, 60, sha="cc")]
    e = failed_run(outcome={"status_line": "post: error read -0x6800", "outcome": "timeout"},
                   journal={"failed": None, "previous": None, "fatal_alerts_sent": [], "application_bytes": 8192},
                   calls={"tls_write": writes})
    cause = classify(e)
    assert cause.key == "missing_stream_bytes"
    # handed: 3 x 4096 (the call after WANT_WRITE brought other bytes, so it counts on its own)
    assert cause.key_line.startswith("4096 bytes the application handed to mbedtls_ssl_write never reached "
                                     "the server")
    assert "returned -0x6880 (WANT_WRITE)" in cause.evidence[1]


def test_a_retry_after_want_write_with_the_same_arguments_loses_nothing():
    writes = [write(0, "main", 10, 20, result=WANT_WRITE, sha="aa"), write(1, "main", 30, 40, sha="aa")]
    e = failed_run(journal={"failed": None, "previous": None, "fatal_alerts_sent": [], "application_bytes": 4096},
                   outcome={"status_line": "post: error read -0x6800"}, calls={"tls_write": writes})
    assert classify(e).key == "unexplained"


def test_two_tasks_inside_mbedtls_ssl_write_at_once_are_concurrent_writers():
    writes = [write(0, "main", 100, 900), write(1, "heartbeat", 400, 450, length=0)]
    cause = classify(failed_run(calls={"tls_write": writes}))
    assert cause.key == "concurrent_writers"
    assert cause.key_line.startswith("task heartbeat called mbedtls_ssl_write") and "task main's call" in cause.key_line
    # the same task calling again (its own later call) is no overlap
    same = [write(0, "main", 100, 200), write(1, "main", 300, 400)]
    assert classify(failed_run(calls={"tls_write": same})).key != "concurrent_writers"


def test_a_foreign_write_into_the_tls_context_is_memory_corruption():
    foreign = {"field": "mbedtls_ssl_context.cur_out_ctr", "address": 0x20010364, "data": "04000000",
               "function": "mbedtls_debug_print_buf+0x8", "caller": None, "time_ns": 2_011_100_000,
               "kind": "store", "task": "upload", "sp": 0x20010358, "sp_outside_stack":
               "48 bytes below the bottom of upload's stack", "stack": [0x20010388, 0x20011748], "handler": None}
    e = failed_run(provenance={"tls_state": {"foreign_writes": [foreign]}},
                   journal={"failed": record(6, 2, ok=False, nonce="0400000014ed0209")})
    cause = classify(e)
    assert cause.key == "memory_corruption"             # outranks the record-state error it causes
    assert "cur_out_ctr at 0x20010364" in cause.key_line and "SP 0x20010358 48 bytes below" in cause.key_line


def test_a_firmware_that_stopped_before_any_record_failed_is_a_firmware_fault():
    e = failed_run(journal={"failed": None, "previous": None, "fatal_alerts_sent": []},
                   outcome={"fault_lines": ["panic: stack overflow in task upload"], "outcome": "unfinished"})
    cause = classify(e)
    assert cause.key == "firmware_fault" and "panic: stack overflow in task upload" in cause.key_line


def test_the_truncated_hmac_layout_is_named_before_anything_else():
    failed = record(4, 0, ok=False, content_type="handshake",
                    alternatives=[{"kind": "truncated_hmac_key", "matched": True,
                                   "hypothesis": "client truncated the HMAC key to 10 bytes"}])
    e = failed_run(journal={"failed": failed, "previous": None, "truncated_hmac": True,
                            "suite": "TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA256"})
    cause = classify(e)
    assert cause.key == "truncated_hmac" and "truncated the HMAC key to 10 bytes" in cause.key_line


def test_a_failure_nothing_explains_says_so():
    e = failed_run(journal={"failed": record(6, 2, ok=False, nonce=f"{2:016x}")}, stream={"relation": None})
    assert classify(e).key == "unexplained"


def test_every_class_is_documented_and_unknown_ones_are_refused():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "diagnosis.md").read_text()
    for key in BY_KEY:
        assert f"`{key}`" in doc, f"docs/diagnosis.md does not describe {key}"
    with pytest.raises(KeyError, match="unknown cause class 'bad_luck'"):
        cause_class("bad_luck")
