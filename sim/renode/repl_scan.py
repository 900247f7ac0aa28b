"""A platform file as the Renode checks see it: entries with raw value text and line numbers.

`load(path)` reads the file with the project's parser (`sim.platform`, the authority on the
syntax, which also rejects what Renode would reject as malformed) and turns its PlatformSpec into
this shape. `scan(path)` is a tolerant reader of the same syntax (facts/renode.md §1.1: 4-space
indentation, `//` and `/* */` comments, `'''` strings, `{ a; b }` blocks, `->` connections,
`init:`) for files the project parser refuses on purpose, such as Renode's own `using` files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

_HEADER = re.compile(r"^(local\s+)?([A-Za-z_]\w*)\s*:(.*)$", re.S)
_TYPE = re.compile(r"^([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*(.*)$", re.S)
_ATTRIBUTE = re.compile(r"^([A-Za-z_]\w*)\s*:(.*)$", re.S)
_BLOCK_KEYWORDS = ("init add", "init", "reset", "preinit")


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
    init_mode: str | None = None        # "init" (replaces) or "init add" (appends)

    def attribute(self, name: str) -> Attribute | None:
        found = [a for a in self.attributes if a.name == name]
        return found[-1] if found else None   # the last value wins (§1.1)


@dataclass
class ReplFile:
    path: Path
    entries: list[Entry]
    usings: list[tuple[int, str]]

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


def _strip_comments(text: str) -> str:
    """Blank out comments, keeping strings and line numbers intact."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if text.startswith("'''", i):
            end = text.find("'''", i + 3)
            end = n if end < 0 else end + 3
            out.append(text[i:end])
            i = end
        elif text[i] == '"':
            end = i + 1
            while end < n and text[end] != '"' and text[end] != "\n":
                end += 2 if text[end] == "\\" else 1
            out.append(text[i:end + 1])
            i = end + 1
        elif text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            i = end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append("".join(c if c == "\n" else " " for c in text[i:end]))
            i = end
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _depth_change(text: str) -> int:
    """Net bracket depth of a piece of text, ignoring brackets inside strings."""
    depth = 0
    in_string = False
    i = 0
    while i < len(text):
        c = text[i]
        if text.startswith("'''", i):
            end = text.find("'''", i + 3)
            if end < 0:
                return depth + 1000          # an open multi-line string keeps the statement open
            i = end + 3
            continue
        if c == '"':
            in_string = not in_string
        elif not in_string and c in "{[(":
            depth += 1
        elif not in_string and c in "}])":
            depth -= 1
        i += 1
    return depth


def _split_top(text: str, separator: str) -> list[str]:
    """Split on `separator` outside brackets and strings."""
    parts, depth, in_string, start = [], 0, False, 0
    for i, c in enumerate(text):
        if c == '"':
            in_string = not in_string
        elif not in_string and c in "{[(":
            depth += 1
        elif not in_string and c in "}])":
            depth -= 1
        elif not in_string and depth == 0 and text.startswith(separator, i):
            parts.append(text[start:i])
            start = i + len(separator)
    parts.append(text[start:])
    return parts


def _matching_brace(text: str, open_at: int) -> int:
    depth, in_string = 0, False
    for i in range(open_at, len(text)):
        c = text[i]
        if c == '"':
            in_string = not in_string
        elif not in_string and c == "{":
            depth += 1
        elif not in_string and c == "}":
            depth -= 1
            if depth == 0:
                return i
    return -1


def _statement(entry: Entry, text: str, line: int) -> None:
    """One attribute or connection statement inside an entry."""
    text = text.strip()
    if not text:
        return
    arrow = _split_top(text, "->")
    if len(arrow) > 1:
        entry.connections.append(Connection(arrow[0].strip(), "->".join(arrow[1:]).strip(), line))
        return
    match = _ATTRIBUTE.match(text)
    if match:
        entry.attributes.append(Attribute(match.group(1), match.group(2).strip(), line))
        return
    entry.attributes.append(Attribute("", text, line))   # kept so the checker can report it


