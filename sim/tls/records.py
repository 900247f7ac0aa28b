"""Record layer: framing of the byte stream, and record protection for TLS 1.0-1.2.

CBC with MAC-then-encrypt (RFC 5246 §6.2.3.2) or encrypt-then-MAC (RFC 7366), the TLS 1.0
implicit IV chained across records (RFC 2246 §6.2.3.2), truncated HMAC (RFC 6066 §7), and AES-GCM
with salt || explicit nonce (RFC 5288). Opening a record never raises: it returns every check with
its outcome (and for a failed MAC or tag the expected and received values), which is what the
journal shows. The open/seal functions are pure so that the client-mistake analysis can re-run
them with other parameters.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sim.seed import SeededRandom
from sim.tls.prf import hmac_digest
from sim.tls.protocol import RECORD_HEADER_LEN, TLS1_0, TLS1_1, TRUNCATED_MAC_LEN
from sim.tls.suites import CipherSuite

BLOCK = 16
GCM_EXPLICIT = 8
GCM_TAG = 16


@dataclass
class Check:
    """One check applied to a record, with its outcome (hex values for MACs and tags)."""

    name: str                     # "length" | "padding" | "mac" | "tag" | "verify_data" | ...
    ok: bool
    expected: str | None = None
    received: str | None = None
    detail: str | None = None

    def to_dict(self) -> dict:
        out: dict = {"name": self.name, "ok": self.ok}
        if self.expected is not None:
            out["expected"] = self.expected
        if self.received is not None:
            out["received"] = self.received
        if self.detail is not None:
            out["detail"] = self.detail
        return out


@dataclass
class Opened:
    ok: bool
    plaintext: bytes | None
    checks: list[Check] = field(default_factory=list)
    next_iv: bytes | None = None  # TLS 1.0 CBC: the chained IV for the next record


@dataclass(frozen=True)
class RawRecord:
    content_type: int
    version: int
    fragment: bytes
    stream_offset: int            # offset of the first header byte in this direction's stream

    @property
    def header(self) -> bytes:
        return struct.pack("!BHH", self.content_type, self.version, len(self.fragment))

    @property
    def wire(self) -> bytes:
        return self.header + self.fragment


class RecordFramer:
    """Splits one direction's TCP byte stream into records; knows each record's stream offset."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._offset = 0          # stream offset of _buffer[0]

    def feed(self, data: bytes) -> None:
        self._buffer += data

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    @property
    def stream_offset(self) -> int:
        return self._offset

    def pending(self, n: int | None = None) -> bytes:
        """The first `n` (default: all) bytes not yet taken as a record, starting at `stream_offset`."""
        return bytes(self._buffer[:n])

    def peek_header(self) -> tuple[int, int, int] | None:
        """(content_type, version, length) of the next record once its 5 header bytes are in."""
        if len(self._buffer) < RECORD_HEADER_LEN:
            return None
        return struct.unpack_from("!BHH", self._buffer, 0)

    def next_record(self) -> RawRecord | None:
        header = self.peek_header()
        if header is None:
            return None
        ctype, version, length = header
        end = RECORD_HEADER_LEN + length
        if len(self._buffer) < end:
            return None
        record = RawRecord(ctype, version, bytes(self._buffer[RECORD_HEADER_LEN:end]), self._offset)
        del self._buffer[:end]
        self._offset += end
        return record


def mac_header(seq: int, ctype: int, version: int, length: int) -> bytes:
    return struct.pack("!QBHH", seq, ctype, version, length)


def _aes_cbc(key: bytes, iv: bytes, data: bytes, encrypt: bool) -> bytes:
    cipher = Cipher(algorithms.AES(key), modes.CBC(iv))
    op = cipher.encryptor() if encrypt else cipher.decryptor()
    return op.update(data) + op.finalize()


def _padding_ok(plain: bytes, mac_len: int) -> tuple[bool, int]:
    pad = plain[-1]
    if pad + 1 + mac_len > len(plain):
        return False, pad
    return all(b == pad for b in plain[len(plain) - pad - 1:]), pad


# Which length the MAC header carries. "standard" is what the RFCs say; the others are the ways
# implementations have got it wrong, tried by the client-mistake analysis.
MTE_LENGTHS = ("standard", "fragment", "content+mac", "padded")
ETM_LENGTHS = ("standard", "fragment", "ciphertext-without-iv")


