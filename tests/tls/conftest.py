"""Fixtures for the TLS peer tests: the test PKI on disk, and Mbed TLS's ssl_client2 built natively."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))   # tlskit.py

from sim.tls.certs import generate_test_pki  # noqa: E402
from tlskit import build_ssl_client2  # noqa: E402


@pytest.fixture(scope="session")
def pki():
    return generate_test_pki()


@pytest.fixture(scope="session")
def pki_dir(pki, tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("pki")
    pki.write(d)
    return d


@pytest.fixture(scope="session")
def ca_path(pki_dir) -> Path:
    return pki_dir / "ca.pem"


@pytest.fixture(scope="session")
def ssl_client2() -> Path:
    return build_ssl_client2()
