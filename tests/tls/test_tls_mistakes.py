"""The client-mistake analysis names exactly the mistake a record was built with, and none for noise."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sim.seed import SeededRandom
from sim.tls.mistakes import ReadContext, try_client_mistakes
from sim.tls.prf import hmac_digest
from sim.tls.protocol import TLS1_0, TLS1_2
from sim.tls.records import _aes_cbc, cbc_seal, mac_header, slice_key_block
from sim.tls.suites import suite_by_name

CBC = "TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA"
GCM = "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256"
CONTENT = b"POST /upload HTTP/1.1\r\n" * 20


def context(suite_name=CBC, version=TLS1_2, *, etm=False, trunc=False, compat=False, seq=5) -> ReadContext:
    suite = suite_by_name(suite_name)
    block = SeededRandom(9, "key-block").bytes(256)
    keys = slice_key_block(block, suite, version, mac_key_len=10 if trunc and compat else None)
    iv = keys.client_iv if seq == 0 else SeededRandom(9, "chain").bytes(16)
    return ReadContext(suite, version, version, 23, seq, etm, trunc, trunc and compat, keys, block,
                       iv if version == TLS1_0 else None)


def cbc_record(ctx: ReadContext, *, seq=None, etm=None, mac_len=None, keys=None, iv=None) -> bytes:
    keys = keys or ctx.keys
    explicit_iv = SeededRandom(2, "iv").bytes(16)
    fragment, _ = cbc_seal(CONTENT, ctype=23, version=ctx.record_version, seq=ctx.seq if seq is None else seq,
                           enc_key=keys.client_key, mac_key=keys.client_mac, mac_hash=ctx.suite.mac,
                           mac_len=(10 if ctx.truncated_hmac else ctx.suite.mac_len) if mac_len is None else mac_len,
                           etm=ctx.etm if etm is None else etm,
                           iv=(ctx.iv if iv is None else iv) if ctx.version == TLS1_0 else explicit_iv)
    return fragment


def matched(ctx: ReadContext, fragment: bytes) -> list[str]:
    return [a["kind"] for a in try_client_mistakes(fragment, ctx) if a["matched"]]


@pytest.mark.parametrize("version", [TLS1_0, TLS1_2])
@pytest.mark.parametrize("negotiated_etm", [False, True])
def test_mte_etm_disagreement(version, negotiated_etm):
    ctx = context(version=version, etm=negotiated_etm)
    assert matched(ctx, cbc_record(ctx, etm=not negotiated_etm)) == ["etm_mismatch"]


@pytest.mark.parametrize("offset", [-3, -1, 1, 2])
def test_sequence_number_off_by_a_few(offset):
    ctx = context(etm=True)
    alts = try_client_mistakes(cbc_record(ctx, seq=ctx.seq + offset), ctx)
    hit = [a for a in alts if a["matched"]]
    assert [a["kind"] for a in hit] == ["seq_offset"] and hit[0]["offset"] == offset


def test_truncated_mac_without_negotiation():
    ctx = context(etm=True)
    assert matched(ctx, cbc_record(ctx, mac_len=10)) == ["truncated_hmac"]


@pytest.mark.parametrize("version,seq", [(TLS1_2, 5), (TLS1_0, 0), (TLS1_0, 3)])
def test_polarssl_key_truncation(version, seq):
    """Negotiated truncated_hmac, but the client (PolarSSL 1.3 / Mbed TLS < 2.7) sliced the key block
    with 10-byte MAC keys; in TLS 1.0 the first record's IV also moves."""
    ctx = context(version=version, trunc=True, seq=seq)
    compat = slice_key_block(ctx.key_block, ctx.suite, version, mac_key_len=10)
    record = cbc_record(ctx, keys=compat, iv=compat.client_iv if seq == 0 else None)
    assert matched(ctx, record) == ["truncated_hmac_key"]


def test_rfc_keys_against_a_polarssl_layout_server():
    ctx = context(trunc=True, compat=True)
    rfc = slice_key_block(ctx.key_block, ctx.suite, ctx.version)
    assert matched(ctx, cbc_record(ctx, keys=rfc)) == ["truncated_hmac_rfc_keys"]


def test_mac_over_another_length():
    ctx = context()
    keys = ctx.keys
    mac = hmac_digest("sha1", keys.client_mac, mac_header(ctx.seq, 23, TLS1_2, len(CONTENT) + 20) + CONTENT)
    plain = CONTENT + mac
    pad = 16 - len(plain) % 16
    iv = bytes(16)
    fragment = iv + _aes_cbc(keys.client_key, iv, plain + bytes([pad - 1]) * pad, encrypt=True)
    alts = try_client_mistakes(fragment, ctx)
    assert [a["kind"] for a in alts if a["matched"]] == ["mac_length"]
    assert next(a for a in alts if a["matched"])["variant"] == "content+mac"


def _gcm_record(ctx, *, seq, aad_len=None, nonce_seq=None, wire_nonce=None) -> bytes:
    nonce_seq = seq if nonce_seq is None else nonce_seq
    explicit = nonce_seq.to_bytes(8, "big")
    aad = mac_header(seq, 23, TLS1_2, len(CONTENT) if aad_len is None else aad_len)
    sealed = AESGCM(ctx.keys.client_key).encrypt(ctx.keys.client_iv + explicit, CONTENT, aad)
    return (wire_nonce or explicit) + sealed


def test_gcm_mistakes():
    ctx = context(GCM)
    assert matched(ctx, _gcm_record(ctx, seq=ctx.seq)) == []        # a good record: nothing to explain
    assert matched(ctx, _gcm_record(ctx, seq=ctx.seq - 1)) == ["seq_offset"]
    assert matched(ctx, _gcm_record(ctx, seq=ctx.seq, aad_len=len(CONTENT) + 24)) == ["mac_length"]
    assert matched(ctx, _gcm_record(ctx, seq=ctx.seq, wire_nonce=b"\x99" * 8)) == ["gcm_nonce"]


@pytest.mark.parametrize("suite,etm", [(CBC, False), (CBC, True), (GCM, False)])
def test_transit_corruption_matches_no_mistake(suite, etm):
    ctx = context(suite, etm=etm)
    record = bytearray(_gcm_record(ctx, seq=ctx.seq) if suite == GCM else cbc_record(ctx))
    record[40] ^= 0x20
    alts = try_client_mistakes(bytes(record), ctx)
    assert alts and not any(a["matched"] for a in alts)
