"""Hooks dispatched at block starts (blocks.py, timebase.py) fire exactly when code hooks would:
once per execution, before the instruction, with the same instruction count, registers and PC -
under interrupts and any slicing of the run - and addresses a fall-through can reach get the
exact code hook."""

from __future__ import annotations

from fwresult import run_to_finish

from sim.machine.blocks import BlockStarts

LABELS = ("bh_callee", "bh_ret_bl", "bh_ret_blx", "bh_ft_entry", "bh_padded", "bh_after_bne",
          "bh_after_it", "bh_mid", "SysTick_Handler")
CODE_HOOKED = {"bh_ft_entry", "bh_mid"}         # reachable by falling through


def _run(core_machine, slice_cycles=None, **options):
    m = core_machine("core_blockhooks", **options)
    seen = []
    for label in LABELS:
        m.hook(label, lambda ctx, label=label: seen.append(
            (label, m.instructions_retired, m.cycles, m.read_register("pc"), m.read_register("r0"))))
    run, result = run_to_finish(m, 5_000_000, slice_cycles=slice_cycles)
    assert result.passed, result.describe()
    return m, result, seen


def test_block_hooks_fire_once_per_execution_like_code_hooks(core_machine):
    m, result, seen = _run(core_machine)
    kinds = {label: m.hook_kind(m.symbol_address(label)) for label in LABELS}
    # fall-through targets get the exact code hook; so do addresses after alignment padding (a
    # jump into the padding would begin the block there); the rest are dispatched at block starts
    padded = {label for label in LABELS if m.sites.blocks.classify(m.symbol_address(label))[1]}
    assert "bh_padded" in padded
    assert kinds == {label: "code" if label in CODE_HOOKED | padded else "block" for label in LABELS}
    counts = {label: sum(1 for s in seen if s[0] == label) for label in LABELS}
    v = result.values
    assert [counts[label] for label in LABELS[:8]] == list(v[:8])
    assert counts["SysTick_Handler"] == v[8] > 100
    assert all(pc == m.symbol_address(label) for label, _, _, pc, _ in seen)

    # the same observations with every hook a code hook (the exact reference), and sliced runs
    _, ref_result, reference = _run(core_machine, block_hooks=False)
    assert seen == reference and result.values == ref_result.values
    for slice_cycles in (1, 7, 101):
        _, sliced_result, sliced = _run(core_machine, slice_cycles=slice_cycles)
        assert sliced == reference and sliced_result.values == ref_result.values, slice_cycles


def test_a_jump_into_the_padding_before_a_hooked_function_still_fires_its_hook(core_machine):
    m = core_machine("core_blockhooks")
    padded, nop = m.symbol_address("bh_padded"), m.symbol_address("bh_pad_nop")
    assert m.sites.blocks.classify(padded) == (True, (nop, padded))
    calls = []
    m.hook(padded, lambda ctx: calls.append(m.read_register("pc")))
    run, result = run_to_finish(m, 5_000_000)
    assert len(calls) == result.values[4] == 120 and set(calls) == {padded}


def test_without_mapping_symbols_only_return_addresses_after_bl_qualify(core_machine):
    m = core_machine("core_blockhooks")
    image = m.image
    stripped = BlockStarts(type(image)(image.path, image.entry, image.segments, image.symbols,
                                       image.code_ranges, []), m.bus.read_ram)
    assert stripped.classify(m.symbol_address("bh_ret_bl")) == (True, None)
    assert stripped.classify(m.symbol_address("bh_ret_blx"))[0] is False
    assert stripped.classify(m.symbol_address("bh_callee") + 2)[0] is False


def test_addresses_outside_the_images_code_get_the_exact_code_hook(core_machine):
    m = core_machine("core_blockhooks")
    ram = 0x2000_1000                                  # code copied to RAM is not described by the ELF
    assert m.sites.blocks.classify(ram) == (False, None)
    m.hook(ram, lambda ctx: None)
    assert m.hook_kind(ram) == "code"
