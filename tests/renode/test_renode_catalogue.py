"""The catalogue of Renode 1.16.1 types (sim/renode/catalogue.py) against Renode itself.

`python -m sim.renode check` trusts the catalogue; here a running Renode 1.16.1 is the oracle
(skipped, with what to install, where Renode is absent; SIM_REQUIRE_RENODE=1 makes it mandatory):
- each catalogued type is compared with the class Renode loads: its constructor's parameters
  (C# types, defaults, aliases, enum values), the properties a .repl literal can set, its GPIO
  outputs, and whether it has numbered outputs, receives interrupts and knows its size;
- for each type a small platform that uses every parameter, property and output the catalogue
  lists is loaded into a Renode machine, and must load; so must our platform file and the test
  fixture. Platforms that add what the catalogue says the type lacks (a parameter, property or
  output, a default or numbered output, an interrupt input, a bare-address registration, a
  required parameter left out, an enum value) must be refused, with Renode's error code;
- on every one of those platforms the checker (sim.renode.repl_check) reports an error exactly
  when Renode refuses it.

The platforms are loaded by tests/renode/renode_probe.py in a process of its own (one Renode
emulation per process; the other Renode tests keep theirs).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from sim.platform import DEFAULT_REPL
from sim.renode import catalogue, renode_status
from sim.renode.catalogue import Param, RenodeType
from sim.renode.repl_check import check_repl, errors

HERE = Path(__file__).resolve().parent
PROBE = HERE / "renode_probe.py"
DOCUMENTED = HERE / "data" / "documented.repl"
PROBE_WALL_LIMIT_S = 900          # the probe loads some 300 small platforms

AVAILABLE, REASON = renode_status()
REQUIRED = bool(os.environ.get("SIM_REQUIRE_RENODE"))
pytestmark = [pytest.mark.renode,
              pytest.mark.skipif(not AVAILABLE and not REQUIRED,
                                 reason=f"needs Renode 1.16.1 with pyrenode3 - {REASON}")]


@pytest.fixture(autouse=True)
def _renode_present():
    if not AVAILABLE:
        pytest.fail(f"SIM_REQUIRE_RENODE is set but {REASON}")


# --- the platforms ---------------------------------------------------------------------------------

# Values for the parameters without a default (and a few whose default cannot be written).
SAMPLES: dict[tuple[str, str], str] = {
    ("Memory.MappedMemory", "size"): "0x1000",
    ("Memory.MappedMemory", "segmentSize"): "0x1000",
    ("CPU.CortexM", "cpuType"): '"cortex-m4"',
    ("CPU.CortexM", "nvic"): "ctx_nvic",
    ("Miscellaneous.STM32F4_RCC", "rtcPeripheral"): "ctx_rtc",
    ("MTD.STM32F4_FlashController", "flash"): "ctx_flash",
    ("Miscellaneous.CombinedInput", "numberOfInputs"): "2",
    ("Timers.STM32_Timer", "frequency"): "10000000",
    ("Timers.STM32_Timer", "initialLimit"): "0xFFFF",
    ("Timers.STM32_IndependentWatchdog", "frequency"): "32000",
    ("CRC.STM32_CRC", "series"): "STM32Series.F4",
    ("Miscellaneous.BitBanding", "peripheralBase"): "0x40000000",
    ("Python.PythonPeripheral", "size"): "0x100",
    ("Python.PythonPeripheral", "script"): '"pass"',
    ("CAN.STMCAN", "master"): "ctx_can",
    ("GPIOPort.STM32_GPIOPort", "invertedAFPins"): "[[5, 3], [7, 1, 3]]",
}
# What our firmware needs on top (the checker reports these as errors when missing).
NEEDS: dict[str, dict[str, str]] = {
    "IRQControllers.NVIC": {"systickFrequency": "168000000"},
    "UART.STM32_UART": {"frequency": "84000000"},
}
PROPERTY_SAMPLES: dict[tuple[str, str], str] = {
    ("CPU.CortexM", "PerformanceInMips"): "168",
    ("IRQControllers.NVIC", "Frequency"): "168000000",
    ("Timers.STM32_Timer", "Frequency"): "10000000",
    ("Timers.STM32_Timer", "Limit"): "0xFFFF",
    ("Timers.STM32_Timer", "Value"): "0",
}
# Values the catalogue documents that this test does not load: a Renode built from source may
# leave out tlib's big-endian Arm-M library (its translate-arm-m-be.so is then empty, and the CPU
# fails to construct). The enum's values are still compared with Renode's.
NOT_LOADED = {("CPU.CortexM", "endianness", "Endianess.BigEndian")}
CONTEXT = {
    "ctx_sink": "ctx_sink: Miscellaneous.CombinedInput @ none\n    numberOfInputs: 64\n",
    "ctx_nvic": "ctx_nvic: IRQControllers.NVIC @ sysbus 0xE000E000\n    systickFrequency: 168000000\n",
    "ctx_rtc": "ctx_rtc: Timers.STM32F4_RTC @ sysbus 0x40002800\n",
    "ctx_flash": "ctx_flash: Memory.MappedMemory @ sysbus 0x08000000\n    size: 0x1000\n",
    "ctx_can": "ctx_can: CAN.STMCAN @ sysbus <0x40006400, +0x400>\n",
    "ctx_mac": "ctx_mac: Network.SynopsysEthernetMAC @ sysbus 0x40028000\n",
    "ctx_port": "ctx_port: GPIOPort.STM32_GPIOPort @ sysbus <0x40020000, +0x400>\n",
    "ctx_phy": "ctx_phy: Network.EthernetPhysicalLayer @ subject 0\n",
}


def _literal(param: Param, value: object) -> str:
    """A default value as a .repl writes it (`empty` for null)."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return hex(value)
    return str(value)


