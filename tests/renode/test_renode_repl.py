"""Our platform file against Renode 1.16.1 as sim.renode.catalogue describes it (from Renode
1.16.1's sources), read by the project's one .repl parser (sim.platform); and the catalogue's
citations against a Renode source tree where one is given (RENODE_SOURCE_DIR, or the built tree
PYRENODE_BUILD_DIR points at). tests/renode/test_renode_catalogue.py checks the catalogue against a
running Renode."""

from __future__ import annotations

import os
import re
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
    """The C# file that defines the class, as a path in renode-infrastructure's layout, its
    constructor, and the Renode platform file our use follows, as a path in renode's layout."""
    for rtype in catalogue.TYPES.values():
        repository, path = catalogue.split_citation(rtype.source)
        assert repository == "renode-infrastructure", rtype.name
        assert re.fullmatch(rf"src/Emulator/(Main|Cores|Peripherals)/[\w/-]+/{rtype.class_name}\.cs", path), \
            (rtype.name, path)
        assert re.fullmatch(rf"{rtype.class_name}\(.*\)", rtype.constructor), rtype.name
        if rtype.usage:
            repository, path = catalogue.split_citation(rtype.usage)
            assert repository == "renode" and re.fullmatch(r"platforms/(cpus|boards)/[\w.-]+\.repl", path), \
                (rtype.name, rtype.usage)
        assert catalogue.path_in_renode_tree(rtype.source).startswith("src/Infrastructure/src/Emulator/")
    # 1.16.1 names, not master's
    assert "Miscellaneous.STM32F4_RNG" in catalogue.TYPES
    assert "Miscellaneous.STM32_RNG" not in catalogue.TYPES


def _renode_source_tree() -> Path:
    """A checkout of renode v1.16.1 with its submodules: RENODE_SOURCE_DIR, else the built source
    tree pyrenode3 loads Renode from (PYRENODE_BUILD_DIR). Renode-only: skipped without one."""
    given = os.environ.get("RENODE_SOURCE_DIR")
    tree = Path(given or os.environ.get("PYRENODE_BUILD_DIR") or "")
    if not (given or os.environ.get("PYRENODE_BUILD_DIR")):
        pytest.skip("needs a Renode 1.16.1 source tree: set RENODE_SOURCE_DIR to a checkout of Renode's "
                    "v1.16.1 tag with its submodules (or PYRENODE_BUILD_DIR to a built one)")
    if not (tree / "tools" / "version").is_file() or not (tree / "src" / "Infrastructure" / "src").is_dir():
        pytest.fail(f"{tree} is not a Renode source tree with its submodules (no tools/version or "
                    f"src/Infrastructure/src); point RENODE_SOURCE_DIR at one")
    return tree


def test_the_renode_source_tree_is_1_16_1():
    tree = _renode_source_tree()
    assert (tree / "tools" / "version").read_text().strip() == catalogue.RENODE_VERSION


@pytest.mark.parametrize("name", sorted(catalogue.TYPES))
def test_the_cited_file_defines_the_class_and_its_constructor(name):
    tree = _renode_source_tree()
    rtype = catalogue.TYPES[name]
    source = tree / catalogue.path_in_renode_tree(rtype.source)
    assert source.is_file(), f"{rtype.source} is not in {tree}"
    text = re.sub(r"\s+", " ", source.read_text(encoding="utf-8-sig"))
    namespace = "Antmicro.Renode.Peripherals." + name.rsplit(".", 1)[0]
    assert f"namespace {namespace}" in text, namespace
    assert re.search(rf"\bclass {rtype.class_name}\b", text), f"no class {rtype.class_name} in {rtype.source}"
    assert f"public {rtype.constructor}" in text, f"{rtype.constructor} is not declared in {rtype.source}"
    if rtype.usage:
        usage = tree / catalogue.path_in_renode_tree(rtype.usage)
        assert re.search(rf":\s*{re.escape(name)}\b", usage.read_text()), f"{rtype.usage} does not use {name}"


