"""Run control a debugger and the scenario runner rely on: breakpoints stop before the
instruction and resume past it, hooks see and change registers, watchpoints stop with PC at the
accessing instruction, step() retires exactly one instruction or enters a handler, request_stop,
run(until=...), snapshot/restore of the whole machine, and determinism."""

from __future__ import annotations

import hashlib

import pytest
from fwresult import run_to_finish
from machine_paths import REAL_PLATFORM

from sim.backend import StopReason
from sim.errors import BackendError
from sim.machine.thumb import thumb_info


def u32(m, address):
    return int.from_bytes(m.read_memory(address, 4), "little")


def test_breakpoint_stops_before_the_instruction_and_resumes_past_it(core_machine):
    m = core_machine("core_debug")
    bump, counter = m.symbol_address("bump"), m.symbol_address("counter")
    m.add_breakpoint(bump)
    for expected in range(3):
        r = m.run(1_000_000)
        assert (r.reason, r.address) == (StopReason.BREAKPOINT, bump)
        assert m.read_register("pc") == bump
        assert u32(m, counter) == expected          # bump() has not run yet
    m.remove_breakpoint(bump)
    run, result = run_to_finish(m, 1_000_000)
    assert result.passed and result.values[0] == 10


def test_hooks_read_and_write_registers_and_can_stop_the_run(core_machine):
    m = core_machine("core_debug")
    seen = []

    def on_write(ctx):
        seen.append((ctx.symbol, ctx.address, m.read_register("r0")))
        if m.read_register("r0") == 7:
            m.write_register("r0", 9)               # the firmware then stores 9
            m.request_stop()

    m.hook("write_watched", on_write)
    calls = []
    handle = m.hook("bump", lambda ctx: calls.append(m.cycles))
    r = m.run(1_000_000)
    assert r.reason is StopReason.REQUESTED
    assert m.read_register("pc") != m.symbol_address("write_watched")   # it ran the instruction
    assert [s[2] for s in seen] == [5, 7]
    assert seen[0][0] == "write_watched" and seen[0][1] == m.symbol_address("write_watched")
    assert len(calls) == 10 and calls == sorted(calls)
    m.unhook(handle)
    run, result = run_to_finish(m, 1_000_000)
    assert result.values[1] == 9
    with pytest.raises(BackendError, match="no symbol 'no_such_function'"):
        m.hook("no_such_function", lambda ctx: None)


def test_write_and_read_watchpoints_stop_at_the_accessing_instruction(core_machine):
    m = core_machine("core_debug")
    watched = m.symbol_address("watched")
    m.add_watchpoint(watched, 4, "write")
    r = m.run(1_000_000)
    assert (r.reason, r.address, r.watch_kind) == (StopReason.WATCHPOINT, watched, "write")
    assert m.symbolize(m.read_register("pc")).startswith("Reset_Handler")   # .bss zeroing
    for value in (5, 7):                               # resumes past the store, stops at the next
        r = m.run(1_000_000)
        assert r.reason is StopReason.WATCHPOINT
        assert m.symbolize(m.read_register("pc")).startswith("write_watched")
        assert m.read_register("r0") == value
    m.remove_watchpoint(watched, 4, "write")
    run, result = run_to_finish(m, 1_000_000)
    assert result.passed and result.values[1] == 7
    m2 = core_machine("core_debug")
    m2.add_watchpoint(watched, 4, "read")
    r = m2.run(1_000_000)
    assert (r.reason, r.watch_kind) == (StopReason.WATCHPOINT, "read")
    assert m2.symbolize(m2.read_register("pc")).startswith("read_watched")


def test_step_retires_one_instruction_or_enters_the_handler(core_machine):
    m = core_machine("core_debug")
    for _ in range(20):
        before = m.instructions_retired
        r = m.step()
        assert r.reason is StopReason.STEP
        assert m.instructions_retired == before + 1
    r = m.run(1_000_000, until="do_svc")
    assert (r.reason, r.address) == (StopReason.BREAKPOINT, m.symbol_address("do_svc"))
    r = m.step()                                       # the svc: stop at the handler's entry
    assert r.reason is StopReason.STEP
    assert m.read_register("pc") == m.symbol_address("SVC_Handler")
    assert m.read_register("xpsr") & 0x1FF == 11
    run, result = run_to_finish(m, 1_000_000)
    assert result.passed


