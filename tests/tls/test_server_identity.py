"""The server presents a chain chosen per ClientHello: a leaf named for the client's SNI (or the
address it connected to) under the test roots by default, the user's chain when given one. OpenSSL
(Python's ssl over memory BIOs) is the client and the judge: it verifies the chain against the
root on disk and checks the host name; cryptography decodes what was served."""

from __future__ import annotations

import datetime
import ipaddress
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from tlskit import MemoryClient, client_context
from sim.seed import SeededRandom
from sim.tls.certs import generate_test_pki
from sim.tls.identity import FixedIdentities, ServerIdentity
from sim.tls.policy import ServerPolicy
from sim.tls.server import HandshakeComplete, TlsServer
from sim.tls.sni_leaves import DEFAULT_DATE, default_identities

UTC = datetime.UTC


def _server(**kw) -> TlsServer:
    policy = kw.pop("policy", None) or ServerPolicy()
    return TlsServer(policy, SeededRandom(4).child("identity"), **kw)


def _handshake(srv: TlsServer, ctx: ssl.SSLContext, name: str | None) -> MemoryClient:
    client = MemoryClient(ctx, server_name=name)
    events = client.handshake(srv)
    assert any(isinstance(e, HandshakeComplete) for e in events), srv.journal.to_text()
    return client


def _served(client: MemoryClient) -> x509.Certificate:
    return x509.load_der_x509_certificate(client.tls.getpeercert(binary_form=True))


def _san(cert: x509.Certificate) -> x509.SubjectAlternativeName:
    return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value


def test_each_sni_name_gets_its_own_leaf_that_openssl_verifies(ca_path):
    served = {}
    for name in ("sensor-a.example", "sensor-b.example"):
        srv = _server()
        client = _handshake(srv, client_context(ca_path), name)     # verifies chain and host name
        leaf = _served(client)
        assert _san(leaf).get_values_for_type(x509.DNSName) == [name]
        identity = srv.journal.info["identity"]
        assert identity["host"] == name and identity["source"] == "test-pki" and identity["kind"] == "rsa"
        assert identity["chain"][0]["sha256"] == leaf.fingerprint(hashes.SHA256()).hex()
        served[name] = leaf
    assert served["sensor-a.example"] != served["sensor-b.example"]

    # the other name's leaf is refused by OpenSSL's host-name check
    srv = _server(identities=FixedIdentities(tuple(
        default_identities().candidates("sensor-a.example")[:1])))
    with pytest.raises(ssl.SSLCertVerificationError, match="(?i)hostname mismatch"):
        MemoryClient(client_context(ca_path), server_name="sensor-b.example").handshake(srv)


def test_without_sni_the_leaf_names_the_address_the_client_connected_to(ca_path):
    srv = _server(address="198.51.100.23")
    ctx = client_context(ca_path)
    ctx.check_hostname = False                    # no name to check; the chain is still verified
    client = _handshake(srv, ctx, None)
    leaf = _served(client)
    assert _san(leaf).get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("198.51.100.23")]
    assert srv.journal.info["identity"]["host"] == "198.51.100.23"
    assert "no SNI, so the leaf names the address 198.51.100.23" in srv.journal.to_text()


def test_the_journal_says_which_chain_was_served_and_why(ca_path):
    srv = _server()
    _handshake(srv, client_context(ca_path, "1.2", "ECDHE-RSA-AES128-GCM-SHA256"), "why.example")
    text = srv.journal.to_text()
    assert "identity: RSA-2048 leaf for why.example [why.example] under 'tls-fw-sim Test CA (test PKI)'" in text
    event = next(e for e in srv.journal.events if e["event"] == "identity")
    assert event["text"].startswith("RSA-2048 leaf 'why.example' under 'tls-fw-sim Test CA (test PKI)'")
    assert "offered suite(s) need an RSA certificate" in event["text"]
    assert event["fits"] is True and event["leaf_kind"] == "rsa"
    # and the JSON form carries the whole chain
    chain = srv.journal.to_dict()["info"]["identity"]["chain"]
    assert [c["subject"] for c in chain] == ["CN=why.example,O=tls-fw-sim", "CN=tls-fw-sim Test CA,O=tls-fw-sim"]


