"""The .repl parser and the machine built from it: the real platform file's content, merge
rules, and clear errors (file:line:column and what was expected) for malformed input, unknown
types and platforms the machine cannot build."""

from __future__ import annotations

import pytest

from machine_paths import REAL_PLATFORM
from sim.machine import Machine
from sim.platform import (EnumValue, PlatformError, RangeValue, Reference, load_platform,
                          parse_platform)


def test_real_platform_describes_the_stm32f407():
    spec = load_platform(REAL_PLATFORM)
    flash = spec.entry("flash")
    assert [r.address for r in flash.registrations] == [0x08000000, 0x0]
    assert flash.attributes["size"] == 0x100000
    assert spec.entry("sram").attributes["size"] == 0x20000
    assert spec.entry("ccm").registrations[0].address == 0x10000000
    nvic = spec.entry("nvic")
    assert nvic.attributes == {"priorityMask": 0xF0, "systickFrequency": 168_000_000}
    assert spec.entry("cpu").attributes["cpuType"] == "cortex-m4"
    eth = spec.entry("ethernet")
    assert (eth.type, eth.registrations[0].address) == ("Network.SynopsysEthernetMAC", 0x40028000)
    assert [(c.source, c.target, c.input) for c in eth.irqs] == [("", "nvic", 61)]
    phy = spec.entry("phy")
    assert (phy.registrations[0].parent, phy.registrations[0].address) == ("ethernet", 0)
    assert phy.properties["Id2"] == 0xC131 and phy.properties["VendorSpecific15"] == 0x1058
    assert spec.entry("rng").type == "Miscellaneous.STM32F4_RNG"        # Renode 1.16.1 name
    assert spec.entry("rcc").constructor_attributes == {"rtcPeripheral": Reference("rtc")}
    for name, irq in (("usart1", 37), ("usart2", 38), ("usart3", 39), ("usart6", 71)):
        assert spec.entry(name).irqs[0].input == irq
    exti = {(c.source, c.target, c.input) for c in spec.entry("exti").irqs}
    assert ("0", "nvic", 6) in exti and ("9", "nvicInput23", 4) in exti and ("22", "nvic", 3) in exti
    assert [(t.name, t.start, t.end) for t in spec.tags][0] == ("SYSCFG", 0x40013800, 0x4001381F)


def test_value_forms_and_registrations():
    spec = parse_platform(
        "a: X.Y @ sysbus <0x1000, +0x100>\n"
        "    n: 8_000_000\n"
        "    s: \"hi\"\n"
        "    l: [[5, 3], [7, 1, 3]]\n"
        "    e: STM32Series.F4\n"
        "    r: <0x10, 0x1f>\n"
        "    b: true\n"
        "    z: none\n"
        "    [0-1, 3] -> nvic@[6-7, 9] | other@[1-3]\n"
        "b: X.Z @ { sysbus 0x2000; sysbus new Bus.BusMultiRegistration { address: 0x3000; size: 0x100; region: \"r\" } }\n"
        "    /* block\n"
        "       comment */\n"
        "    IRQ -> nvic@4 // trailing\n", "t.repl")
    a = spec.entry("a")
    assert (a.registrations[0].address, a.registrations[0].size) == (0x1000, 0x100)
    assert a.attributes["n"] == 8_000_000 and a.attributes["s"] == "hi"
    assert a.attributes["l"] == [[5, 3], [7, 1, 3]]
    assert a.attributes["e"] == EnumValue("STM32Series.F4")
    assert a.attributes["r"] == RangeValue(0x10, 0x1F)
    assert a.attributes["b"] is True and a.attributes["z"] is None
    assert [(c.source, c.target, c.input) for c in a.irqs] == [
        ("0", "nvic", 6), ("1", "nvic", 7), ("3", "nvic", 9),
        ("0", "other", 1), ("1", "other", 2), ("3", "other", 3)]
    b = spec.entry("b")
    assert [(r.address, r.size) for r in b.registrations] == [(0x2000, None), (0x3000, 0x100)]
    assert b.irqs[0].source == "IRQ"


def test_renode_forms_from_its_own_platform_files():
    """What Renode 1.16.1's own platforms/cpus/stm32f4.repl writes: decimal numbers with leading
    zeros (no octal), a local receiver index, and a list of named outputs."""
    spec = parse_platform(
        "t: Timers.STM32_Timer @ sysbus 0x40010000\n"
        "    [TriggerInterrupt, CommutationInterrupt] -> nvic@[26, 26]\n"
        "    [Update, 3-4] -> nvic@[1, 2, 3]\n"
        "p: GPIOPort.STM32_GPIOPort @ sysbus 0x40020000\n"
        "    [0-1] -> gpioPortA#08@[01, 09]\n", "t.repl")
    assert [(c.source, c.target, c.input) for c in spec.entry("t").irqs] == [
        ("TriggerInterrupt", "nvic", 26), ("CommutationInterrupt", "nvic", 26),
        ("Update", "nvic", 1), ("3", "nvic", 2), ("4", "nvic", 3)]
    assert [(c.source, c.target, c.input) for c in spec.entry("p").irqs] == [
        ("0", "gpioPortA#8", 1), ("1", "gpioPortA#8", 9)]


