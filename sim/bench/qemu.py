"""The QEMU anchor: the core_bench compute loop on Debian's qemu-system-arm, beside the machine.

QEMU runs the loop on its netduinoplus2 machine (an STM32F405: the Cortex-M4 core, flash and
SRAM at the STM32F407's addresses) with `-icount shift=0`, its deterministic one-instruction-
per-nanosecond mode - the counterpart of our exact virtual time. The image is core_bench built
with SEMIHOSTING_EXIT: it prints its checksum and ends QEMU through semihosting, so QEMU runs
free, with no gdbstub and no breakpoint. The instructions are counted by the built-in machine,
which stops at the image's first semihosting BKPT: it runs three short builds of the same code
(the loop reads its iteration count at run time) and the long run's count follows exactly.
QEMU's start-up and exit cost is taken out by timing the shortest build.
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
ITERATIONS = 100_000_000           # 7 instructions each: 700 M instructions, about a second on QEMU
SHORT_ITERATIONS = (1_000, 2_000, 3_000)     # the same code; the machine counts these exactly


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


def loop_model(project: Path) -> tuple[int, int, int]:
    """(base, per_iteration, checksum): a build for n iterations runs base + per_iteration * n
    instructions up to its semihosting call. The builds differ only in the iteration count the
    loop reads at run time, so the machine runs three short ones and the line through them is
    exact; a third point off the line means the loop is not what this assumes, and nothing is
    reported. `checksum` is the first short build's, for comparing with QEMU's."""
    counts, checksums = [], []
    for n in SHORT_ITERATIONS:
        checksum, instructions = run_on_machine(anchor_elf(project, n))
        counts.append(instructions)
        checksums.append(checksum)
    (n0, n1, n2), (c0, c1, c2) = SHORT_ITERATIONS, counts
    per_iteration, rest = divmod(c1 - c0, n1 - n0)
    if rest or c2 - c1 != per_iteration * (n2 - n1):
        raise QemuAnchorError(f"the compute loop's instruction counts {counts} for {SHORT_ITERATIONS} iterations "
                              f"are not linear in the iterations")
    return c0 - per_iteration * n0, per_iteration, checksums[0]


def qemu_anchor(project: Path, runs: int) -> dict:
    """QEMU -icount MIPS on the compute loop: {"mips": [samples], "median": ..., ...}, or
    {"skipped": reason} when qemu-system-arm is not installed."""
    if shutil.which(QEMU) is None:
        return {"skipped": f"{QEMU} is not installed (apt-get install {QEMU}, or run scripts/setup)"}
    short = SHORT_ITERATIONS[0]
    long_elf, short_elf = anchor_elf(project, ITERATIONS), anchor_elf(project, short)
    base, per_iteration, short_checksum = loop_model(project)
    instructions = base + per_iteration * ITERATIONS
    samples, overheads, checksums = [], [], set()
    run_on_qemu(long_elf)                                         # warm-up (page cache, QEMU's start)
    for _ in range(runs):
        checksum, long_wall = run_on_qemu(long_elf)
        qemu_short_checksum, short_wall = run_on_qemu(short_elf)
        if qemu_short_checksum != short_checksum:
            raise QemuAnchorError(f"QEMU computed checksum 0x{qemu_short_checksum:08x} for {short} "
                                  f"iterations, the machine 0x{short_checksum:08x}")
        checksums.add(checksum)
        overheads.append(short_wall)
        samples.append(per_iteration * (ITERATIONS - short) / max(long_wall - short_wall, 1e-6) / 1e6)
    if len(checksums) != 1:
        raise QemuAnchorError(f"QEMU computed different checksums on the same image: {sorted(checksums)}")
    version = subprocess.run([QEMU, "--version"], capture_output=True, text=True).stdout.splitlines()[:1]
    return {"mips": samples, "median": statistics.median(samples), "instructions": instructions,
            "instructions_per_iteration": per_iteration, "iterations": ITERATIONS, "checksum": f"0x{checksums.pop():08x}", "startup_s": statistics.median(overheads),
            "qemu": version[0] if version else QEMU, "command": qemu_command(long_elf)}
