"""`python -m sim peer` presents the user's chain with --server-cert/--server-key, or a leaf per SNI
name under the test roots without them; openssl s_client (-verify_return_error, -verify_hostname)
and curl judge what it serves. A chain or key that cannot be served is refused before listening:
one line, exit status 2."""

from __future__ import annotations

import datetime
import shutil
import subprocess
import sys

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from peerkit import PeerProcess, expected_get_body

from sim.tls.certs import generate_test_pki

TIMEOUT = 60
UTC = datetime.UTC
PEM = serialization.Encoding.PEM


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is not installed: run scripts/setup (it installs openssl and curl)"
    return path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example Devices"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def user_pki(tmp_path, kind: str, host: str, *, password: bytes | None = None,
             not_after: datetime.datetime | None = None):
    """A user's own PKI made with cryptography: root -> intermediate -> leaf for `host`. Writes
    root.pem, chain.pem (leaf, intermediate) and key.pem (encrypted with `password`)."""
    def key():
        return rsa.generate_private_key(65537, 2048) if kind == "rsa" else ec.generate_private_key(ec.SECP256R1())

    start = datetime.datetime(2024, 6, 1, tzinfo=UTC)
    end = not_after or datetime.datetime(2040, 1, 1, tzinfo=UTC)
    root_key, mid_key, leaf_key = key(), key(), key()

    def issue(subject, issuer, public, signer, ca: bool, san: str | None = None):
        b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public)
             .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if san:
            b = (b.add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
                 .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False))
        return b.sign(signer, hashes.SHA256())

    root = issue(_name("Example Root"), _name("Example Root"), root_key.public_key(), root_key, True)
    mid = issue(_name("Example Issuing CA"), root.subject, mid_key.public_key(), root_key, True)
    leaf = issue(_name(host), mid.subject, leaf_key.public_key(), mid_key, False, san=host)
    (tmp_path / "root.pem").write_bytes(root.public_bytes(PEM))
    (tmp_path / "chain.pem").write_bytes(leaf.public_bytes(PEM) + mid.public_bytes(PEM))
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    (tmp_path / "key.pem").write_bytes(leaf_key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, encryption))
    return leaf


def s_client(port: int, ca: str, name: str, *extra: str) -> subprocess.CompletedProcess:
    """openssl s_client verifying chain and host name; fails (exit 1) on any verification error."""
    return subprocess.run([_tool("openssl"), "s_client", "-connect", f"127.0.0.1:{port}", "-servername", name,
                           "-verify_return_error", "-CAfile", ca, "-verify_hostname", name, "-showcerts", *extra],
                          input=b"", capture_output=True, timeout=TIMEOUT)


def served_leaf(run: subprocess.CompletedProcess) -> x509.Certificate:
    return x509.load_pem_x509_certificates(run.stdout)[0]


def curl_get(port: int, ca: str, name: str, path: str = "/hello") -> subprocess.CompletedProcess:
    return subprocess.run([_tool("curl"), "-sS", "--fail", "--cacert", ca, "--resolve", f"{name}:{port}:127.0.0.1",
                           f"https://{name}:{port}{path}"], capture_output=True, timeout=TIMEOUT)


@pytest.mark.parametrize("kind,password", [("rsa", None), ("ecdsa", b"s3cret pass")], ids=["RSA", "ECDSA-encrypted"])
def test_the_users_chain_is_served_and_verifies_in_openssl_and_curl(tmp_path, kind, password):
    host = f"{kind}-device-api.example.com"
    leaf = user_pki(tmp_path, kind, host, password=password)
    args = ["--server-cert", str(tmp_path / "chain.pem"), "--server-key", str(tmp_path / "key.pem")]
    if password:
        args += ["--server-key-password", password.decode()]
    root = str(tmp_path / "root.pem")
    with PeerProcess(*args) as peer:
        assert f"identity: your chain from {tmp_path / 'chain.pem'}" in peer.wait_for(lambda ln: "identity:" in ln)
        run = s_client(peer.port, root, host)
        assert run.returncode == 0, run.stdout.decode(errors="replace")[-2000:] + run.stderr.decode(errors="replace")
        assert b"Verify return code: 0 (ok)" in run.stdout
        assert served_leaf(run) == leaf
        got = curl_get(peer.port, root, host)
        assert got.returncode == 0, got.stderr
        assert got.stdout == expected_get_body("/hello")
        # the test roots do not vouch for it, and it names only its own host
        assert s_client(peer.port, str(_test_roots(tmp_path)["rsa"]), host).returncode != 0
        assert s_client(peer.port, root, "other.example.com").returncode != 0
        assert peer.stop() == 0


