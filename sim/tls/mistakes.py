"""When a record's MAC or tag fails, try the ways clients are known to get record protection wrong.

Each hypothesis re-opens the failed record with one parameter changed. A hypothesis that makes the
record verify is almost certainly what the client did, so the journal can say e.g. "the client used
encrypt-then-MAC although it was not negotiated". Hypotheses: MAC-then-encrypt versus
encrypt-then-MAC (RFC 7366 §3), a sequence number off by a few (also what replayed, dropped or
reordered records look like), truncated HMAC per RFC 6066 §7 and with the key truncation of
PolarSSL 1.3 / Mbed TLS < 2.7 (`MBEDTLS_SSL_TRUNCATED_HMAC_COMPAT`, mbedtls/library/ssl_tls.c
`ssl_populate_transform()`), a MAC or AAD over a different length (RFC 5246 §6.2.3.1, §6.2.3.3),
and (GCM, RFC 5288 §3) a nonce the client derived from the sequence number but did not put on the
wire.

`search_on_failure` runs the search as an observer of the server's trace: it answers a
`ProtectionFailed` event with a `MistakesTried` event, which the journal records.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.tls import trace
from sim.tls.protocol import TLS1_0, TRUNCATED_MAC_LEN
from sim.tls.records import ETM_LENGTHS, GCM_LENGTHS, MTE_LENGTHS, KeyMaterial, cbc_open, gcm_open, slice_key_block
from sim.tls.suites import CipherSuite

SEQ_WINDOW = 4


@dataclass(frozen=True)
class ReadContext:
    """The client->server read state just before the failed record was opened."""

    suite: CipherSuite
    version: int              # negotiated
    record_version: int       # as in the record header (what the MAC/AAD covers)
    content_type: int
    seq: int
    etm: bool
    truncated_hmac: bool
    truncated_compat: bool
    keys: KeyMaterial
    key_block: bytes
    iv: bytes | None          # TLS 1.0 CBC: the implicit IV for this record


def _alt(hypothesis: str, matched: bool, **extra) -> dict:
    out = {"hypothesis": hypothesis, "matched": matched}
    out.update(extra)
    return out


def _cbc(fragment: bytes, ctx: ReadContext, *, seq=None, etm=None, mac_len=None, keys=None, iv=None,
         length_variant="standard") -> bool:
    keys = keys or ctx.keys
    full = ctx.suite.mac_len
    opened = cbc_open(
        fragment, ctype=ctx.content_type, version=ctx.record_version, seq=ctx.seq if seq is None else seq,
        enc_key=keys.client_key, mac_key=keys.client_mac, mac_hash=ctx.suite.mac,
        mac_len=(TRUNCATED_MAC_LEN if ctx.truncated_hmac else full) if mac_len is None else mac_len,
        etm=ctx.etm if etm is None else etm, iv=ctx.iv if iv is None else iv, length_variant=length_variant)
    return opened.ok


def try_client_mistakes(fragment: bytes, ctx: ReadContext) -> list[dict]:
    """Every hypothesis tried, in a fixed order, each with `matched`."""
    if ctx.suite.mode == "gcm":
        return _gcm_mistakes(fragment, ctx)
    out = []
    other = "encrypt-then-MAC" if not ctx.etm else "MAC-then-encrypt"
    negotiated = "encrypt-then-MAC" if ctx.etm else "MAC-then-encrypt"
    out.append(_alt(f"client used {other} although {negotiated} was negotiated", _cbc(fragment, ctx, etm=not ctx.etm),
                    kind="etm_mismatch"))
    for k in _offsets(ctx.seq):
        if _cbc(fragment, ctx, seq=ctx.seq + k):
            out.append(_alt(f"client MAC used sequence number {ctx.seq + k} instead of {ctx.seq} (off by {k:+d})",
                            True, kind="seq_offset", offset=k))
            break
    else:
        out.append(_alt(f"client MAC used a sequence number within ±{SEQ_WINDOW} of {ctx.seq}", False,
                        kind="seq_offset"))
    full = ctx.suite.mac_len
    if not ctx.truncated_hmac:
        out.append(_alt("client truncated the MAC to 10 bytes (truncated_hmac, RFC 6066 key) without it being negotiated",
                        _cbc(fragment, ctx, mac_len=TRUNCATED_MAC_LEN), kind="truncated_hmac"))
    else:
        out.append(_alt(f"client sent the full {full}-byte MAC although truncated_hmac was negotiated",
                        _cbc(fragment, ctx, mac_len=full), kind="truncated_hmac"))
    compat_keys = slice_key_block(ctx.key_block, ctx.suite, ctx.version, mac_key_len=TRUNCATED_MAC_LEN)
    rfc_keys = slice_key_block(ctx.key_block, ctx.suite, ctx.version)
    if ctx.truncated_compat:
        alt_keys, text, kind = rfc_keys, "client laid out keys per RFC 6066 (full-length MAC key)", "truncated_hmac_rfc_keys"
    else:
        alt_keys, text, kind = compat_keys, ("client truncated the HMAC key to 10 bytes and shifted the key block "
                                             "(PolarSSL 1.3 / Mbed TLS < 2.7 truncated_hmac)"), "truncated_hmac_key"
    iv = ctx.iv
    if ctx.version == TLS1_0 and ctx.seq == 0:
        iv = alt_keys.client_iv        # the first record's IV comes from the (shifted) key block too
    out.append(_alt(text, _cbc(fragment, ctx, mac_len=TRUNCATED_MAC_LEN, keys=alt_keys, iv=iv), kind=kind))
    for variant in (ETM_LENGTHS if ctx.etm else MTE_LENGTHS)[1:]:
        if _cbc(fragment, ctx, length_variant=variant):
            out.append(_alt(f"client MAC covered a different length field ({variant} length)", True,
                            kind="mac_length", variant=variant))
            break
    else:
        out.append(_alt("client MAC covered a different length field (fragment, MAC-inclusive or padded length)",
                        False, kind="mac_length"))
    return out


def _offsets(seq: int) -> list[int]:
    offs = []
    for k in range(1, SEQ_WINDOW + 1):
        if seq - k >= 0:
            offs.append(-k)
        offs.append(k)
    return offs


def _gcm(fragment: bytes, ctx: ReadContext, *, seq=None, length_variant="standard", explicit=None) -> bool:
    return gcm_open(fragment, ctype=ctx.content_type, version=ctx.record_version,
                    seq=ctx.seq if seq is None else seq, key=ctx.keys.client_key, salt=ctx.keys.client_iv,
                    length_variant=length_variant, explicit_override=explicit).ok


def _gcm_mistakes(fragment: bytes, ctx: ReadContext) -> list[dict]:
    out = []
    for k in _offsets(ctx.seq):
        if _gcm(fragment, ctx, seq=ctx.seq + k):
            out.append(_alt(f"client AAD used sequence number {ctx.seq + k} instead of {ctx.seq} (off by {k:+d})",
                            True, kind="seq_offset", offset=k))
            break
    else:
        out.append(_alt(f"client AAD used a sequence number within ±{SEQ_WINDOW} of {ctx.seq}", False, kind="seq_offset"))
    for variant in GCM_LENGTHS[1:]:
        if _gcm(fragment, ctx, length_variant=variant):
            out.append(_alt(f"client AAD carried a different length ({variant} length)", True,
                            kind="mac_length", variant=variant))
            break
    else:
        out.append(_alt("client AAD carried a different length (record or ciphertext+tag length)", False,
                        kind="mac_length"))
    if len(fragment) >= 8:
        wire = fragment[:8]
        for k in [0] + _offsets(ctx.seq):
            explicit = (ctx.seq + k).to_bytes(8, "big")
            if explicit != wire and _gcm(fragment, ctx, explicit=explicit):
                out.append(_alt(f"client encrypted with nonce seq {ctx.seq + k} but sent explicit nonce {wire.hex()}",
                                True, kind="gcm_nonce"))
                break
        else:
            out.append(_alt("client encrypted with a sequence-number nonce other than the explicit nonce it sent",
                            False, kind="gcm_nonce"))
    return out


def search_on_failure(event) -> list | None:
    """A trace observer: a failed record's `ProtectionFailed` is answered with `MistakesTried`."""
    if isinstance(event, trace.ProtectionFailed):
        return [trace.MistakesTried(tuple(try_client_mistakes(event.fragment, event.context)))]
    return None
