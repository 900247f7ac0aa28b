"""The gallery images are `fixed` plus one defect: compared symbol by symbol with `fixed` (relocated
fields as what they point at, see fw_elfdiff), only the functions and objects of the defect
differ, and the image boots as the shell does, under its own name."""

from __future__ import annotations

import pytest
from fw_elfdiff import differing_symbols
from fw_testlib import GALLERY

from sim.scenario import boot

# variant -> (functions that differ, symbols only in fixed, symbols only in the variant)
CONFINED = {
    # the send callback, on the raw API: lwIP's socket send path is no longer linked
    "bug-tcp-nocopy": ({"fw_tls_send"},
                       {"lwip_send", "netconn_write_partly", "netconn_write_vectors_partly", "lwip_netconn_do_write"},
                       {"lwip_socket_dbg_get_socket"}),
    "bug-partial-send": ({"fw_tls_send"}, set(), set()),
    "bug-want-write-args": ({"fw_tls_send", "tls_session_write"}, set(), set()),
    # the keep-alive task, started at init and armed and disarmed with the session
    "bug-two-writers": ({"tls_client_init", "tls_session_open", "tls_session_close"}, set(),
                        {"heartbeat_task", "heartbeat_armed", "heartbeat_session"}),
    # the upload task; every function that uses the session reaches it through a pointer now
    "bug-stack-overflow": ({"https_post", "https_get", "open_session", "read_response.constprop", "report_failure"},
                           {"session"}, {"upload_task", "upload", "upload_start", "upload_done", "session_mem"}),
    # configure() (inlined into tls_session_open) turns the extension on; the library functions
    # are those MBEDTLS_SSL_TRUNCATED_HMAC(_COMPAT) change in mbedtls/library/ssl_tls.c and ssl_cli.c
    "bug-trunc-hmac": ({"tls_session_open", "mbedtls_ssl_config_defaults", "mbedtls_ssl_derive_keys",
                        "mbedtls_ssl_free", "mbedtls_ssl_handshake_client_step", "mbedtls_ssl_handshake_wrapup",
                        "ssl_handshake_init"}, set(), {"mbedtls_ssl_conf_truncated_hmac"}),
}


def test_every_gallery_variant_is_described():
    assert set(CONFINED) == set(GALLERY)


@pytest.mark.parametrize("variant", GALLERY)
def test_only_the_defect_differs_from_fixed(firmware_elfs, variant):
    functions, only_fixed, only_variant = CONFINED[variant]
    differ, in_fixed, in_variant = differing_symbols(firmware_elfs["fixed"], firmware_elfs[variant])
    assert {name for kind, name in differ if kind == "func"} == functions
    assert {name for kind, name in differ if kind == "object"} == {"fw_variant_name"}   # longer names
    assert {name for kind, name in in_fixed} == only_fixed
    assert {name for kind, name in in_variant} == only_variant


@pytest.mark.parametrize("variant", GALLERY)
def test_boots_under_its_own_name(firmware_elfs, variant):
    booted = boot(firmware_elfs[variant])
    lines = booted.boot_transcript.decode().split("\r\n")
    assert lines[0] == f"boot: tls-client {variant} mbedtls 2.28.3 lwip 2.1.3 sysclk 168000000"
    assert "ready" in lines