def cbc_open(fragment: bytes, *, ctype: int, version: int, seq: int, enc_key: bytes, mac_key: bytes,
             mac_hash: str, mac_len: int, etm: bool, iv: bytes | None,
             length_variant: str = "standard") -> Opened:
    """Check and decrypt one CBC record. `iv` is the implicit IV (TLS 1.0 only)."""
    explicit = version >= TLS1_1
    ivlen = BLOCK if explicit else 0
    n = len(fragment)
    if etm:
        return _etm_open(fragment, ctype=ctype, version=version, seq=seq, enc_key=enc_key, mac_key=mac_key,
                         mac_hash=mac_hash, mac_len=mac_len, iv=iv, ivlen=ivlen, length_variant=length_variant)
    if n < ivlen + BLOCK or (n - ivlen) % BLOCK or n - ivlen < mac_len + 1:
        return Opened(False, None, [Check(
            "length", False, detail=f"CBC record of {n} bytes: need {ivlen} IV bytes plus a whole number of "
            f"16-byte blocks holding at least the {mac_len}-byte MAC and the padding length byte")])
    used_iv = fragment[:BLOCK] if explicit else iv
    body = fragment[ivlen:]
    plain = _aes_cbc(enc_key, used_iv, body, encrypt=False)
    pad_ok, pad = _padding_ok(plain, mac_len)
    padlen = pad + 1 if pad_ok else 0     # RFC 5246 §6.2.3.2 note: MAC as if no padding
    content_end = len(plain) - padlen - mac_len
    if not pad_ok:
        content_end = max(0, len(plain) - mac_len)
    content = plain[:content_end]
    received = plain[content_end:content_end + mac_len]
    mac_length = {"standard": len(content), "fragment": n, "content+mac": len(content) + mac_len,
                  "padded": len(plain)}[length_variant]
    expected = hmac_digest(mac_hash, mac_key, mac_header(seq, ctype, version, mac_length) + content)[:mac_len]
    mac_ok = expected == received
    checks = [
        Check("padding", pad_ok, detail=f"padding_length {pad}" + ("" if pad_ok else
              " but the padding bytes do not all equal it (or it runs past the MAC)")),
        Check("mac", mac_ok, expected=expected.hex(), received=received.hex(),
              detail=f"HMAC-{mac_hash.upper()}{'' if mac_len == _full(mac_hash) else f' truncated to {mac_len}'}"
                     f" over seq {seq}, {len(content)} content bytes (MAC-then-encrypt)"),
    ]
    return Opened(pad_ok and mac_ok, content, checks, next_iv=body[-BLOCK:])


def _full(mac_hash: str) -> int:
    return {"sha1": 20, "sha256": 32, "sha384": 48}[mac_hash]


def _etm_open(fragment, *, ctype, version, seq, enc_key, mac_key, mac_hash, mac_len, iv, ivlen,
              length_variant) -> Opened:
    n = len(fragment)
    if n < ivlen + BLOCK + mac_len:
        return Opened(False, None, [Check(
            "length", False, detail=f"encrypt-then-MAC record of {n} bytes is shorter than {ivlen} IV + one "
            f"16-byte block + {mac_len}-byte MAC")])
    body, received = fragment[:n - mac_len], fragment[n - mac_len:]
    mac_length = {"standard": len(body), "fragment": n, "ciphertext-without-iv": len(body) - ivlen}[length_variant]
    expected = hmac_digest(mac_hash, mac_key, mac_header(seq, ctype, version, mac_length) + body)[:mac_len]
    mac_ok = expected == received
    checks = [Check("mac", mac_ok, expected=expected.hex(), received=received.hex(),
                    detail=f"HMAC-{mac_hash.upper()}{'' if mac_len == _full(mac_hash) else f' truncated to {mac_len}'}"
                           f" over seq {seq} and {len(body)} bytes of IV+ciphertext (encrypt-then-MAC)")]
    if (len(body) - ivlen) % BLOCK:
        checks.append(Check("length", False, detail=f"ciphertext of {len(body) - ivlen} bytes is not a whole "
                            "number of 16-byte blocks"))
        return Opened(False, None, checks)
    ct = body[ivlen:]
    plain = _aes_cbc(enc_key, body[:BLOCK] if ivlen else iv, ct, encrypt=False)
    pad_ok, pad = _padding_ok(plain, 0)
    checks.append(Check("padding", pad_ok, detail=f"padding_length {pad}" + ("" if pad_ok else
                        " but the padding bytes do not all equal it")))
    content = plain[:len(plain) - pad - 1] if pad_ok else plain
    return Opened(mac_ok and pad_ok, content, checks, next_iv=ct[-BLOCK:])


