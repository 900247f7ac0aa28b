"""The time base: what it knows about Thumb instructions agrees with unicorn's own translator, the
compiled and the Python implementations agree with each other, and virtual time is a property of
the code - the same however the run is sliced, whether the translated code is warm or cold
(a fresh boot or a restored snapshot), and in another process."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap

import pytest
from machine_paths import REAL_PLATFORM, REFERENCE_ELF, ROOT

from sim.backend import StopReason
from sim.machine import Machine
from sim.machine import timebase as timebase_module
from sim.machine.thumb import block_facts, is_wide, thumb_info

@pytest.fixture
def implementation(monkeypatch):
    """Machines built inside `with implementation("native"|"python"):` use that time base."""
    def use(name: str) -> None:
        monkeypatch.setenv(timebase_module.ENV, "1" if name == "native" else "0")
    return use


def _halfword_pairs():
    """Every first halfword, and for the 32-bit ones a spread of second halfwords that covers the
    fields the classifier reads (hw2 bits 15-12, the mask bits 11-8, SYSm and hint numbers)."""
    seconds = [hi << 8 | lo for hi in range(0, 256, 5) for lo in (0x00, 0x01, 0x02, 0x03, 0x04, 0x10,
                                                                   0x11, 0x12, 0x13, 0x46, 0x56, 0x66)]
    seconds += [0x8810, 0x8811, 0x8812, 0x8813, 0x8F4F, 0x8F5F, 0x8F6F, 0xF000, 0xF010, 0xFB04]
    for hw1 in range(0x10000):
        if is_wide(hw1):
            for hw2 in seconds:
                yield hw1, hw2
        else:
            yield hw1, 0


def test_compiled_and_python_classify_every_instruction_alike():
    if not timebase_module.native_available():
        pytest.fail("the compiled time base is not built: pip install -e . with a C compiler")
    from sim.machine._native import thumb_info as native_thumb_info
    mismatches = [(hex(a), hex(b)) for a, b in _halfword_pairs()
                  if native_thumb_info(a, b) != tuple(thumb_info(a, b))]
    assert not mismatches[:20]


@pytest.mark.parametrize("asm, ends, lowers", [
    ("bx lr", True, False), ("pop {r4, pc}", True, False), ("ldr pc, [sp], #4", True, False),
    ("b.w .", True, False), ("bl .", True, False), ("blx r3", True, False), ("cbz r0, .+4", True, False),
    ("beq .", True, False), ("tbb [pc, r0]", True, False), ("ldmia.w sp!, {r4, pc}", True, False),
    ("mov pc, r1", True, False), ("add pc, r1", True, False), ("svc #0", True, False),
    ("wfi", True, False), ("isb sy", True, False), ("yield", True, False), ("udf #0", True, False),
    ("msr basepri, r0", True, True), ("msr primask, r0", True, True), ("msr faultmask, r0", True, True),
    ("msr basepri_max, r0", True, False), ("msr control, r0", True, False),
    ("cpsie i", False, True), ("cpsie f", False, True), ("cpsid i", False, False),
    ("adds r0, #1", False, False), ("nop", False, False), ("ldr r0, [sp]", False, False),
    ("dsb sy", False, False), ("sev", False, False), ("mov r0, pc", False, False), ("it eq", False, False),
    ("ldr.w r0, [r1, #4]", False, False), ("mrs r0, primask", False, False),
])
def test_what_the_time_base_knows_about_an_instruction(asm, ends, lowers, tmp_path):
    """CPS ends unicorn's block only when privileged (unprivileged it is a NOP), so it is never
    counted on to end one; CPSIE still lowers a mask."""
    src = tmp_path / "one.s"
    src.write_text(f".syntax unified\n.thumb\n{asm}\n")
    obj, raw = tmp_path / "one.o", tmp_path / "one.bin"
    subprocess.run(["arm-none-eabi-as", "-mcpu=cortex-m4", "-mthumb", "-o", obj, src], check=True)
    subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", "-j", ".text", obj, raw], check=True)
    code = raw.read_bytes() + b"\0\0"
    info = thumb_info(code[0] | code[1] << 8, code[2] | code[3] << 8)
    assert (info.ends_block, info.lowers_mask) == (ends, lowers)


def _instruction_starts(m):
    """Every instruction of the image's Thumb code, decoded from its mapping symbols."""
    image = m.image
    marks = image.mapping + [(hi, "d") for _, hi in image.code_ranges]
    marks.sort()
    for (start, kind), (end, _) in zip(marks, marks[1:]):
        if kind != "t":
            continue
        code = m.read_memory(start, end - start)
        at = 0
        while at + 2 <= len(code):
            yield start + at
            at += 4 if is_wide(code[at] | code[at + 1] << 8) else 2