def test_the_leaves_follow_the_scenario_date_and_nothing_else(ca_path):
    def leaf(date) -> bytes:
        srv = _server(date=date)
        return _served(_handshake(srv, client_context(ca_path), "dated.example")).public_bytes(
            serialization.Encoding.DER)

    first = leaf(datetime.datetime(2025, 5, 1, tzinfo=UTC))
    assert leaf(datetime.datetime(2025, 5, 1, tzinfo=UTC)) == first
    later = leaf(datetime.datetime(2025, 9, 1, tzinfo=UTC))
    assert later != first
    assert x509.load_der_x509_certificate(later).not_valid_before_utc == datetime.datetime(2025, 8, 25, tzinfo=UTC)


def test_the_default_date_is_the_virtual_calendars():
    from sim.net.calendar_clock import DEFAULT_DATE as CALENDAR_DEFAULT, parse_date
    assert DEFAULT_DATE == parse_date(CALENDAR_DEFAULT)


def _user_chain(key, name: str):
    """A root and a leaf made here with cryptography, as a user's own PKI would be."""
    root_key = ec.generate_private_key(ec.SECP384R1()) if isinstance(key, ec.EllipticCurvePrivateKey) \
        else rsa.generate_private_key(65537, 2048)
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "user root")])
    start = datetime.datetime(2020, 1, 1, tzinfo=UTC)
    root = (x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name)
            .public_key(root_key.public_key()).serial_number(1)
            .not_valid_before(start).not_valid_after(start + datetime.timedelta(days=36500))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(root_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(root_name).public_key(key.public_key()).serial_number(2)
            .not_valid_before(start).not_valid_after(start + datetime.timedelta(days=36500))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(root_key, hashes.SHA256()))
    return root, ServerIdentity((leaf, root), key, "user")


def _trusting(tmp_path, root, version="1.2", cipher=None) -> ssl.SSLContext:
    path = tmp_path / "root.pem"
    path.write_bytes(root.public_bytes(serialization.Encoding.PEM))
    return client_context(path, version, cipher)


def test_a_user_ecdsa_chain_limits_the_suites_to_ecdsa_ones(tmp_path):
    root, identity = _user_chain(ec.generate_private_key(ec.SECP256R1()), "user.example")
    srv = _server(identities=FixedIdentities((identity,)))
    client = _handshake(srv, _trusting(tmp_path, root), "user.example")
    assert _served(client) == identity.leaf
    assert srv.suite.cert_kind == "ecdsa" and srv.journal.info["identity"]["source"] == "user"

    # a client that offers RSA suites only cannot use it: refused, and the reason says why
    srv = _server(identities=FixedIdentities((identity,)))
    refused = MemoryClient(_trusting(tmp_path, root, "1.2", "ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA"),
                           server_name="user.example")
    with pytest.raises(ssl.SSLError, match="(?i)handshake.failure"):
        refused.handshake(srv)
    failure = srv.journal.first_failure()
    assert "no cipher suite in common" in failure.error
    assert "the server presents an ECDSA certificate" in failure.error
    assert srv.journal.info["identity"]["fits"] is False


@pytest.mark.parametrize("version,cipher", [("1.2", "AES128-GCM-SHA256"), ("1.0", "AES128-SHA"),
                                            ("1.2", "ECDHE-RSA-AES256-GCM-SHA384")])
def test_a_user_rsa_chain_serves_rsa_key_exchange_and_ecdhe_rsa(tmp_path, version, cipher):
    root, identity = _user_chain(rsa.generate_private_key(65537, 2048), "rsa-user.example")
    srv = _server(identities=FixedIdentities((identity,)))
    client = _handshake(srv, _trusting(tmp_path, root, version, cipher), "rsa-user.example")
    assert _served(client) == identity.leaf
    client.write(b"GET / HTTP/1.1\r\n\r\n")                      # the keys agree both ways
    srv.send(b"pong")
    assert client.read_all(srv.data_to_send()) == b"pong"


def test_pki_keeps_serving_its_fixed_chains(ca_path):
    pki = generate_test_pki()
    srv = _server(pki=pki)
    client = _handshake(srv, client_context(ca_path), "tls-peer.test")
    assert _served(client) == pki.rsa_cert