def _header(path: Path, line_no: int, match: re.Match, rest_lines: str) -> Entry:
    local, name, rest = bool(match.group(1)), match.group(2), rest_lines.strip()
    type_name = None
    if rest and rest[0] not in "@{":
        tm = _TYPE.match(rest)
        if not tm:
            raise ReplSyntaxError(path, line_no, f"expected a type name, '@' or '{{' after '{name}:'")
        type_name, rest = tm.group(1), tm.group(2).strip()
    registration = None
    if rest.startswith("@"):
        after = rest[1:].lstrip()
        if after.startswith("{"):
            close = _matching_brace(after, 0)
            if close < 0:
                raise ReplSyntaxError(path, line_no, "unclosed '{' in a multiple registration")
            registration, rest = after[:close + 1], after[close + 1:].strip()
        else:
            brace = rest.find("{")
            registration = (rest[1:brace] if brace >= 0 else rest[1:]).strip()
            rest = rest[brace:] if brace >= 0 else ""
    entry = Entry(name, type_name, registration, line_no, local)
    if rest.startswith("{"):
        close = _matching_brace(rest, 0)
        if close < 0:
            raise ReplSyntaxError(path, line_no, "unclosed '{' in an inline attribute block")
        for part in _split_top(rest[1:close], ";"):
            _statement(entry, part, line_no)
    elif rest:
        raise ReplSyntaxError(path, line_no, f"unexpected text after the registration: {rest!r}")
    return entry


def scan(path: str | Path) -> ReplFile:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ReplSyntaxError(path, 0, f"cannot read the platform file: {exc.strerror}") from exc
    lines = _strip_comments(text).split("\n")
    entries: list[Entry] = []
    usings: list[tuple[int, str]] = []
    current: Entry | None = None
    i = 0
    while i < len(lines):
        raw = lines[i]
        line_no = i + 1
        if not raw.strip():
            i += 1
            continue
        if "\t" in raw[: len(raw) - len(raw.lstrip())]:
            raise ReplSyntaxError(path, line_no, "indentation must use spaces only (§1.1)")
        # join continuation lines while brackets or a ''' string are open
        logical = raw
        while _depth_change(logical) > 0 and i + 1 < len(lines):
            i += 1
            logical += "\n" + lines[i]
        indent = len(raw) - len(raw.lstrip(" "))
        stripped = logical.strip()
        if indent == 0:
            if stripped.startswith("using "):
                usings.append((line_no, stripped[len("using "):].strip()))
                current = None
            else:
                match = _HEADER.match(stripped)
                if not match:
                    raise ReplSyntaxError(path, line_no, "expected an entry 'name: Type @ registration'")
                current = _header(path, line_no, match, match.group(3))
                entries.append(current)
            i += 1
            continue
        if current is None:
            raise ReplSyntaxError(path, line_no, "indented line outside an entry")
        keyword = next((k for k in _BLOCK_KEYWORDS
                        if re.match(rf"^{k}\s*:", stripped)), None)
        if keyword is not None:
            inline = stripped.split(":", 1)[1].strip()
            statements = [(line_no, inline)] if inline else []
            j = i + 1
            while j < len(lines):
                nxt = lines[j]
                if nxt.strip() and len(nxt) - len(nxt.lstrip(" ")) <= indent:
                    break
                if nxt.strip():
                    statements.append((j + 1, nxt.strip()))
                j += 1
            if keyword.startswith("init"):
                current.init_mode = keyword
                current.init = statements if keyword == "init" else current.init + statements
            i = j
            continue
        _statement(current, stripped, line_no)
        i += 1
    return ReplFile(path, entries, usings)


# --- from the project's parser --------------------------------------------------------------------

def _value_text(value: object) -> str:
    """A parsed attribute value written back the way a .repl spells it."""
    from sim.platform import EMPTY, EnumValue, NewObject, RangeValue, Reference

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


def _from_spec(path: Path, spec) -> ReplFile:
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
    return ReplFile(path, entries, [])


def load(path: str | Path) -> ReplFile:
    """Read a platform file with the project parser (sim.platform); errors name file:line:column.

    Without that parser (an install that lacks it), the tolerant `scan` reads the file instead."""
    path = Path(path)
    try:
        from sim.platform import PlatformError, load_platform
    except ImportError:
        return scan(path)
    try:
        spec = load_platform(path)
    except PlatformError as exc:
        raise ReplSyntaxError(path, None, str(exc)) from exc
    return _from_spec(path, spec)
