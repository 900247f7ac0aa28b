"""Shared pytest fixtures.

`build_test_firmware(name, defines=None, variant=None)` builds tests/firmware_src/<name>.c/.S with
the common startup into build/test-firmware/<name>.elf (only when its inputs changed) and returns
the path. Results are read with `fwresult.run_to_finish(backend)`; see tests/firmware_src/README.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "firmware_src"))

import fwbuild  # noqa: E402  (path set just above)


@pytest.fixture(scope="session")
def build_test_firmware():
    return fwbuild.build_firmware
