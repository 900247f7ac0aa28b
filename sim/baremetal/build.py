"""arm-none-eabi-gcc for one small image: its own sources plus `common/`, into `<out_dir>/<name>.elf`.

A build is skipped while a stamp of its inputs (sources, common files, flags, compiler) is
unchanged, and a lock file serialises two processes building the same ELF, so parallel test runs
and a second run cost nothing.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from importlib.resources import as_file, files
from pathlib import Path

from sim.errors import SimError

CC = os.environ.get("ARM_CC", "arm-none-eabi-gcc")

# The reference firmware's code-generation flags, so these images exercise the same instruction mix.
CFLAGS = (
    "-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16",
    "-O1", "-g", "-std=gnu11", "-Wall", "-Wextra", "-Werror",
    "-ffunction-sections", "-fdata-sections", "-ffreestanding",
)
LDFLAGS = (
    "-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs",
    "-Wl,--gc-sections", "-Wl,--no-warn-rwx-segments",
)


class ImageBuildError(SimError):
    """An image could not be built (no cross compiler, no such source, a compile error)."""


def build_image(name: str, source_dir: str | Path, out_dir: str | Path,
                defines: dict[str, str | int] | None = None, variant: str | None = None) -> Path:
    """Build (if needed) and return `<out_dir>/<name>.elf` from `<source_dir>/<name>.c`/`.S`.

    `defines` become -D flags; give a `variant` suffix when you build the same sources with
    different defines, so each combination gets its own ELF (`<name>-<variant>.elf`).
    """
    if shutil.which(CC) is None:
        raise ImageBuildError(f"{CC} not found: run scripts/setup (installs gcc-arm-none-eabi)")
    source_dir, out_dir = Path(source_dir), Path(out_dir)
    own = [p for p in (source_dir / f"{name}.c", source_dir / f"{name}.S") if p.exists()]
    if not own:
        raise ImageBuildError(f"no image source named {name!r}: expected {source_dir}/{name}.c or {name}.S")
    flags = CFLAGS + tuple(f"-D{k}={v}" for k, v in sorted((defines or {}).items()))
    out_name = f"{name}-{variant}" if variant else name
    out_dir.mkdir(parents=True, exist_ok=True)
    elf = out_dir / f"{out_name}.elf"
    stamp_file = out_dir / f"{out_name}.stamp"
    with as_file(files(__package__) / "common") as common:
        common_files = sorted(p for p in common.iterdir() if p.suffix in (".c", ".S", ".h", ".ld"))
        stamp = _stamp([(p.name, p) for p in own] + [(f"common/{p.name}", p) for p in common_files],
                       flags + LDFLAGS)
        with open(out_dir / f"{out_name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)      # two processes never build the same ELF at once
            if elf.exists() and stamp_file.exists() and stamp_file.read_text() == stamp:
                return elf
            srcs = own + sorted(common.glob("*.c")) + sorted(common.glob("*.S"))
            tmp = elf.with_suffix(".elf.tmp")
            cmd = [CC, *flags, f"-I{common}", *map(str, srcs), "-T", str(common / "link.ld"),
                   *LDFLAGS, f"-Wl,-Map={elf.with_suffix('.map')}", "-o", str(tmp)]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                raise ImageBuildError(f"building {out_name} failed:\n$ {' '.join(cmd)}\n{proc.stderr}")
            os.replace(tmp, elf)
            stamp_file.write_text(stamp)
    return elf


def _stamp(inputs: list[tuple[str, Path]], flags: tuple[str, ...]) -> str:
    h = hashlib.sha256()
    h.update(CC.encode() + b"\0" + "\0".join(flags).encode())
    for label, path in inputs:
        h.update(label.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()