def test_the_master_only_names_are_not_in_1_16_1_and_the_cpu_names_are_tlibs():
    tree = _renode_source_tree()
    sources = tree / "src" / "Infrastructure" / "src" / "Emulator"
    defined = {path.stem for path in sources.rglob("*.cs")}
    for master, replacement in catalogue.MASTER_ONLY.items():
        assert master.rsplit(".", 1)[-1] not in defined, master
        assert replacement.split()[0].rsplit(".", 1)[-1] in defined, replacement
    helper = (sources / "Cores" / "tlib" / "arch" / "arm" / "helper.c").read_text()
    names = {name: cpuid for cpuid, name in re.findall(r'\{\s*(ARM_CPUID_\w+),\s*"([\w+-]+)"\s*\}', helper)}
    for cpu_type in catalogue.CORTEX_M_TYPES:
        assert cpu_type in names, cpu_type
    assert (names["cortex-m4"], names["cortex-m4f"]) == ("ARM_CPUID_CORTEXM4", "ARM_CPUID_CORTEXM7")


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
    # a property the PHY model does not have (renode-infrastructure:
    # Main/Peripherals/Network/EthernetPhysicalLayer.cs)
    ("    VendorSpecific15: 0x1058", "    LinkPartnerAbility: 0x1", ERROR,
     "LinkPartnerAbility", "has no property LinkPartnerAbility"),
    # a property of the CPU outside the few the catalogue lists: it may load
    ("    PerformanceInMips: 168", "    IsHalted: true", UNDOCUMENTED, "IsHalted", "property IsHalted"),
    # master's new MAC model takes busWidth; the 1.16.1 one only `version`
    ("ethernet: Network.SynopsysEthernetMAC @ sysbus 0x40028000\n",
     "ethernet: Network.SynopsysEthernetMAC @ sysbus 0x40028000\n    busWidth: 64\n",
     ERROR, "busWidth:", "no constructor parameter busWidth"),
    ("ethernet: Network.SynopsysEthernetMAC @ sysbus 0x40028000\n",
     "ethernet: Network.SynopsysEthernetMAC @ sysbus 0x40028000\n    version: SynopsysEthernetVersion.STM32F\n",
     ERROR, "version:", "is not one of SynopsysEthernetVersion.STM32F4"),
    # a byte parameter past 0xFF (NVIC's priorityMask)
    ("    priorityMask: 0xF0", "    priorityMask: 0x1F0", ERROR, "priorityMask", "does not fit a C# byte"),
    # `none` for a constructor parameter: Renode 1.16.1 fails with an internal error
    ("    numberOfOutputLines: 24", "    numberOfOutputLines: none", ERROR, "numberOfOutputLines",
     "cannot pass none to a constructor"),
    # EXTI has as many numbered outputs as numberOfOutputLines says
    ("    [5-9] -> nvicInput23@[0-4]", "    [20-24] -> nvicInput23@[0-4]", ERROR, "[20-24]",
     "output 24 is beyond"),
    # the CPU type that reports an M7 CPUID
    ('cpuType: "cortex-m4"', 'cpuType: "cortex-m4f"', ERROR, "cortex-m4f", "Cortex-M7"),
    # UART baud from 8 MHz (renode-infrastructure: UART/STM32_UART.cs)
    ("    frequency: 84_000_000\n", "", ERROR, "usart1: UART", "no frequency"),
    # an interrupt into something that is not an interrupt controller
    ("    -> nvic@37", "    -> sram@37", ERROR, "-> sram@37", "does not receive interrupts"),
    # an output the RTC does not have (it has AlarmIRQ and WakeupIRQ)
    ("    AlarmIRQ -> nvic@41", "    TamperIRQ -> nvic@41", ERROR, "TamperIRQ", "has no output TamperIRQ"),
    # ... and no default output: neither of its two is marked [DefaultInterrupt]
    ("    AlarmIRQ -> nvic@41", "    -> nvic@41", ERROR, "-> nvic@41", "has no default output"),
    # a network download at load time (renode: platforms/cpus/stm32f4.repl, sysbus init)
    ('        Tag <0x40023000, 0x400233FF> "CRC"',
     '        ApplySVD @https://example.invalid/STM32F40x.svd.gz', ERROR, "ApplySVD", "downloads the file at load time"),
    # a type the catalogue does not document at all
    ("pwr: Miscellaneous.STM32_PWR", "pwr: Miscellaneous.STM32F4_PWR", UNDOCUMENTED,
     "pwr: Miscellaneous", "not in the catalogue"),
    # a UART at a point address: STM32_UART is not IKnownSize, so Renode needs the range (E21)
    ("usart1: UART.STM32_UART @ sysbus <0x40011000, +0x100>", "usart1: UART.STM32_UART @ sysbus 0x40011000",
     ERROR, "usart1: UART", "does not know its size"),
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
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1
    assert "exists only on Renode master" in result.stdout
    clean = subprocess.run([sys.executable, "-m", "sim.renode", "check", str(PLATFORM), "--strict"],
                           cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert clean.returncode == 0, clean.stdout
