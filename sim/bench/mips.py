"""Emulation speed in MIPS over CPU time: the core_bench compute loop and the reference firmware's
ECDHE code, each in the machine and in bare unicorn (the machine's memory policy without a time
base, hooks or counting: the limit of any time base built on it), from the same state."""

from __future__ import annotations

import time
from importlib.resources import as_file, files
from pathlib import Path

from unicorn import arm_const as A

from sim.baremetal import ImageBuildError, build_image

from .errors import BenchError
from .samples import measure

COMPUTE_ITERATIONS = 5_000_000         # of the core_bench compute loop: 35 M instructions
FIRMWARE_INSTRUCTIONS = 6_000_000      # of the reference firmware's ECDHE code, per run
FIRMWARE_MARK = "mbedtls_ecdh_calc_secret"      # where that code starts (client side of ECDHE)


# --- the compute loop, bare and inside the machine -------------------------------------------------------------
def core_bench_elf(project: Path) -> Path:
    try:
        with as_file(files(__package__) / "firmware") as source_dir:
            return build_image("core_bench", source_dir, project / "build" / "bench-firmware",
                               defines={"WORKLOAD": 1, "ITERATIONS": COMPUTE_ITERATIONS}, variant="compute")
    except ImageBuildError as exc:
        raise BenchError(f"cannot build the compute loop (sim/bench/firmware/core_bench.c): {exc}") from None


def _bare_uc(memories: list[tuple[int, bytes, bool]]):
    """Bare unicorn: a Cortex-M4 with the machine's memory policy (TLB fill) and the given memory,
    but no time base, no hooks and no counting - the speed limit of any time base built on it.
    Returns (uc, reload)."""
    import ctypes

    from unicorn import unicorn_const as U

    from sim.machine.cpu import UnicornCore

    core = UnicornCore(counted=False)
    buffers = []
    for base, data, code in memories:
        buf = (ctypes.c_ubyte * len(data)).from_buffer_copy(data)
        buffers.append(buf)
        core.map_buffer(base, buf, U.UC_PROT_READ | U.UC_PROT_EXEC if code else U.UC_PROT_ALL)
        if not code:
            core.add_data_ram(base, base + len(data))

    def reload() -> None:
        for buf, (_, data, _) in zip(buffers, memories):
            ctypes.memmove(buf, data, len(data))
    reload.core = core                   # keeps the buffers' core alive
    return core.uc, reload


def _timed_bare(uc, pc: int) -> float:
    """CPU seconds of one bare run from `pc` until it stops (a trap: BKPT or an MMIO access)."""
    import unicorn

    start = time.process_time()
    try:
        uc.emu_start(pc | 1, 0xFFFF_FFFF, 0, 0)
    except unicorn.UcError:
        pass
    return time.process_time() - start


def _compute_image(elf: Path) -> tuple[list[tuple[int, bytes, bool]], int, int]:
    from sim.machine.elf import read_elf

    image = read_elf(elf)
    flash = bytearray(0x10_0000)
    for seg in image.segments:
        off = seg.load_address - 0x0800_0000
        flash[off:off + len(seg.data)] = seg.data
    # the startup touches CPACR and the loop's end SysTick: plain RAM stands in for the SCS here
    memories = [(0x0800_0000, bytes(flash), True), (0x2000_0000, bytes(0x2_0000), False),
                (0x1000_0000, bytes(0x1_0000), False), (0xE000_E000, bytes(0x1000), False)]
    return memories, int.from_bytes(flash[0:4], "little"), int.from_bytes(flash[4:8], "little")


def machine_compute(elf: Path) -> tuple[float, int]:
    """(MIPS, instructions) of the machine running the compute loop to its end (a BKPT)."""
    from sim.machine import Machine

    m = Machine()
    m.load_elf(elf)
    start = time.process_time()
    m.run(1 << 40)
    elapsed = time.process_time() - start
    return m.stats["instructions"] / elapsed / 1e6, m.stats["instructions"]


