"""The cipher suites the peer implements, with their Mbed TLS, IANA and OpenSSL names.

Mbed TLS names are the IANA names with '-' for '_' (`TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256`); both
forms are accepted wherever a suite is named. Parameters follow RFC 5246 §6.3 / App. C, RFC 5288
and RFC 5289; the versions each suite allows follow Mbed TLS's suite table
(mbedtls/library/ssl_ciphersuites.c).
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.tls.protocol import TLS1_0, TLS1_2

HASH_SIZES = {"sha1": 20, "sha256": 32, "sha384": 48}


@dataclass(frozen=True)
class CipherSuite:
    code: int
    iana: str
    key_exchange: str        # "RSA" | "ECDHE_RSA" | "ECDHE_ECDSA"
    key_len: int             # AES key bytes
    mode: str                # "cbc" | "gcm"
    mac: str | None          # HMAC hash of CBC suites
    prf: str                 # TLS 1.2 PRF hash ("sha256" | "sha384")
    min_version: int
    openssl: str             # OpenSSL's name, for tests against openssl/curl/Python ssl

    @property
    def mbedtls(self) -> str:
        return self.iana.replace("_", "-")

    @property
    def is_ecdhe(self) -> bool:
        return self.key_exchange.startswith("ECDHE")

    @property
    def cert_kind(self) -> str:
        """The server certificate this suite needs: 'rsa' or 'ecdsa'."""
        return "ecdsa" if self.key_exchange == "ECDHE_ECDSA" else "rsa"

    @property
    def mac_len(self) -> int:
        return HASH_SIZES[self.mac] if self.mac else 0

    def allows(self, version: int) -> bool:
        return version >= self.min_version

    def __str__(self) -> str:
        return self.mbedtls


def _s(code, iana, kx, key_len, mode, mac, prf, min_version, openssl):
    return CipherSuite(code, iana, kx, key_len, mode, mac, prf, min_version, openssl)


# Server preference order (used unless the policy says otherwise): forward secrecy and AEAD first.
ALL_SUITES: tuple[CipherSuite, ...] = (
    _s(0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE_RSA", 16, "gcm", None, "sha256", TLS1_2, "ECDHE-RSA-AES128-GCM-SHA256"),
    _s(0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE_RSA", 32, "gcm", None, "sha384", TLS1_2, "ECDHE-RSA-AES256-GCM-SHA384"),
    _s(0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "ECDHE_RSA", 16, "cbc", "sha256", "sha256", TLS1_2, "ECDHE-RSA-AES128-SHA256"),
    _s(0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", "ECDHE_RSA", 32, "cbc", "sha384", "sha384", TLS1_2, "ECDHE-RSA-AES256-SHA384"),
    _s(0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE_RSA", 16, "cbc", "sha1", "sha256", TLS1_0, "ECDHE-RSA-AES128-SHA"),
    _s(0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE_RSA", 32, "cbc", "sha1", "sha256", TLS1_0, "ECDHE-RSA-AES256-SHA"),
    _s(0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256", "RSA", 16, "gcm", None, "sha256", TLS1_2, "AES128-GCM-SHA256"),
    _s(0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384", "RSA", 32, "gcm", None, "sha384", TLS1_2, "AES256-GCM-SHA384"),
    _s(0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256", "RSA", 16, "cbc", "sha256", "sha256", TLS1_2, "AES128-SHA256"),
    _s(0x003D, "TLS_RSA_WITH_AES_256_CBC_SHA256", "RSA", 32, "cbc", "sha256", "sha256", TLS1_2, "AES256-SHA256"),
    _s(0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA", "RSA", 16, "cbc", "sha1", "sha256", TLS1_0, "AES128-SHA"),
    _s(0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", "RSA", 32, "cbc", "sha1", "sha256", TLS1_0, "AES256-SHA"),
    _s(0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE_ECDSA", 16, "gcm", None, "sha256", TLS1_2, "ECDHE-ECDSA-AES128-GCM-SHA256"),
    _s(0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE_ECDSA", 32, "gcm", None, "sha384", TLS1_2, "ECDHE-ECDSA-AES256-GCM-SHA384"),
    _s(0xC023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE_ECDSA", 16, "cbc", "sha256", "sha256", TLS1_2, "ECDHE-ECDSA-AES128-SHA256"),
    _s(0xC024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", "ECDHE_ECDSA", 32, "cbc", "sha384", "sha384", TLS1_2, "ECDHE-ECDSA-AES256-SHA384"),
    _s(0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE_ECDSA", 16, "cbc", "sha1", "sha256", TLS1_0, "ECDHE-ECDSA-AES128-SHA"),
    _s(0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE_ECDSA", 32, "cbc", "sha1", "sha256", TLS1_0, "ECDHE-ECDSA-AES256-SHA"),
)

SUITES_BY_CODE = {s.code: s for s in ALL_SUITES}
_BY_NAME = {}
for _suite in ALL_SUITES:
    _BY_NAME[_suite.iana.upper()] = _suite
    _BY_NAME[_suite.mbedtls.upper()] = _suite


class UnknownSuiteError(ValueError):
    pass


def known_suite_names() -> list[str]:
    return [s.mbedtls for s in ALL_SUITES]


def suite_by_name(name: str) -> CipherSuite:
    """Look a suite up by its Mbed TLS or IANA name (case-insensitive)."""
    suite = _BY_NAME.get(name.strip().upper())
    if suite is None:
        raise UnknownSuiteError(
            f"unknown cipher suite {name!r}; known suites (Mbed TLS names, IANA names with '_' also work): "
            + ", ".join(known_suite_names()))
    return suite


def suite_name(code: int) -> str:
    """Name of any suite value, also ones the peer does not implement (for the journal)."""
    suite = SUITES_BY_CODE.get(code)
    if suite is not None:
        return suite.mbedtls
    if code == 0x00FF:
        return "EMPTY-RENEGOTIATION-INFO-SCSV"
    if code == 0x5600:
        return "FALLBACK-SCSV"
    return f"0x{code:04x}"
