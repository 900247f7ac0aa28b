"""The machine's TLB policy (sim/machine/cpu.py): RAM is read/write only until code is fetched
from it, so stores take unicorn's fast path - without changing what the firmware does."""

from __future__ import annotations

from fwresult import run_to_finish

from sim.machine import MachineOptions


def _expected_sum() -> int:
    buf = [(i * 2654435761) & 0xFFFF_FFFF for i in range(4096)]
    return sum(buf[i] for i in range(0, 4096, 7)) & 0xFFFF_FFFF


def test_tlb_misses_code_in_ram_and_stores_behave_as_on_silicon(core_machine):
    m = core_machine("core_tlb")
    run, result = run_to_finish(m, 5_000_000)
    assert result.passed, result.describe()
    v = result.values
    assert v[0] == 32                         # nothing after the IT blocks was skipped
    assert (v[1], v[2]) == (105, 142)         # code in RAM runs, and its rewrite is seen
    assert v[3] == _expected_sum()


def test_instruction_counts_do_not_depend_on_tlb_misses(core_machine):
    """The same run, with every hook a code hook (so unicorn walks its hook list and takes other
    code paths), retires the same instructions; a miss inside an IT block once lost one."""
    counts = []
    for options in ({}, {"options": MachineOptions(block_hooks=False)}):
        m = core_machine("core_tlb", **options)
        m.hook("main", lambda ctx: None)
        run, result = run_to_finish(m, 5_000_000)
        assert result.passed and result.values[0] == 32
        counts.append(m.stats["instructions"])
    assert counts[0] == counts[1]
