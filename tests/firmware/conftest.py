"""Fixtures for the reference firmware tests: the ELFs as the build leaves them.

The session fixture runs the firmware build first (incremental, a no-op when nothing changed),
so the tests always look at images built from the current sources.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fw_testlib import BUILD, GALLERY, VARIANTS, run_build  # noqa: E402


@pytest.fixture(scope="session")
def firmware_elfs() -> dict[str, Path]:
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.fail("arm-none-eabi-gcc is missing: run scripts/setup")
    result = run_build()
    if result.returncode != 0:
        pytest.fail(f"scripts/build-firmware failed:\n{result.stdout}\n{result.stderr}")
    return {v: BUILD / f"{v}.elf" for v in VARIANTS + GALLERY}
