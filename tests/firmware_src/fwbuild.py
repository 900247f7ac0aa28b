"""The tests' own images: tests/firmware_src/<name>.c (and/or <name>.S), built by
`sim.baremetal.build_image` with its common startup into build/test-firmware/<name>.elf.

Usable from pytest (`build_firmware(name)`, the `build_test_firmware` fixture of tests/conftest.py)
and from the shell: `python3 tests/firmware_src/fwbuild.py NAME [NAME...]`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sim.baremetal import ImageBuildError, build_image

SRC_DIR = Path(__file__).resolve().parent
OUT_DIR = SRC_DIR.parents[1] / "build" / "test-firmware"


def build_firmware(name: str, defines: dict[str, str | int] | None = None,
                   variant: str | None = None) -> Path:
    """Build (if needed) and return the ELF of test image `name` (see sim.baremetal.build_image)."""
    return build_image(name, SRC_DIR, OUT_DIR, defines=defines, variant=variant)


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    for name in argv:
        try:
            print(build_firmware(name))
        except ImageBuildError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