def _property_sample(rtype: RenodeType, name: str, prop: Param) -> str:
    if (rtype.name, name) in PROPERTY_SAMPLES:
        return PROPERTY_SAMPLES[rtype.name, name]
    if prop.kind == "bool":
        return "false"
    if prop.kind == "enum":
        return prop.choices[0]
    return "1"


def _registration(rtype: RenodeType, point: bool | None = None) -> str:
    if rtype.registration == "cpu":
        return "sysbus"
    if rtype.registration == "none":
        return "none"
    if rtype.registration == "ethernet":
        return "ctx_mac 0"
    if rtype.registration == "gpio":
        return "ctx_port"
    address = {"IRQControllers.NVIC": 0xE000E000, "Memory.MappedMemory": 0x60000000}.get(rtype.name, 0x50000000)
    point = rtype.point_registration if point is None else point
    return f"sysbus {address:#x}" if point else f"sysbus <{address:#x}, +0x400>"


def _inspect_path(rtype: RenodeType) -> str | None:
    return {"sysbus": "sysbus.subject", "cpu": "sysbus.subject", "ethernet": "sysbus.ctx_mac.subject",
            "gpio": "sysbus.ctx_port.subject"}.get(rtype.registration)


def _minimal_attributes(rtype: RenodeType) -> dict[str, str]:
    values = {name: SAMPLES[rtype.name, name] for name, p in rtype.params.items() if p.required}
    for name in rtype.exactly_one_of[:1]:
        values[name] = SAMPLES[rtype.name, name]
    values.update(NEEDS.get(rtype.name, {}))
    return values


def _platform(rtype: RenodeType, attributes: dict[str, str], lines: tuple[str, ...] | list[str] = (),
              registration: str | None = None, extra: str = "") -> str:
    body = f"subject: {rtype.name} @ {registration or _registration(rtype)}\n"
    body += "".join(f"    {name}: {value}\n" for name, value in attributes.items())
    body += "".join(f"    {line}\n" for line in lines)
    text = body + extra
    needed = ["ctx_sink"] + [name for name in CONTEXT if name != "ctx_sink" and re.search(rf"\b{name}\b", text)]
    if rtype.name == "Network.SynopsysEthernetMAC":
        needed.append("ctx_phy")
    return "".join(CONTEXT[name] for name in dict.fromkeys(needed)) + text


