"""Reading certificates that Mbed TLS accepts and strict parsers refuse.

Mbed TLS parses an ECDSA AlgorithmIdentifier with NULL parameters (its own test-ca2 carries them,
`mbedtls/library/x509.c`, `mbedtls_x509_get_alg`), although RFC 5758 §3.2 says the parameters
MUST be absent. `cryptography` warned about them up to release 48 and refuses them since. A trust
store holding such a root must still be found and matched, so the certificate is read for
inspection (names, key, validity, extensions) from a copy with the parameters dropped; its bytes
and signature are never used from that copy.
"""

from __future__ import annotations

import warnings

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.utils import CryptographyDeprecationWarning

_ECDSA_PREFIX = "sha"            # asn1crypto names: sha256_ecdsa, sha384_ecdsa, ...


def load_der_certificate(data: bytes) -> x509.Certificate:
    """A `cryptography` certificate for `data`; ValueError if neither reading accepts it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            cert = x509.load_der_x509_certificate(data)
            _ = cert.signature_algorithm_oid, cert.signature_hash_algorithm  # the warning comes on first use
            return cert
    except ValueError:
        stripped = _without_ecdsa_null_parameters(data)
        if stripped is None:
            raise
        return x509.load_der_x509_certificate(stripped)


def _without_ecdsa_null_parameters(data: bytes) -> bytes | None:
    """`data` re-encoded with NULL parameters removed from its ECDSA AlgorithmIdentifiers, or None
    when it has none (or is not a certificate at all)."""
    try:
        cert = asn1_x509.Certificate.load(data, strict=True)
        algorithms = (cert["signature_algorithm"], cert["tbs_certificate"]["signature"])
        changed = False
        for algorithm in algorithms:
            if algorithm["algorithm"].native.endswith("_ecdsa") and algorithm["parameters"].dump() == b"\x05\x00":
                del algorithm["parameters"]
                changed = True
        return cert.dump(force=True) if changed else None
    except (ValueError, TypeError, KeyError):
        return None
