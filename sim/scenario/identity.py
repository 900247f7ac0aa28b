"""Who the peer claims to be on a device's connection: a server certificate for the name the
device asked for, issued by the test CA the reference images trust.

An image that checks the host name (`mbedtls_ssl_set_hostname`, which also sends it as SNI)
accepts a leaf only when a dNSName of its subjectAltName matches (RFC 6125 section 6.4; Mbed TLS
ignores the CN once SAN is present, `mbedtls/library/x509_crt.c`). So each connection gets a
leaf for the name in the ClientHello's server_name (RFC 6066 section 3) or, without SNI, the name
DNS last gave for the address the device connected to (or that address). The leaves come from
`sim.tls.sni_leaves` (per-name leaves under the test PKI's roots, valid at the scenario's date);
this module only picks the one for the connection and hands it to the TLS server in the shape it
takes (`server_chain(kind)`, `server_key(kind)`).

`server_identity(name, at)` is the one place that decides which leaf a name gets: the user's
own chain and key, or a look-alike of the image's own root, plug in here.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Callable

from cryptography import x509

from sim.tls.certs import SERVER_NAME, generate_test_pki
from sim.tls.identity import ServerIdentity
from sim.tls.sni_leaves import SniLeaves, default_identities

TEST_ROOT = 0                     # the RSA root of the test PKI: the one the reference firmware embeds


@functools.lru_cache(maxsize=8)
def _leaves(at: datetime) -> SniLeaves:
    return default_identities(at)


def server_identity(name: str, at: datetime, kind: str = "rsa") -> ServerIdentity:
    """The chain (leaf for `name`, then the test root) and key the peer presents for `name` at
    the scenario date `at`; `kind` is the leaf key type the TLS policy asks for."""
    for identity in _leaves(at).candidates(name):
        if identity.kind == kind and identity.chain[-1] == generate_test_pki().ca_cert:
            return identity
    raise LookupError(f"no {kind} leaf under the test root for {name!r}")


class ConnectionIdentity:
    """The identity for one connection, chosen when the peer needs it (the ClientHello has been
    read then, so its SNI is known). Has the `server_chain`/`server_key` surface of TestPki."""

    def __init__(self, fallback_name: Callable[[], str | None], at: datetime) -> None:
        self.fallback_name = fallback_name
        self.at = at
        self.session = None                   # the PeerSession, bound once it exists
        self.name: str | None = None

    def _identity(self, kind: str) -> ServerIdentity:
        sni = self.session.journal.info.get("sni") if self.session is not None else None
        self.name = sni or self.fallback_name() or SERVER_NAME
        return server_identity(self.name, self.at, kind)

    def server_chain(self, kind: str = "rsa") -> list[x509.Certificate]:
        return list(self._identity(kind).chain)

    def server_key(self, kind: str = "rsa"):
        return self._identity(kind).key

    def ca_pem(self) -> bytes:
        return generate_test_pki().ca_pem()


def root_validity() -> tuple[datetime, datetime]:
    """(not before, not after) of the test root: Mbed TLS checks the trusted root's dates too, so
    a device whose clock lies outside rejects every leaf under it."""
    root = generate_test_pki().ca_cert
    return root.not_valid_before_utc, root.not_valid_after_utc


__all__ = ["ConnectionIdentity", "root_validity", "server_identity"]
