"""The translation of our platform and run steps into Renode Monitor commands."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_pyrenode3 import DOCUMENTED_COMMANDS, documented
from hypothesis import given
from hypothesis import strategies as st

from sim.errors import BackendError
from sim.renode import commands
from sim.renode.commands import BootPlan, parse_time_string, time_string

REPL = Path(__file__).resolve().parent / "data" / "documented.repl"


@given(st.integers(min_value=0, max_value=10**12))
def test_time_strings_parse_to_the_exact_microseconds_on_both_renode_resolutions(us):
    text = time_string(us)
    assert parse_time_string(text, 10**6) == us                 # microsecond ticks
    assert parse_time_string(text, 10**9) == us * 1000          # nanosecond ticks (master)


def test_the_naive_decimal_form_would_lose_a_microsecond():
    # the reason for the guard digit: Renode truncates the double product (TimeInterval.TryParse)
    lost = [us for us in range(1, 2000) if parse_time_string(f"0.{us:06d}", 10**6) != us]
    assert lost, "if no value were lost, the guard digit would be unnecessary"
    assert all(parse_time_string(time_string(us), 10**6) == us for us in lost)


def test_boot_commands_set_the_seed_first_and_load_the_elf_last(tmp_path):
    elf = tmp_path / "fw.elf"
    plan = BootPlan(repl=REPL, elf=elf, seed=7, frequency_hz=168_000_000, quantum_us=100)
    assert commands.commands_for_boot(plan) == [
        "emulation SetSeed 7",
        'mach create "stm32f407"',
        f"machine LoadPlatformDescription @{REPL}",
        "cpu PerformanceInMips 168",
        'emulation SetGlobalQuantum "0.0001000001"',
        "emulation SetGlobalAdvanceImmediately true",
        f"sysbus LoadELF @{elf}",
    ]


def test_every_generated_command_has_a_documented_form(tmp_path):
    plan = BootPlan(repl=REPL, elf=tmp_path / "fw.elf", seed=3, frequency_hz=168_000_000)
    generated = commands.commands_for_boot(plan) + commands.log_commands(tmp_path / "renode.log") + [
        commands.gdb_server_command(3333), commands.save_command(tmp_path / "a.save"),
        commands.load_command(tmp_path / "a.save"), commands.select_machine_command()]
    undocumented = [c for c in generated if not documented(c)]
    assert not undocumented
    # each documented form is in use, and a near miss is refused (the table is not a blanket match)
    import re
    for name, pattern in DOCUMENTED_COMMANDS.items():
        assert any(re.fullmatch(pattern, c) for c in generated), name
    assert not documented("emulation SetGlobalQuantum 0.001")          # unquoted time
    assert not documented("machine LoadPlatformDescription platforms/x.repl")   # no '@'


def test_without_an_elf_the_boot_stops_after_the_platform():
    plan = BootPlan(repl=REPL, elf=None, seed=1, frequency_hz=168_000_000)
    assert not any("LoadELF" in c for c in commands.commands_for_boot(plan))


def test_seed_is_passed_unchanged_in_renode_range_and_folded_deterministically_outside():
    assert commands.renode_seed(0) == 0
    assert commands.renode_seed(2**31 - 1) == 2**31 - 1
    for seed in (-1, 2**31, 2**64 + 5):
        folded = commands.renode_seed(seed)
        assert 0 <= folded <= 2**31 - 1
        assert folded == commands.renode_seed(seed)
    assert commands.renode_seed(-1) != commands.renode_seed(-2)


def test_paths_the_monitor_cannot_take_are_refused_with_the_fix(tmp_path):
    with pytest.raises(BackendError, match="without them"):
        commands.monitor_path(tmp_path / "my firmware.elf")


def test_performance_matches_one_instruction_per_cycle():
    assert commands.performance_in_mips(168_000_000) == 168
    with pytest.raises(BackendError, match="whole number of MHz"):
        commands.performance_in_mips(168_500_000)


def test_gdb_and_state_commands(tmp_path):
    # autostart false: RunFor throws on a started emulation (Emulation.RunFor in
    # renode-infrastructure src/Emulator/Main/Core/Emulation.cs)
    assert commands.gdb_server_command(3333) == "machine StartGdbServer 3333 false"
    with pytest.raises(BackendError, match="outside"):
        commands.gdb_server_command(70000)
    assert commands.save_command(tmp_path / "a.save") == f"Save @{tmp_path / 'a.save'}"
    assert commands.load_command(tmp_path / "a.save") == f"Load @{tmp_path / 'a.save'}"
    assert commands.select_machine_command() == 'mach set "stm32f407"'


def test_renode_script_is_the_boot_plus_gdb(tmp_path):
    plan = BootPlan(repl=REPL, elf=tmp_path / "fw.elf", seed=1, frequency_hz=168_000_000)
    script = commands.renode_script(plan, gdb_port=3333).splitlines()
    body = [line for line in script if not line.startswith("#")]
    assert body == commands.commands_for_boot(plan) + ["machine StartGdbServer 3333 false"]