def _test_roots(tmp_path) -> dict:
    pki = generate_test_pki()
    (tmp_path / "ca.pem").write_bytes(pki.ca_pem())
    (tmp_path / "ca-p256.pem").write_bytes(pki.ec_ca_pem())
    return {"rsa": tmp_path / "ca.pem", "p256": tmp_path / "ca-p256.pem"}


def test_without_a_chain_each_sni_name_gets_a_leaf_under_the_test_roots(tmp_path):
    roots = _test_roots(tmp_path)
    with PeerProcess("--seed", "3") as peer:
        assert "a leaf per SNI name" in peer.wait_for(lambda ln: "identity:" in ln)
        leaves = {}
        for name in ("alpha.example.net", "beta.example.org"):
            run = s_client(peer.port, str(roots["rsa"]), name)
            assert run.returncode == 0, run.stdout.decode(errors="replace")[-2000:]
            leaves[name] = served_leaf(run)
            san = leaves[name].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            assert san.get_values_for_type(x509.DNSName) == [name]
        assert leaves["alpha.example.net"] != leaves["beta.example.org"]
        # a client that can check ECDSA signatures only gets a chain under the P-256 root
        run = s_client(peer.port, str(roots["p256"]), "gamma.example.net", "-tls1_2",
                       "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256", "-sigalgs", "ECDSA+SHA256:ECDSA+SHA384")
        assert run.returncode == 0, run.stdout.decode(errors="replace")[-2000:]
        assert isinstance(served_leaf(run).public_key(), ec.EllipticCurvePublicKey)
        got = curl_get(peer.port, str(roots["rsa"]), "delta.example.net", "/bytes/3000")
        assert got.returncode == 0, got.stderr
        assert got.stdout == expected_get_body("/bytes/3000")
        assert peer.stop() == 0


def _refused(*args: str, words: tuple[str, ...]) -> None:
    run = subprocess.run([sys.executable, "-m", "sim", "peer", "--listen", "127.0.0.1:0", *args],
                         capture_output=True, text=True, timeout=TIMEOUT)
    assert run.returncode == 2, (run.returncode, run.stdout, run.stderr)
    assert "listening" not in run.stdout and "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


def test_a_chain_or_key_that_cannot_be_served_is_refused_before_listening(tmp_path):
    user_pki(tmp_path, "ecdsa", "device.example", password=b"pw")
    chain, key = str(tmp_path / "chain.pem"), str(tmp_path / "key.pem")
    _refused("--server-cert", chain, words=("--server-cert without --server-key",))
    _refused("--server-key", key, words=("--server-key without --server-cert",))
    _refused("--server-key-password", "pw", words=("--server-key-password without --server-key",))
    _refused("--server-cert", chain, "--server-key", key, words=("is encrypted", "--server-key-password"))
    _refused("--server-cert", chain, "--server-key", key, "--server-key-password", "wrong",
             words=("wrong password",))
    _refused("--server-cert", key, "--server-key", chain, "--server-key-password", "pw",
             words=("swapped",))
    _refused("--server-cert", chain, "--server-key", key, "--server-key-password", "pw",
             "--suite", "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256", words=("needs an RSA certificate", "ECDSA key"))
    _refused("--server-cert", chain, "--server-key", key, "--server-key-password", "pw", "--date", "2041-02-01",
             words=("expired", "2041-02-01T00:00:00Z"))
    _refused("--server-cert", chain, "--server-key", key, "--server-key-password", "pw", "--date", "2024-05-01",
             words=("not valid before",))
    other = tmp_path / "other"
    other.mkdir()
    user_pki(other, "ecdsa", "device.example")
    _refused("--server-cert", chain, "--server-key", str(other / "key.pem"),
             words=("does not belong to the first certificate",))
    _refused("--date", "yesterday", words=("--date 'yesterday'", "2026-03-01"))
    _refused("--date", "2026-03-01T12:00:00", words=("no time zone",))