@dataclass(frozen=True)
class Case:
    id: str
    repl: str
    error: str | None                       # None: Renode loads it; else the error code it refuses it with
    inspect: str | None = None              # the entry whose size and numbered outputs are read back
    rtype: RenodeType | None = None
    checker_agrees: bool = True             # False: checker and Renode differ on purpose (see the case)


def _cases_for(rtype: RenodeType) -> list[Case]:
    name = rtype.name
    minimal = _minimal_attributes(rtype)
    cases = []

    everything = dict(minimal)
    for param_name, param in rtype.params.items():
        if param_name not in everything:
            everything[param_name] = SAMPLES.get((name, param_name)) or _literal(param, param.default)
    if rtype.exactly_one_of:                 # the others of the group stay unset
        for other in rtype.exactly_one_of[1:]:
            everything.pop(other, None)
    for prop_name, prop in rtype.properties.items():
        everything[prop_name] = _property_sample(rtype, prop_name, prop)
    lines = [f"{output} -> ctx_sink@{i}" for i, output in enumerate(rtype.outputs)]
    if rtype.numbered_outputs:
        lines.append(f"{rtype.numbered_outputs - 1} -> ctx_sink@{len(lines)}")
    cases.append(Case(f"{name}: everything it documents", _platform(rtype, everything, lines), None,
                      _inspect_path(rtype), rtype))

    cases.append(Case(f"{name}: an unknown constructor parameter",
                      _platform(rtype, {**minimal, "bogusParameter": "1"}), "E25"))
    cases.append(Case(f"{name}: an unknown property",
                      _platform(rtype, {**minimal, "BogusProperty": "1"}), "E10",
                      # the catalogue lists only some of the CPU's properties: the checker cannot know
                      checker_agrees=rtype.all_properties))
    cases.append(Case(f"{name}: an unknown output",
                      _platform(rtype, minimal, ["BogusOutput -> ctx_sink@0"]), "E13"))
    default_error = None if rtype.default_output else ("E15" if rtype.outputs else "E13")
    cases.append(Case(f"{name}: the default output",
                      _platform(rtype, minimal, ["-> ctx_sink@0"]), default_error))
    beyond = rtype.numbered_outputs
    cases.append(Case(f"{name}: numbered output {beyond}",
                      _platform(rtype, minimal, [f"{beyond} -> ctx_sink@0"]),
                      "E43" if rtype.numbered_outputs else "E14"))
    cases.append(Case(f"{name}: as an interrupt destination",
                      _platform(rtype, minimal, extra="ctx_sink:\n    -> subject@0\n"),
                      None if rtype.irq_receiver else "E12"))
    if rtype.irq_receiver:
        cases.append(Case(f"{name}: as a local interrupt destination",
                          _platform(rtype, minimal, extra="ctx_sink:\n    -> subject#1@0\n"),
                          None if rtype.local_irq_receiver else "E18"))
    if rtype.registration == "sysbus" and not rtype.point_registration:
        cases.append(Case(f"{name}: at a bare address",
                          _platform(rtype, minimal, registration=_registration(rtype, point=True)), "E21"))
    for param_name, param in rtype.params.items():
        if param.required:
            without = {k: v for k, v in minimal.items() if k != param_name}
            cases.append(Case(f"{name}: without {param_name}", _platform(rtype, without), "E25"))
        if param.kind in ("enum", "string") and param.choices:
            for choice in param.choices:
                if (name, param_name, choice) in NOT_LOADED:
                    continue
                value = f'"{choice}"' if param.kind == "string" else choice
                cases.append(Case(f"{name}: {param_name} {value}",
                                  _platform(rtype, {**minimal, param_name: value}), None,
                                  checker_agrees=choice != "cortex-m4f"))
            bogus = '"bogus"' if param.kind == "string" else f"{param.choices[0].rsplit('.', 1)[0]}.Bogus"
            cases.append(Case(f"{name}: {param_name} {bogus}",
                              _platform(rtype, {**minimal, param_name: bogus}),
                              "E38" if param.kind == "string" else "E25"))
        if param.alias:
            cases.append(Case(f"{name}: {param_name} by its alias {param.alias}",
                              _platform(rtype, {**minimal, param.alias: "0x1"}), None))
    return cases


