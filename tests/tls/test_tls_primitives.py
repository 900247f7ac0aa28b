"""PRF against OpenSSL's independent TLS1-PRF, and record protection round trips and failures."""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.seed import SeededRandom
from sim.tls.keylog import keylog_line, parse_keylog
from sim.tls.prf import hmac_digest, prf
from sim.tls.protocol import TLS1_0, TLS1_1, TLS1_2
from sim.tls.records import CipherState, RecordFramer, _aes_cbc, cbc_open, cbc_seal, mac_header
from sim.tls.suites import suite_by_name
from tlskit import require_tool


@pytest.mark.parametrize("version,digest,prf_hash", [(TLS1_2, "SHA256", "sha256"), (TLS1_2, "SHA384", "sha384"),
                                                     (TLS1_0, "MD5-SHA1", "sha256")])
def test_prf_matches_openssl_kdf(version, digest, prf_hash):
    openssl = require_tool("openssl")
    secret = bytes(range(1, 49))      # 48 bytes, and an odd length below for the TLS 1.0 split
    for sec in (secret, secret[:47]):
        seed = bytes.fromhex("a0b1c2d3") * 16
        run = subprocess.run([openssl, "kdf", "-keylen", "104", "-kdfopt", f"digest:{digest}", "-kdfopt",
                              f"hexsecret:{sec.hex()}", "-kdfopt", "seed:key expansion", "-kdfopt",
                              f"hexseed:{seed.hex()}", "TLS1-PRF"], capture_output=True, text=True, check=True)
        expected = bytes.fromhex(run.stdout.strip().replace(":", ""))
        assert prf(version, prf_hash, sec, b"key expansion", seed, 104) == expected


SUITES = ["TLS-RSA-WITH-AES-128-CBC-SHA", "TLS-RSA-WITH-AES-256-CBC-SHA256", "TLS-ECDHE-RSA-WITH-AES-256-CBC-SHA384",
          "TLS-RSA-WITH-AES-128-GCM-SHA256", "TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384"]


def _pair(suite_name: str, version: int, etm: bool, trunc: bool):
    suite = suite_by_name(suite_name)
    rng = SeededRandom(3, "keys")
    kw = dict(enc_key=rng.bytes(suite.key_len), mac_key=rng.bytes(suite.mac_len),
              iv=rng.bytes(4 if suite.mode == "gcm" else 16), etm=etm, truncated_hmac=trunc)
    return (CipherState(suite, version, rng=SeededRandom(4, "iv"), **kw), CipherState(suite, version, **kw))


COMBOS = [(s, v, etm, trunc) for s in SUITES for v in (TLS1_0, TLS1_1, TLS1_2)
          for etm, trunc in ((False, False), (True, False), (True, True), (False, True))
          if suite_by_name(s).allows(v) and (suite_by_name(s).mode == "cbc" or not (etm or trunc))]


@pytest.mark.parametrize("suite,version,etm,trunc", COMBOS,
                         ids=[f"{s}-{v:04x}-etm{int(e)}-trunc{int(t)}" for s, v, e, t in COMBOS])
def test_record_round_trip_and_single_byte_tamper(suite, version, etm, trunc):
    writer, reader = _pair(suite, version, etm, trunc)
    messages = [b"", b"x", bytes(range(256)) * 5, b"y" * 16383]
    for m in messages:        # a sequence, so the TLS 1.0 IV chain and sequence numbers are exercised
        fragment = writer.seal(23, version, m)
        opened = reader.open(23, version, fragment)
        assert opened.ok and opened.plaintext == m, opened.checks
    fragment = bytearray(writer.seal(23, version, b"payload" * 40))
    fragment[len(fragment) // 2] ^= 0x01
    opened = reader.open(23, version, bytes(fragment))
    assert not opened.ok
    failed = {c.name for c in opened.checks if not c.ok}
    assert failed & {"mac", "tag", "padding"}
    bad = next(c for c in opened.checks if c.name in ("mac", "tag") and not c.ok) if failed & {"mac", "tag"} else None
    if bad is not None:
        assert bad.expected != bad.received and bad.expected and bad.received


def test_cbc_accepts_long_padding_and_rejects_bad_padding():
    """RFC 5246 §6.2.3.2: padding may be up to 255 bytes; every padding byte must equal the length."""
    key, mac_key, iv = bytes(16), bytes(range(20)), bytes(16)
    fragment, _ = cbc_seal(b"A" * 3, ctype=23, version=TLS1_2, seq=0, enc_key=key, mac_key=mac_key, mac_hash="sha1",
                           mac_len=20, etm=False, iv=iv)
    kw = dict(ctype=23, version=TLS1_2, seq=0, enc_key=key, mac_key=mac_key, mac_hash="sha1", mac_len=20, etm=False,
              iv=None)
    assert cbc_open(fragment, **kw).ok
    content = b"A" * 3
    body = content + hmac_digest("sha1", mac_key, mac_header(0, 23, TLS1_2, 3) + content)   # 23 bytes
    padlen = 16 - (len(body) % 16) + 32                   # two blocks more padding than needed
    long_pad = _aes_cbc(key, iv, body + bytes([padlen - 1]) * padlen, encrypt=True)
    assert cbc_open(iv + long_pad, **kw).ok
    wrong = body + bytes([padlen - 1]) * (padlen - 2) + bytes([0, padlen - 1])
    opened = cbc_open(iv + _aes_cbc(key, iv, wrong, encrypt=True), **kw)
    assert not opened.ok and not next(c for c in opened.checks if c.name == "padding").ok


@settings(max_examples=30, deadline=None)
@given(chunks=st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=12))
def test_framer_reassembles_records_from_any_split(chunks):
    records = [bytes([22, 3, 3]) + len(b).to_bytes(2, "big") + b for b in (b"a" * 10, b"", b"b" * 33, b"c")]
    stream = b"".join(records)
    framer, out, pos = RecordFramer(), [], 0
    for n in chunks + [len(stream)]:
        framer.feed(stream[pos:pos + n])
        pos += n
        while (r := framer.next_record()) is not None:
            out.append(r)
    assert [r.wire for r in out] == records
    assert [r.stream_offset for r in out] == [0, 15, 20, 58]


def test_keylog_line_format():
    line = keylog_line(bytes(range(32)), bytes(range(48)))
    assert line == "CLIENT_RANDOM " + bytes(range(32)).hex() + " " + bytes(range(48)).hex()
    assert parse_keylog(line + "\n# comment\n") == {bytes(range(32)): bytes(range(48))}
    with pytest.raises(ValueError, match="32-byte client random"):
        keylog_line(b"short", bytes(48))


def test_each_named_group_order_is_the_curve_order():
    """n-1 is a valid private scalar whose public point is -G (RFC 4492 §5.4 / SEC 2 §2.4-2.6 orders):
    a wrong order makes EphemeralKey draw out-of-range scalars for most seeds."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from sim.tls.groups import ALL_GROUPS

    for group in ALL_GROUPS:
        if group.order is None:
            continue
        one = ec.derive_private_key(1, group.curve()).public_key().public_numbers()
        last = ec.derive_private_key(group.order - 1, group.curve()).public_key().public_numbers()
        assert last.x == one.x and last.y != one.y, group.name      # (n-1)G = -G