def bare_compute_mips(elf: Path, instructions: int) -> float:
    memories, sp, pc = _compute_image(elf)
    uc, reload = _bare_uc(memories)
    reload()
    uc.reg_write(A.UC_ARM_REG_MSP, sp)
    return instructions / _timed_bare(uc, pc) / 1e6


# --- the same comparison on the reference firmware's own code -------------------------------------------------
class _Reached(Exception):
    pass


def _reached(ctx) -> None:
    raise _Reached()


def _firmware_at_mark(booted) -> None:
    """Run the ECDHE-GCM scenario until the firmware enters FIRMWARE_MARK (CPU halted there)."""
    from sim.scenario import Scenario, ScenarioRunner, Step

    m = booted.backend
    scenario = Scenario(firmware="fixed", steps=(Step("post", "/upload", 1, expect="any"),),
                        tls_version="1.2", suite="TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256")
    runner = ScenarioRunner(scenario, booted=booted)
    handle = m.hook(FIRMWARE_MARK, _reached)
    try:
        runner.run()
    except _Reached:
        return
    finally:
        m.unhook(handle)
        runner.finish([])                        # detach the runner's hooks and callbacks
    raise BenchError(f"the reference firmware never reached {FIRMWARE_MARK}")


_CONTEXT = (tuple(getattr(A, f"UC_ARM_REG_R{i}") for i in range(13))
            + (A.UC_ARM_REG_LR, A.UC_ARM_REG_CONTROL, A.UC_ARM_REG_MSP, A.UC_ARM_REG_PSP,
               A.UC_ARM_REG_XPSR, A.UC_ARM_REG_APSR_NZCV, A.UC_ARM_REG_BASEPRI, A.UC_ARM_REG_PRIMASK,
               A.UC_ARM_REG_FPSCR) + tuple(A.UC_ARM_REG_S0 + i for i in range(32)))


def firmware_mips(booted, count: int, runs: int) -> dict:
    """Machine MIPS and bare unicorn MIPS on the reference firmware's ECDHE arithmetic, from the
    same CPU state: the bare core has the firmware's memory and registers but no peripherals, so
    it stops at the first MMIO access (how many instructions that is, the time base counts)."""
    m = booted.backend
    _firmware_at_mark(booted)
    state = m.snapshot()
    regs = [m.core.uc.reg_read(r) for r in _CONTEXT]
    pc = m.read_register("pc")
    memories = [(r.base, bytes(r.view), not r.writable) for r in m.bus.memories if r.base == r.alias_of]

    def machine_run() -> float:
        m.restore(state)
        before = m.stats["instructions"]
        start = time.process_time()
        m.run(count)
        elapsed = time.process_time() - start
        return (m.stats["instructions"] - before) / elapsed / 1e6

    uc, reload = _bare_uc(memories)      # one core: its translated code stays warm, as the machine's

    def bare_run() -> float:
        reload()
        for reg, value in zip(_CONTEXT, regs):
            uc.reg_write(reg, value)
        return _timed_bare(uc, pc)

    machine = measure(machine_run, runs)
    bare_instructions = _instructions_to_first_trap(memories, regs, pc)
    bare = measure(lambda: bare_instructions / bare_run() / 1e6, runs)
    m.restore(booted.snapshot)
    return {"machine_mips": machine, "bare_mips": bare, "instructions": count,
            "bare_instructions": bare_instructions, "from": FIRMWARE_MARK}


def _instructions_to_first_trap(memories, regs, pc) -> int:
    """What the bare run executes: the same memory and registers under the machine's time base."""
    import ctypes

    from unicorn import unicorn_const as U

    from sim.machine.cpu import UnicornCore

    core = UnicornCore()
    keep = []
    for base, data, code in memories:
        buf = (ctypes.c_ubyte * len(data)).from_buffer_copy(data)
        keep.append(buf)
        core.map_buffer(base, buf, U.UC_PROT_READ | U.UC_PROT_EXEC if code else U.UC_PROT_ALL)
    for reg, value in zip(_CONTEXT, regs):
        core.uc.reg_write(reg, value)
    _err, executed, *_ = core.timebase.run(pc, 0, 1 << 63, True, 0, -1)
    return executed
