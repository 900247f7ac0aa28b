"""Parser for the subset of Renode's platform-description (.repl) format that our platform file
uses: entries (`name: Type @ registration`), update entries, constructor attributes and
properties, IRQ connections (`-> nvic@61`, `[0-4] -> nvic@[6-10]`, `IRQ -> a@1 | b@2`), `init:`
blocks (whose `Tag <a, b> "NAME" value` statements we understand), `//` and `/* */` comments
(renode-docs: source/advanced/platform_description_format.md).

A platform file here is self-contained: `using "other.repl"` is refused, and so is an update of an
entry no line creates. The tolerant mode (`tolerant=True`, for checking Renode's own files, which
build on each other with `using`) records `using` lines in `PlatformSpec.usings` and keeps such
updates as entries without a type; the syntax is otherwise the same.

The format is indentation based (spaces, multiples of four; inside `{ }` and `[ ]` newlines do not
count). We tokenize the whole file, cut it into logical lines, and parse each line by recursive
descent. Every error names file:line:column and what was expected there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .spec import (EMPTY, EnumValue, Entry, IrqConnection, Location, NewObject, PlatformError,
                   PlatformSpec, RangeValue, Reference, Registration, Tag, Using)

INDENT_STEP = 4
IMPLICIT_ENTRIES = ("sysbus",)          # exist in every Renode machine without a declaration

_NUMBER = re.compile(r"0[xX][0-9A-Fa-f_]+|[0-9][0-9_]*(?:\.[0-9]+)?")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_PUNCT2 = ("->",)
_PUNCT1 = ":@{}[]<>,;+-|#=()"


@dataclass
class Token:
    kind: str            # NUMBER STRING IDENT PUNCT OTHER NEWLINE EOF
    text: str
    value: Any
    line: int
    column: int          # 1-based
    end: int             # offset just past the token in the source


class _Source:
    def __init__(self, text: str, filename: str) -> None:
        self.text = text
        self.filename = filename
        self.line_starts = [0]
        for i, ch in enumerate(text):
            if ch == "\n":
                self.line_starts.append(i + 1)

    def location(self, offset: int) -> Location:
        lo, hi = 0, len(self.line_starts) - 1
        while lo < hi:                       # last line start <= offset
            mid = (lo + hi + 1) // 2
            if self.line_starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return Location(self.filename, lo + 1, offset - self.line_starts[lo] + 1)

    def error(self, offset: int, message: str) -> PlatformError:
        return PlatformError(f"{self.location(offset)}: {message}")


def _tokenize(src: _Source) -> list[Token]:
    text = src.text
    tokens: list[Token] = []
    i, n = 0, len(text)

    def tok(kind: str, start: int, end: int, value: Any = None) -> None:
        loc = src.location(start)
        tokens.append(Token(kind, text[start:end], value, loc.line, loc.column, end))

    while i < n:
        ch = text[i]
        if ch == "\n":
            tok("NEWLINE", i, i + 1)
            i += 1
        elif ch in " \r":
            i += 1
        elif ch == "\t":
            raise src.error(i, "tab character: the platform format indents with spaces only "
                               "(multiples of four)")
        elif text.startswith("//", i):
            while i < n and text[i] != "\n":
                i += 1
        elif text.startswith("/*", i):
            close = text.find("*/", i + 2)
            if close < 0:
                raise src.error(i, "unterminated /* comment: expected */")
            # a multi-line block comment must end at the end of a line (Renode's rule)
            if "\n" in text[i:close]:
                rest = text[close + 2:text.find("\n", close) if "\n" in text[close:] else n]
                if rest.strip():
                    raise src.error(close, "a multi-line /* comment */ must end at the end of a line")
            # keep the newlines so line numbers stay right
            for k in range(i, close):
                if text[k] == "\n":
                    tok("NEWLINE", k, k + 1)
            i = close + 2
        elif text.startswith("'''", i):
            close = text.find("'''", i + 3)
            if close < 0:
                raise src.error(i, "unterminated ''' string: expected '''")
            tok("STRING", i, close + 3, text[i + 3:close])
            i = close + 3
        elif ch == '"':
            j, out = i + 1, []
            while True:
                if j >= n or text[j] == "\n":
                    raise src.error(i, 'unterminated string: expected a closing " on the same line')
                c = text[j]
                if c == "\\" and j + 1 < n:
                    out.append({"n": "\n", "t": "\t"}.get(text[j + 1], text[j + 1]))
                    j += 2
                    continue
                if c == '"':
                    break
                out.append(c)
                j += 1
            tok("STRING", i, j + 1, "".join(out))
            i = j + 1
        elif ch.isdigit():
            m = _NUMBER.match(text, i)
            raw = m.group(0).replace("_", "")
            try:
                # decimal unless 0x: Renode reads `gpioPortA#08@01` as 8 and 1 (no octal)
                value = float(raw) if "." in raw else int(raw, 16) if raw[:2] in ("0x", "0X") else int(raw, 10)
            except ValueError:
                raise src.error(i, f"malformed number {m.group(0)!r}: write a decimal, a 0x hexadecimal "
                                   "or a decimal fraction") from None
            tok("NUMBER", i, m.end(), value)
            i = m.end()
        elif ch.isalpha() or ch == "_":
            m = _IDENT.match(text, i)
            tok("IDENT", i, m.end(), m.group(0))
            i = m.end()
        elif text.startswith("->", i):
            tok("PUNCT", i, i + 2, "->")
            i += 2
        elif ch in _PUNCT1:
            tok("PUNCT", i, i + 1, ch)
            i += 1
        else:
            j = i + 1
            while j < n and not text[j].isspace():
                j += 1
            tok("OTHER", i, j, text[i:j])
            i = j
    loc_end = src.location(n)
    tokens.append(Token("EOF", "", None, loc_end.line, loc_end.column, n))
    return tokens


@dataclass
class _Line:
    tokens: list[Token]       # without the NEWLINE, ending with a synthetic EOF
    indent: int               # column of the first token, 0-based


def _logical_lines(src: _Source, tokens: list[Token]) -> list[_Line]:
    lines: list[_Line] = []
    current: list[Token] = []
    depth = 0
    for t in tokens:
        if t.kind == "PUNCT" and t.value in "{[":
            depth += 1
        elif t.kind == "PUNCT" and t.value in "}]":
            depth -= 1
        if (t.kind == "NEWLINE" and depth <= 0) or t.kind == "EOF":
            if current:
                eof = Token("EOF", "", None, current[-1].line, current[-1].column + len(current[-1].text),
                            current[-1].end)
                lines.append(_Line(current + [eof], current[0].column - 1))
            current = []
            if t.kind == "EOF" and depth > 0:
                raise src.error(t.end, "unbalanced brackets: expected a closing } or ] before the end of the file")
            depth = max(depth, 0)
            continue
        if t.kind != "NEWLINE":
            current.append(t)
    return lines


class _LineParser:
    """Recursive descent over the tokens of one logical line."""

    def __init__(self, src: _Source, line: _Line) -> None:
        self.src = src
        self.toks = line.tokens
        self.i = 0

    # --- token helpers -------------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def peek(self, k: int = 1) -> Token:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def loc(self, t: Token | None = None) -> Location:
        t = t or self.tok
        return Location(self.src.filename, t.line, t.column)

    def fail(self, expected: str, t: Token | None = None) -> PlatformError:
        t = t or self.tok
        found = "end of line" if t.kind == "EOF" else repr(t.text)
        return PlatformError(f"{self.loc(t)}: expected {expected}, found {found}")

    def is_punct(self, value: str) -> bool:
        return self.tok.kind == "PUNCT" and self.tok.value == value

    def is_ident(self, value: str | None = None) -> bool:
        return self.tok.kind == "IDENT" and (value is None or self.tok.value == value)

    def take(self) -> Token:
        t = self.tok
        if t.kind != "EOF":
            self.i += 1
        return t

    def expect_punct(self, value: str, what: str | None = None) -> Token:
        if not self.is_punct(value):
            raise self.fail(what or f"'{value}'")
        return self.take()

    def expect_ident(self, what: str) -> Token:
        if not self.is_ident():
            raise self.fail(what)
        return self.take()

    def expect_number(self, what: str = "a number") -> int:
        if self.tok.kind != "NUMBER" or not isinstance(self.tok.value, int):
            raise self.fail(what)
        return self.take().value

    def expect_end(self, what: str = "end of line") -> None:
        if self.tok.kind != "EOF":
            raise self.fail(what)

    def has_top_level_arrow(self) -> bool:
        depth = 0
        for t in self.toks[self.i:]:
            if t.kind == "PUNCT":
                if t.value in "{[":
                    depth += 1
                elif t.value in "}]":
                    depth -= 1
                elif t.value == "->" and depth == 0:
                    return True
        return False

    # --- values --------------------------------------------------------------------------------
    def value(self) -> Any:
        t = self.tok
        if t.kind == "NUMBER":
            return self.take().value
        if t.kind == "STRING":
            return self.take().value
        if self.is_punct("-") and self.peek().kind == "NUMBER":
            self.take()
            return -self.take().value
        if self.is_punct("["):
            self.take()
            items: list[Any] = []
            if not self.is_punct("]"):
                items.append(self.value())
                while self.is_punct(","):
                    self.take()
                    items.append(self.value())
            self.expect_punct("]", "',' or ']' in a list")
            return items
        if self.is_punct("<"):
            return self.range_value()
        if t.kind == "IDENT":
            word = t.value
            if word == "true":
                self.take()
                return True
            if word == "false":
                self.take()
                return False
            if word == "none":
                self.take()
                return None
            if word == "empty":
                self.take()
                return EMPTY
            if word == "new":
                self.take()
                type_name = self.expect_ident("a type name after 'new'").value
                attrs: list[tuple[str, Any]] = []
                if self.is_punct("{"):
                    attrs = self.braced_attributes()
                return NewObject(type_name, tuple(attrs))
            self.take()
            return EnumValue(word) if "." in word else Reference(word)
        raise self.fail("a value (number, string, true/false, none, empty, a name, [list], "
                        "<range> or new Type { ... })")

    def range_value(self) -> RangeValue:
        self.expect_punct("<", "'<' to start a range")
        start = self.expect_number("the range start address")
        self.expect_punct(",", "',' between the range start and end")
        if self.is_punct("+"):
            self.take()
            size = self.expect_number("the range size after '+'")
            if size <= 0:
                raise self.fail("a positive range size")
            end = start + size - 1
        else:
            end = self.expect_number("the range end address (or +size)")
            if end < start:
                raise self.fail(f"a range end >= its start 0x{start:x}")
        self.expect_punct(">", "'>' to close the range")
        return RangeValue(start, end)

    def braced_attributes(self) -> list[tuple[str, Any]]:
        self.expect_punct("{")
        attrs: list[tuple[str, Any]] = []
        while not self.is_punct("}"):
            name = self.expect_ident("an attribute name or '}'").value
            self.expect_punct(":", f"':' after attribute {name}")
            attrs.append((name, self.value()))
            if self.is_punct(";"):
                self.take()
            elif not self.is_punct("}"):
                raise self.fail("';' or '}' after an attribute")
        self.take()
        return attrs

    # --- registrations -------------------------------------------------------------------------
    def registration(self) -> Registration:
        loc = self.loc()
        if self.is_ident("none"):
            self.take()
            return Registration("none", location=loc)
        parent = self.expect_ident("a registration point (sysbus, none, or a peripheral name)").value
        if self.tok.kind == "NUMBER":
            return Registration(parent, self.expect_number(), location=loc)
        if self.is_punct("<"):
            r = self.range_value()
            return Registration(parent, r.start, r.size, location=loc)
        if self.is_ident("new"):
            obj = self.value()
            attrs = dict(obj.attributes)
            address = attrs.get("address")
            if not isinstance(address, int):
                raise PlatformError(f"{loc}: expected an integer 'address' in new {obj.type} {{ ... }}")
            size = attrs.get("size")
            return Registration(parent, address, size if isinstance(size, int) else None, location=loc)
        return Registration(parent, location=loc)

    def registrations(self) -> list[Registration]:
        self.expect_punct("@")
        if self.is_punct("{"):
            self.take()
            regs = [self.registration()]
            while self.is_punct(";"):
                self.take()
                if self.is_punct("}"):
                    break
                regs.append(self.registration())
            self.expect_punct("}", "';' or '}' after a registration")
            return regs
        return [self.registration()]

    # --- IRQ connections -----------------------------------------------------------------------
    def irq_numbers(self) -> list[int]:
        """`5`, `[0-4]`, `[1, 41, 42, 3]`, `[11-17,47]`."""
        if self.tok.kind == "NUMBER":
            return [self.expect_number()]
        self.expect_punct("[", "an IRQ number or [list]")
        out: list[int] = []
        while True:
            first = self.expect_number("an IRQ number")
            if self.is_punct("-"):
                self.take()
                last = self.expect_number("the end of an IRQ range")
                if last < first:
                    raise self.fail(f"an IRQ range end >= {first}")
                out.extend(range(first, last + 1))
            else:
                out.append(first)
            if self.is_punct(","):
                self.take()
                continue
            self.expect_punct("]", "',' or ']' in an IRQ list")
            return out

    def irq_sources(self) -> list[str]:
        """`5`, `[0-4]`, and lists that mix numbers and output names: `[TriggerInterrupt, 3]`."""
        if self.tok.kind == "NUMBER" or not self.is_punct("["):
            return [str(n) for n in self.irq_numbers()]
        self.take()
        out: list[str] = []
        while True:
            if self.tok.kind == "IDENT":
                out.append(self.take().value)
            else:
                first = self.expect_number("an IRQ output number or name")
                last = first
                if self.is_punct("-"):
                    self.take()
                    last = self.expect_number("the end of an IRQ range")
                    if last < first:
                        raise self.fail(f"an IRQ range end >= {first}")
                out.extend(str(n) for n in range(first, last + 1))
            if self.is_punct(","):
                self.take()
                continue
            self.expect_punct("]", "',' or ']' in an IRQ list")
            return out

    def irq_line(self) -> list[IrqConnection] | tuple[str, ...]:
        """Returns the expanded connections, or ("remove", source...) for `src -> none`."""
        loc = self.loc()
        if self.is_punct("->"):
            sources = [""]
        elif self.tok.kind == "IDENT":
            sources = [self.take().value]
        else:
            sources = self.irq_sources()
        self.expect_punct("->", "'->' in an IRQ connection")
        if self.is_ident("none"):
            self.take()
            self.expect_end()
            return ("remove", *sources)
        connections: list[IrqConnection] = []
        while True:
            target = self.expect_ident("an IRQ receiver name (e.g. nvic)").value
            if self.is_punct("#"):            # local receiver: gpioPortA#08@01
                self.take()
                target = f"{target}#{self.expect_number('a local receiver index')}"
            self.expect_punct("@", "'@' and the receiver's input number")
            inputs = self.irq_numbers()
            if len(inputs) != len(sources):
                raise PlatformError(f"{loc}: {len(sources)} IRQ source(s) but {len(inputs)} "
                                    f"input(s) on {target}: the two lists must have the same length")
            connections += [IrqConnection(s, target, n, loc) for s, n in zip(sources, inputs)]
            if self.is_punct("|"):
                self.take()
                continue
            self.expect_end("'|' or end of line after an IRQ connection")
            return connections


class _PlatformBuilder:
    def __init__(self, src: _Source, tolerant: bool = False) -> None:
        self.src = src
        self.tolerant = tolerant
        self.usings: list[Using] = []
        self.entries: dict[str, Entry] = {}
        self.updates: dict[str, list[Entry]] = {}
        self.order: list[str] = []

    def parse(self) -> PlatformSpec:
        lines = _logical_lines(self.src, _tokenize(self.src))
        current: Entry | None = None
        block: str | None = None            # "init" / "reset" / "preinit" while in such a block
        block_indent = 0
        for line in lines:
            p = _LineParser(self.src, line)
            first = line.tokens[0]
            if line.indent % INDENT_STEP:
                raise PlatformError(f"{p.loc(first)}: indentation of {line.indent} spaces: expected a "
                                    f"multiple of {INDENT_STEP}")
            if block is not None and line.indent > block_indent:
                self._init_statement(current, block, line)
                continue
            block = None
            if line.indent == 0:
                if p.is_ident("using"):
                    current = self._using(p)
                    continue
                current = self._entry_header(p)
            elif line.indent == INDENT_STEP:
                if current is None:
                    raise PlatformError(f"{p.loc(first)}: indented line outside any entry: expected "
                                        f"an entry 'name: Type @ registration' first")
                block = self._attribute_line(p, current)
                block_indent = line.indent
            else:
                raise PlatformError(f"{p.loc(first)}: unexpected indentation of {line.indent} spaces: "
                                    f"expected {INDENT_STEP} (an attribute) or 0 (a new entry)")
        return self._finish()

    # --- `using "file" [prefixed "p"]` -----------------------------------------------------------
    def _using(self, p: _LineParser) -> None:
        loc = p.loc()
        if not self.tolerant:
            raise PlatformError(f"{loc}: 'using' is not supported: the platform file must be "
                                f"self-contained (copy the entries you need)")
        p.take()
        if p.tok.kind != "STRING":
            raise p.fail('a quoted file name after "using"')
        path = p.take().value
        prefix = None
        if p.is_ident("prefixed"):
            p.take()
            if p.tok.kind != "STRING":
                raise p.fail('a quoted prefix after "prefixed"')
            prefix = p.take().value
        p.expect_end("end of line after the using statement")
        self.usings.append(Using(path, prefix, loc))
        return None

    # --- one entry header ------------------------------------------------------------------------
    def _entry_header(self, p: _LineParser) -> Entry:
        loc = p.loc()
        local = False
        if p.is_ident("local"):
            p.take()
            local = True
        name = p.expect_ident("an entry name").value
        if "." in name:
            raise PlatformError(f"{loc}: expected an entry name without dots, found {name!r}")
        p.expect_punct(":", f"':' after entry name {name}")
        entry = Entry(name, None, local=local, location=loc)
        if p.tok.kind == "IDENT" and p.tok.value not in ("new",):
            entry.type = p.take().value
        if p.is_punct("@"):
            entry.registrations = p.registrations()
        if p.is_ident("as"):
            p.take()
            if p.tok.kind != "STRING":
                raise p.fail('a quoted alias after "as"')
            entry.alias = p.take().value
        if p.is_punct("{"):
            p.take()
            while not p.is_punct("}"):
                self._attribute_item(p, entry)
                if p.is_punct(";"):
                    p.take()
                elif not p.is_punct("}"):
                    raise p.fail("';' or '}' after an attribute")
            p.take()
        p.expect_end("end of line after the entry header (attributes go on indented lines below)")
        if entry.type is not None:
            if name in self.entries or name in IMPLICIT_ENTRIES:
                raise PlatformError(f"{loc}: entry {name!r} is created twice (first at "
                                    f"{self.entries[name].location if name in self.entries else 'built in'}); "
                                    f"to change it, write an update entry '{name}:' without a type")
            self.entries[name] = entry
            self.order.append(name)
        else:
            self.updates.setdefault(name, []).append(entry)
        return entry

    # --- attribute lines -------------------------------------------------------------------------
    def _attribute_line(self, p: _LineParser, entry: Entry) -> str | None:
        if p.tok.kind == "IDENT" and p.tok.value in ("init", "reset", "preinit"):
            word = p.tok.value
            if p.peek().kind == "PUNCT" and p.peek().value == ":":
                p.take()
                p.take()
                p.expect_end(f"end of line after '{word}:' (its statements go on lines indented below)")
                if word == "init":
                    entry.init = []
                    entry.init_mode = "replace"
                return word
            if word == "init" and p.peek().kind == "IDENT" and p.peek().value == "add":
                p.take()
                p.take()
                p.expect_punct(":", "':' after 'init add'")
                p.expect_end("end of line after 'init add:'")
                if entry.init_mode is None:
                    entry.init_mode = "add"
                return "init"
        self._attribute_item(p, entry)
        p.expect_end("end of line after the attribute")
        return None

    def _attribute_item(self, p: _LineParser, entry: Entry) -> None:
        if p.has_top_level_arrow():
            result = p.irq_line()
            if isinstance(result, tuple):
                removed = set(result[1:])
                entry.irqs = [c for c in entry.irqs if c.source not in removed]
                entry.removed_irqs |= removed
            else:
                entry.irqs.extend(result)
            return
        name_tok = p.expect_ident("an attribute 'name: value' or an IRQ connection '-> nvic@N'")
        loc = p.loc(name_tok)
        p.expect_punct(":", f"':' after attribute {name_tok.value}")
        entry.attributes[name_tok.value] = p.value()
        entry.attribute_locations[name_tok.value] = loc

    def _init_statement(self, entry: Entry, block: str, line: _Line) -> None:
        first, last = line.tokens[0], line.tokens[-2]
        start = self.src.line_starts[first.line - 1] + first.column - 1
        raw = self.src.text[start:last.end].strip()
        loc = Location(self.src.filename, first.line, first.column)
        if block == "init":
            entry.init.append((raw, loc))

    # --- merging and tags --------------------------------------------------------------------------
    def _finish(self) -> PlatformSpec:
        entries = dict(self.entries)
        for name, updates in self.updates.items():
            if name not in entries:
                if name in IMPLICIT_ENTRIES or self.tolerant:    # tolerant: created by a using file
                    entries[name] = Entry(name, None, location=updates[0].location)
                else:
                    raise PlatformError(f"{updates[0].location}: entry {name!r} is updated but never "
                                        f"created: expected a 'name: Type @ registration' entry for it")
            for upd in updates:
                self._merge(entries[name], upd)
        tags = self._tags(entries.get("sysbus"))
        return PlatformSpec(self.src.filename, entries, tags, self.usings)

    @staticmethod
    def _merge(base: Entry, upd: Entry) -> None:
        if upd.registrations:
            base.registrations = [] if upd.registrations[0].parent == "none" else upd.registrations
        if upd.alias:
            base.alias = upd.alias
        for k, v in upd.attributes.items():
            base.attributes[k] = v
            base.attribute_locations[k] = upd.attribute_locations.get(k, upd.location)
        if upd.removed_irqs:
            base.irqs = [c for c in base.irqs if c.source not in upd.removed_irqs]
        if upd.irqs:
            replaced = {c.source for c in upd.irqs}
            base.irqs = [c for c in base.irqs if c.source not in replaced] + upd.irqs
        if upd.init_mode == "replace":
            base.init = list(upd.init)
        elif upd.init_mode == "add":
            base.init = base.init + upd.init

    def _tags(self, sysbus: Entry | None) -> list[Tag]:
        tags: list[Tag] = []
        if sysbus is None:
            return tags
        for raw, loc in sysbus.init:
            if not raw.startswith("Tag"):
                continue
            src = _Source(raw, loc.file)
            line = _logical_lines(src, _tokenize(src))[0]
            p = _LineParser(src, line)

            def where(t: Token) -> Location:
                return Location(loc.file, loc.line, loc.column + t.column - 1)

            try:
                p.take()
                r = p.range_value()
                if p.tok.kind != "STRING":
                    raise p.fail('a quoted tag name, e.g. "SYSCFG"')
                name = p.take().value
                value = 0
                if p.tok.kind == "NUMBER":
                    value = p.expect_number()
                p.expect_end("end of the Tag statement")
            except PlatformError as exc:
                # re-anchor the position from the statement to the file
                msg = str(exc).split(": ", 1)[1]
                raise PlatformError(f"{where(p.tok)}: {msg}") from None
            tags.append(Tag(r.start, r.end, name, value, loc))
        return tags


def parse_platform(text: str, filename: str = "<string>", *, tolerant: bool = False) -> PlatformSpec:
    return _PlatformBuilder(_Source(text, filename), tolerant).parse()


def load_platform(path: str | Path, *, tolerant: bool = False) -> PlatformSpec:
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise PlatformError(f"platform file {path} does not exist (the default is "
                            f"sim/platform/stm32f407.repl)") from None
    except IsADirectoryError:
        raise PlatformError(f"platform file {path} is a directory: give the .repl file in it") from None
    except UnicodeDecodeError as exc:
        raise PlatformError(f"{path}: not a text file ({exc})") from None
    except OSError as exc:
        raise PlatformError(f"cannot read platform file {path}: {exc.strerror or exc}") from None
    return parse_platform(text, str(path), tolerant=tolerant)
