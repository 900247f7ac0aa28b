"""Small bare-metal images for the built-in machine, each built from one C or assembly file.

`build_image(name, source_dir, out_dir)` compiles `<source_dir>/<name>.c` and/or `.S` together with
the shared startup in `common/` (package data): the STM32F407 vector table with weak handlers,
.data/.bss/.ccm set-up and FPU enable (`startup.c`), the `test_result` struct an image reports
into (`test.h`), System Control Space definitions (`cm4.h`) and the linker script of the real
memory map (`link.ld`). It uses arm-none-eabi-gcc with the reference firmware's code-generation
flags and rebuilds only when an input changed. The benchmarks' compute loop
(`sim/bench/firmware/`) and the machine's test images (`tests/firmware_src/`) are built this way;
tests/firmware_src/README.md describes the result contract.
"""

from .build import CC, ImageBuildError, build_image

__all__ = ["build_image", "ImageBuildError", "CC"]
