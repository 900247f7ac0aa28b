"""Fixtures for the core's tests: machines on the core-only platform (no peripheral models) or
the real platform, loaded with a purpose-built test firmware."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.machine import Machine

from machine_paths import CORE_PLATFORM as CORE_REPL
from machine_paths import REFERENCE_ELF


@pytest.fixture
def core_machine(build_test_firmware):
    """core_machine(name, defines=None, platform=None, **options) -> Machine with the ELF loaded."""

    def make(name: str, defines: dict | None = None, platform: Path | None = None,
             seed: int = 1, **options) -> Machine:
        variant = "_".join(f"{k}{v}" for k, v in sorted((defines or {}).items())) or None
        elf = build_test_firmware(name, defines=defines, variant=variant)
        m = Machine(platform or CORE_REPL, seed=seed, **options)
        m.load_elf(elf)
        return m

    return make


@pytest.fixture(scope="session")
def reference_elf() -> Path:
    if not REFERENCE_ELF.exists():
        pytest.fail(f"{REFERENCE_ELF} is not built: run scripts/setup (it builds the firmware)")
    return REFERENCE_ELF