def test_unicorns_translator_agrees_with_the_decoder_on_the_whole_reference_firmware(reference_elf):
    """The oracle is unicorn itself: the block it translates at each instruction of the image
    has exactly the instructions the decoder counts, and never runs past an instruction the
    decoder says always ends a block (that would make time depend on how code was split)."""
    m = Machine(REAL_PLATFORM)
    m.load_elf(reference_elf)
    uc = m.core.uc
    checked = 0
    for address in _instruction_starts(m):
        try:
            _pc, icount, size = uc.ctl_request_cache(address)   # unicorn's uc_tb (the CPU is in Thumb state)
        except Exception:                      # noqa: BLE001 - an undefined encoding: no block
            continue
        code = m.read_memory(address, size)
        n, _, _ = block_facts(code)
        assert n == icount, hex(address)
        at = 0
        while at < size:                       # no instruction before the last ends a block
            info = thumb_info(code[at] | code[at + 1] << 8,
                              code[at + 2] | code[at + 3] << 8 if at + 3 < size else 0)
            at += info.size
            assert at == size or not info.ends_block, hex(address + at - info.size)
        checked += 1
    assert checked > 20_000


def _boot(elf, seed=3, slice_cycles=None):
    """The reference firmware to `ready` and 0.2 s beyond, in runs of `slice_cycles`."""
    m = Machine(REAL_PLATFORM, seed=seed)
    m.load_elf(elf)
    target = m.frequency // 2
    while m.cycles < target:
        step = target - m.cycles if slice_cycles is None else min(slice_cycles, target - m.cycles)
        assert m.run(step).reason in (StopReason.LIMIT, StopReason.REQUESTED)
    return m


def _state(m):
    memory = m.read_memory(0x20000000, 0x20000) + m.read_memory(0x10000000, 0x10000)
    return (m.stats["instructions"], m.cycles, m.idle_cycles, m.stats["exceptions"],
            m.read_register("pc"), hashlib.sha256(memory).hexdigest(), m.uart("usart1").transcript)


