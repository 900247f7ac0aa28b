"""A platform file as the Renode checks see it: entries with their values written back as .repl
text and the line of each, read by the project's parser (`sim.platform`, the one parser of the
syntax, which also rejects what Renode would reject as malformed).

`load(path)` reads a self-contained file; `load(path, tolerant=True)` also reads files that build
on others with `using` (Renode's own platform files), keeping the `using` lines and the updates of
entries created elsewhere for the checker to report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sim.platform import (EMPTY, EnumValue, NewObject, PlatformError, PlatformSpec, RangeValue,
                          Reference, load_platform)


@dataclass
class Attribute:
    name: str
    value: str
    line: int


@dataclass
class Connection:
    source: str            # "" for the default output, an output name, or "[0-3]"-style numbers
    targets: str           # raw text after "->", e.g. "nvic@61" or "nvic@[19-22] | cpu@0"
    line: int


@dataclass
class Entry:
    name: str
    type: str | None       # None: the entry updates a variable created elsewhere
    registration: str | None
    line: int
    local: bool = False
    attributes: list[Attribute] = field(default_factory=list)
    connections: list[Connection] = field(default_factory=list)
    init: list[tuple[int, str]] = field(default_factory=list)
    init_mode: str | None = None        # "replace" (`init:`) or "add" (`init add:`)

    def attribute(self, name: str) -> Attribute | None:
        found = [a for a in self.attributes if a.name == name]
        return found[-1] if found else None   # the last value wins


@dataclass
class ReplFile:
    path: Path
    entries: list[Entry]
    usings: list[tuple[int, str]]          # (line, path) of each `using` (tolerant reading only)

    def by_name(self, name: str) -> list[Entry]:
        return [e for e in self.entries if e.name == name]

    def created(self, name: str) -> Entry | None:
        """The entry that creates variable `name` (the one that names a type)."""
        for entry in self.entries:
            if entry.name == name and entry.type is not None:
                return entry
        return None


class ReplSyntaxError(ValueError):
    def __init__(self, path: Path, line: int | None, message: str) -> None:
        # line None: the message already starts with file:line:column (sim.platform's errors)
        super().__init__(message if line is None else f"{path}:{line}: {message}")
        self.path = path
        self.line = line


def _value_text(value: object) -> str:
    """A parsed attribute value written back the way a .repl spells it."""
    if value is None:
        return "none"
    if value is EMPTY:
        return "empty"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return hex(value) if value >= 0 else str(value)
    if isinstance(value, str):
        return '"' + value + '"'
    if isinstance(value, (Reference,)):
        return value.name
    if isinstance(value, EnumValue):
        return value.text
    if isinstance(value, RangeValue):
        return f"<{value.start:#x}, {value.end:#x}>"
    if isinstance(value, NewObject):
        inner = "; ".join(f"{k}: {_value_text(v)}" for k, v in value.attributes)
        return f"new {value.type} {{ {inner} }}"
    if isinstance(value, list):
        return "[" + ", ".join(_value_text(v) for v in value) + "]"
    return str(value)


def _registration_text(registrations: list) -> str | None:
    parts = []
    for reg in registrations:
        if reg.parent == "none":
            parts.append("none")
        elif reg.address is None:
            parts.append(reg.parent)
        elif reg.size is not None:
            parts.append(f"{reg.parent} <{reg.address:#x}, +{reg.size:#x}>")
        elif reg.parent == "sysbus":
            parts.append(f"sysbus {reg.address:#x}")
        else:
            parts.append(f"{reg.parent} {reg.address}")
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else "{ " + "; ".join(parts) + " }"


def _from_spec(path: Path, spec: PlatformSpec) -> ReplFile:
    entries = []
    for item in spec.entries.values():
        line = item.location.line if item.location else 0
        entry = Entry(item.name, item.type, _registration_text(item.registrations), line, item.local)
        for name, value in item.attributes.items():
            where = item.attribute_locations.get(name)
            entry.attributes.append(Attribute(name, _value_text(value), where.line if where else line))
        for irq in item.irqs:
            where = irq.location.line if irq.location else line
            entry.connections.append(Connection(irq.source, f"{irq.target}@{irq.input}", where))
        entry.init = [(loc.line if loc else line, raw) for raw, loc in item.init]
        entry.init_mode = item.init_mode
        entries.append(entry)
    usings = [(u.location.line if u.location else 0, f'"{u.path}"') for u in spec.usings]
    return ReplFile(path, entries, usings)


def load(path: str | Path, *, tolerant: bool = False) -> ReplFile:
    """Read a platform file with the project parser; errors name file:line:column."""
    path = Path(path)
    try:
        spec = load_platform(path, tolerant=tolerant)
    except PlatformError as exc:
        raise ReplSyntaxError(path, None, str(exc)) from exc
    return _from_spec(path, spec)
