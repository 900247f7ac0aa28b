"""Our platform file against Renode 1.16.1 as sim.renode.catalogue describes it (from Renode's own
sources and documentation), read by the project's one .repl parser (sim.platform)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sim.platform import DEFAULT_REPL
from sim.renode import catalogue
from sim.renode.platform_info import read_platform
from sim.renode.repl_check import ERROR, UNDOCUMENTED, check_repl
from sim.renode.repl_scan import ReplSyntaxError, load

ROOT = Path(__file__).resolve().parents[2]
PLATFORM = DEFAULT_REPL
DOCUMENTED = Path(__file__).resolve().parent / "data" / "documented.repl"


def test_the_project_platform_uses_only_what_renode_1_16_1_documents():
    assert PLATFORM.is_file(), "sim/platform/stm32f407.repl is missing"
    findings = check_repl(PLATFORM)
    assert findings == [], "\n".join(str(f) for f in findings)


def test_the_project_platform_gives_the_backend_what_it_needs():
    platform = read_platform(PLATFORM)
    assert platform.frequency == 168_000_000
    assert platform.cpu == "cpu"
    assert "usart1" in platform.uarts
    assert (platform.ethernet, platform.ethernet_base) == ("ethernet", 0x40028000)


def test_every_catalogue_entry_names_its_source():
    for rtype in catalogue.TYPES.values():
        assert rtype.source.strip(), rtype.name
    # 1.16.1 names, not master's
    assert "Miscellaneous.STM32F4_RNG" in catalogue.TYPES
    assert "Miscellaneous.STM32_RNG" not in catalogue.TYPES


def test_the_documented_fixture_is_clean():
    assert check_repl(DOCUMENTED) == []


def _variant(tmp_path: Path, old: str, new: str) -> Path:
    text = DOCUMENTED.read_text()
    assert old in text, old
    path = tmp_path / "variant.repl"
    path.write_text(text.replace(old, new, 1))
    return path


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


@pytest.mark.parametrize("old, new, severity, needle, expected", [
    # master-only type name (renode: platforms/cpus/stm32f4.repl, v1.16.1 against master)
    ("rng: Miscellaneous.STM32F4_RNG", "rng: Miscellaneous.STM32_RNG", ERROR,
     "rng: Miscellaneous", "exists only on Renode master"),
    # SysTick would run at Renode's default (renode-infrastructure: Cores/Arm-M/NVIC.cs)
    ("    systickFrequency: 168000000\n", "", ERROR, "nvic: IRQControllers.NVIC", "no systickFrequency"),
    # no PHY on the MAC: MDIO reads find nothing
    ("phy: Network.EthernetPhysicalLayer @ ethernet 0", "phy: Network.EthernetPhysicalLayer @ sram 0", ERROR,
     "phy: Network", "PHY is registered"),
    # RCC needs its RTC (the STM32F4_RCC constructor)
    ("    rtcPeripheral: rtc\n", "", ERROR, "rcc: Miscellaneous", "needs the constructor parameter 'rtcPeripheral'"),
    # reference to the wrong kind of entry
    ("    nvic: nvic\n", "    nvic: rtc\n", ERROR, "    nvic: rtc", "expected IRQControllers.NVIC"),
    # a property the catalogue does not list for the PHY
    ("    VendorSpecific15: 0x1058", "    AutoNegotiationExpansion: 0x1", UNDOCUMENTED,
     "AutoNegotiationExpansion", "property AutoNegotiationExpansion"),
    # a constructor parameter the 1.16.1 MAC is not documented to take (master's new model has it)
    ("ethernet: Network.SynopsysEthernetMAC @ sysbus 0x40028000\n",
     "ethernet: Network.SynopsysEthernetMAC @ sysbus 0x40028000\n    version: SynopsysEthernetVersion.STM32F\n",
     UNDOCUMENTED, "version:", "constructor parameter version"),
    # the CPU type that reports an M7 CPUID
    ('cpuType: "cortex-m4"', 'cpuType: "cortex-m4f"', ERROR, "cortex-m4f", "Cortex-M7"),
    # UART baud from 8 MHz (renode-infrastructure: UART/STM32_UART.cs)
    ("    frequency: 84_000_000\n", "", ERROR, "usart1: UART", "no frequency"),
    # an interrupt into something that is not an interrupt controller
    ("    -> nvic@37", "    -> sram@37", ERROR, "-> sram@37", "does not receive interrupts"),
    # an output name the catalogue does not give for the type
    ("    AlarmIRQ -> nvic@41", "    WakeupIRQ -> nvic@41", UNDOCUMENTED, "WakeupIRQ", "output WakeupIRQ"),
    # a network download at load time (renode: platforms/cpus/stm32f4.repl, sysbus init)
    ('        Tag <0x40023000, 0x400233FF> "CRC"',
     '        ApplySVD @https://example.invalid/STM32F40x.svd.gz', ERROR, "ApplySVD", "downloads at load time"),
    # a type the catalogue does not document at all
    ("pwr: Miscellaneous.STM32_PWR", "pwr: Miscellaneous.STM32F4_PWR", UNDOCUMENTED,
     "pwr: Miscellaneous", "not documented for Renode 1.16.1"),
    # a UART at a point address: the catalogue only knows ranges for it
    ("usart1: UART.STM32_UART @ sysbus <0x40011000, +0x100>", "usart1: UART.STM32_UART @ sysbus 0x40011000",
     UNDOCUMENTED, "usart1: UART", "explicit range"),
])
def test_each_renode_problem_is_reported_on_its_line(tmp_path, old, new, severity, needle, expected):
    path = _variant(tmp_path, old, new)
    findings = check_repl(path)
    matching = [f for f in findings if expected in f.message]
    assert matching, "\n".join(str(f) for f in findings)
    assert matching[0].severity == severity
    assert matching[0].line == _line_of(path, needle)
    assert str(path) in str(matching[0])


def test_a_using_line_is_refused(tmp_path):
    path = tmp_path / "using.repl"
    path.write_text('using "platforms/cpus/stm32f4.repl"\n' + DOCUMENTED.read_text())
    with pytest.raises(ReplSyntaxError, match="using"):
        check_repl(path)       # the project parser refuses it outright
    findings = [f for f in _check_tolerant(path) if "self-contained" in f.message]
    assert findings and findings[0].line == 1 and findings[0].severity == ERROR


def _check_tolerant(path: Path):
    from sim.renode.repl_check import check_parsed
    return check_parsed(load(path, tolerant=True))


def test_a_board_file_in_renodes_own_style_is_read_tolerantly(tmp_path):
    """Renode's board files start with `using` lines and update entries the used file creates
    (renode: platforms/boards/stm32f4_discovery.repl): the tolerant reading keeps both for the
    checker, which reports them against the line they are on."""
    path = tmp_path / "board.repl"
    path.write_text('using "platforms/cpus/stm32f4.repl"\n'
                    'using "./extras.repl" prefixed "ext_"\n'
                    "\n"
                    "cpu:\n"
                    "    PerformanceInMips: 125\n"
                    "\n"
                    "UserLED: Miscellaneous.LED @ gpioPortD\n")
    repl = load(path, tolerant=True)
    assert repl.usings == [(1, '"platforms/cpus/stm32f4.repl"'), (2, '"./extras.repl"')]
    cpu = repl.by_name("cpu")[0]
    assert (cpu.type, cpu.line, cpu.attribute("PerformanceInMips").value) == (None, 4, "0x7d")
    findings = _check_tolerant(path)
    lines = {f.line for f in findings if f.severity == ERROR}
    assert {1, 2, 4} <= lines                                  # both usings, the foreign update
    with pytest.raises(ReplSyntaxError, match=r"board\.repl:1:1: 'using' is not supported"):
        load(path)


def test_the_tolerant_reading_agrees_with_the_strict_one_on_our_files():
    for path in (PLATFORM, DOCUMENTED):
        assert _check_tolerant(path) == check_repl(path)


def test_the_check_command_exits_non_zero_on_errors(tmp_path):
    bad = _variant(tmp_path, "rng: Miscellaneous.STM32F4_RNG", "rng: Miscellaneous.STM32_RNG")
    result = subprocess.run([sys.executable, "-m", "sim.renode", "check", str(bad)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "exists only on Renode master" in result.stdout
    clean = subprocess.run([sys.executable, "-m", "sim.renode", "check", str(PLATFORM), "--strict"],
                           cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert clean.returncode == 0, clean.stdout
