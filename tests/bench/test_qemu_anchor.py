"""The QEMU anchor of scripts/bench: the compute loop's semihosting variant runs to its end on
Debian's qemu-system-arm (netduinoplus2, -icount shift=0) and on the built-in machine, and both
compute the loop's checksum - recomputed here in Python, an oracle neither emulator shares."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sim.bench import qemu as anchor

ROOT = Path(__file__).resolve().parents[2]
MASK = 0xFFFF_FFFF


def loop_checksum(iterations: int) -> int:
    """core_bench.c, WORKLOAD 1: xorshift32 steps plus the loop index, from 0x12345678."""
    acc = 0x12345678
    for i in range(iterations):
        acc ^= (acc << 13) & MASK
        acc ^= acc >> 17
        acc ^= (acc << 5) & MASK
        acc = (acc + i) & MASK
    return acc


@pytest.fixture(scope="module")
def qemu() -> str:
    path = shutil.which(anchor.QEMU)
    if path is None:
        pytest.fail(f"{anchor.QEMU} is not installed: run scripts/setup (it installs qemu-system-arm)")
    return path


@pytest.mark.parametrize("iterations", [anchor.SHORT_ITERATIONS[0], 54_321])
def test_qemu_and_the_machine_run_the_loop_to_the_same_checksum(qemu, iterations):
    elf = anchor.anchor_elf(ROOT, iterations)
    on_qemu, _ = anchor.run_on_qemu(elf, timeout_s=120)
    on_machine, instructions = anchor.run_on_machine(elf)
    assert on_qemu == on_machine == loop_checksum(iterations)
    assert instructions > iterations                 # counted up to the semihosting call, loop included


def test_the_instruction_count_of_a_long_build_follows_from_the_short_ones():
    # the benchmark never runs its 100 M-iteration build on the machine: the count comes from
    # the short builds, and must be exactly what the machine counts for a build it did not use
    base, per_iteration, _ = anchor.loop_model(ROOT)
    _, counted = anchor.run_on_machine(anchor.anchor_elf(ROOT, 54_321))
    assert counted == base + per_iteration * 54_321


def test_without_qemu_the_anchor_is_skipped_with_what_to_install(monkeypatch):
    monkeypatch.setattr(anchor.shutil, "which", lambda name: None)
    result = anchor.qemu_anchor(ROOT, runs=1)
    assert result == {"skipped": "qemu-system-arm is not installed (apt-get install qemu-system-arm, "
                                 "or run scripts/setup)"}


def test_an_image_that_does_not_exit_through_semihosting_is_a_bench_error(qemu):
    # the plain loop ends on a BKPT that is not a semihosting call: QEMU stops with a lockup,
    # and the error says so instead of reporting a time
    from importlib.resources import as_file, files

    from sim.baremetal import build_image
    from sim.bench import BenchError

    with as_file(files("sim.bench") / "firmware") as source_dir:
        elf = build_image("core_bench", source_dir, ROOT / "build" / "bench-firmware",
                          defines={"WORKLOAD": 1, "ITERATIONS": 1000}, variant="plain-1000")
    with pytest.raises(BenchError, match=r"did not run core_bench-plain-1000.elf to its semihosting exit(.|\n)*Lockup"):
        anchor.run_on_qemu(elf, timeout_s=120)