def test_update_entries_merge_last_value_wins():
    spec = parse_platform(
        "u: X.Y @ sysbus 0x1000\n    f: 1\n    g: 2\n    -> nvic@5\n"
        "u:\n    f: 3\n    -> nvic@6\n"
        "sysbus:\n    init:\n        Tag <0x10, 0x13> \"T\" 0x5\n"
        "sysbus:\n    init add:\n        Tag <0x20, 0x23> \"U\"\n", "t.repl")
    u = spec.entry("u")
    assert u.attributes == {"f": 3, "g": 2}
    assert [(c.source, c.input) for c in u.irqs] == [("", 6)]
    assert [(t.name, t.value) for t in spec.tags] == [("T", 5), ("U", 0)]


@pytest.mark.parametrize("text, where, expected", [
    ("uart Foo.Bar @ sysbus 0x1000\n", "t.repl:1:6", "expected ':' after entry name uart"),
    ("a: X.Y @ sysbus <0x1000, >\n", "t.repl:1:26", "expected the range end address"),
    ("a: X.Y @ sysbus 0x1000\n  f: 3\n", "t.repl:2:3", "expected a multiple of 4"),
    ("a: X.Y @ sysbus 0x1000\n\tf: 3\n", "t.repl:2:1", "spaces only"),
    ("a: X.Y @ sysbus 0x1000\n    [0-3] -> nvic@[1-2]\n", "t.repl:2:5", "4 IRQ source(s) but 2 input(s)"),
    ("a: X.Y @ sysbus 0x1000\n    f: @\n", "t.repl:2:8", "expected a value"),
    ("a: X.Y @ sysbus 1\na: X.Y @ sysbus 2\n", "t.repl:2:1", "created twice"),
    ("a:\n    x: 1\n", "t.repl:1:1", "updated but never created"),
    ("using \"x.repl\"\n", "t.repl:1:1", "self-contained"),
    ("a: X.Y @ sysbus 1\n    n: \"abc\n", "t.repl:2:8", "unterminated string"),
    ("sysbus:\n    init:\n        Tag <0x10, 0x20> 5\n", "t.repl:3:26", "quoted tag name"),
    ("a: X.Y @ sysbus 1 junk\n", "t.repl:1:19", "expected end of line"),
    ("a: X.Y @ sysbus 1\n        f: 1\n", "t.repl:2:9", "unexpected indentation"),
    ("a: X.Y @ sysbus 1\n    f 1\n", "t.repl:2:7", "expected ':' after attribute f"),
])
def test_malformed_lines_name_file_line_column_and_expectation(text, where, expected):
    with pytest.raises(PlatformError) as info:
        parse_platform(text, "t.repl")
    message = str(info.value)
    assert message.startswith(where + ":"), message
    assert expected in message


def test_missing_platform_file(tmp_path):
    with pytest.raises(PlatformError, match="does not exist"):
        load_platform(tmp_path / "nope.repl")


def test_a_directory_as_platform_file(tmp_path):
    with pytest.raises(PlatformError, match="is a directory: give the .repl file"):
        Machine(tmp_path)


def test_tolerant_mode_reads_files_that_build_on_others():
    """Renode's board files: `using` lines first, then updates of entries the used files create
    (renode: platforms/boards/stm32f4_discovery.repl). Strict mode refuses both."""
    text = ('using "platforms/cpus/stm32f4.repl"\n'
            'using "./extras.repl" prefixed "ext_"\n'
            "cpu:\n    PerformanceInMips: 125\n"
            "led: Miscellaneous.LED @ gpioPortD\n")
    spec = parse_platform(text, "b.repl", tolerant=True)
    assert [(u.path, u.prefix, str(u.location)) for u in spec.usings] == [
        ("platforms/cpus/stm32f4.repl", None, "b.repl:1:1"), ("./extras.repl", "ext_", "b.repl:2:1")]
    cpu = spec.entry("cpu")
    assert cpu.type is None and cpu.attributes == {"PerformanceInMips": 125}
    assert spec.entry("led").type == "Miscellaneous.LED"
    with pytest.raises(PlatformError, match="b.repl:1:1: 'using' is not supported"):
        parse_platform(text, "b.repl")
    with pytest.raises(PlatformError, match="b.repl:1:1: entry 'cpu' is updated but never created"):
        parse_platform(text.split("\n", 2)[2], "b.repl")
    with pytest.raises(PlatformError, match="b.repl:1:7: expected a quoted file name"):
        parse_platform("using stm32f4.repl\n", "b.repl", tolerant=True)