def _special_cases() -> list[Case]:
    nvic = catalogue.TYPES["IRQControllers.NVIC"]
    gpio = catalogue.TYPES["GPIOPort.STM32_GPIOPort"]
    python = catalogue.TYPES["Python.PythonPeripheral"]
    mac = catalogue.TYPES["Network.SynopsysEthernetMAC"]
    cases = [
        Case("our platform file", DEFAULT_REPL.read_text(), None),
        Case("the documented fixture", DOCUMENTED.read_text(), None),
        Case("a byte parameter past 0xFF",
             _platform(nvic, {**_minimal_attributes(nvic), "priorityMask": "0x100"}), "refused"),
        Case("a GPIO port with 17 alternate functions",
             _platform(gpio, {"numberOfAFs": "17"}), "E38"),
        Case("a GPIO port with no alternate function", _platform(gpio, {"numberOfAFs": "0"}), "E38"),
        Case("a Python peripheral with neither script nor filename",
             _platform(python, {"size": "0x100"}), "E38"),
        Case("a Python peripheral with both script and filename",
             _platform(python, {"size": "0x100", "script": '"pass"', "filename": '"x.py"'}), "E38"),
        Case("a constructor parameter set to none",
             _platform(gpio, {"numberOfAFs": "none"}), "refused"),
        Case("the MAC's MAC property from a string",
             _platform(mac, {"MAC": '"00:11:22:33:44:55"'}), "E06"),
    ]
    timer = catalogue.TYPES["Timers.STM32_Timer"]
    cases.append(Case("a property set to an enum value its type lacks",
                      _platform(timer, {**_minimal_attributes(timer), "Direction": "Direction.Sideways"}), "E23"))
    uart = catalogue.TYPES["UART.STM32_UART"]
    cases.append(Case("a uint parameter past 0xFFFFFFFF",
                      _platform(uart, {"frequency": "0x100000000"}), "refused"))
    cases.append(Case("a constructor parameter set to none in an update",
                      _platform(uart, {"frequency": "84000000"}, extra="subject:\n    frequency: none\n"),
                      "refused"))
    for master in catalogue.MASTER_ONLY:
        cases.append(Case(f"the master-only type {master}", f"subject: {master} @ sysbus 0x50000000\n", "E04"))
    return cases


CASES = [case for rtype in catalogue.TYPES.values() for case in _cases_for(rtype)] + _special_cases()


# --- Renode's answers ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def renode(tmp_path_factory) -> dict:
    if not AVAILABLE:                        # (module fixtures run before the autouse check)
        pytest.fail(f"SIM_REQUIRE_RENODE is set but {REASON}")
    work = tmp_path_factory.mktemp("renode-probe")
    request, answer = work / "request.json", work / "answer.json"
    request.write_text(json.dumps({
        "types": sorted(catalogue.TYPES),
        "cases": [{"id": c.id, "repl": c.repl, "inspect": [c.inspect] if c.inspect else []} for c in CASES]}))
    try:
        result = subprocess.run([sys.executable, str(PROBE), str(request), str(answer)],
                                capture_output=True, text=True, timeout=PROBE_WALL_LIMIT_S, cwd=work,
                                check=False)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the Renode probe did not finish within {PROBE_WALL_LIMIT_S} s: {exc.stderr!r}")
    if result.returncode != 0 or not answer.is_file():
        pytest.fail(f"the Renode probe failed (exit {result.returncode}):\n{result.stderr[-3000:]}")
    return json.loads(answer.read_text())


