"""The defect gallery, diagnosed: every variant under its field condition (and `fixed` under the
same) is run once, its evidence saved as the run's cause.json, and

- the diagnosis is fed each saved evidence with the variant's name withheld (the evidence never
  mentions it, and the cases are shuffled under letters): the classes it names make a diagonal
  confusion table against the classes firmware/README.md documents for the variants;
- each key evidence line is checked against what the run left behind, read independently of the
  diagnosis: the capture (dpkt on capture.pcapng), the bytes the TLS layer handed to TCP, the
  peer's journal and the firmware's console.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import dpkt
import pytest
from elftools.elf.elffile import ELFFile

from sim.diagnosis import classify
from sim.gallery import FIXED, gallery_runs, image_path, run_gallery

# firmware/README.md, "What a diagnosis can tell them apart by": the class of each variant
DOCUMENTED = {"seedbug": "transport_corruption", "bug-tcp-nocopy": "retransmission_mismatch",
              "bug-partial-send": "missing_stream_bytes", "bug-want-write-args": "missing_stream_bytes",
              "bug-two-writers": "concurrent_writers", "bug-stack-overflow": "memory_corruption",
              "bug-trunc-hmac": "truncated_hmac"}


@pytest.fixture(scope="module")
def gallery(tmp_path_factory):
    out = tmp_path_factory.mktemp("gallery")
    result = run_gallery(gallery_runs(), out_dir=out)
    runs = {}
    for n, r in enumerate(result.results, 1):
        folder = next(out.glob(f"{n:02d}-*"))
        runs.setdefault(r.run.image, []).append((r, folder))
    return runs


def variant(gallery, name):
    ((result, folder),) = gallery[name]
    return result.diagnosed, folder


def test_the_diagnosis_names_each_variant_from_its_evidence_alone(gallery):
    assert set(DOCUMENTED) <= set(gallery)
    cases = []
    for name in DOCUMENTED:
        _, folder = variant(gallery, name)
        text = (folder / "cause.json").read_text()
        assert name not in text and "bug-" not in text, f"{name}'s evidence names the variant"
        cases.append((name, json.loads(text)["evidence"]))
    random.Random(17).shuffle(cases)
    letters = {chr(ord("A") + k): evidence for k, (_, evidence) in enumerate(cases)}
    named = {letter: classify(evidence).key for letter, evidence in letters.items()}
    table = {name: named[chr(ord("A") + k)] for k, (name, _) in enumerate(cases)}
    assert table == DOCUMENTED


def test_fixed_passes_every_condition_and_nothing_is_explained(gallery):
    runs = gallery[FIXED]
    assert len(runs) == len(DOCUMENTED)
    for result, folder in runs:
        diagnosed = result.diagnosed
        assert diagnosed.step.ok and diagnosed.cause.key == "none", (result.run.label, diagnosed.text())
        assert diagnosed.runs == 1                  # a passing run is not replayed
        assert json.loads((folder / "cause.json").read_text())["cause"]["class"] == "none"


# --- each key evidence line against the run's own record ---------------------------------------------

def frames(folder: Path) -> list[bytes]:
    with open(folder / "capture.pcapng", "rb") as f:
        return [bytes(buf) for _, buf in dpkt.pcapng.Reader(f)]


def tcp(frame: bytes):
    return dpkt.ethernet.Ethernet(frame).data.data


def number(pattern: str, text: str) -> tuple[int, ...]:
    found = re.search(pattern, text)
    assert found, f"{pattern!r} not in: {text}"
    return tuple(int(g, 0) for g in found.groups())


def test_seedbug_bytes_changed_on_the_wire_where_the_key_line_says(gallery):
    diagnosed, folder = variant(gallery, "seedbug")
    line = diagnosed.cause.key_line
    offset, frame_no, frame_offset = number(r"stream offset (\d+), TCP segment \d+, Ethernet frame (\d+) at "
                                            r"frame offset (\d+)", line)
    frame = frames(folder)[frame_no - 1]
    segment = tcp(frame)
    header = len(frame) - len(segment.data)
    start = offset - (frame_offset - header)                 # stream offset of the segment's first byte
    sent = diagnosed.step.device_sent[start:start + len(segment.data)]
    k = frame_offset - header
    (inserted,) = number(r"(\d+) stale/garbage byte\(s\) inserted, then the intended bytes shifted", line)
    assert segment.data[:k] == sent[:k]                      # intact up to the change ...
    assert segment.data[k + inserted:] == sent[k:len(segment.data) - inserted]      # ... then shifted
    assert segment.data != sent
    # provenance: the bytes the DMA buffer held at the changed place are the frame's bytes there,
    # and nothing wrote them in the run
    (quoted,) = [x for x in diagnosed.cause.evidence if x.startswith(f"provenance: frame {frame_no} offset")
                 and "never written since the boot snapshot" in x]
    held = bytes.fromhex(re.search(r"\d+ bytes?, ([0-9a-f]+)\)", quoted).group(1))
    assert frame[frame_offset:frame_offset + len(held)] == held


def test_nocopy_retransmission_differs_from_the_original_in_the_capture(gallery):
    diagnosed, folder = variant(gallery, "bug-tcp-nocopy")
    line = diagnosed.cause.key_line
    length, differing = number(r"\((\d+) bytes\) was retransmitted with (\d+) bytes different", line)
    original_no, again_no = number(r"frame (\d+) at [\d.]+ ms \(lost on the link\), frame (\d+) at", line)
    captured = frames(folder)
    original, again = tcp(captured[original_no - 1]), tcp(captured[again_no - 1])
    assert original.seq == again.seq and len(original.data) == len(again.data) == length
    assert sum(a != b for a, b in zip(original.data, again.data)) == differing > 0
    assert "without TCP_WRITE_FLAG_COPY" in "\n".join(diagnosed.cause.evidence)


def test_partial_send_the_stretch_is_missing_from_what_the_server_received(gallery):
    diagnosed, _ = variant(gallery, "bug-partial-send")
    length, first, last = number(r"(\d+) bytes the TLS layer handed to the send callback never reached the "
                                 r"server: stream offset (\d+)-(\d+)", diagnosed.cause.key_line)
    assert last - first + 1 == length
    sent = diagnosed.step.device_sent
    (session,) = diagnosed.step.sessions
    received = bytes(session.journal.rx_stream)
    assert received[:first] == sent[:first]
    assert received[first:first + 256] == sent[last + 1:last + 1 + 256]
    assert "although lwip_send() took only" in "\n".join(diagnosed.cause.evidence)


def test_want_write_args_lost_what_the_firmware_counted_as_written(gallery):
    diagnosed, _ = variant(gallery, "bug-want-write-args")
    lost, arrived = number(r"(\d+) bytes the application handed to mbedtls_ssl_write never reached the server: "
                           r".*\((\d+) application bytes arrived\)", diagnosed.cause.key_line)
    (written,) = number(r"Write to server: (\d+) bytes written", "\n".join(diagnosed.step.uart_lines))
    (session,) = diagnosed.step.sessions
    records = session.journal.records_from("client->server")
    assert all(r.ok for r in records) and session.journal.first_failure() is None
    received = sum(r.app_data["length"] for r in records if r.app_data is not None)
    assert arrived == received and lost == written - received > 0
    assert any("the application rewrote its buffer" in x for x in diagnosed.cause.evidence)


def test_two_writers_two_records_share_a_sequence_number(gallery):
    diagnosed, _ = variant(gallery, "bug-two-writers")
    assert re.match(r"task heartbeat called mbedtls_ssl_write on context 0x[0-9a-f]+ \(0 bytes\) at [\d.]+ ms "
                    r"while task main's call", diagnosed.cause.key_line)
    (session,) = diagnosed.step.sessions
    journal = session.journal
    records = journal.records_from("client->server")
    failed = journal.first_failure()
    before = records[records.index(failed) - 1]
    assert before.ok and before.app_data["length"] == 0            # the heartbeat's empty record
    stream = bytes(journal.rx_stream)
    nonce = lambda r: stream[r.stream_offset + 5:r.stream_offset + 13]       # noqa: E731 (GCM, RFC 5288 §3)
    assert nonce(failed) == nonce(before)


def test_stack_overflow_the_writer_ran_below_its_stack(gallery):
    diagnosed, _ = variant(gallery, "bug-stack-overflow")
    line = diagnosed.cause.key_line
    (counter,) = number(r"cur_out_ctr at (0x[0-9a-f]+) was overwritten", line)
    sp, below, bottom, top = number(r"SP (0x[0-9a-f]+) (\d+) bytes below the bottom of upload's stack "
                                    r"\[(0x[0-9a-f]+), (0x[0-9a-f]+)\)", line)
    assert sp + below == bottom and bottom < top
    assert 0 < bottom - counter <= 64              # the session's counter lies just below that stack
    # the writer's PC is where the image's symbol table puts the function+offset quoted
    found = re.search(r"by (\w+)\+0x([0-9a-f]+) \(PC (0x[0-9a-f]+)", line)
    assert found, line
    with open(image_path("bug-stack-overflow"), "rb") as f:
        (symbol,) = ELFFile(f).get_section_by_name(".symtab").get_symbol_by_name(found.group(1))
    assert (symbol["st_value"] & ~1) + int(found.group(2), 16) == int(found.group(3), 16)
    # on the wire: the rejected record's explicit nonce is not the sequence number the records
    # before it prove (GCM: the nonce is the sequence number, RFC 5288 §3)
    (session,) = diagnosed.step.sessions
    failed = session.journal.first_failure()
    stream = bytes(session.journal.rx_stream)
    assert stream[failed.stream_offset + 5:failed.stream_offset + 13] != failed.seq.to_bytes(8, "big")


def test_trunc_hmac_the_first_protected_record_fails(gallery):
    diagnosed, _ = variant(gallery, "bug-trunc-hmac")
    (session,) = diagnosed.step.sessions
    journal = session.journal
    failed = journal.first_failure()
    assert (failed.content_type, failed.epoch, failed.seq) == ("handshake", 1, 0)
    assert "truncated_hmac" in journal.info["offered_extensions"] and journal.info["truncated_hmac"]
    assert f"record #{failed.index} (handshake, epoch 1 seq 0)" in diagnosed.cause.key_line