@pytest.mark.parametrize("name", ["native", "python"])
def test_virtual_time_does_not_depend_on_slicing_or_warm_code(reference_elf, implementation, name):
    if name == "native" and not timebase_module.native_available():
        pytest.fail("the compiled time base is not built: pip install -e . with a C compiler")
    implementation(name)
    whole = _state(_boot(reference_elf))
    assert _state(_boot(reference_elf, slice_cycles=77_777)) == whole
    assert _state(_boot(reference_elf, slice_cycles=4_099)) == whole
    # a snapshot restored into a machine whose translated code is warm from running past it
    m = Machine(REAL_PLATFORM, seed=3)
    m.load_elf(reference_elf)
    m.run(m.frequency // 4)
    snap = m.snapshot()
    target = m.frequency // 2
    for attempt in range(2):                 # cold code, then warm code after the restore
        while m.cycles < target:
            m.run(target - m.cycles)
        assert _state(m) == whole, attempt
        m.restore(snap)


def test_compiled_and_python_time_bases_give_the_same_run(reference_elf, implementation):
    if not timebase_module.native_available():
        pytest.fail("the compiled time base is not built: pip install -e . with a C compiler")
    implementation("native")
    native = _state(_boot(reference_elf, slice_cycles=1_000_003))
    implementation("python")
    python = _state(_boot(reference_elf, slice_cycles=1_000_003))
    assert native == python


_PROCESS = textwrap.dedent("""
    import hashlib, json, sys
    from sim.machine import Machine
    from sim.machine.timebase import implementation
    m = Machine(sys.argv[1], seed=5)
    m.load_elf(sys.argv[2])
    while m.cycles < m.frequency // 2:
        m.run(m.frequency // 7)
    memory = m.read_memory(0x20000000, 0x20000) + m.read_memory(0x10000000, 0x10000)
    print(json.dumps([implementation(), m.stats, m.read_register("pc"),
                      hashlib.sha256(memory).hexdigest(), m.uart("usart1").transcript.hex()]))
""")


def test_separate_processes_and_both_time_bases_agree():
    """Another process (another hash seed), with the compiled time base and with the Python one
    forced by TLS_FW_SIM_NATIVE=0: the same counts, registers, memory and UART output."""
    outs = []
    for seed, native in (("1", "1"), ("2", "1"), ("3", "0")):
        env = {**os.environ, "PYTHONHASHSEED": seed, timebase_module.ENV: native}
        proc = subprocess.run([sys.executable, "-c", _PROCESS, str(REAL_PLATFORM), str(REFERENCE_ELF)],
                              capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)
        assert proc.returncode == 0, proc.stderr
        outs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert [o[0] for o in outs] == ["native", "native", "python"]
    assert outs[0][1:] == outs[1][1:] == outs[2][1:]


def test_an_unknown_setting_of_the_switch_is_a_clear_error(monkeypatch):
    from sim.errors import BackendError
    monkeypatch.setenv(timebase_module.ENV, "yes")
    with pytest.raises(BackendError, match="TLS_FW_SIM_NATIVE"):
        Machine(REAL_PLATFORM)


# the machine tests a Python time base must pass like the compiled one (determinism, slicing,
# hooks, exceptions, faults, Ctrl-C, the TLB policy)
_FALLBACK_SLICE = ("tests/machine/test_run_control.py", "tests/machine/test_exceptions.py",
                   "tests/machine/test_block_hooks.py", "tests/machine/test_interrupt.py",
                   "tests/machine/test_faults.py", "tests/machine/test_tlb.py")


def test_the_python_time_base_passes_the_machine_tests():
    """CI's check of the fallback: a representative slice of the suite, in a process where
    TLS_FW_SIM_NATIVE=0 forces it."""
    env = {**os.environ, timebase_module.ENV: "0"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *_FALLBACK_SLICE],
                          capture_output=True, text=True, timeout=1200, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_a_scenario_gives_byte_identical_artifacts_with_either_time_base(tmp_path):
    outs = {}
    for native in ("1", "0"):
        out = tmp_path / f"native{native}"
        proc = subprocess.run([sys.executable, "-m", "sim", "run", "--firmware", "seedbug", "--tls", "1.1",
                               "--suite", "TLS-RSA-WITH-AES-128-CBC-SHA", "--post", "/upload", "4096",
                               "--expect", "bad_record_mac", "--out", str(out)],
                              capture_output=True, text=True, timeout=600, cwd=ROOT,
                              env={**os.environ, timebase_module.ENV: native})
        assert proc.returncode == 0, proc.stdout + proc.stderr
        outs[native] = out
    for name in ("uart.log", "capture.pcapng", "journal.json", "diagnosis.txt"):
        assert (outs["1"] / name).read_bytes() == (outs["0"] / name).read_bytes(), name
    result = {k: json.loads((outs[k] / "result.json").read_text()) for k in outs}
    assert result["1"]["instructions"] == result["0"]["instructions"] > 1_000_000


_IT_CODE = """.syntax unified
.thumb
    movs r0, #0
    cmp r0, #1
    ite eq
    moveq r1, #1        @ its condition fails: it executes as nothing, and takes its cycle
    movne r1, #2
    itt eq
    moveq r2, #3        @ both fail
    moveq r3, #4
    bkpt #0
"""


@pytest.mark.parametrize("name", ["native", "python"])
def test_an_instruction_whose_it_condition_fails_counts_one_cycle(tmp_path, implementation, name):
    """Eight instructions run before the BKPT, three of them skipped by their IT condition:
    the count is eight (unicorn's own instruction counter said five)."""
    import ctypes

    from unicorn import arm_const as A
    from unicorn import unicorn_const as U

    from sim.machine.cpu import UnicornCore

    src = tmp_path / "it.s"
    src.write_text(_IT_CODE)
    obj, raw = tmp_path / "it.o", tmp_path / "it.bin"
    subprocess.run(["arm-none-eabi-as", "-mcpu=cortex-m4", "-mthumb", "-o", obj, src], check=True)
    subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", "-j", ".text", obj, raw], check=True)
    implementation(name)
    core = UnicornCore()
    code = (ctypes.c_ubyte * 0x400).from_buffer_copy(raw.read_bytes().ljust(0x400, b"\0"))
    core.map_buffer(0x0800_0000, code, U.UC_PROT_READ | U.UC_PROT_EXEC)
    err, executed, *_ = core.timebase.run(0x0800_0000, 0, 1 << 40, True, 0, -1)
    assert err == U.UC_ERR_EXCEPTION                  # the BKPT (no interrupt hook on a bare core)
    assert executed == 8
    assert core.uc.reg_read(A.UC_ARM_REG_R1) == 2 and core.uc.reg_read(A.UC_ARM_REG_R2) == 0


_MISSING_HELPER = textwrap.dedent("""
    import sys
    sys.modules["sim.machine._native"] = None        # as on a machine without a C compiler
    from sim.machine import Machine
    for _ in range(2):
        m = Machine(sys.argv[1])
        m.load_elf(sys.argv[2])
        m.run(m.frequency // 100)
    print(m.stats["instructions"])
""")


def test_without_the_helper_the_python_time_base_runs_after_one_warning_line():
    proc = subprocess.run([sys.executable, "-c", _MISSING_HELPER, str(REAL_PLATFORM), str(REFERENCE_ELF)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env={k: v for k, v in os.environ.items() if k != timebase_module.ENV})
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(warnings) == 1 and "compiled time base is not built" in warnings[0], proc.stderr
    assert int(proc.stdout.split()[-1]) > 0
    required = subprocess.run([sys.executable, "-c", _MISSING_HELPER, str(REAL_PLATFORM), str(REFERENCE_ELF)],
                              capture_output=True, text=True, timeout=300, cwd=ROOT,
                              env={**os.environ, timebase_module.ENV: "1"})
    assert required.returncode != 0 and "TLS_FW_SIM_NATIVE=1" in required.stderr


@pytest.mark.parametrize("name", ["native", "python"])
def test_code_reprogrammed_into_flash_is_counted_as_it_now_reads(core_machine, implementation, name):
    """The time base keeps what it decoded of read-only code; a store the flash interface
    performs changes that code. The routine's two versions occupy the same six bytes: three
    instructions, then two (ARMv7-M: one instruction per cycle here), plus the LDR and BLX."""
    from fwresult import run_to_finish

    implementation(name)
    m = core_machine("flash_code", platform=REAL_PLATFORM)
    run, result = run_to_finish(m)
    assert result.passed, result.describe()
    assert tuple(result.values[:3]) == (2 + 3, 2 + 2, 0)
    assert m.bus.flash_stores.stores == 4 and m.bus.flash_stores.refused == 0
