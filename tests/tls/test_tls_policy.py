"""ServerPolicy: names in both forms, clear errors that say what to use instead."""

from __future__ import annotations

import pytest

from sim.tls.policy import ServerPolicy
from sim.tls.protocol import TLS1_0, TLS1_2
from sim.tls.suites import UnknownSuiteError, suite_by_name


def test_suites_by_mbedtls_and_iana_names():
    a = ServerPolicy(suites=("TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256", "tls_rsa_with_aes_128_cbc_sha"))
    assert [s.code for s in a.suite_list] == [0xC02F, 0x002F]
    assert suite_by_name("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384").mbedtls == "TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384"


def test_unknown_suite_lists_the_known_ones():
    with pytest.raises(UnknownSuiteError) as err:
        ServerPolicy(suites=("TLS-RSA-WITH-RC4-128-SHA",))
    text = str(err.value)
    assert "TLS-RSA-WITH-RC4-128-SHA" in text and "TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA" in text


@pytest.mark.parametrize("kwargs,message", [
    ({"versions": ("1.3",)}, "unknown TLS version '1.3'"),
    ({"versions": ()}, "allow at least one"),
    ({"versions": ("1.0",), "suites": ("TLS-RSA-WITH-AES-128-GCM-SHA256",)}, "need TLS 1.2"),
    ({"cert": "rsa", "suites": ("TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256",)}, "change cert= or the suites"),
    ({"cert": "dsa"}, "'any', 'rsa' or 'ecdsa'"),
    ({"groups": ("brainpool",)}, "known groups"),
    ({"record_size": 0}, "record_size"),
    ({"session_tickets": True}, "not implemented"),
])
def test_bad_policies_say_how_to_fix_them(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ServerPolicy(**kwargs)


def test_from_cli():
    p = ServerPolicy.from_cli("1.0", "TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA")
    assert p.version_codes == (TLS1_0,) and [s.code for s in p.suite_list] == [0xC013]
    p = ServerPolicy.from_cli("any", "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256")
    assert p.cert == "ecdsa" and p.max_version == TLS1_2
    assert ServerPolicy(groups=("P-256", "X25519")).describe()["groups"] == ["secp256r1", "x25519"]


def test_by_default_rsa_and_ecdsa_suites_side_by_side():
    """The peer chooses an RSA or an ECDSA chain per ClientHello, so its default policy serves both
    kinds, RSA suites first (the server's order); cert= narrows it to one kind."""
    kinds = [s.cert_kind for s in ServerPolicy().suite_list]
    assert set(kinds) == {"rsa", "ecdsa"} and kinds == sorted(kinds, key=lambda k: k != "rsa")
    assert {s.cert_kind for s in ServerPolicy(cert="ecdsa").suite_list} == {"ecdsa"}
    mixed = ServerPolicy(suites=("TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256", "TLS-RSA-WITH-AES-128-CBC-SHA"))
    assert [s.code for s in mixed.suite_list] == [0xC02B, 0x002F]
