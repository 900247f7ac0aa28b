"""Fixtures for the TLS peer tests: the test PKI on disk, and Mbed TLS's ssl_client2 built natively."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))   # helpers.py

from sim.tls.certs import generate_test_pki  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
MBEDTLS_SRC = ROOT / ".cache" / "third_party" / "mbedtls-2.28.3"
NATIVE_DIR = ROOT / "build" / "native-mbedtls"


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


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"`{name}` is not installed: run scripts/setup (it installs openssl and curl)")
    return path


def build_ssl_client2() -> Path:
    """Mbed TLS 2.28.3's programs/ssl/ssl_client2, built once from the Debian source into
    build/native-mbedtls/ (a copy of the tree, so the pristine source stays untouched)."""
    binary = NATIVE_DIR / "src" / "programs" / "ssl" / "ssl_client2"
    if binary.exists():
        return binary
    if not (MBEDTLS_SRC / "library").is_dir():
        pytest.fail(f"Mbed TLS source not found at {MBEDTLS_SRC}: run scripts/setup (it fetches the Debian source)")
    NATIVE_DIR.mkdir(parents=True, exist_ok=True)
    with open(NATIVE_DIR / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)            # xdist workers or parallel runs build once
        if binary.exists():
            return binary
        src = NATIVE_DIR / "src"
        shutil.rmtree(src, ignore_errors=True)
        shutil.copytree(MBEDTLS_SRC, src, ignore=shutil.ignore_patterns(".unpacked"))
        env = dict(os.environ, CC=shutil.which("gcc") or "cc")
        for cmd in (["make", "-j2", "-s", "lib"], ["make", "-s", "-C", "programs", "ssl/ssl_client2"]):
            run = subprocess.run(cmd, cwd=src, env=env, capture_output=True, text=True, timeout=600)
            if run.returncode != 0:
                pytest.fail(f"building ssl_client2 failed ({' '.join(cmd)}):\n{run.stderr[-3000:]}")
    return binary


@pytest.fixture(scope="session")
def ssl_client2() -> Path:
    return build_ssl_client2()