def cbc_seal(content: bytes, *, ctype: int, version: int, seq: int, enc_key: bytes, mac_key: bytes,
             mac_hash: str, mac_len: int, etm: bool, iv: bytes) -> tuple[bytes, bytes]:
    """Protect one CBC record with minimal padding. `iv` is the explicit IV (1.1+) or the implicit
    one (1.0). Returns (fragment, last ciphertext block for the TLS 1.0 chain)."""
    explicit = version >= TLS1_1
    if etm:
        padlen = BLOCK - (len(content) % BLOCK)
        ct = _aes_cbc(enc_key, iv, content + bytes([padlen - 1]) * padlen, encrypt=True)
        body = (iv if explicit else b"") + ct
        mac = hmac_digest(mac_hash, mac_key, mac_header(seq, ctype, version, len(body)) + body)[:mac_len]
        return body + mac, ct[-BLOCK:]
    mac = hmac_digest(mac_hash, mac_key, mac_header(seq, ctype, version, len(content)) + content)[:mac_len]
    plain = content + mac
    padlen = BLOCK - (len(plain) % BLOCK)
    ct = _aes_cbc(enc_key, iv, plain + bytes([padlen - 1]) * padlen, encrypt=True)
    return (iv if explicit else b"") + ct, ct[-BLOCK:]


GCM_LENGTHS = ("standard", "fragment", "ciphertext+tag")


def _gcm_expected_tag(key: bytes, nonce: bytes, ct: bytes, aad: bytes) -> bytes:
    # GCM encrypts with CTR from counter 2; recover what the plaintext would be, re-seal it, and
    # the tag that comes out is the one an honest sender of these ciphertext bytes would have sent
    ctr = Cipher(algorithms.AES(key), modes.CTR(nonce + b"\x00\x00\x00\x02")).decryptor()
    plain = ctr.update(ct) + ctr.finalize()
    return AESGCM(key).encrypt(nonce, plain, aad)[-GCM_TAG:]


def gcm_open(fragment: bytes, *, ctype: int, version: int, seq: int, key: bytes, salt: bytes,
             length_variant: str = "standard", explicit_override: bytes | None = None) -> Opened:
    n = len(fragment)
    if n < GCM_EXPLICIT + GCM_TAG:
        return Opened(False, None, [Check(
            "length", False, detail=f"GCM record of {n} bytes is shorter than 8 explicit nonce + 16 tag bytes")])
    explicit = fragment[:GCM_EXPLICIT] if explicit_override is None else explicit_override
    ct = fragment[GCM_EXPLICIT:]
    plain_len = len(ct) - GCM_TAG
    aad_len = {"standard": plain_len, "fragment": n, "ciphertext+tag": len(ct)}[length_variant]
    aad = mac_header(seq, ctype, version, aad_len)
    nonce = salt + explicit
    nonce_note = "= seq" if int.from_bytes(explicit, "big") == seq else "!= seq (allowed)"
    try:
        plain = AESGCM(key).decrypt(nonce, ct, aad)
    except InvalidTag:
        expected = _gcm_expected_tag(key, nonce, ct[:-GCM_TAG], aad)
        return Opened(False, None, [Check("tag", False, expected=expected.hex(), received=ct[-GCM_TAG:].hex(),
                                          detail=f"AES-GCM over seq {seq}, {plain_len} bytes, explicit nonce "
                                                 f"{explicit.hex()} {nonce_note}")])
    return Opened(True, plain, [Check("tag", True, detail=f"explicit nonce {explicit.hex()} {nonce_note}")])


def gcm_seal(content: bytes, *, ctype: int, version: int, seq: int, key: bytes, salt: bytes) -> bytes:
    explicit = seq.to_bytes(8, "big")   # like Mbed TLS: the sequence number is the explicit nonce
    aad = mac_header(seq, ctype, version, len(content))
    return explicit + AESGCM(key).encrypt(salt + explicit, content, aad)


