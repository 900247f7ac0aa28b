"""Check a platform file against Renode 1.16.1 as documented (sim.renode.catalogue).

Two kinds of finding:
- error: Renode 1.16.1 will refuse the file, or load it into a machine our firmware cannot use
  (master-only type names, a missing required parameter, no PHY, SysTick at Renode's default
  frequency, a network download at load time, ...);
- undocumented: something the facts file does not document for 1.16.1. It may well load, but
  nothing here can show it, so it is reported with its line for a human to confirm.
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

_INT = re.compile(r"^(0[xX][0-9a-fA-F_]+|[0-9][0-9_]*)$")
_IDENT = re.compile(r"^[A-Za-z_]\w*$")
_POINT = re.compile(r"^sysbus\s+(0[xX][0-9a-fA-F_]+|[0-9][0-9_]*)$")
_RANGE = re.compile(r"^sysbus\s+<\s*(0[xX][0-9a-fA-F_]+|\d+)\s*,\s*\+?\s*(0[xX][0-9a-fA-F_]+|\d+)\s*>$")
_TARGET = re.compile(r"^([A-Za-z_]\w*)(#\d+)?\s*@\s*(.+)$")
_TAG = re.compile(r'^Tag\s+<\s*(0[xX][0-9a-fA-F_]+|\d+)\s*,\s*\+?\s*(0[xX][0-9a-fA-F_]+|\d+)\s*>\s+"[^"]*"(\s+(0[xX][0-9a-fA-F_]+|\d+))?$')


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
    return int(text.replace("_", ""), 0)


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

    # --- the whole file ---------------------------------------------------------------------
    def run(self) -> list[Finding]:
        for line, target in self.repl.usings:
            self.findings.append(Finding(
                self.repl.path, line, "-", ERROR,
                f"`using {target}`: the platform file must be self-contained (Renode's own "
                f"stm32f4.repl downloads an SVD at load time, §8 quirk 1, and its names change "
                f"between releases, §8 quirk 11)"))
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
                            f"type {entry.type} exists only on Renode master, after 1.16.1; use "
                            f"{catalogue.MASTER_ONLY[entry.type]} (§1.3, §8 quirk 11)")
                return
            rtype = catalogue.lookup(entry.type)
            if rtype is None:
                self.report(entry, entry.line, UNDOCUMENTED,
                            f"type {entry.type} is not documented for Renode 1.16.1 in the facts "
                            f"(documented: {', '.join(sorted(catalogue.TYPES))})")
                return
            if sum(1 for e in self.repl.entries if e.name == entry.name and e.type) > 1:
                self.report(entry, entry.line, ERROR, f"'{entry.name}' is created twice")
            self.check_registration(entry, rtype)
        if entry.name == "sysbus":
            self.check_sysbus_init(entry)
        elif entry.init:
            for line, statement in entry.init:
                self.report(entry, line, UNDOCUMENTED,
                            f"init statement {statement!r}: the facts document init blocks only for sysbus")
        if rtype is None:
            return
        for attribute in entry.attributes:
            self.check_attribute(entry, rtype, attribute.name, attribute.value, attribute.line)
        for connection in entry.connections:
            self.check_connection(entry, rtype, connection.source, connection.targets, connection.line)

    # --- registrations (§1.1) -----------------------------------------------------------------
    def check_registration(self, entry: Entry, rtype: RenodeType) -> None:
        reg = entry.registration
        if reg is None:
            self.report(entry, entry.line, ERROR,
                        f"{rtype.name} is created but not registered anywhere (add '@ ...', §1.1)")
            return
        reg = re.sub(r'\s+as\s+"[^"]*"$', "", reg.strip())
        kind = rtype.registration
        if kind == "none":
            if reg != "none":
                self.report(entry, entry.line, ERROR, f"{rtype.name} is registered '@ none' (§1.3), not '@ {reg}'")
        elif kind == "cpu":
            if reg != "sysbus":
                self.report(entry, entry.line, ERROR, f"the CPU is registered '@ sysbus' with no address (§1.1), not '@ {reg}'")
        elif kind == "ethernet":
            parts = reg.split()
            mac = self.type_of(parts[0]) if parts else None
            address = _int(parts[1]) if len(parts) == 2 else None
            if mac is None or mac.name != "Network.SynopsysEthernetMAC" or address is None:
                self.report(entry, entry.line, ERROR,
                            f"a PHY is registered '@ <ethernet MAC entry> <MDIO address>' (§1.1), not '@ {reg}'")
            elif not 0 <= address <= 31:
                self.report(entry, entry.line, ERROR, f"MDIO PHY address {address} is outside 0..31")
        elif kind == "gpio":
            parts = reg.split()
            port = self.type_of(parts[0]) if parts else None
            if port is None or port.name != "GPIOPort.STM32_GPIOPort":
                self.report(entry, entry.line, ERROR, f"{rtype.name} is registered on a GPIO port entry (§1.4), not '@ {reg}'")
        else:
            self.check_bus_registration(entry, rtype, reg)

    def check_bus_registration(self, entry: Entry, rtype: RenodeType, reg: str) -> None:
        if reg.startswith("{"):
            for part in (p.strip() for p in reg.strip("{}").split(";")):
                if part and not (_POINT.match(part) or _RANGE.match(part) or part.startswith("sysbus new Bus.BusMultiRegistration")):
                    self.report(entry, entry.line, ERROR, f"registration {part!r} is not '@ sysbus ADDRESS' or a range (§1.1)")
            return
        point, ranged = _POINT.match(reg), _RANGE.match(reg)
        if ranged:
            return
        if not point:
            self.report(entry, entry.line, ERROR,
                        f"'@ {reg}' is not a sysbus registration ('@ sysbus 0xADDR' or '@ sysbus <0xADDR, +0xSIZE>', §1.1)")
            return
        if not rtype.point_registration:
            self.report(entry, entry.line, UNDOCUMENTED,
                        f"point registration of {rtype.name}: the facts show it registered with an "
                        f"explicit range ('@ sysbus <0xADDR, +0xSIZE>', §1.3), its bus size is not documented")

    # --- attributes ---------------------------------------------------------------------------
    def check_attribute(self, entry: Entry, rtype: RenodeType, name: str, value: str, line: int) -> None:
        if not name:
            self.report(entry, line, ERROR, f"cannot read {value!r} as 'attribute: value' or a '->' connection (§1.1)")
            return
        if name[0].isupper():
            if name not in rtype.properties:
                self.report(entry, line, UNDOCUMENTED,
                            f"property {name} of {rtype.name} is not documented in the facts ({rtype.source}); "
                            f"documented properties: {', '.join(sorted(rtype.properties)) or 'none'}")
            elif _int(value) is None and value not in ("none", "empty"):
                self.report(entry, line, ERROR, f"property {name} = {value!r} is not a number")
            return
        param = rtype.params.get(name)
        if param is None:
            self.report(entry, line, UNDOCUMENTED,
                        f"constructor parameter {name} of {rtype.name} is not documented for 1.16.1 "
                        f"({rtype.source}); Renode refuses attributes no constructor takes (§1.1). "
                        f"Documented: {', '.join(sorted(rtype.params)) or 'none'}")
            return
        problem = self.value_problem(param, value)
        if problem:
            self.report(entry, line, ERROR, f"{name}: {problem}")

    def value_problem(self, param: Param, value: str) -> str | None:
        value = value.strip()
        if value in ("none", "empty"):
            return "a required parameter cannot be none/empty" if param.required else None
        if param.kind == "int":
            return None if _int(value) is not None else f"{value!r} is not a number"
        if param.kind == "bool":
            return None if value in ("true", "false") else f"{value!r} is not true/false"
        if param.kind == "string":
            if not (value.startswith('"') or value.startswith("'''")):
                return f"{value!r} is not a string"
            if param.choices and value.strip("\"'") not in param.choices:
                return f"{value} is not one of the documented values {', '.join(param.choices)}"
            return None
        if param.kind == "ref":
            if not _IDENT.match(value) or value not in self.types:
                return f"{value!r} does not name an entry of this file"
            target = self.types[value]
            if param.refs and catalogue.lookup(target) is not None and catalogue.lookup(target).name not in param.refs:
                return f"'{value}' is a {target}, expected {' or '.join(param.refs)}"
            return None
        if param.kind == "enum":
            return None if not param.choices or value in param.choices else \
                f"{value} is not one of the documented values {', '.join(param.choices)}"
        if param.kind == "list":
            return None if value.startswith("[") else f"{value!r} is not a list"
        return None

    def check_required_parameters(self) -> None:
        for name, type_name in self.types.items():
            rtype = catalogue.lookup(type_name)
            created = self.repl.created(name)
            if rtype is None or created is None:
                continue
            given = {a.name for e in self.repl.by_name(name) for a in e.attributes}
            for param_name, param in rtype.params.items():
                if param.required and param_name not in given:
                    self.report(created, created.line, ERROR,
                                f"{rtype.name} needs the constructor parameter '{param_name}' ({rtype.source})")

    # --- interrupts (§1.1 "Interrupts") ----------------------------------------------------------
    def check_connection(self, entry: Entry, rtype: RenodeType, source: str, targets: str, line: int) -> None:
        source = source.strip()
        if source == "":
            if not rtype.default_output and len(rtype.named_outputs) != 1:
                self.report(entry, line, ERROR if not rtype.numbered_outputs else UNDOCUMENTED,
                            f"{rtype.name} has no documented default output; name one of "
                            f"{', '.join(rtype.named_outputs) or 'its numbered outputs'}")
        elif source.startswith("[") or source[0].isdigit():
            numbers = [int(n) for n in re.findall(r"\d+", source)]
            if not rtype.numbered_outputs:
                self.report(entry, line, UNDOCUMENTED, f"{rtype.name} has no documented numbered outputs")
            elif numbers and max(numbers) >= rtype.numbered_outputs:
                self.report(entry, line, ERROR, f"output {max(numbers)} is beyond {rtype.name}'s {rtype.numbered_outputs} outputs")
        elif source not in rtype.named_outputs:
            self.report(entry, line, UNDOCUMENTED,
                        f"output {source} of {rtype.name} is not documented (documented: "
                        f"{', '.join(rtype.named_outputs) or 'none'})")
        if targets.strip() == "none":
            return
        for target in (t.strip() for t in targets.split("|")):
            match = _TARGET.match(target)
            if not match:
                self.report(entry, line, ERROR, f"connection target {target!r} is not 'entry@input' (§1.1)")
                continue
            dest = match.group(1)
            if dest not in self.types:
                self.report(entry, line, ERROR, f"connection target '{dest}' is not an entry of this file")
                continue
            dtype = self.type_of(dest)
            if dtype is not None and dtype.inputs == 0:
                self.report(entry, line, ERROR, f"'{dest}' ({dtype.name}) does not receive interrupts")

    # --- the sysbus init block (§1.3, §8 quirk 1) ----------------------------------------------
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
                                    "ApplySVD from a URL downloads at load time and fails offline (§8 quirk 1)")
                elif command == "Tag":
                    if not _TAG.match(part):
                        self.report(entry, line, ERROR,
                                    f"{part!r} is not 'Tag <0xBEGIN, 0xEND> \"name\" [value]' (§1.3)")
                else:
                    self.report(entry, line, UNDOCUMENTED,
                                f"sysbus init statement {part!r}: the facts show only Tag and ApplySVD there")

    # --- what our firmware needs from the machine (§8) -----------------------------------------
    def check_platform_needs(self) -> None:
        def created_of(type_name: str) -> list[Entry]:
            return [e for e in self.repl.entries if e.type and catalogue.lookup(e.type)
                    and catalogue.lookup(e.type).name == type_name]

        for nvic in created_of("IRQControllers.NVIC"):
            if not any(e.attribute("systickFrequency") for e in self.repl.by_name(nvic.name)):
                self.report(nvic, nvic.line, ERROR,
                            "no systickFrequency: Renode's SysTick then ignores the RCC and runs at its "
                            "default, so FreeRTOS ticks run at the wrong rate (§8 quirk 2); set it to the core clock")
        macs = created_of("Network.SynopsysEthernetMAC")
        phys = created_of("Network.EthernetPhysicalLayer")
        for mac in macs:
            if not any((p.registration or "").split()[:1] == [mac.name] for p in phys):
                self.report(mac, mac.line, ERROR,
                            f"no PHY registered '@ {mac.name} <address>': MDIO reads find nothing and the "
                            f"driver never sees a link (§2.1, §8 quirk 5)")
        for uart in created_of("UART.STM32_UART"):
            if not any(e.attribute("frequency") for e in self.repl.by_name(uart.name)):
                self.report(uart, uart.line, ERROR,
                            "no frequency: Renode computes the baud rate from 8 MHz, not the bus clock (§8 quirk 4)")
        for cpu in created_of("CPU.CortexM"):
            cpu_type = cpu.attribute("cpuType")
            if cpu_type and cpu_type.value.strip('"') == "cortex-m4f":
                self.report(cpu, cpu_type.line, ERROR,
                            'cpuType "cortex-m4f" gives the CPUID of a Cortex-M7 in Renode; "cortex-m4" '
                            'already has the FPU (§1.3 "About the CPU type")')


def check_repl(path: str | Path) -> list[Finding]:
    """Every finding for one platform file, in file order (read by sim.platform's parser)."""
    return check_parsed(load(path))


def check_parsed(repl: ReplFile) -> list[Finding]:
    findings = _Checker(repl).run()
    return sorted(findings, key=lambda f: (f.line, f.severity, f.message))


def errors(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == ERROR]
