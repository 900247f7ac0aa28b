"""The peer's HTTP/1.1 app: documented bodies, upload digests, status codes, keep-alive, and the
request syntax RFC 9112 allows (bare-LF line endings, chunked bodies)."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.http import LOG_ENTRIES, HttpApp, get_body, pattern_bytes


def parse(responses: bytes) -> list[tuple[int, dict, bytes]]:
    out = []
    while responses:
        head, _, rest = responses.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = {k.lower(): v for k, _, v in (line.partition(": ") for line in lines[1:])}
        n = int(headers["content-length"])
        out.append((int(lines[0].split()[1]), headers, rest[:n]))
        responses = rest[n:]
    return out


def test_get_bodies_follow_the_documented_formulas():
    assert get_body("/bytes/300") == bytes(i % 251 for i in range(300))
    assert get_body("/text/70")[:3] == b"ABC" and get_body("/text/70")[62:] == b"ABCDEFGH"
    assert get_body("/hello?x=1") == b"tls-fw-sim peer: GET /hello?x=1\n"
    app = HttpApp()
    (status, headers, body), = parse(app.receive(b"GET /bytes/1000 HTTP/1.1\r\nHost: tls-peer.test\r\n\r\n"))
    assert status == 200 and body == pattern_bytes(1000) and headers["connection"] == "keep-alive"
    assert not app.close_requested


def test_post_upload_reports_length_and_sha256_even_in_small_pieces():
    app = HttpApp()
    body = pattern_bytes(100_000)
    request = (b"POST /upload HTTP/1.1\r\nHost: tls-peer.test\r\nContent-Type: application/octet-stream\r\n"
               b"Content-Length: 100000\r\nConnection: close\r\n\r\n" + body)
    out = b"".join(app.receive(request[i:i + 977]) for i in range(0, len(request), 977))
    (status, headers, payload), = parse(out)
    assert status == 200 and headers["content-type"] == "application/json"
    assert payload == ('{"length": 100000, "sha256": "%s"}' % hashlib.sha256(body).hexdigest()).encode()
    assert json.loads(payload)["length"] == 100000
    assert app.close_requested


def test_pipelined_keep_alive_requests_are_answered_in_order():
    app = HttpApp()
    out = app.receive(b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nPOST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
                      b"GET /b HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /never HTTP/1.1\r\nHost: h\r\n\r\n")
    responses = parse(out)
    assert [r[0] for r in responses] == [200, 200, 200]
    assert responses[0][2] == get_body("/a") and responses[2][2] == get_body("/b")
    assert json.loads(responses[1][2]) == {"length": 3, "sha256": hashlib.sha256(b"abc").hexdigest()}
    assert app.close_requested and app.receive(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n") == b""


@pytest.mark.parametrize("request_bytes,status", [
    (b"POST /upload HTTP/1.1\r\nHost: h\r\n\r\n", 411),
    (b"POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 1048577\r\n\r\n", 413),
    (b"POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400),
    (b"GARBAGE\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\n\r\n", 400),                              # HTTP/1.1 needs Host
    (b"GET / HTTP/1.1\r\nHost h\r\n\r\n", 400),
    (b"DELETE / HTTP/1.1\r\nHost: h\r\n\r\n", 405),
    (b"GET /bytes/2000000 HTTP/1.1\r\nHost: h\r\n\r\n", 413),
    (b"GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + b"a" * 17000, 400),     # 16 KiB and the header block goes on
])
def test_errors_answer_and_close(request_bytes, status):
    app = HttpApp()
    (got, headers, _), = parse(app.receive(request_bytes))
    assert got == status and headers["connection"] == "close" and app.close_requested


def test_upload_limit_is_configurable_and_http10_closes():
    app = HttpApp(upload_limit=10)
    (status, _, _), = parse(app.receive(b"POST /upload HTTP/1.0\r\nContent-Length: 11\r\n\r\n"))
    assert status == 413
    app = HttpApp(upload_limit=10)
    (status, headers, _), = parse(app.receive(b"POST /upload HTTP/1.0\r\nContent-Length: 10\r\n\r\n0123456789"))
    assert status == 200 and headers["connection"] == "close" and app.close_requested


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_random_requests_never_raise_and_answer_well_formed(data):
    app = HttpApp(upload_limit=1000)
    out = app.receive(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n" + data)
    responses = parse(out)
    assert responses[0][0] == 200
    assert all(r[0] in (200, 400, 404, 405, 411, 413) for r in responses)


def chunked(body: bytes, sizes=(1, 7, 300, 4096)) -> bytes:
    """RFC 9112 §7.1 chunked coding, by hand: hex size CRLF data CRLF ..., a last chunk, a trailer."""
    out, pos, i = bytearray(), 0, 0
    while pos < len(body):
        n = min(sizes[i % len(sizes)], len(body) - pos)
        out += b"%x;ext=%d\r\n" % (n, i) + body[pos:pos + n] + b"\r\n"      # with a chunk extension
        pos, i = pos + n, i + 1
    return bytes(out) + b"0\r\nX-Trailer: done\r\n\r\n"


def test_header_lines_ending_in_bare_lf_are_answered():
    """RFC 9112 §2.2: a recipient MAY recognize a single LF as a line terminator."""
    app = HttpApp()
    (status, headers, body), = parse(app.receive(b"GET /bytes/300 HTTP/1.1\nHost: tls-peer.test\n\n"))
    assert status == 200 and body == bytes(i % 251 for i in range(300)) and not app.close_requested
    payload = bytes(range(256)) * 4
    (status, _, body), = parse(app.receive(b"POST /upload HTTP/1.1\nHost: h\nContent-Length: 1024\n"
                                           b"Connection: close\n\n" + payload))
    assert status == 200 and json.loads(body) == {"length": 1024, "sha256": hashlib.sha256(payload).hexdigest()}
    assert app.close_requested


def test_a_chunked_upload_is_digested_like_a_sized_one():
    payload = bytes((i * 13) % 256 for i in range(70_000))
    request = b"POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(payload)
    app = HttpApp()
    out = b"".join(app.receive(request[i:i + 333]) for i in range(0, len(request), 333))
    (status, headers, body), = parse(out)
    assert status == 200 and headers["connection"] == "keep-alive"
    assert json.loads(body) == {"length": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}
    (status, _, body), = parse(app.receive(b"GET /text/5 HTTP/1.1\r\nHost: h\r\n\r\n"))   # still keep-alive
    assert status == 200 and body == b"ABCDE"


def test_a_chunked_upload_over_the_limit_is_refused_once_it_passes_it():
    app = HttpApp(upload_limit=1000)
    request = b"POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(bytes(5000))
    assert app.receive(request[:60]) == b""
    (status, headers, _), = parse(app.receive(request[60:]))
    assert status == 413 and headers["connection"] == "close" and app.close_requested


def test_http10_keep_alive_is_not_kept():
    """HTTP/1.0 persistence ("Connection: keep-alive", RFC 9112 App. C.2.2) is not offered: the
    response says close and the connection ends after it."""
    app = HttpApp()
    (status, headers, _), = parse(app.receive(b"GET /text/3 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"))
    assert status == 200 and headers["connection"] == "close" and app.close_requested


def test_the_request_log_is_bounded():
    app = HttpApp()
    request = b"GET /text/1 HTTP/1.1\r\nHost: h\r\n\r\n"
    for _ in range(LOG_ENTRIES + 50):
        app.receive(request)
    assert len(app.log) == LOG_ENTRIES and not app.close_requested