@dataclass(frozen=True)
class KeyMaterial:
    client_mac: bytes
    server_mac: bytes
    client_key: bytes
    server_key: bytes
    client_iv: bytes
    server_iv: bytes


def slice_key_block(block: bytes, suite: CipherSuite, version: int, *, mac_key_len: int | None = None) -> KeyMaterial:
    """RFC 5246 §6.3 slicing. `mac_key_len` overrides the MAC key length (and so the stride), which is
    how PolarSSL 1.3 / Mbed TLS < 2.7 lay out the key block under truncated_hmac
    (`MBEDTLS_SSL_TRUNCATED_HMAC_COMPAT` in mbedtls/library/ssl_tls.c `ssl_populate_transform()`)."""
    mk = suite.mac_len if mac_key_len is None else mac_key_len
    if suite.mode == "gcm":
        ivlen = 4
    else:
        ivlen = BLOCK if version == TLS1_0 else 0
    k = suite.key_len
    parts, pos = [], 0
    for size in (mk, mk, k, k, ivlen, ivlen):
        parts.append(block[pos:pos + size])
        pos += size
    return KeyMaterial(*parts)


class CipherState:
    """One direction's protection state: keys, sequence number, and the TLS 1.0 IV chain."""

    def __init__(self, suite: CipherSuite | None = None, version: int = TLS1_0, *, enc_key: bytes = b"",
                 mac_key: bytes = b"", iv: bytes = b"", etm: bool = False, truncated_hmac: bool = False,
                 rng: SeededRandom | None = None) -> None:
        self.suite = suite
        self.version = version
        self.enc_key = enc_key
        self.mac_key = mac_key
        self.iv = iv
        self.etm = etm
        self.truncated_hmac = truncated_hmac
        self.seq = 0
        self._rng = rng

    @property
    def active(self) -> bool:
        return self.suite is not None

    @property
    def mac_len(self) -> int:
        if self.suite is None or self.suite.mode != "cbc":
            return 0
        return TRUNCATED_MAC_LEN if self.truncated_hmac else self.suite.mac_len

    def describe(self) -> str:
        if self.suite is None:
            return "plaintext"
        if self.suite.mode == "gcm":
            return f"AES-{self.suite.key_len * 8}-GCM"
        mode = "encrypt-then-MAC" if self.etm else "MAC-then-encrypt"
        return (f"AES-{self.suite.key_len * 8}-CBC {mode} HMAC-{self.suite.mac.upper()}"
                f"{' truncated to 10' if self.truncated_hmac else ''}")

    def seal(self, ctype: int, version: int, content: bytes) -> bytes:
        if self.suite is None:
            return content
        seq = self.seq
        self.seq += 1
        if self.suite.mode == "gcm":
            return gcm_seal(content, ctype=ctype, version=version, seq=seq, key=self.enc_key, salt=self.iv)
        iv = self.iv if self.version == TLS1_0 else self._rng.bytes(BLOCK)
        fragment, last = cbc_seal(content, ctype=ctype, version=version, seq=seq, enc_key=self.enc_key,
                                  mac_key=self.mac_key, mac_hash=self.suite.mac, mac_len=self.mac_len,
                                  etm=self.etm, iv=iv)
        if self.version == TLS1_0:
            self.iv = last
        return fragment

    def open(self, ctype: int, version: int, fragment: bytes) -> Opened:
        """Check one record; the sequence number and the IV chain advance even on failure."""
        if self.suite is None:
            return Opened(True, fragment)
        seq = self.seq
        self.seq += 1
        if self.suite.mode == "gcm":
            return gcm_open(fragment, ctype=ctype, version=version, seq=seq, key=self.enc_key, salt=self.iv)
        opened = cbc_open(fragment, ctype=ctype, version=version, seq=seq, enc_key=self.enc_key,
                          mac_key=self.mac_key, mac_hash=self.suite.mac, mac_len=self.mac_len, etm=self.etm,
                          iv=self.iv if self.version == TLS1_0 else None)
        if self.version == TLS1_0 and opened.next_iv is not None:
            self.iv = opened.next_iv
        return opened
