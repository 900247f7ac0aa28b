"""Ctrl-C and other exceptions raised inside the machine's callbacks (user hooks, the TLB fill,
MMIO listeners, SIGINT itself) stop the CPU at once and come out of run() - never swallowed by
ctypes ("Exception ignored on calling ctypes callback function") - and leave a machine whose
counters are consistent and which runs on exactly as if it had been stopped there on purpose."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from fwresult import run_to_finish
from machine_paths import REAL_PLATFORM, REFERENCE_ELF, ROOT

from sim.backend import StopReason
from sim.machine import Machine


def consistent(m) -> bool:
    """The core's cycles are exactly the instructions executed plus the cycles slept in WFI,
    and virtual time is where the last of them falls (at the core's live clock rate)."""
    stats = m.stats
    return (stats["core_cycles"] == m.instructions + stats["idle_core_cycles"]
            and m.cycles == stats["cycles"] == m.clock.time_at(stats["core_cycles"]))


def test_a_hook_that_raises_keyboardinterrupt_stops_the_run_before_its_instruction(core_machine):
    m = core_machine("core_debug")
    bump = m.symbol_address("bump")
    hits = []

    def on_bump(ctx):
        hits.append(m.cycles)
        if len(hits) == 3:
            raise KeyboardInterrupt

    handle = m.hook("bump", on_bump)
    with pytest.raises(KeyboardInterrupt):
        m.run(1_000_000)
    assert m.read_register("pc") == bump and consistent(m)
    interrupted_at = m.instructions

    # the same point reached on purpose: the third breakpoint stop at bump()
    ref = core_machine("core_debug")
    ref.add_breakpoint(bump)
    for _ in range(3):
        assert ref.run(1_000_000).reason is StopReason.BREAKPOINT
    assert ref.instructions == interrupted_at and ref.cycles == m.cycles

    m.unhook(handle)
    ref.remove_breakpoint(bump)
    result, outcome = run_to_finish(m, 1_000_000)
    ref_result, ref_outcome = run_to_finish(ref, 1_000_000)
    assert outcome.passed and outcome.values[0] == 10           # bump() ran all ten times, once each
    assert (m.instructions, m.cycles) == (ref.instructions, ref.cycles)


def test_an_exception_in_the_tlb_fill_is_not_swallowed(core_machine, capfd, monkeypatch):
    """The Python TLB fill (the compiled time base fills the TLB in C, with no Python to raise)."""
    monkeypatch.setenv("TLS_FW_SIM_NATIVE", "0")
    m = core_machine("core_debug")
    fills = []
    clear = m.core._clear_stale_it_state

    def failing(uch):
        fills.append(uch)
        if len(fills) == 2:
            raise KeyboardInterrupt
        clear(uch)

    m.core._clear_stale_it_state = failing       # the TLB-fill callback calls it for every data miss
    with pytest.raises(KeyboardInterrupt):
        m.run(1_000_000)
    assert consistent(m)
    m.core._clear_stale_it_state = clear
    result, outcome = run_to_finish(m, 1_000_000)
    assert outcome.passed and outcome.values[0] == 10
    plain = core_machine("core_debug")
    run_to_finish(plain, 1_000_000)
    assert (m.instructions, m.cycles) == (plain.instructions, plain.cycles)
    assert "Exception ignored" not in capfd.readouterr().err


def test_a_listener_that_raises_inside_an_mmio_write_stops_after_the_store(reference_elf):
    """The Ethernet MAC calls its transmit listeners inside the firmware's store to DMATPDR.
    A listener that raises stops the CPU after that store (the frame has gone; running the
    store again would repeat what the model did), where the MAC's own request_stop() ends a
    quiet run - so both machines stop at the same instruction and run on identically."""
    def machine(listener):
        m = Machine(REAL_PLATFORM)
        m.load_elf(reference_elf)
        m.ethernet.on_transmit(listener)
        return m

    frames = []

    def raising(frame):
        frames.append(frame)
        if len(frames) == 1:
            raise KeyboardInterrupt

    m = machine(raising)
    with pytest.raises(KeyboardInterrupt):
        while True:
            m.run(max_virtual=0.01)
    assert len(frames) == 1 and consistent(m)
    quiet_frames = []
    ref = machine(quiet_frames.append)
    while not quiet_frames:
        result = ref.run(max_virtual=0.01)
    assert result.reason is StopReason.REQUESTED
    assert (m.instructions, m.cycles, m.read_register("pc")) == \
        (ref.instructions, ref.cycles, ref.read_register("pc"))
    for machine_ in (m, ref):
        while machine_.cycles < 168_000_000 // 2:
            machine_.run(max_virtual=0.01)
    assert (m.instructions, m.cycles) == (ref.instructions, ref.cycles)
    assert [f.data for f in frames] == [f.data for f in quiet_frames]


def test_sigint_while_the_machine_runs_acts_as_a_stop_at_that_instruction(tmp_path):
    """A process (with Python's default SIGINT handler, or one of its own) that runs the reference firmware in 1 ms quanta, as the scenario runner does,
    signals itself from a hook on the 7th tick; a reference process stops at the same hook
    with request_stop(). Both must stop at the same instruction and end identically."""
    script = tmp_path / "loop.py"
    script.write_text(textwrap.dedent(f"""
        import hashlib, json, os, signal, sys
        from sim.machine import Machine

        mode = sys.argv[1]

        class Stopped(Exception):          # what a program's own handler raises (Robot: ExecutionFailed)
            pass

        if mode == "program-handler":
            def stop_gracefully(signum, frame):
                raise Stopped
            signal.signal(signal.SIGINT, stop_gracefully)
        m = Machine({str(REAL_PLATFORM)!r})
        m.load_elf({str(REFERENCE_ELF)!r})
        hits = 0

        def on_tick(ctx):
            global hits
            hits += 1
            if hits == 7:
                if mode != "reference":
                    os.kill(os.getpid(), signal.SIGINT)
                else:
                    m.request_stop()

        m.hook("xTaskIncrementTick", on_tick)
        stopped = None
        while m.cycles < 40 * 168_000:
            try:
                result = m.run(168_000)
                if mode == "reference" and hits == 7 and stopped is None:
                    stopped = "requested" if result.reason.value == "requested" else result.reason.value
            except KeyboardInterrupt:
                stopped = "interrupt"
            except Stopped:
                stopped = "program-handler"
            if stopped and "at" not in locals():
                at = [m.instructions, m.cycles, m.idle_cycles, m.read_register("pc")]
        print(json.dumps({{"stopped": stopped, "at": at,
                          "end": [m.instructions, m.cycles, m.idle_cycles, m.read_register("pc")],
                          "uart": hashlib.sha256(m.uart("usart1").transcript).hexdigest()}}))
    """))

    def run(mode: str) -> dict:
        proc = subprocess.run([sys.executable, str(script), mode], cwd=ROOT, capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        assert "Exception ignored" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
        return json.loads(proc.stdout)

    interrupted, handled, reference = run("sigint"), run("program-handler"), run("reference")
    assert interrupted["stopped"] == "interrupt" and reference["stopped"] == "requested"
    # a program's own SIGINT handler (Robot Framework's raises ExecutionFailed) is called at the
    # same instruction boundary, never inside a unicorn callback where ctypes would swallow it
    assert handled["stopped"] == "program-handler"
    for run_ in (interrupted, handled):
        assert run_["at"] == reference["at"]
        assert run_["end"] == reference["end"] and run_["uart"] == reference["uart"]
