"""What the peer accepts, per scenario: versions, suites, groups, extensions, record size, cert kind.

A test imitates a picky production server by narrowing these. `cert` limits the server
certificate's key type: "any" (the default) lets the peer choose an RSA or an ECDSA chain per
ClientHello (`sim.tls.identity.choose_identity`), "rsa" or "ecdsa" serves only that kind. Suites may be named in Mbed TLS form
(`TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256`) or IANA form (`TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`);
an unknown name is an error listing the known ones.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from sim.tls.groups import NamedGroup, group_by_name
from sim.tls.protocol import MAX_PLAINTEXT, SUPPORTED_VERSIONS, parse_version, version_name
from sim.tls.suites import ALL_SUITES, CipherSuite, suite_by_name

DEFAULT_GROUPS = ("secp256r1", "secp384r1", "x25519", "secp521r1")
CERT_KINDS = ("any", "rsa", "ecdsa")


@dataclass(frozen=True)
class ServerPolicy:
    versions: tuple = ("1.0", "1.1", "1.2")
    suites: tuple = ()                       # empty = every suite `cert` allows, server order
    groups: tuple = DEFAULT_GROUPS
    encrypt_then_mac: bool = True            # RFC 7366
    extended_master_secret: bool = True      # RFC 7627
    require_extended_master_secret: bool = False
    truncated_hmac: bool = False             # RFC 6066 §7 (echoed only when allowed)
    truncated_hmac_compat: bool = False      # lay keys out like PolarSSL 1.3 / Mbed TLS < 2.7
    max_fragment_length: bool = True         # RFC 6066 §4
    session_tickets: bool = False            # not implemented: never echoed
    session_resumption: bool = True          # by session ID
    require_secure_renegotiation: bool = False
    server_name: str | None = None           # if set, a different SNI is refused (unrecognized_name)
    prefer_client_order: bool = False
    record_size: int = MAX_PLAINTEXT         # largest plaintext fragment the server sends
    split_tls10_records: bool = False        # 1/n-1 split of our own TLS 1.0 CBC app data
    cert: str = "any"                        # "any" | "rsa" | "ecdsa": the leaf key types the peer serves
    # normalised forms, filled in __post_init__
    version_codes: tuple = field(default=(), init=False, repr=False)
    suite_list: tuple = field(default=(), init=False, repr=False)
    group_list: tuple = field(default=(), init=False, repr=False)

    def __post_init__(self) -> None:
        versions = self.versions
        if isinstance(versions, str):
            versions = (versions,)
        codes = []
        for v in versions:
            code = v if isinstance(v, int) else parse_version(str(v))
            if code not in SUPPORTED_VERSIONS:
                raise ValueError(f"TLS version {v!r} is not supported; use 1.0, 1.1 or 1.2")
            codes.append(code)
        if not codes:
            raise ValueError("ServerPolicy.versions is empty: allow at least one of 1.0, 1.1, 1.2")
        if self.cert not in CERT_KINDS:
            raise ValueError(f"ServerPolicy.cert must be 'any', 'rsa' or 'ecdsa', not {self.cert!r}")
        suites = self.suites
        if isinstance(suites, str):
            suites = (suites,)
        if suites:
            suite_list = tuple(s if isinstance(s, CipherSuite) else suite_by_name(s) for s in suites)
            wrong = [s.mbedtls for s in suite_list if self.cert != "any" and s.cert_kind != self.cert]
            if wrong:
                raise ValueError(f"suites {', '.join(wrong)} need a {'ECDSA' if self.cert == 'rsa' else 'RSA'} "
                                 f"certificate but the policy serves cert={self.cert!r}: change cert= or the suites")
        else:
            suite_list = tuple(s for s in ALL_SUITES if self.cert in ("any", s.cert_kind))
        if not any(s.allows(max(codes)) for s in suite_list):
            raise ValueError(f"no policy suite is valid for {', '.join(version_name(c) for c in codes)} "
                             "(GCM and SHA-256/384 suites need TLS 1.2)")
        groups = self.groups
        if isinstance(groups, str):
            groups = (groups,)
        group_list = tuple(g if isinstance(g, NamedGroup) else group_by_name(g) for g in groups)
        if not 1 <= self.record_size <= MAX_PLAINTEXT:
            raise ValueError(f"record_size {self.record_size} must be 1..{MAX_PLAINTEXT}")
        if self.session_tickets:
            raise ValueError("session tickets are not implemented by the peer: leave session_tickets=False")
        object.__setattr__(self, "version_codes", tuple(sorted(set(codes))))
        object.__setattr__(self, "suite_list", suite_list)
        object.__setattr__(self, "group_list", group_list)

    @property
    def min_version(self) -> int:
        return self.version_codes[0]

    @property
    def max_version(self) -> int:
        return self.version_codes[-1]

    def replace(self, **changes) -> "ServerPolicy":
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_cli(cls, tls: str = "any", suite: str = "any", **extra) -> "ServerPolicy":
        """`--tls 1.0|1.1|1.2|any` and `--suite NAME|any` as the CLI and scenarios give them."""
        versions = ("1.0", "1.1", "1.2") if tls in (None, "any") else (tls,)
        suites = () if suite in (None, "any") else (suite,)
        if suites and "cert" not in extra:
            extra["cert"] = suite_by_name(suite).cert_kind
        return cls(versions=versions, suites=suites, **extra)

    def describe(self) -> dict:
        return {
            "versions": [version_name(v) for v in self.version_codes],
            "suites": [s.mbedtls for s in self.suite_list],
            "groups": [g.name for g in self.group_list],
            "encrypt_then_mac": self.encrypt_then_mac,
            "extended_master_secret": self.extended_master_secret,
            "truncated_hmac": self.truncated_hmac,
            "truncated_hmac_compat": self.truncated_hmac_compat,
            "max_fragment_length": self.max_fragment_length,
            "session_resumption": self.session_resumption,
            "record_size": self.record_size,
            "cert": self.cert,
        }
