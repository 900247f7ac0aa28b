"""Build the purpose-built test firmwares: tests/firmware_src/<name>.c (and/or <name>.S) plus the
shared startup in common/, into build/test-firmware/<name>.elf with arm-none-eabi-gcc.

A build is skipped when a stamp of (sources, common files, flags, compiler) is unchanged, so a
second test run costs nothing. Usable from pytest (`build_firmware(name)`, see tests/conftest.py)
and from the shell: `python3 tests/firmware_src/fwbuild.py NAME [NAME...]`.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

SRC_DIR = Path(__file__).resolve().parent
COMMON_DIR = SRC_DIR / "common"
ROOT = SRC_DIR.parent.parent
OUT_DIR = ROOT / "build" / "test-firmware"
CC = os.environ.get("ARM_CC", "arm-none-eabi-gcc")

# The reference firmware's code-generation flags, so the tests exercise the same instruction mix.
CFLAGS = (
    "-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16",
    "-O1", "-g", "-std=gnu11", "-Wall", "-Wextra", "-Werror",
    "-ffunction-sections", "-fdata-sections", "-ffreestanding",
)
LDFLAGS = (
    "-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs",
    "-Wl,--gc-sections", "-Wl,--no-warn-rwx-segments",
)


class FirmwareBuildError(RuntimeError):
    pass


def sources_for(name: str) -> list[Path]:
    """The test's own sources: <name>.c and/or <name>.S (at least one must exist)."""
    own = [p for p in (SRC_DIR / f"{name}.c", SRC_DIR / f"{name}.S") if p.exists()]
    if not own:
        raise FirmwareBuildError(
            f"no test firmware named {name!r}: expected {SRC_DIR}/{name}.c or {name}.S")
    return own


def _common_files() -> list[Path]:
    return sorted(p for p in COMMON_DIR.iterdir() if p.suffix in (".c", ".S", ".h", ".ld"))


def _stamp(inputs: list[Path], flags: tuple[str, ...]) -> str:
    h = hashlib.sha256()
    h.update(CC.encode() + b"\0" + "\0".join(flags).encode())
    for p in inputs:
        h.update(str(p.relative_to(SRC_DIR)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def build_firmware(name: str, defines: dict[str, str | int] | None = None,
                   variant: str | None = None) -> Path:
    """Build (if needed) and return the ELF path for test firmware `name`.

    `defines` become -D flags; give a `variant` suffix when you build the same sources with
    different defines, so each combination gets its own ELF (<name>-<variant>.elf).
    """
    if shutil.which(CC) is None:
        raise FirmwareBuildError(f"{CC} not found: run scripts/setup (installs gcc-arm-none-eabi)")
    own = sources_for(name)
    flags = CFLAGS + tuple(f"-D{k}={v}" for k, v in sorted((defines or {}).items()))
    out_name = f"{name}-{variant}" if variant else name
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    elf = OUT_DIR / f"{out_name}.elf"
    stamp_file = OUT_DIR / f"{out_name}.stamp"
    stamp = _stamp(own + _common_files(), flags + LDFLAGS)
    with open(OUT_DIR / f"{out_name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)      # two pytest processes never build the same ELF at once
        if elf.exists() and stamp_file.exists() and stamp_file.read_text() == stamp:
            return elf
        srcs = own + sorted(COMMON_DIR.glob("*.c")) + sorted(COMMON_DIR.glob("*.S"))
        tmp = elf.with_suffix(".elf.tmp")
        cmd = [CC, *flags, f"-I{COMMON_DIR}", *map(str, srcs), "-T", str(COMMON_DIR / "link.ld"),
               *LDFLAGS, f"-Wl,-Map={elf.with_suffix('.map')}", "-o", str(tmp)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise FirmwareBuildError(
                f"building test firmware {out_name} failed:\n$ {' '.join(cmd)}\n{proc.stderr}")
        os.replace(tmp, elf)
        stamp_file.write_text(stamp)
    return elf


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    for name in argv:
        try:
            print(build_firmware(name))
        except FirmwareBuildError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