def test_snapshot_restore_replays_identically(core_machine):
    m = core_machine("core_debug")
    m.add_breakpoint(m.symbol_address("bump"))
    for _ in range(4):
        m.run(1_000_000)
    m.remove_breakpoint(m.symbol_address("bump"))
    pc, counter = m.read_register("pc"), u32(m, m.symbol_address("counter"))
    snap = m.snapshot()
    first = run_to_finish(m, 1_000_000)[1], m.instructions, hashlib.sha256(m.read_memory(0x20000000, 0x20000)).digest()
    for _ in range(2):                                 # a snapshot can be restored many times
        m.restore(snap)
        assert m.read_register("pc") == pc and u32(m, m.symbol_address("counter")) == counter
        again = run_to_finish(m, 1_000_000)[1], m.instructions, hashlib.sha256(m.read_memory(0x20000000, 0x20000)).digest()
        assert again == first


def _run_determinism(core_machine, seed):
    m = core_machine("core_determinism", platform=REAL_PLATFORM, seed=seed)
    run, result = run_to_finish(m, 100_000_000)
    assert result.passed, result.describe()
    digest = hashlib.sha256(m.read_memory(0x20000000, 0x20000) + m.read_memory(0x10000000, 0x10000)).hexdigest()
    return m.uart("usart1").transcript, m.stats["instructions"], m.cycles, digest


def test_same_seed_same_uart_bytes_instruction_counts_and_memory(core_machine):
    a = _run_determinism(core_machine, seed=7)
    b = _run_determinism(core_machine, seed=7)
    assert a == b
    assert a[0].count(b"\r\n") == 8
    c = _run_determinism(core_machine, seed=8)
    assert c[0] != a[0]                                # the RNG follows the seed


def test_restore_keeps_ports_and_listeners_and_rewinds_transcripts(core_machine):
    from sim.scenario import UartLines
    m = core_machine("core_determinism", platform=REAL_PLATFORM, seed=3)
    port = m.uart("usart1")
    stream = UartLines(m)
    port.on_output(stream.feed)
    waiter = stream.expect("^")                        # the first complete line
    while not waiter.found:
        assert m.run(10_000_000).reason in (StopReason.REQUESTED, StopReason.LIMIT)
    snap = m.snapshot()
    at_snapshot = port.transcript
    run_to_finish(m, 100_000_000)
    full = port.transcript
    received = len(stream.data)
    m.restore(snap)
    assert m.uart("usart1") is port and port.transcript == at_snapshot
    run_to_finish(m, 100_000_000)
    assert port.transcript == full
    assert len(stream.data) == received + len(full) - len(at_snapshot)   # the listener kept listening


def test_system_reset_request_restarts_the_core_and_keeps_ram(core_machine):
    m = core_machine("core_reset")
    run, result = run_to_finish(m, 1_000_000)
    assert result.passed, result.describe()
    assert result.values[0] == 2
    assert m.stats["resets"] == 2                      # load_elf's reset and the firmware's


def test_debugger_reads_of_system_registers_and_magic_addresses(core_machine):
    m = core_machine("core_fp_context")
    m.add_breakpoint(m.symbol_address("SysTick_Handler"))
    m.add_breakpoint(m.symbol_address("task_b"))
    r = m.run(10_000_000)
    while m.symbolize(m.read_register("pc")) != "SysTick_Handler":
        r = m.run(10_000_000)
    assert r.reason is StopReason.BREAKPOINT
    lr = m.read_register("lr")
    assert lr in (0xFFFFFFED, 0xFFFFFFFD)
    assert u32(m, 0xE000EF34) == 0xC0000000            # FPCCR: ASPEN | LSPEN (no lazy state)
    if lr == 0xFFFFFFED:                               # extended frame: FPCAR points into it
        assert u32(m, 0xE000EF38) == m.read_register("psp") + 0x20
    assert m.read_register("xpsr") & 0x1FF == 15 and m.read_register("xpsr") & (1 << 24)
    with pytest.raises(BackendError, match="cannot read"):
        m.read_memory(0xFFFFFFE8, 4)


