"""What the server picks from a ClientHello: version, cipher suite, ECDHE group, signature
algorithm, and whether a cached session is resumed - and the ServerKeyExchange signature.

Pure functions of the policy and the ClientHello; a refusal is a `TlsAlert` naming why.
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from sim.tls import messages as msg
from sim.tls.groups import GROUPS_BY_CODE, NamedGroup, group_name
from sim.tls.policy import ServerPolicy
from sim.tls.protocol import TLS1_2, AlertDescription, ExtensionType, TlsAlert, version_name
from sim.tls.sessions import CachedSession, SessionCache
from sim.tls.suites import CipherSuite, suite_name


class _Md5Sha1(hashes.HashAlgorithm):
    # the 36-byte MD5||SHA1 "hash" TLS 1.0/1.1 RSA signatures use, without DigestInfo
    name = "md5-sha1"
    digest_size = 36
    block_size = 64


# TLS 1.2 SignatureAndHashAlgorithm values (RFC 5246 §7.4.1.4.1); our preference order
_SIG_HASHES = {4: hashes.SHA256, 5: hashes.SHA384, 6: hashes.SHA512, 2: hashes.SHA1}
_SIG_RSA, _SIG_ECDSA = 1, 3


def choose_version(policy: ServerPolicy, hello: msg.ClientHello) -> int:
    # RFC 5246 §7.4.1.2 and App. E.1: a client_version above ours (3.4, 0x0401, 0xFEFE, ...) gets
    # our highest version; only one below every version we allow is refused. Mbed TLS does the
    # same (mbedtls/library/ssl_srv.c `ssl_parse_client_hello()`).
    cv = hello.client_version
    if cv >> 8 < 3:
        raise TlsAlert(AlertDescription.PROTOCOL_VERSION, f"client_version 0x{cv:04x} is not TLS")
    allowed = [v for v in policy.version_codes if v <= cv]
    if not allowed:
        raise TlsAlert(AlertDescription.PROTOCOL_VERSION,
                       f"client offers at most {version_name(cv)}, the policy needs at least "
                       f"{version_name(policy.min_version)}")
    return allowed[-1]

def choose_suite(policy: ServerPolicy, hello: msg.ClientHello, version: int, cert_kind: str | None = None,
                 ) -> tuple[CipherSuite, NamedGroup | None, tuple[int, int] | None]:
    """The suite, ECDHE group and TLS 1.2 signature algorithm for this ClientHello, or handshake_failure.
    `cert_kind` ('rsa' / 'ecdsa') is the key type of the chain the server presents: only suites that
    chain can authenticate are candidates (RFC 5246 §7.4.2, RFC 8422 §5.3)."""
    offered = set(hello.cipher_suites)
    groups = hello.supported_groups()
    point_formats = hello.point_formats()
    sig_algs = hello.signature_algorithms()
    candidates = list(policy.suite_list)
    if policy.prefer_client_order:
        order = {code: i for i, code in enumerate(hello.cipher_suites)}
        candidates.sort(key=lambda s: order.get(s.code, 1 << 20))
    why = []
    other_kind = [s.mbedtls for s in candidates if s.code in offered and cert_kind not in (None, s.cert_kind)]
    if other_kind:
        why.append(f"the server presents an {cert_kind.upper()} certificate, and {len(other_kind)} offered "
                   f"suite(s) need the other kind (first {other_kind[0]})")
    for suite in candidates:
        if suite.code not in offered or cert_kind not in (None, suite.cert_kind):
            continue
        if not suite.allows(version):
            why.append(f"{suite.mbedtls} needs {version_name(suite.min_version)}")
            continue
        group = None
        if suite.is_ecdhe:
            if point_formats is not None and 0 not in point_formats:
                why.append(f"{suite.mbedtls}: client lacks uncompressed EC points")
                continue
            group = choose_group(policy, groups)
            if group is None:
                why.append(f"{suite.mbedtls}: no common group (client {[group_name(g) for g in groups or []]}, "
                           f"policy {[g.name for g in policy.group_list]})")
                continue
        sig_alg = None
        if suite.is_ecdhe and version >= TLS1_2:
            sig_alg = choose_sig_alg(sig_algs, _SIG_ECDSA if suite.cert_kind == "ecdsa" else _SIG_RSA)
            if sig_alg is None:
                why.append(f"{suite.mbedtls}: no common signature algorithm")
                continue
        return suite, group, sig_alg
    offered_known = [suite_name(c) for c in hello.cipher_suites if c not in (0x00FF, 0x5600)]
    raise TlsAlert(AlertDescription.HANDSHAKE_FAILURE,
                   f"no cipher suite in common for {version_name(version)}: client offered "
                   f"{len(offered_known)} suites, policy allows "
                   f"[{', '.join(s.mbedtls for s in policy.suite_list)}]"
                   + (f"; {'; '.join(why)}" if why else ""))

def choose_group(policy: ServerPolicy, client_groups: list[int] | None) -> NamedGroup | None:
    if client_groups is None:
        client_groups = [23]        # RFC 4492 §4: without the extension, assume the common curve
    allowed = list(policy.group_list)
    if policy.prefer_client_order:
        for code in client_groups:
            group = GROUPS_BY_CODE.get(code)
            if group in allowed:
                return group
        return None
    return next((g for g in allowed if g.code in client_groups), None)

def choose_sig_alg(client: list[tuple[int, int]] | None, sig: int) -> tuple[int, int] | None:
    if client is None:
        client = [(2, sig)]         # RFC 5246 §7.4.1.4.1: absent means SHA-1
    for hash_code in _SIG_HASHES:
        if (hash_code, sig) in client:
            return hash_code, sig
    return None

def sign(key, data: bytes, version: int, sig_alg: tuple[int, int] | None) -> bytes:
    """ServerKeyExchange signature: RFC 5246 §7.4.3 (TLS 1.2), RFC 4346 §7.4.3 / RFC 4492 §5.4 (before)."""
    if isinstance(key, rsa.RSAPrivateKey):
        if version >= TLS1_2:
            return key.sign(data, padding.PKCS1v15(), _SIG_HASHES[sig_alg[0]]())
        digest = hashlib.md5(data).digest() + hashlib.sha1(data).digest()
        return key.sign(digest, padding.PKCS1v15(), utils.Prehashed(_Md5Sha1()))
    hash_cls = _SIG_HASHES[sig_alg[0]] if version >= TLS1_2 else hashes.SHA1   # RFC 4492: SHA-1 before 1.2
    return key.sign(data, ec.ECDSA(hash_cls(), deterministic_signing=True))


def resumable(policy: ServerPolicy, sessions: SessionCache | None, hello: msg.ClientHello, version: int, ems: bool,
              mfl: int | None) -> CachedSession | None:
    """The cached session this ClientHello resumes (by session ID), if its parameters still hold."""
    if not policy.session_resumption or sessions is None:
        return None
    cached = sessions.get(hello.session_id)
    if cached is None:
        return None
    if cached.extended_master_secret and not hello.has(ExtensionType.EXTENDED_MASTER_SECRET):
        raise TlsAlert(AlertDescription.HANDSHAKE_FAILURE,
                       "resumption of an extended-master-secret session without the extension (RFC 7627 §5.3)")
    etm = (cached.suite.mode == "cbc" and policy.encrypt_then_mac
           and hello.has(ExtensionType.ENCRYPT_THEN_MAC))
    trunc = (cached.suite.mode == "cbc" and policy.truncated_hmac and hello.has(ExtensionType.TRUNCATED_HMAC))
    if (cached.version != version or cached.suite.code not in hello.cipher_suites
            or cached.suite not in policy.suite_list or cached.extended_master_secret != ems
            or cached.encrypt_then_mac != etm or cached.truncated_hmac != trunc or cached.max_fragment_code != mfl):
        return None
    return cached
