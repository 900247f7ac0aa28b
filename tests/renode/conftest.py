"""Fixtures for the Renode backend tests: the fake pyrenode3 and a tiny ARM ELF with known symbols."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

import fake_pyrenode3  # tests/renode is on sys.path (pytest rootdir-relative import)

DATA = Path(__file__).resolve().parent / "data"
DOCUMENTED_REPL = DATA / "documented.repl"

TINY_FIRMWARE = """
    .syntax unified
    .cpu cortex-m4
    .thumb
    .text
    .word 0x20001000
    .word Reset_Handler + 1
    .thumb_func
    .global Reset_Handler
    .type Reset_Handler, %function
Reset_Handler:
    b Reset_Handler
    .size Reset_Handler, . - Reset_Handler
    .thumb_func
    .global fw_tls_send
    .type fw_tls_send, %function
fw_tls_send:
    nop
    bx lr
    .size fw_tls_send, . - fw_tls_send
"""


@pytest.fixture(scope="session")
def tiny_elf(tmp_path_factory) -> Path:
    """A 32-bit ARM ELF in flash with `fw_tls_send` (a Thumb function) - built, not stored."""
    gcc = shutil.which("arm-none-eabi-gcc")
    if gcc is None:
        pytest.fail("arm-none-eabi-gcc is missing: run scripts/setup")
    work = tmp_path_factory.mktemp("tiny-elf")
    source = work / "tiny.S"
    source.write_text(TINY_FIRMWARE)
    elf = work / "tiny.elf"
    subprocess.run([gcc, "-nostdlib", "-mcpu=cortex-m4", "-mthumb", "-Wl,-Ttext=0x08000000",
                    "-Wl,-e,Reset_Handler",
                    str(source), "-o", str(elf)], check=True, capture_output=True)
    return elf


@pytest.fixture
def renode_env(monkeypatch, tmp_path):
    """pyrenode3's variables as a coreclr portable install would set them."""
    for name in ("PYRENODE_PKG", "PYRENODE_BUILD_DIR", "PYRENODE_BIN", "PYRENODE_RUNTIME",
                 "PYRENODE_SKIP_LOAD"):
        monkeypatch.delenv(name, raising=False)
    binary = tmp_path / "renode"
    binary.write_text("#!/bin/sh\n")
    monkeypatch.setenv("PYRENODE_BIN", str(binary))
    monkeypatch.setenv("PYRENODE_RUNTIME", "coreclr")
    return binary


@pytest.fixture
def fake_renode(monkeypatch, renode_env):
    """The fake pyrenode3 installed in sys.modules, with Renode's variables set."""
    return fake_pyrenode3.install(monkeypatch)
