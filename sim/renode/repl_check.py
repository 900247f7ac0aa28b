"""Check a platform file against Renode 1.16.1's peripheral types (sim.renode.catalogue).

Two kinds of finding:
- error: Renode 1.16.1 refuses the file (a master-only type name, an attribute, output or
  registration the type does not have, a missing required parameter, a value its C# type cannot
  hold; Renode's error code is named where there is one), or loads it into a machine our firmware
  cannot use (no PHY, SysTick or UART clocks at Renode's defaults, a network download at load time);
- undocumented: something the catalogue does not cover (a type it does not list, a CPU property
  outside the ones it lists, an init statement other than Tag and ApplySVD). It may well load;
  nothing here can show it, so it is reported with its line for a human to confirm in Renode.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sim.renode import catalogue
from sim.renode.catalogue import Param, RenodeType
from sim.renode.repl_scan import Entry, ReplFile, load

ERROR = "error"
UNDOCUMENTED = "undocumented"

_NUMBER = r"-?(?:0[xX][0-9a-fA-F_]+|[0-9][0-9_]*)"
_INT = re.compile(rf"^{_NUMBER}$")
_IDENT = re.compile(r"^[A-Za-z_]\w*$")
_POINT = re.compile(r"^sysbus\s+(0[xX][0-9a-fA-F_]+|[0-9][0-9_]*)$")
_RANGE = re.compile(r"^sysbus\s+<\s*(0[xX][0-9a-fA-F_]+|\d+)\s*,\s*\+?\s*(0[xX][0-9a-fA-F_]+|\d+)\s*>$")
_TARGET = re.compile(r"^([A-Za-z_]\w*)(#\d+)?\s*@\s*(.+)$")
_TAG = re.compile(r'^Tag\s+<\s*(0[xX][0-9a-fA-F_]+|\d+)\s*,\s*\+?\s*(0[xX][0-9a-fA-F_]+|\d+)\s*>\s+"[^"]*"'
                  r'(\s+(0[xX][0-9a-fA-F_]+|\d+)(\s+(true|false)){0,3})?$')


@dataclass(frozen=True)
class Finding:
    path: Path
    line: int
    entry: str
    severity: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.severity}: {self.entry}: {self.message}"


def _int(text: str) -> int | None:
    text = text.strip()
    if not _INT.match(text):
        return None
    sign = -1 if text.startswith("-") else 1
    return sign * int(text.lstrip("-").replace("_", ""), 0)


def _enum_matches(value: str, choices: tuple[str, ...]) -> bool:
    """`STM32Series.F4` (or with its namespace in front) against the choice `STM32Series.F4`."""
    parts = value.split(".")
    for choice in choices:
        type_name, _, member = choice.rpartition(".")
        if parts[-1] == member and (len(parts) == 1 or parts[-2] in ("", type_name)):
            return True
    return False


class _Checker:
    def __init__(self, repl: ReplFile) -> None:
        self.repl = repl
        self.findings: list[Finding] = []
        self.types: dict[str, str] = dict(catalogue.BUILTIN_ENTRIES)
        for entry in repl.entries:
            if entry.type is not None:
                self.types[entry.name] = entry.type

    def report(self, entry: Entry | None, line: int, severity: str, message: str) -> None:
        name = entry.name if entry is not None else "-"
        self.findings.append(Finding(self.repl.path, line, name, severity, message))

    def type_of(self, name: str) -> RenodeType | None:
        type_name = self.types.get(name)
        return catalogue.lookup(type_name) if type_name else None

    def value_of(self, name: str, attribute: str) -> str | None:
        """The value an entry ends up with for an attribute (the last one written wins)."""
        values = [a.value for e in self.repl.by_name(name) for a in e.attributes if a.name == attribute]
        return values[-1] if values else None

    # --- the whole file ---------------------------------------------------------------------
    def run(self) -> list[Finding]:
        for line, target in self.repl.usings:
            self.findings.append(Finding(
                self.repl.path, line, "-", ERROR,
                f"`using {target}`: the platform file must be self-contained (Renode's own "
                f"platforms/cpus/stm32f4.repl applies an SVD file from a URL when it is loaded, and "
                f"its type names change after {catalogue.RENODE_VERSION})"))
        for entry in self.repl.entries:
            self.check_entry(entry)
        self.check_required_parameters()
        self.check_platform_needs()
        return self.findings

    def check_entry(self, entry: Entry) -> None:
        if entry.type is None:
            if entry.name not in self.types:
                self.report(entry, entry.line, ERROR,
                            f"updates '{entry.name}', which no entry in this self-contained file creates")
            rtype = self.type_of(entry.name)
        else:
            if entry.type in catalogue.MASTER_ONLY:
                self.report(entry, entry.line, ERROR,
                            f"type {entry.type} exists only on Renode master, after "
                            f"{catalogue.RENODE_VERSION}; Renode {catalogue.RENODE_VERSION} does not "
                            f"know it (E04); use {catalogue.MASTER_ONLY[entry.type]}")
                return
            rtype = catalogue.lookup(entry.type)
            if rtype is None:
                self.report(entry, entry.line, UNDOCUMENTED,
                            f"type {entry.type} is not in the catalogue of Renode "
                            f"{catalogue.RENODE_VERSION} types (sim/renode/catalogue.py); load the file "
                            f"in Renode to confirm it (documented: {', '.join(sorted(catalogue.TYPES))})")
                return
            if sum(1 for e in self.repl.entries if e.name == entry.name and e.type) > 1:
                self.report(entry, entry.line, ERROR, f"'{entry.name}' is created twice")
            self.check_registration(entry, rtype)
        if entry.name == "sysbus":
            self.check_sysbus_init(entry)
        elif entry.init:
            for line, statement in entry.init:
                self.report(entry, line, UNDOCUMENTED,
                            f"init statement {statement!r}: the catalogue covers init blocks only for sysbus")
        if rtype is None:
            return
        for attribute in entry.attributes:
            self.check_attribute(entry, rtype, attribute.name, attribute.value, attribute.line)
        self.check_exclusive_parameters(entry, rtype)
        for connection in entry.connections:
            self.check_connection(entry, rtype, connection.source, connection.targets, connection.line)

    # --- registrations ------------------------------------------------------------------------
    def check_registration(self, entry: Entry, rtype: RenodeType) -> None:
        reg = entry.registration
        if reg is None:
            self.report(entry, entry.line, ERROR,
                        f"{rtype.name} is created but not registered anywhere (add '@ ...')")
            return
        reg = re.sub(r'\s+as\s+"[^"]*"$', "", reg.strip())
        kind = rtype.registration
        if kind == "none":
            if reg != "none":
                self.report(entry, entry.line, ERROR,
                            f"{rtype.name} is no bus peripheral; it is registered '@ none', not '@ {reg}'")
        elif kind == "cpu":
            if reg != "sysbus":
                self.report(entry, entry.line, ERROR, f"the CPU is registered '@ sysbus' with no address, not '@ {reg}'")
        elif kind == "ethernet":
            parts = reg.split()
            mac = self.type_of(parts[0]) if parts else None
            address = _int(parts[1]) if len(parts) == 2 else None
            if mac is None or mac.name != "Network.SynopsysEthernetMAC" or address is None:
                self.report(entry, entry.line, ERROR,
                            f"a PHY is registered '@ <ethernet MAC entry> <MDIO address>', not '@ {reg}'")
            elif not 0 <= address <= 31:
                # the MAC takes the PHY address from 5 bits of MACMIIAR (RM0090, ETH_MACMIIAR.PA)
                self.report(entry, entry.line, ERROR, f"MDIO PHY address {address} is outside 0..31")
        elif kind == "gpio":
            parts = reg.split()
            port = self.type_of(parts[0]) if parts else None
            if port is None or port.name != "GPIOPort.STM32_GPIOPort":
                self.report(entry, entry.line, ERROR,
                            f"{rtype.name} is registered on a GPIO port entry ('@ gpioPortD'), not '@ {reg}'")
        else:
            self.check_bus_registration(entry, rtype, reg)

    def check_bus_registration(self, entry: Entry, rtype: RenodeType, reg: str) -> None:
        if reg.startswith("{"):
            parts = [p.strip() for p in reg.strip("{}").split(";") if p.strip()]
        else:
            parts = [reg]
        for part in parts:
            if _RANGE.match(part) or part.startswith("sysbus new Bus.BusMultiRegistration"):
                continue
            if not _POINT.match(part):
                self.report(entry, entry.line, ERROR,
                            f"'@ {part}' is not a sysbus registration ('@ sysbus 0xADDR' or "
                            f"'@ sysbus <0xADDR, +0xSIZE>')")
            elif not rtype.point_registration:
                self.report(entry, entry.line, ERROR,
                            f"{rtype.name} does not know its size (it is not IKnownSize, "
                            f"{rtype.source}), so Renode cannot register it at a bare address (E21); "
                            f"give the range, '@ sysbus <0xADDR, +0xSIZE>'")

    # --- attributes ---------------------------------------------------------------------------
    def parameter(self, rtype: RenodeType, name: str) -> tuple[str, Param] | None:
        """The constructor parameter an attribute names, by its name or its alias."""
        if name in rtype.params:
            return name, rtype.params[name]
        for canonical, param in rtype.params.items():
            if param.alias == name:
                return canonical, param
        return None

    def check_attribute(self, entry: Entry, rtype: RenodeType, name: str, value: str, line: int) -> None:
        if not name:
            self.report(entry, line, ERROR, f"cannot read {value!r} as 'attribute: value' or a '->' connection")
            return
        if name[0].isupper():
            prop = rtype.properties.get(name)
            if prop is None:
                listed = ", ".join(sorted(rtype.properties)) or "none"
                if rtype.all_properties:
                    self.report(entry, line, ERROR,
                                f"{rtype.name} has no property {name} a .repl can set; Renode refuses "
                                f"it (E10). Settable: {listed} ({rtype.source})")
                else:
                    self.report(entry, line, UNDOCUMENTED,
                                f"property {name} of {rtype.name} is not among those the catalogue "
                                f"lists ({listed}); load the file in Renode to confirm it ({rtype.source})")
                return
            problem = self.value_problem(prop, value, is_property=True)
            if problem:
                self.report(entry, line, ERROR, f"{name}: {problem}")
            return
        found = self.parameter(rtype, name)
        if found is None:
            self.report(entry, line, ERROR,
                        f"{rtype.name} has no constructor parameter {name}, so Renode finds no "
                        f"constructor for the entry (E25); its constructor is {rtype.constructor} "
                        f"({rtype.source})")
            return
        problem = self.value_problem(found[1], value)
        if problem:
            self.report(entry, line, ERROR, f"{name}: {problem}")

    def value_problem(self, param: Param, value: str, is_property: bool = False) -> str | None:
        value = value.strip()
        if value == "none" and not is_property:
            # CreationDriver ignores `x: none` when it picks the constructor, then fails to fill the
            # parameter from it ("Internal error during processing in function
            # 'PrepareConstructorParameters'")
            return ("Renode 1.16.1 cannot pass none to a constructor (an internal error in "
                    "PrepareConstructorParameters); leave the parameter out for its default")
        if value in ("none", "empty"):
            return "a required parameter cannot be empty" if param.required and not is_property else None
        kind = param.kind
        if kind == "int":
            number = _int(value)
            if number is None:
                return f"{value!r} is not a number"
            low, high = catalogue.INTEGER_RANGES[param.ctype.rstrip("?")]
            if not low <= number <= high:
                return f"{value} does not fit a C# {param.ctype.rstrip('?')} ({low:#x}..{high:#x}); Renode cannot convert it"
            if param.bounds and not param.bounds[0] <= number <= param.bounds[1]:
                return (f"{value} is outside {param.bounds[0]}..{param.bounds[1]}, which the model's "
                        f"constructor refuses (E38)")
            return None
        if kind == "bool":
            return None if value in ("true", "false") else f"{value!r} is not true/false"
        if kind == "string":
            if not value.startswith(('"', "'''")):
                return f"{value!r} is not a string"
            if param.choices and value.strip("\"'") not in param.choices:
                return f"{value} is not one of {', '.join(param.choices)}"
            return None
        if kind == "ref":
            if not _IDENT.match(value) or value not in self.types:
                return f"{value!r} does not name an entry of this file"
            target = self.types[value]
            if param.refs and catalogue.lookup(target) is not None and catalogue.lookup(target).name not in param.refs:
                return f"'{value}' is a {target}, expected {' or '.join(param.refs)}"
            return None
        if kind == "enum":
            if _enum_matches(value, param.choices):
                return None
            # a property's value is converted on its own (E23); a parameter's while the
            # constructor is chosen, which then finds none (E25)
            return f"{value} is not one of {', '.join(param.choices)} ({'E23' if is_property else 'E25'})"
        if kind == "list":
            return None if value.startswith("[") else f"{value!r} is not a list"
        return None

    def given_parameters(self, name: str, rtype: RenodeType) -> set[str]:
        """The constructor parameters an entry's attributes give (aliases resolved; `none` counts)."""
        given = set()
        for entry in self.repl.by_name(name):
            for attribute in entry.attributes:
                found = self.parameter(rtype, attribute.name)
                if found is not None:
                    given.add(found[0])
        return given

    def check_exclusive_parameters(self, entry: Entry, rtype: RenodeType) -> None:
        if not rtype.exactly_one_of or entry.type is None:
            return
        given = [p for p in rtype.exactly_one_of                 # `empty` is null for a string
                 if self.value_of(entry.name, p) not in (None, "none", "empty")]
        if len(given) != 1:
            self.report(entry, entry.line, ERROR,
                        f"{rtype.name} needs exactly one of {', '.join(rtype.exactly_one_of)} "
                        f"(given: {', '.join(given) or 'none'}); its constructor refuses the entry (E38)")

    def check_required_parameters(self) -> None:
        for name, type_name in self.types.items():
            rtype = catalogue.lookup(type_name)
            created = self.repl.created(name)
            if rtype is None or created is None:
                continue
            given = self.given_parameters(name, rtype)
            for param_name, param in rtype.params.items():
                if param.required and param_name not in given:
                    self.report(created, created.line, ERROR,
                                f"{rtype.name} needs the constructor parameter '{param_name}' "
                                f"(E25 without it): {rtype.constructor}")

    # --- interrupts ---------------------------------------------------------------------------
    def numbered_outputs(self, entry: Entry, rtype: RenodeType) -> int:
        if rtype.numbered_outputs_param:
            given = self.value_of(entry.name, rtype.numbered_outputs_param)
            count = _int(given) if given is not None else None
            if count is not None:
                return count
        return rtype.numbered_outputs

    def check_connection(self, entry: Entry, rtype: RenodeType, source: str, targets: str, line: int) -> None:
        source = source.strip()
        outputs = ", ".join(rtype.outputs) or "none"
        if source == "":
            if not rtype.outputs:
                self.report(entry, line, ERROR, f"{rtype.name} has no GPIO output to connect (E13)")
            elif rtype.default_output is None:
                self.report(entry, line, ERROR,
                            f"{rtype.name} has no default output, so Renode refuses '-> ...' (E15); "
                            f"name one of its outputs: {outputs}")
        elif source[0].isdigit():
            count = self.numbered_outputs(entry, rtype)
            if not count:
                self.report(entry, line, ERROR,
                            f"{rtype.name} has no numbered outputs (it is not an INumberedGPIOOutput, "
                            f"E14); its outputs: {outputs}")
            elif int(source) >= count:
                self.report(entry, line, ERROR,
                            f"output {source} is beyond {rtype.name}'s {count} numbered outputs (E43)")
        elif source not in rtype.outputs:
            self.report(entry, line, ERROR,
                        f"{rtype.name} has no output {source} (E13); its outputs: {outputs}")
        if targets.strip() == "none":
            return
        for target in (t.strip() for t in targets.split("|")):
            match = _TARGET.match(target)
            if not match:
                self.report(entry, line, ERROR, f"connection target {target!r} is not 'entry@input'")
                continue
            dest = match.group(1)
            if dest not in self.types:
                self.report(entry, line, ERROR, f"connection target '{dest}' is not an entry of this file")
                continue
            dtype = self.type_of(dest)
            if dtype is None:
                continue
            if not dtype.irq_receiver:
                self.report(entry, line, ERROR, f"'{dest}' ({dtype.name}) does not receive interrupts (E12)")
            elif match.group(2) and not dtype.local_irq_receiver:
                self.report(entry, line, ERROR,
                            f"'{dest}{match.group(2)}': {dtype.name} has no local receivers (E18)")

    # --- the sysbus init block ----------------------------------------------------------------
    def check_sysbus_init(self, entry: Entry) -> None:
        for line, statement in entry.init:
            for part in (s.strip() for s in statement.split(";")):
                if not part:
                    continue
                command = part.split()[0]
                if command == "ApplySVD":
                    # a URL scheme after '@' (a parser may have cut the rest off as a `//` comment)
                    if re.search(r"@\s*[A-Za-z][\w+.-]*:", part):
                        self.report(entry, line, ERROR,
                                    "ApplySVD from a URL downloads the file at load time and fails offline")
                elif command == "Tag":
                    if not _TAG.match(part):
                        self.report(entry, line, ERROR,
                                    f"{part!r} is not 'Tag <0xBEGIN, 0xEND> \"name\" [value]' "
                                    f"(SystemBus.Tag)")
                else:
                    self.report(entry, line, UNDOCUMENTED,
                                f"sysbus init statement {part!r}: the catalogue covers only "
                                f"{' and '.join(catalogue.SYSBUS_INIT_COMMANDS)} there")

    # --- what our firmware needs from the machine ---------------------------------------------
    def check_platform_needs(self) -> None:
        def created_of(type_name: str) -> list[Entry]:
            return [e for e in self.repl.entries if e.type and catalogue.lookup(e.type)
                    and catalogue.lookup(e.type).name == type_name]

        nvic_type = catalogue.TYPES["IRQControllers.NVIC"]
        for nvic in created_of("IRQControllers.NVIC"):
            if self.value_of(nvic.name, "systickFrequency") is None:
                self.report(nvic, nvic.line, ERROR,
                            f"no systickFrequency: Renode's SysTick then ignores the RCC and runs at "
                            f"the constructor's default, {nvic_type.params['systickFrequency'].default} Hz "
                            f"({nvic_type.source}), so FreeRTOS ticks run at the wrong rate; set it to "
                            f"the core clock")
        macs = created_of("Network.SynopsysEthernetMAC")
        phys = created_of("Network.EthernetPhysicalLayer")
        for mac in macs:
            if not any((p.registration or "").split()[:1] == [mac.name] for p in phys):
                self.report(mac, mac.line, ERROR,
                            f"no PHY registered '@ {mac.name} <address>': the MAC's MDIO reads find no "
                            f"PHY and the driver never sees a link")
        uart_type = catalogue.TYPES["UART.STM32_UART"]
        for uart in created_of("UART.STM32_UART"):
            if self.value_of(uart.name, "frequency") is None:
                self.report(uart, uart.line, ERROR,
                            f"no frequency: Renode computes the baud rate from the constructor's default, "
                            f"{uart_type.params['frequency'].default} Hz ({uart_type.source}), not from "
                            f"the bus clock")
        for cpu in created_of("CPU.CortexM"):
            cpu_type = cpu.attribute("cpuType")
            if cpu_type and cpu_type.value.strip('"') == "cortex-m4f":
                self.report(cpu, cpu_type.line, ERROR,
                            'cpuType "cortex-m4f" gives the CPUID of a Cortex-M7 in Renode (tlib '
                            'arch/arm/helper.c, arm_cpu_names); "cortex-m4" already has the FPU')


def check_repl(path: str | Path) -> list[Finding]:
    """Every finding for one platform file, in file order (read by sim.platform's parser)."""
    return check_parsed(load(path))


def check_parsed(repl: ReplFile) -> list[Finding]:
    findings = _Checker(repl).run()
    return sorted(findings, key=lambda f: (f.line, f.severity, f.message))


def errors(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == ERROR]