def _platform_with(tmp_path, extra: str):
    base = REAL_PLATFORM.read_text()
    path = tmp_path / "p.repl"
    path.write_text(base + extra)
    return path


def test_unknown_peripheral_type_names_type_line_and_known_types(tmp_path):
    path = _platform_with(tmp_path, "\ni2c1: I2C.STM32F4_I2C @ sysbus 0x40005400\n")
    line = path.read_text().splitlines().index("i2c1: I2C.STM32F4_I2C @ sysbus 0x40005400") + 1
    with pytest.raises(PlatformError) as info:
        Machine(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}:{line}:1: unknown peripheral type 'I2C.STM32F4_I2C'")
    assert "UART.STM32_UART" in msg and "Network.SynopsysEthernetMAC" in msg


def test_overlapping_blocks_are_rejected(tmp_path):
    path = _platform_with(tmp_path, "\nextra: Memory.MappedMemory @ sysbus 0x20010000\n    size: 0x20000\n")
    with pytest.raises(PlatformError, match="overlaps sram"):
        Machine(path)


def test_non_cortex_m4_cpu_is_rejected(tmp_path):
    text = REAL_PLATFORM.read_text().replace('cpuType: "cortex-m4"', 'cpuType: "cortex-m0"')
    path = tmp_path / "m0.repl"
    path.write_text(text)
    with pytest.raises(PlatformError, match="cortex-m0"):
        Machine(path)


def _line_col(path, needle: str) -> str:
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return f"{path}:{number}:{line.index(needle) + 1}"
    raise AssertionError(needle)


@pytest.mark.parametrize("value", ["0", "-5", '"fast"', "nan", "inf", "true",
                                   pytest.param("1" + "0" * 400 + ".0", id="overflows-to-inf")])
def test_cpu_clock_must_be_a_positive_finite_number(tmp_path, value):
    text = REAL_PLATFORM.read_text().replace("PerformanceInMips: 168", f"PerformanceInMips: {value}")
    path = tmp_path / "clock.repl"
    path.write_text(text)
    with pytest.raises(PlatformError) as info:
        Machine(path)
    message = str(info.value)
    assert message.startswith(_line_col(path, "PerformanceInMips") + ": ")
    assert "PerformanceInMips must be a positive number" in message and "168" in message


@pytest.mark.parametrize("old, new, needle", [
    ("systickFrequency: 168000000", "systickFrequency: 0", "systickFrequency"),
    ("systickFrequency: 168000000", 'systickFrequency: "fast"', "systickFrequency"),
    ("priorityMask: 0xF0", "priorityMask: 0x1F0", "priorityMask"),
])
def test_nvic_clock_and_priority_mask_are_checked(tmp_path, old, new, needle):
    path = tmp_path / "nvic.repl"
    path.write_text(REAL_PLATFORM.read_text().replace(old, new))
    with pytest.raises(PlatformError) as info:
        Machine(path)
    assert str(info.value).startswith(_line_col(path, needle) + ": ")


_RSS_PROBE = """
import resource, sys
from sim.machine import Machine
from sim.platform import PlatformError
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    m = Machine(sys.argv[1])
    outcome = "built"
    if len(sys.argv) > 2:                       # touch both ends of the memory at this address
        base, size = int(sys.argv[2], 0), int(sys.argv[3], 0)
        m.write_memory(base, b"\\x5a"), m.write_memory(base + size - 1, b"\\xa5")
        outcome += " " + (m.read_memory(base, 1) + m.read_memory(base + size - 1, 1)).hex()
except PlatformError as exc:
    outcome = "PlatformError: " + str(exc)
grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
print(f"{grown_mb:.0f}")
print(outcome)
"""


def _build_in_subprocess(*args) -> tuple[float, str]:
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-c", _RSS_PROBE, *map(str, args)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    grown, outcome = proc.stdout.splitlines()
    return float(grown), outcome


@pytest.mark.parametrize("address, problem", [(0x6000_0000, "beyond the Cortex-M4's 32-bit address space"),
                                              (0x0, "overlaps flash")])
def test_a_4_gib_memory_is_refused_before_anything_is_allocated(tmp_path, address, problem):
    path = _platform_with(tmp_path, f"\nbig: Memory.MappedMemory @ sysbus 0x{address:x}\n    size: 0x100000000\n")
    grown_mb, outcome = _build_in_subprocess(path)
    assert outcome.startswith(f"PlatformError: {path}:") and problem in outcome
    assert grown_mb < 100                  # it used to fill 4 GiB before the check (4.1 GB RSS)


def test_a_large_memory_costs_only_the_pages_used(tmp_path):
    path = _platform_with(tmp_path, "\nsdram: Memory.MappedMemory @ sysbus 0xC0000000\n    size: 0x10000000\n")
    grown_mb, outcome = _build_in_subprocess(path, 0xC000_0000, 0x1000_0000)
    assert outcome == "built 5aa5"
    assert grown_mb < 100                  # 256 MiB declared, two pages touched
