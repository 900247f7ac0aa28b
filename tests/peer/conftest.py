"""Fixtures for the peer-on-a-socket tests: the test PKI's CA on disk (what clients verify against)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))   # peerkit.py

from sim.tls.certs import generate_test_pki  # noqa: E402


@pytest.fixture(scope="session")
def peer_ca(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("peer-pki")
    generate_test_pki().write(d)
    return d / "ca.pem"
