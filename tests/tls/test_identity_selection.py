"""Which chain the peer presents per ClientHello, with ClientHellos sent by real clients (Mbed TLS
2.28's ssl_client2 and openssl s_client): the chosen chain verifies for that client (openssl
verify), a client that cannot check RSA gets a chain that is ECDSA throughout, and the choice says
why."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from identitykit import UTC, capture_client_hello, leaf_for, openssl_verify
from tlskit import build_ssl_client2

from sim.tls.certs import generate_test_pki
from sim.tls.identity import FixedIdentities, HelloFacts, IdentityError, ServerIdentity, choose_identity
from sim.tls.protocol import TLS1_2
from sim.tls.sni_leaves import default_identities
from sim.tls.suites import suite_by_name

AT = datetime.datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
ADDRESS = "192.0.2.1"
OPENSSL = ["openssl", "s_client", "-connect", "127.0.0.1:{port}"]


@pytest.fixture(scope="module")
def pki():
    return generate_test_pki()


@pytest.fixture(scope="module")
def source():
    return default_identities(AT)


def _facts(hello, version=None) -> HelloFacts:
    return HelloFacts.from_client_hello(hello, version)


def _all_ecdsa(chain) -> bool:
    return all(isinstance(c.public_key(), ec.EllipticCurvePublicKey) and "ecdsa" in c.signature_algorithm_oid._name
               for c in chain)


def test_mbedtls_default_client_gets_the_rsa_chain_named_for_its_sni(source, pki, tmp_path):
    hello = capture_client_hello([str(build_ssl_client2()), "server_addr=127.0.0.1", "server_port={port}",
                                  "server_name=tls-peer.test"])
    choice = choose_identity(_facts(hello), source, address=ADDRESS)
    assert choice.fits and choice.kind == "rsa" and choice.host == "tls-peer.test"
    assert isinstance(choice.key, rsa.RSAPrivateKey)
    assert choice.chain[-1] == pki.ca_cert
    run = openssl_verify(tmp_path, [pki.ca_cert], choice.chain[0], at=AT, hostname="tls-peer.test")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "RSA-2048 leaf 'tls-peer.test'" in choice.why and "tls-fw-sim Test CA" in choice.why


def test_a_client_that_cannot_check_rsa_gets_a_chain_that_is_ecdsa_throughout(source, pki, tmp_path):
    # what an Mbed TLS image built without MBEDTLS_RSA_C offers: ECDHE-ECDSA suites, ECDSA signatures
    hello = capture_client_hello(OPENSSL + ["-servername", "device-api.example", "-tls1_2",
                                            "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256",
                                            "-sigalgs", "ECDSA+SHA256:ECDSA+SHA384"])
    choice = choose_identity(_facts(hello), source, address=ADDRESS)
    assert choice.fits and choice.kind == "ecdsa"
    assert _all_ecdsa(choice.chain) and choice.chain[-1] == pki.ec_ca_cert
    san = choice.chain[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["device-api.example"]
    ok = openssl_verify(tmp_path / "p256", [pki.ec_ca_cert], choice.chain[0], at=AT, hostname="device-api.example")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert openssl_verify(tmp_path / "rsa", [pki.ca_cert], choice.chain[0], at=AT).returncode != 0
    # the journal's reason names what was passed over and why
    assert "no offered suite needs an RSA certificate" in choice.why
    assert "lack rsa_pkcs1_sha256" in choice.why


def test_an_ecdsa_only_suite_with_rsa_signatures_allowed_keeps_the_rsa_root(source, pki):
    # the reference firmware trusts the RSA root; a client that can check RSA signatures gets the
    # ECDSA leaf under it, as before
    hello = capture_client_hello([str(build_ssl_client2()), "server_addr=127.0.0.1", "server_port={port}",
                                  "server_name=tls-peer.test",
                                  "force_ciphersuite=TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256"])
    choice = choose_identity(_facts(hello), source, address=ADDRESS)
    assert choice.kind == "ecdsa" and choice.chain[-1] == pki.ca_cert


def test_without_sni_the_leaf_names_the_server_address(source, pki, tmp_path):
    hello = capture_client_hello(OPENSSL + ["-noservername", "-tls1_2"])
    assert hello.server_name() is None
    choice = choose_identity(_facts(hello), source, address=ADDRESS)
    assert choice.host == ADDRESS and "no SNI" in choice.why
    run = openssl_verify(tmp_path, [choice.chain[-1]], choice.chain[0], at=AT, ip=ADDRESS)
    assert run.returncode == 0, run.stdout + run.stderr


def test_tls10_without_signature_algorithms_goes_by_the_offered_suites(source, pki, tmp_path):
    hello = capture_client_hello(OPENSSL + ["-noservername", "-tls1", "-cipher", "ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0"])
    assert hello.signature_algorithms() is None
    choice = choose_identity(_facts(hello), source, address=ADDRESS)
    assert choice.kind == "ecdsa" and _all_ecdsa(choice.chain)


def test_a_curve_the_client_lacks_fits_nothing_and_says_so(source):
    hello = capture_client_hello(OPENSSL + ["-servername", "x.example", "-tls1_2", "-curves", "secp384r1",
                                            "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"])
    choice = choose_identity(_facts(hello), source, address=ADDRESS)
    assert not choice.fits
    assert "does not support the leaf's curve (EC secp256r1)" in choice.why


def test_policy_preference_and_suite_limits(source):
    facts = HelloFacts(TLS1_2, (0xC02F, 0xC02B), ((4, 1), (4, 3)), (23,), b"\x00", "a.example")
    assert choose_identity(facts, source, address=ADDRESS).kind == "rsa"
    assert choose_identity(facts, source, address=ADDRESS, prefer="ecdsa").kind == "ecdsa"
    only_rsa = [suite_by_name("TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256")]
    assert choose_identity(facts, source, address=ADDRESS, suites=only_rsa, prefer="ecdsa").kind == "rsa"
    # same facts, same bytes: the choice is a pure function
    a = choose_identity(facts, source, address=ADDRESS)
    b = choose_identity(facts, default_identities(AT), address=ADDRESS)
    assert a.chain == b.chain and a.why == b.why


def test_an_unusable_sni_falls_back_to_the_address(source):
    facts = HelloFacts(TLS1_2, (0xC02F,), None, None, None, "bad name\u00e9")
    choice = choose_identity(facts, source, address=ADDRESS)
    assert choice.host == ADDRESS and "cannot be a certificate name" in choice.why


def test_a_users_single_chain_is_chosen_even_when_it_does_not_fit():
    root, root_key = _self_signed(ec.generate_private_key(ec.SECP384R1()))
    leaf, leaf_key = leaf_for(root, root_key, "user.example")
    identity = ServerIdentity((leaf, root), leaf_key, "user")
    facts = HelloFacts(TLS1_2, (0xC02F,), ((4, 1),), (23,), b"\x00", "user.example")
    choice = choose_identity(facts, FixedIdentities((identity,)), address=ADDRESS)
    assert choice.identity is identity and not choice.fits
    assert "no offered suite needs an ECDSA certificate" in choice.why
    with pytest.raises(IdentityError):
        choose_identity(facts, FixedIdentities(()), address=ADDRESS)


def _self_signed(key):
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "user root")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(datetime.datetime(2020, 1, 1))
            .not_valid_after(datetime.datetime(2040, 1, 1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA384()))
    return cert, key
