"""Who the peer claims to be on a device's connection: a server certificate for the name the
device asked for, issued by the test CA the reference images trust.

An image that checks the host name (`mbedtls_ssl_set_hostname`, which also sends it as SNI)
accepts a leaf only when a dNSName of its subjectAltName matches (RFC 6125 section 6.4; Mbed TLS
ignores the CN once SAN is present, `mbedtls/library/x509_crt.c`). So each connection gets a
leaf whose SAN is the name in the ClientHello's server_name (RFC 6066 section 3) or, without SNI,
the name DNS last gave for the address the device connected to. Keys, issuer, validity and usage
are those of the test PKI (`sim.tls.certs`); only the names differ, and the same name always gives
the same bytes.

`server_identity(name)` is the one place that decides this: the user's own chain and key, or a
look-alike of the image's own root, plug in here.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
from typing import Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from sim.tls.certs import SERVER_NAME, TestPki, generate_test_pki


@functools.lru_cache(maxsize=64)
def server_identity(name: str | None) -> TestPki:
    """The test PKI with server leaves for `name` (None, or a name the test leaves already carry:
    the test PKI itself)."""
    pki = generate_test_pki()
    if name is None or _covered(pki, name):
        return pki
    return dataclasses.replace(pki, rsa_cert=_leaf(pki, pki.rsa_cert, name),
                               ecdsa_cert=_leaf(pki, pki.ecdsa_cert, name))


def _covered(pki: TestPki, name: str) -> bool:
    san = pki.rsa_cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return name.lower() in {n.lower() for n in san.get_values_for_type(x509.DNSName)}


def _leaf(pki: TestPki, template: x509.Certificate, name: str) -> x509.Certificate:
    """`template` re-issued for `name`: same key, issuer, serial, validity and extensions, SAN and
    CN naming `name` (an IP literal goes into an iPAddress entry as well)."""
    names: list[x509.GeneralName] = [x509.DNSName(name)]
    try:
        names.append(x509.IPAddress(ipaddress.ip_address(name)))
    except ValueError:
        pass
    subject = x509.Name([attr if attr.oid != NameOID.COMMON_NAME else x509.NameAttribute(NameOID.COMMON_NAME, name)
                         for attr in template.subject])
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(template.issuer)
               .public_key(template.public_key()).serial_number(template.serial_number)
               .not_valid_before(template.not_valid_before_utc).not_valid_after(template.not_valid_after_utc))
    for ext in template.extensions:
        value = x509.SubjectAlternativeName(names) if isinstance(ext.value, x509.SubjectAlternativeName) else ext.value
        builder = builder.add_extension(value, critical=ext.critical)
    return builder.sign(pki.ca_key, hashes.SHA256())


class ConnectionIdentity:
    """The identity for one connection, chosen when the peer needs it (the ClientHello has been
    read then, so its SNI is known). Has the `server_chain`/`server_key` surface of TestPki."""

    def __init__(self, fallback_name: Callable[[], str | None]) -> None:
        self.fallback_name = fallback_name
        self.session = None                   # the PeerSession, bound once it exists
        self.name: str | None = None

    def _pki(self) -> TestPki:
        sni = self.session.journal.info.get("sni") if self.session is not None else None
        self.name = sni or self.fallback_name() or SERVER_NAME
        return server_identity(self.name)

    def server_chain(self, kind: str = "rsa") -> list[x509.Certificate]:
        return self._pki().server_chain(kind)

    def server_key(self, kind: str = "rsa"):
        return generate_test_pki().server_key(kind)        # every leaf keeps the test key

    def ca_pem(self) -> bytes:
        return generate_test_pki().ca_pem()


def validity(pki: TestPki | None = None) -> tuple:
    """(not before, not after) of the server chain: a device whose clock lies outside rejects it."""
    pki = pki or generate_test_pki()
    starts = [c.not_valid_before_utc for c in (pki.rsa_cert, pki.ca_cert)]
    ends = [c.not_valid_after_utc for c in (pki.rsa_cert, pki.ca_cert)]
    return max(starts), min(ends)


__all__ = ["ConnectionIdentity", "server_identity", "validity"]