def test_how_runs_are_sliced_does_not_change_what_the_firmware_does(core_machine):
    outcomes = []
    for slice_cycles in (None, 100_003, 7_777):
        m = core_machine("core_determinism", platform=REAL_PLATFORM, seed=5)
        run, result = run_to_finish(m, 100_000_000, slice_cycles=slice_cycles)
        assert result.passed
        outcomes.append((m.uart("usart1").transcript, m.stats["instructions"], m.cycles))
    assert outcomes[0] == outcomes[1] == outcomes[2]


def test_step_ignores_a_breakpoint_where_it_starts_but_not_a_watched_access(core_machine):
    m = core_machine("core_debug")
    bump = m.symbol_address("bump")
    m.run(1_000_000, until="bump")
    m.add_breakpoint(bump)                             # inserted at the current PC, as GDB does
    r = m.step()
    assert r.reason is StopReason.STEP and m.read_register("pc") != bump
    m.remove_breakpoint(bump)
    m.run(1_000_000, until="write_watched")
    m.add_watchpoint(m.symbol_address("watched"), 4, "write")
    for _ in range(10):                                # step up to the store: it reports the hit
        r = m.step()
        if r.reason is not StopReason.STEP:
            break
    assert r.reason is StopReason.WATCHPOINT
    pc = m.read_register("pc")
    r = m.step()                                       # stepping from the hit executes the store
    assert r.reason is StopReason.STEP and m.read_register("pc") != pc


def _boot_reference(elf, seed):
    from sim.machine import Machine
    from sim.scenario import UartLines
    m = Machine(REAL_PLATFORM, seed=seed)
    m.load_elf(elf)
    stream = UartLines(m)
    m.uart("usart1").on_output(stream.feed)
    ready = stream.expect("ready", partial_line=True)
    while not ready.found:
        assert m.run(max_virtual=0.5).reason in (StopReason.REQUESTED, StopReason.LIMIT)
        assert m.cycles < 5 * m.frequency
    memory = m.read_memory(0x20000000, 0x20000) + m.read_memory(0x10000000, 0x10000)
    return bytes(stream.data), m.stats["instructions"], ready.cycles, hashlib.sha256(memory).hexdigest()


def test_reference_firmware_boot_is_deterministic(reference_elf):
    assert _boot_reference(reference_elf, seed=11) == _boot_reference(reference_elf, seed=11)


def test_it_blocks_under_interrupts_and_any_slicing(core_machine):
    outcomes = []
    for slice_cycles in (None, 997, 101):
        m = core_machine("core_itblocks")
        run, result = run_to_finish(m, 50_000_000, slice_cycles=slice_cycles)
        assert result.passed, result.describe()
        outcomes.append((result.values[0], result.values[1], m.stats["instructions"], m.cycles))
    assert outcomes[0] == outcomes[1] == outcomes[2]
    assert outcomes[0][1] > 100                        # plenty of interrupts landed in the loop


def test_step_with_interrupts_masked_never_enters_a_handler(core_machine):
    """What a debugger's single step does (DHCSR.C_MASKINTS): a pending SysTick stays pending
    while stepping; plain steps then take it where a free run would, at the next block boundary
    (right after an instruction that ends a straight-line block), entering without executing."""
    m = core_machine("core_debug")
    r = m.run(1_000_000, until="bump")
    assert r.reason is StopReason.BREAKPOINT
    m.write_memory(0xE000ED04, (1 << 26).to_bytes(4, "little"))       # ICSR.PENDSTSET
    for _ in range(6):
        before = m.instructions_retired
        r = m.step(mask_interrupts=True)
        assert r.reason is StopReason.STEP and m.instructions_retired == before + 1
        assert m.read_register("xpsr") & 0x1FF == 0                      # still in Thread mode
    assert u32(m, 0xE000ED04) & (1 << 26)                                # SysTick still pending
    last = None
    for _ in range(50):
        pc = m.read_register("pc")
        r = m.step()
        if m.read_register("xpsr") & 0x1FF == 15:                        # now taken
            break
        last = pc
    else:
        pytest.fail("the pending SysTick was never taken")
    assert r.reason is StopReason.STEP and r.cycles == 0
    code = m.read_memory(last, 4)
    assert thumb_info(code[0] | code[1] << 8, code[2] | code[3] << 8).ends_block
