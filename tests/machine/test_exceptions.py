"""Exception model: entry/return with every EXC_RETURN value, nesting, FP context across task
switches (with its negative control), mask lowering, tail-chaining, WFI, SysTick timing."""

from __future__ import annotations

from fwresult import run_to_finish

from sim.backend import StopReason

ALL_EXC_RETURNS = {0xFFFFFFF1, 0xFFFFFFE1, 0xFFFFFFF9, 0xFFFFFFE9, 0xFFFFFFFD, 0xFFFFFFED}


def finish(m, max_cycles=50_000_000):
    run, result = run_to_finish(m, max_cycles)
    assert run.reason is StopReason.BREAKPOINT, run.fault or run
    return result


def test_every_exc_return_value_and_nested_interrupts(core_machine):
    m = core_machine("core_exceptions")
    r = finish(m)
    assert r.passed, r.describe()
    # values 0..5: what the handlers saw in LR for F9 E9 F1 E1 FD ED scenarios
    assert [r.values[i] for i in range(6)] == [0xFFFFFFF9, 0xFFFFFFE9, 0xFFFFFFF1, 0xFFFFFFE1,
                                               0xFFFFFFFD, 0xFFFFFFED]
    assert r.values[6] == 123                       # outer starts, inner preempts, outer ends
    assert r.values[7] & (1 << 9)                   # stacked xPSR records the alignment word
    assert r.values[8] == 0xFFFFFFFD                # SVC from unprivileged Thread mode on PSP
    assert r.values[9] == 2                         # privileged again, still on PSP
    assert set(m.exceptions.exc_return_seen) == ALL_EXC_RETURNS
    assert m.stats["exceptions"] == m.stats["exception_returns"]


def test_fp_context_survives_task_switches(core_machine):
    m = core_machine("core_fp_context")
    r = finish(m)
    assert r.passed, r.describe()
    assert (r.values[0], r.values[1]) == (0x469C4000, 0x476A6000)   # 20000.0f, 60000.0f
    assert r.values[4] > 50                                          # context switches
    assert m.exceptions.exc_return_seen.get(0xFFFFFFED, 0) > 50      # FP tasks on PSP


def test_fp_context_negative_control_fails_without_extended_frames(core_machine):
    m = core_machine("core_fp_context", extended_frames=False)
    r = finish(m)
    assert not r.passed
    assert r.failures >= 1
    assert (r.values[0], r.values[1]) != (0x469C4000, 0x476A6000)
    assert 0xFFFFFFED not in m.exceptions.exc_return_seen


def test_lowering_a_mask_takes_the_pending_interrupt_at_the_next_instruction(core_machine):
    m = core_machine("core_masking")
    marks = []
    for label in ("basepri_msr", "cpsie_msr", "primask_msr", "faultmask_msr", "RCC_IRQHandler"):
        m.hook(label, lambda ctx, label=label: marks.append((label, m.instructions_retired)))
    r = finish(m)
    assert r.passed, r.describe()
    for i, label in enumerate(("basepri_lowered", "cpsie_lowered", "primask_lowered", "faultmask_lowered")):
        assert r.values[i] == m.symbol_address(label), label        # stacked return address
    # the handler's first instruction runs right after the unmasking instruction retired
    for (label, count), nxt in zip(marks, marks[1:]):
        if label.endswith("_msr"):
            assert nxt == ("RCC_IRQHandler", count + 1), (label, count, nxt)


def test_tail_chaining_runs_no_thread_code_between_handlers(core_machine):
    m = core_machine("core_tailchain")
    r = finish(m)
    assert r.passed, r.describe()
    assert r.values[6] == 123
    assert r.values[0] == r.values[1] == r.values[2] == m.symbol_address("pended_here")
    assert m.stats["tail_chains"] == 2


def test_wfi_skips_virtual_time_not_instructions(core_machine):
    m = core_machine("core_wfi")
    r = finish(m)
    assert r.passed, r.describe()
    assert r.values[0] == 5
    assert m.cycles >= 5 * 1_680_000                 # five 10 ms ticks of virtual time
    assert m.stats["instructions"] < 2_000           # ... for a few hundred instructions
    assert m.stats["idle_cycles"] >= 5 * 1_680_000 - 2_000


def test_systick_period_is_exact_in_virtual_time(core_machine):
    m = core_machine("core_systick")
    entries = []
    m.hook("SysTick_Handler", lambda ctx: entries.append(m.cycles))
    r = finish(m)
    assert r.passed, r.describe()
    assert r.values[0] == 5                          # VAL: one count per cycle (5 instructions)
    assert (r.values[1], r.values[2]) == (1, 0)      # COUNTFLAG set by a wrap, cleared by read
    assert len(entries) == 15
    # The wraps are exactly 168,000 cycles apart (processor clock: LOAD+1; HCLK/8: 8*(LOAD+1));
    # each is taken at the first block boundary after it, in a wait loop of three instructions:
    # so every entry lies 0..2 cycles after its wrap, and the wraps never drift.
    for phase in (entries[:10], entries[10:]):
        wraps = [phase[0] + k * 168_000 for k in range(len(phase))]
        late = [entry - wrap for entry, wrap in zip(phase, wraps)]
        assert all(-3 <= d <= 3 for d in late), late
        assert max(late) - min(late) <= 3, late