def _renode_default_output(found: dict) -> str | None:
    """Renode's rule (CreationDriver): the only GPIO property, else the one [DefaultInterrupt] marks."""
    if len(found["gpio"]) == 1:
        return found["gpio"][0]
    return found["default_gpio"][0] if len(found["default_gpio"]) == 1 else None


@pytest.mark.parametrize("name", sorted(catalogue.TYPES))
def test_the_catalogue_entry_is_the_type_renode_loads(renode, name):
    rtype = catalogue.TYPES[name]
    found = renode["types"][name]
    assert found["found"], f"Renode has no type Antmicro.Renode.Peripherals.{name}"
    assert len(found["constructors"]) == 1, found["constructors"]
    renode_params = {p["name"]: p for p in found["constructors"][0]}
    assert list(renode_params) == list(rtype.params), "constructor parameters (in order)"
    for param_name, param in rtype.params.items():
        theirs = renode_params[param_name]
        assert theirs["type"] == param.ctype, param_name
        assert theirs["required"] == param.required, param_name
        if not param.required:
            assert theirs["default"] == param.default, param_name
        assert theirs["alias"] == param.alias, param_name
        if "choices" in theirs:
            assert sorted(theirs["choices"]) == sorted(param.choices), param_name
    theirs = found["properties"]
    ours = {k: v.ctype for k, v in rtype.properties.items()}
    if rtype.all_properties:
        assert ours == {k: v["type"] for k, v in theirs.items()}
    else:
        assert ours == {k: theirs[k]["type"] for k in ours if k in theirs}
    for prop_name, prop in rtype.properties.items():
        assert sorted(theirs[prop_name]["choices"]) == sorted(prop.choices), prop_name
    assert sorted(rtype.outputs) == found["gpio"]
    assert rtype.default_output == _renode_default_output(found)
    assert bool(rtype.numbered_outputs) == found["numbered"]
    assert rtype.irq_receiver == found["receiver"]
    assert rtype.local_irq_receiver == found["local_receiver"]
    assert rtype.point_registration == found["known_size"]


def _error_code(message: str) -> str | None:
    match = re.search(r"\bError (E\d+)", message)
    return match.group(1) if match else None


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_renode_accepts_exactly_what_the_catalogue_says(renode, case):
    answer = renode["cases"][case.id]
    if case.error is None:
        assert answer["ok"], f"Renode refused:\n{case.repl}\n{answer['error']}"
    else:
        assert not answer["ok"], f"Renode accepted what the catalogue says it refuses:\n{case.repl}"
        if case.error != "refused":
            assert _error_code(answer["error"]) == case.error, answer["error"]
    if case.inspect:
        read_back = answer["inspect"][case.inspect]
        assert read_back["found"], case.inspect
        rtype = case.rtype
        expected_size = rtype.size
        if rtype.size_param:
            expected_size = int(SAMPLES[rtype.name, rtype.size_param], 0)
        assert read_back["size"] == expected_size, "IKnownSize.Size"
        assert read_back["connections"] == (rtype.numbered_outputs or None), "numbered outputs"


@pytest.mark.parametrize("case", [c for c in CASES if c.checker_agrees], ids=lambda c: c.id)
def test_the_checker_refuses_what_renode_refuses(renode, case, tmp_path):
    path = tmp_path / "case.repl"
    path.write_text(case.repl)
    found = errors(check_repl(path))
    renode_ok = renode["cases"][case.id]["ok"]
    if renode_ok:
        assert found == [], "\n".join(map(str, found))
    else:
        assert found, f"Renode refused it, the checker did not:\n{renode['cases'][case.id]['error']}"
