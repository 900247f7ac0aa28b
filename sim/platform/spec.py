"""What a platform file describes, as plain data: the PlatformSpec the parser produces and both
backends consume (the built-in machine instantiates it; the Renode backend validates it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sim.errors import SimError


class PlatformError(SimError, ValueError):
    """A platform file is malformed or names something we cannot build; the message starts with
    file:line:column and says what was expected."""


@dataclass(frozen=True)
class Location:
    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


# --- attribute values --------------------------------------------------------------------------

@dataclass(frozen=True)
class Reference:
    """A reference to another entry (`nvic: nvic`, `flash: flash`)."""
    name: str


@dataclass(frozen=True)
class EnumValue:
    """A dotted enum value (`series: STM32Series.F4`)."""
    text: str


@dataclass(frozen=True)
class RangeValue:
    """`<start, end>` (end inclusive) or `<start, +size>`."""
    start: int
    end: int                       # inclusive

    @property
    def size(self) -> int:
        return self.end - self.start + 1


@dataclass(frozen=True)
class NewObject:
    """An inline object: `new Bus.BusMultiRegistration { address: 0x1FFFC000; size: 0x100 }`."""
    type: str
    attributes: tuple[tuple[str, Any], ...]


class _Empty:
    """`empty`: the type's default value."""

    def __repr__(self) -> str:
        return "EMPTY"


EMPTY = _Empty()

# A value is: int | float | str | bool | None (`none`) | EMPTY | list | Reference | EnumValue |
# RangeValue | NewObject


# --- entries -----------------------------------------------------------------------------------

@dataclass
class Registration:
    """Where an entry is registered: `@ sysbus 0x40011000`, `@ sysbus <0x40011000, +0x100>`,
    `@ ethernet 0` (a PHY address on a MAC), `@ sysbus` (the CPU), `@ none`."""
    parent: str                    # "sysbus", "none", or another entry's name
    address: int | None = None     # point address / range start / child address
    size: int | None = None        # only for explicit ranges
    location: Location | None = None


@dataclass
class IrqConnection:
    """One expanded connection: output `source` of the entry drives input `input` of `target`.
    `source` is "" for the default output, a name (`IRQ`, `EventInterrupt`) or a number as text."""
    source: str
    target: str
    input: int
    location: Location | None = None


@dataclass
class Tag:
    """`Tag <start, end> "NAME" value` from a sysbus init block: a register range neither backend
    models; reads return `value` (0 if not given), writes are ignored."""
    start: int
    end: int                       # inclusive
    name: str
    value: int
    location: Location | None = None


@dataclass(frozen=True)
class Using:
    """`using "path" [prefixed "p"]`: only in the parser's tolerant mode (Renode's own files)."""
    path: str
    prefix: str | None = None
    location: Location | None = None


@dataclass
class Entry:
    name: str
    type: str | None
    registrations: list[Registration] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    attribute_locations: dict[str, Location] = field(default_factory=dict)
    irqs: list[IrqConnection] = field(default_factory=list)
    init: list[tuple[str, Location]] = field(default_factory=list)   # raw Monitor statements
    alias: str | None = None
    local: bool = False
    location: Location | None = None
    # merge bookkeeping for update entries: how this entry's init block combines with earlier
    # ones ("replace" for `init:`, "add" for `init add:`), and outputs disconnected by `-> none`
    init_mode: str | None = None
    removed_irqs: set[str] = field(default_factory=set)

    @property
    def constructor_attributes(self) -> dict[str, Any]:
        """Lower-case initial: constructor parameters (Renode's rule)."""
        return {k: v for k, v in self.attributes.items() if k[:1].islower()}

    @property
    def properties(self) -> dict[str, Any]:
        """Upper-case initial: properties set after construction."""
        return {k: v for k, v in self.attributes.items() if k[:1].isupper()}


@dataclass
class PlatformSpec:
    path: str
    entries: dict[str, Entry]                  # in order of creation
    tags: list[Tag]
    usings: list[Using] = field(default_factory=list)     # tolerant mode only

    def entry(self, name: str) -> Entry:
        try:
            return self.entries[name]
        except KeyError:
            raise PlatformError(f"{self.path}: no entry named {name!r} "
                                f"(entries: {', '.join(self.entries)})") from None

    def entries_of_type(self, type_name: str) -> list[Entry]:
        return [e for e in self.entries.values() if e.type == type_name]

    def one_of_type(self, type_name: str) -> Entry:
        found = self.entries_of_type(type_name)
        if len(found) != 1:
            raise PlatformError(f"{self.path}: expected exactly one {type_name} entry, "
                                f"found {len(found)}")
        return found[0]

    @property
    def types(self) -> set[str]:
        return {e.type for e in self.entries.values() if e.type}
