"""The write trace (Machine.trace_writes): who last wrote each byte, checked against a program
whose order of writes is known (tests/firmware_src/core_provenance.c) and against the memory the
firmware left behind."""

from __future__ import annotations

import pytest
from fwresult import run_to_finish

from sim.diagnosis.provenance_facts import bl_target
from sim.errors import BackendError
from sim.machine import Machine
from sim.platform import DEFAULT_REPL

STACK_TRACED = 256              # bytes below main's SP: its own pushes and the SVC's stacked frame


@pytest.fixture(scope="module")
def elf(build_test_firmware):
    return build_test_firmware("core_provenance")


def traced_run(elf):
    m = Machine(DEFAULT_REPL, seed=1)
    m.load_elf(str(elf))
    m.run(10_000_000, until="main")
    buffer = m.symbol_address("buffer")
    sp = m.read_register("sp")
    trace = m.trace_writes([(buffer, buffer + 16), (sp - STACK_TRACED, sp)])
    _, result = run_to_finish(m, max_cycles=10_000_000)
    trace.stop()
    assert result.passed, result.describe()
    return m, trace, buffer, result


def function(m, write) -> str:
    return m.symbolize(write.pc).split("+")[0]


def test_last_writer_of_each_byte_follows_the_programs_order(elf):
    m, trace, buffer, _ = traced_run(elf)
    owners = {}
    for span in trace.last_writers(buffer, buffer + 16):
        for address in range(span.start, span.end):
            owners[address - buffer] = function(m, span.write) if span.write is not None else None
    assert [owners[i] for i in (0, 1, 2, 3)] == ["fill_all"] * 4
    assert owners[4] == owners[5] == "patch_middle"
    # the bit-band alias store came last; it is a read-modify-write of the containing word
    # (sim/machine/core_models.py), so all of buffer[8..11] was last written by main
    assert [owners[i] for i in (8, 9, 10, 11)] == ["main"] * 4
    assert owners[6] == owners[7] == "fill_all"
    assert [owners[i] for i in (12, 13, 14, 15)] == [None] * 4       # never written
    # what the trace says memory holds is what the firmware left there
    assert trace.contents(buffer, buffer + 16) == m.read_memory(buffer, 16)
    assert trace.unseen_changes() == []


@pytest.mark.parametrize("time_base", ["1", "0"])
def test_a_store_is_timed_at_its_own_instruction(elf, monkeypatch, time_base):
    """patch_middle's two stores run in one straight-line block; each write's time is that of
    its own instruction, as a code hook placed on that instruction sees it in a run without the
    trace (with the compiled time base and with the Python one)."""
    monkeypatch.setenv("TLS_FW_SIM_NATIVE", time_base)
    m, trace, buffer, _ = traced_run(elf)
    writes = [w for w in trace.writes(buffer + 4, buffer + 6) if function(m, w) == "patch_middle"]
    assert len(writes) == 2 and writes[0].cycles < writes[1].cycles
    oracle = Machine(DEFAULT_REPL, seed=1)
    oracle.load_elf(str(elf))
    seen = {}
    for w in writes:
        oracle.hook(w.pc, lambda _ctx, pc=w.pc: seen.setdefault(pc, oracle.cycles))
    _, result = run_to_finish(oracle, max_cycles=10_000_000)
    assert result.passed, result.describe()
    assert [seen[w.pc] for w in writes] == [w.cycles for w in writes]


def test_the_answer_as_of_an_earlier_time(elf):
    m, trace, buffer, _ = traced_run(elf)
    patches = [w for w in trace.writes(buffer + 4, buffer + 6) if function(m, w) == "patch_middle"]
    assert patches
    before = patches[0].cycles                     # just before patch_middle's first store
    (span,) = trace.last_writers(buffer + 4, buffer + 5, before=before)
    assert function(m, span.write) == "fill_all"
    assert trace.contents(buffer + 4, buffer + 6, before=before) == bytes([0xA4, 0xA5])
    assert trace.contents(buffer + 4, buffer + 6) == bytes([0x55, 0x66])


def test_exception_entry_stacking_is_told_from_stores(elf):
    m, trace, buffer, result = traced_run(elf)
    handler_sp = result.values[1]                  # SP in the SVC handler: the frame lies above it
    stacked = [w for w in trace.writes(handler_sp, handler_sp + 32) if w.kind == "exception stacking"]
    assert stacked, "the SVC's stacked frame was not seen"
    assert sum(len(w.data) for w in stacked) >= 32                     # r0-r3, r12, lr, pc, xpsr
    stores = [w for w in trace.writes(buffer, buffer + 16)]
    assert stores and all(w.kind == "store" and w.ipsr == 0 for w in stores)


def test_dma_writes_and_debugger_writes(elf):
    m = Machine(DEFAULT_REPL, seed=1)
    m.load_elf(str(elf))
    m.run(10_000_000, until="main")
    buffer = m.symbol_address("buffer")
    trace = m.trace_writes([(buffer, buffer + 16)])
    m.bus.dma_write(buffer + 12, b"\x01\x02")      # a bus master (a peripheral model's DMA)
    m.write_memory(buffer + 14, b"\x09")           # a debugger: not a write the firmware made
    trace.stop()
    (dma,) = trace.writes(buffer + 12, buffer + 14)
    assert dma.kind == "dma" and dma.data == b"\x01\x02"
    assert trace.unseen_changes() == [buffer + 14]


def test_only_ram_can_be_traced(elf):
    m = Machine(DEFAULT_REPL, seed=1)
    m.load_elf(str(elf))
    with pytest.raises(BackendError, match="give RAM ranges"):
        m.trace_writes([(0x0800_0000, 0x0800_0010)])
    with pytest.raises(BackendError, match="at least one address range"):
        m.trace_writes([])


@pytest.mark.parametrize("bl_address, target", [(0x0800_1000, 0x0800_2000), (0x0800_2000, 0x0800_1000),
                                                (0x0800_0100, 0x0840_0000)])
def test_bl_target_decodes_what_the_assembler_encodes(bl_address, target):
    """ARMv7-M ARM A7.7.18 (BL, encoding T1), encoded here from the manual's bit fields."""
    offset = (target - (bl_address + 4)) & 0x1FF_FFFF
    s, i1, i2 = offset >> 24 & 1, offset >> 23 & 1, offset >> 22 & 1
    j1, j2 = (1 - i1) ^ s, (1 - i2) ^ s
    first = 0xF000 | s << 10 | (offset >> 12 & 0x3FF)
    second = 0xD000 | j1 << 13 | j2 << 11 | (offset >> 1 & 0x7FF)
    assert bl_target(bl_address + 4, first, second) == target
    assert bl_target(bl_address + 4, 0xBF00, 0xBF00) is None               # two NOPs
