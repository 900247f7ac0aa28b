"""The QEMU anchor: the core_bench compute loop on Debian's qemu-system-arm, beside the machine.

QEMU runs the loop on its netduinoplus2 machine (an STM32F405: the Cortex-M4 core, flash and
SRAM at the STM32F407's addresses) with `-icount shift=0`, its deterministic one-instruction-
per-nanosecond mode - the counterpart of our exact virtual time. The image is core_bench built
with SEMIHOSTING_EXIT: it prints its checksum and ends QEMU through semihosting, so QEMU runs
free, with no gdbstub and no breakpoint. The instructions are counted by the built-in machine
on the same ELF (it stops at the image's first semihosting BKPT, after the same instructions);
QEMU's start-up and exit cost is taken out by timing a short build of the same loop.
"""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
import time
from importlib.resources import as_file, files
from pathlib import Path

from sim.baremetal import ImageBuildError, build_image

from .errors import BenchError

QEMU = "qemu-system-arm"
QEMU_MACHINE = "netduinoplus2"
ITERATIONS = 20_000_000            # 7 instructions each: ~140 M instructions per run
SHORT_ITERATIONS = 1_000           # the same start-up and exit, almost no loop


class QemuAnchorError(BenchError):
    """The anchor image would not build or QEMU did not run it to its end; the message says why."""


def qemu_command(elf: Path) -> list[str]:
    return [QEMU, "-M", QEMU_MACHINE, "-display", "none", "-serial", "null", "-monitor", "none",
            "-semihosting-config", "enable=on,target=native", "-icount", "shift=0", "-kernel", str(elf)]


def anchor_elf(project: Path, iterations: int) -> Path:
    try:
        with as_file(files(__package__) / "firmware") as source_dir:
            return build_image("core_bench", source_dir, project / "build" / "bench-firmware",
                               defines={"WORKLOAD": 1, "ITERATIONS": iterations, "SEMIHOSTING_EXIT": 1},
                               variant=f"qemu-{iterations}")
    except ImageBuildError as exc:
        raise QemuAnchorError(f"cannot build the QEMU variant of the compute loop: {exc}") from None


def run_on_qemu(elf: Path, timeout_s: float = 300.0) -> tuple[int, float]:
    """(the checksum the image printed, wall seconds of the whole QEMU process)."""
    start = time.perf_counter()
    try:
        proc = subprocess.run(qemu_command(elf), capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise QemuAnchorError(f"{QEMU} did not finish {elf.name} within {timeout_s:.0f} s") from None
    wall = time.perf_counter() - start
    output = proc.stdout + proc.stderr          # QEMU writes the semihosting console to stderr
    found = re.fullmatch(r"checksum 0x([0-9a-f]{8})", output.strip())
    if proc.returncode != 0 or found is None:
        said = " / ".join(output.strip().splitlines()[:3])[:500] or "no output"     # a fatal error comes first
        raise QemuAnchorError(f"{QEMU} did not run {elf.name} to its semihosting exit (exit status "
                              f"{proc.returncode}): {said}")
    return int(found.group(1), 16), wall


def run_on_machine(elf: Path) -> tuple[int, int]:
    """(checksum, instructions) of the image on the built-in machine, up to its first semihosting call."""
    from sim.backend import StopReason
    from sim.machine import Machine

    m = Machine()
    m.load_elf(elf)
    result = m.run(ITERATIONS * 10)
    if result.reason is not StopReason.BREAKPOINT:
        raise QemuAnchorError(f"the machine did not reach the semihosting call of {elf.name}: {result.reason}")
    checksum = int.from_bytes(m.read_memory(m.symbol_address("test_result") + 32, 4), "little")    # values[0]
    return checksum, m.stats["instructions"]


def qemu_anchor(project: Path, runs: int) -> dict:
    """QEMU -icount MIPS on the compute loop: {"mips": [samples], "median": ..., ...}, or
    {"skipped": reason} when qemu-system-arm is not installed."""
    if shutil.which(QEMU) is None:
        return {"skipped": f"{QEMU} is not installed (apt-get install {QEMU}, or run scripts/setup)"}
    long_elf, short_elf = anchor_elf(project, ITERATIONS), anchor_elf(project, SHORT_ITERATIONS)
    checksum, long_instructions = run_on_machine(long_elf)
    _, short_instructions = run_on_machine(short_elf)
    samples, overheads = [], []
    run_on_qemu(long_elf)                                         # warm-up (page cache, QEMU's start)
    for _ in range(runs):
        qemu_checksum, long_wall = run_on_qemu(long_elf)
        _, short_wall = run_on_qemu(short_elf)
        if qemu_checksum != checksum:
            raise QemuAnchorError(f"QEMU computed checksum 0x{qemu_checksum:08x}, the machine 0x{checksum:08x}")
        overheads.append(short_wall)
        samples.append((long_instructions - short_instructions) / max(long_wall - short_wall, 1e-6) / 1e6)
    version = subprocess.run([QEMU, "--version"], capture_output=True, text=True).stdout.splitlines()[:1]
    return {"mips": samples, "median": statistics.median(samples), "instructions": long_instructions,
            "iterations": ITERATIONS, "checksum": f"0x{checksum:08x}", "startup_s": statistics.median(overheads),
            "qemu": version[0] if version else QEMU, "command": qemu_command(long_elf)}
