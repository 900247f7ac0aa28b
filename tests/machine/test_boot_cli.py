"""`python -m sim boot`: streams the UART, exits 0 when the text appears, 1 with a clear message
when a limit is reached or the firmware faults, 2 for bad input."""

from __future__ import annotations

import subprocess
import sys

from machine_paths import ROOT


def boot(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "sim", "boot", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def test_reference_firmware_boots_to_ready(reference_elf):
    p = boot(reference_elf, "--until", "ready", "--max-virtual", "5", "--seed", "1")
    assert p.returncode == 0, p.stderr
    assert "net: link up" in p.stdout and "ready" in p.stdout
    assert "'ready' appeared on usart1" in p.stderr


def test_limit_reached_says_which_limit_and_shows_the_last_lines(reference_elf):
    # 3 s: past the PHY's 1.8 s auto-negotiation, so the boot has printed `ready`
    p = boot(reference_elf, "--until", "never printed", "--max-virtual", "3")
    assert p.returncode == 1
    assert "--max-virtual limit of 3 s reached" in p.stderr
    assert "virtual time 3.000 s" in p.stderr
    assert "| ready" in p.stderr


def test_wall_limit(reference_elf):
    p = boot(reference_elf, "--until", "never printed", "--max-virtual", "1000", "--max-wall", "0.5")
    assert p.returncode == 1
    assert "--max-wall limit of 0.5 s reached" in p.stderr


def test_firmware_fault_prints_the_report(build_test_firmware):
    elf = build_test_firmware("core_faults", defines={"SCENARIO": 1}, variant="SCENARIO1")
    p = boot(elf, "--until", "ready", "--max-virtual", "1")
    assert p.returncode == 1
    assert "unmapped-access: read of 4 bytes at 0x30000004" in p.stderr
    assert "fault_unmapped_read+" in p.stderr


def test_bad_platform_file_is_reported_with_its_position(tmp_path, build_test_firmware):
    repl = tmp_path / "bad.repl"
    repl.write_text("flash: Memory.MappedMemory @ sysbus 0x08000000\n    size 0x100000\n")
    p = boot(build_test_firmware("smoke"), "--repl", repl)
    assert p.returncode == 2
    assert f"{repl}:2:10: expected ':' after attribute size" in p.stderr


def test_not_an_arm_elf(tmp_path):
    bogus = tmp_path / "fw.elf"
    bogus.write_text("not an elf")
    p = boot(bogus)
    assert p.returncode == 2
    assert "is not an ELF file" in p.stderr


def test_until_stops_on_the_last_byte_of_the_text_and_takes_a_variant_name():
    p = boot("fixed", "--until", "link up", "--max-virtual", "5")
    assert p.returncode == 0, p.stderr
    assert p.stdout.endswith("net: link up")            # the run stopped as that byte went out
    assert "'link up' appeared on usart1" in p.stderr


def test_firmware_that_never_prints_the_text_shows_the_virtual_limit_and_the_uart(build_test_firmware):
    p = boot(build_test_firmware("scenario_silent"), "--until", "ready", "--max-virtual", "0.3")
    assert p.returncode == 1
    assert "--max-virtual limit of 0.3 s reached" in p.stderr and "(usart1 printed nothing)" in p.stderr
