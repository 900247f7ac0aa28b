"""Shared pytest fixtures.

`build_test_firmware(name, defines=None, variant=None)` builds tests/firmware_src/<name>.c/.S with
the common startup into build/test-firmware/<name>.elf (only when its inputs changed) and returns
the path. Results are read with `fwresult.run_to_finish(backend)`; see tests/firmware_src/README.md.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "firmware_src"))

import fwbuild  # noqa: E402  (path set just above)

from hypothesis import settings  # noqa: E402

# CI must be repeatable: property tests draw the same examples every run (and never fail on a slow,
# shared machine's timing). HYPOTHESIS_PROFILE=explore draws fresh, more numerous examples locally.
settings.register_profile("repeatable", derandomize=True, deadline=None)
settings.register_profile("explore", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


@pytest.fixture(scope="session")
def build_test_firmware():
    return fwbuild.build_firmware
