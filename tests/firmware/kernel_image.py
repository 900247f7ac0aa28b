"""Small test images that run on a FreeRTOS kernel: the bare-metal test startup of sim.baremetal
(vector table, test_result, test_finish), one source from tests/firmware_src, and a kernel built
with the firmware's own FreeRTOSConfig.h: fw-kernel (firmware/kernel) or, given its path, a
FreeRTOS-Kernel tree (its GCC/ARM_CM4F port and heap_4), as the firmware's Makefile selects them.
"""

from __future__ import annotations

import subprocess
from importlib.resources import as_file, files
from pathlib import Path

from sim.baremetal.build import CFLAGS, LDFLAGS

from fw_testlib import ROOT

FIRMWARE = ROOT / "firmware"
SRC_DIR = ROOT / "tests" / "firmware_src"


def kernel_sources(kernel: Path | None) -> tuple[list[Path], list[str]]:
    """(kernel .c files, include flags) of fw-kernel (None) or of a FreeRTOS-Kernel tree."""
    if kernel is None:
        root = FIRMWARE / "kernel"
        port = root / "portable" / "ARM_CM4F"
        return ([root / "tasks.c", root / "queue.c", root / "list.c", root / "heap.c", port / "port.c"],
                [f"-I{root / 'include'}", f"-I{port}"])
    port = kernel / "portable" / "GCC" / "ARM_CM4F"
    return ([kernel / "tasks.c", kernel / "queue.c", kernel / "list.c", port / "port.c",
             kernel / "portable" / "MemMang" / "heap_4.c"], [f"-I{kernel / 'include'}", f"-I{port}"])


def build_kernel_image(name: str, out_dir: Path, kernel: Path | None = None) -> Path:
    """Compile tests/firmware_src/<name>.c with the kernel into <out_dir>/<name>.elf."""
    srcs, kernel_inc = kernel_sources(kernel)
    out_dir.mkdir(parents=True, exist_ok=True)
    elf = out_dir / f"{name}.elf"
    # -Werror only where our code is: a kernel release may warn where this compiler is pickier
    flags = [f for f in CFLAGS if f != "-Werror"] + ["-Wno-unused-parameter", f"-ffile-prefix-map={ROOT}/="]
    with as_file(files("sim.baremetal") / "common") as common:
        cmd = ["arm-none-eabi-gcc", *flags, f"-I{common}", f"-I{FIRMWARE / 'common'}", *kernel_inc,
               str(SRC_DIR / f"{name}.c"), *map(str, srcs), *map(str, sorted(common.glob("*.c"))),
               "-T", str(common / "link.ld"), *LDFLAGS, "-o", str(elf)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise AssertionError(f"building {name} failed:\n$ {' '.join(cmd)}\n{proc.stderr}")
    return elf
