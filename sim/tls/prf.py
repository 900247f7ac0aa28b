"""TLS PRF, master secret (classic and extended, RFC 7627), key block and Finished verify_data.

`cryptography` has no TLS PRF; this is RFC 2246 §5 (P_MD5 xor P_SHA1) and RFC 5246 §5 (P_SHA256 or
P_SHA384) on top of its HMAC, checked against OpenSSL's `openssl kdf TLS1-PRF` in
tests/tls/test_tls_primitives.py.
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import hashes, hmac

from sim.tls.protocol import TLS1_2

_HASHES = {"md5": hashes.MD5, "sha1": hashes.SHA1, "sha256": hashes.SHA256, "sha384": hashes.SHA384}


def hmac_digest(hash_name: str, key: bytes, data: bytes) -> bytes:
    mac = hmac.HMAC(key, _HASHES[hash_name]())
    mac.update(data)
    return mac.finalize()


def _p_hash(hash_name: str, secret: bytes, seed: bytes, n: int) -> bytes:
    out = bytearray()
    a = seed
    while len(out) < n:
        a = hmac_digest(hash_name, secret, a)
        out += hmac_digest(hash_name, secret, a + seed)
    return bytes(out[:n])


def prf(version: int, prf_hash: str, secret: bytes, label: bytes, seed: bytes, n: int) -> bytes:
    """PRF(secret, label, seed)[:n] for the negotiated version (prf_hash matters in TLS 1.2 only)."""
    if version >= TLS1_2:
        return _p_hash(prf_hash, secret, label + seed, n)
    half = (len(secret) + 1) // 2          # the halves overlap by one byte when len is odd
    s1, s2 = secret[:half], secret[len(secret) - half:]
    md5 = _p_hash("md5", s1, label + seed, n)
    sha1 = _p_hash("sha1", s2, label + seed, n)
    return bytes(x ^ y for x, y in zip(md5, sha1))


def transcript_hash(version: int, prf_hash: str, messages: bytes) -> bytes:
    """Handshake hash: MD5||SHA1 (36 bytes) before TLS 1.2, the PRF hash in TLS 1.2."""
    if version >= TLS1_2:
        return hashlib.new(prf_hash, messages).digest()
    return hashlib.md5(messages).digest() + hashlib.sha1(messages).digest()


def master_secret(version: int, prf_hash: str, pre_master: bytes, client_random: bytes,
                  server_random: bytes) -> bytes:
    return prf(version, prf_hash, pre_master, b"master secret", client_random + server_random, 48)


def extended_master_secret(version: int, prf_hash: str, pre_master: bytes, session_hash: bytes) -> bytes:
    """RFC 7627 §4: session_hash covers ClientHello up to and including ClientKeyExchange."""
    return prf(version, prf_hash, pre_master, b"extended master secret", session_hash, 48)


def key_block(version: int, prf_hash: str, master: bytes, client_random: bytes, server_random: bytes,
              n: int = 256) -> bytes:
    """Key expansion; note the seed order server_random || client_random (RFC 5246 §6.3).

    256 bytes like Mbed TLS, so alternative (mis)layouts can be sliced from the same block.
    """
    return prf(version, prf_hash, master, b"key expansion", server_random + client_random, n)


def finished_verify_data(version: int, prf_hash: str, master: bytes, label: bytes, messages: bytes) -> bytes:
    """12-byte verify_data over every handshake message before this Finished (RFC 5246 §7.4.9)."""
    return prf(version, prf_hash, master, label, transcript_hash(version, prf_hash, messages), 12)
