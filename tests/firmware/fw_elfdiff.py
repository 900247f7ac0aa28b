"""Compare two firmware ELFs symbol by symbol, independently of address shifts.

The firmware is linked with --emit-relocs, so the ELF still says which bytes of each function
(or initialised object) hold an address: literal-pool words (R_ARM_ABS32), BL/B.W offsets
(R_ARM_THM_CALL/JUMP24/JUMP19), MOVW/MOVT pairs. If one function grows, everything after it moves
and all those address bytes change, although the code is the same. So each relocated field is
replaced by the symbol it points at ("memcpy+0", "io_buf+16") before comparing; everything else
is compared byte for byte.

A field that points at no sized symbol is named by what is there instead: a label of the link
(`_estack`, a size-less assembly function) or, for anonymous data such as string literals, the
bytes it points at. Compiler-generated local names (`CSWTCH.10`, `digits.0`) are compared without
their number, which changes whenever another such object is added to the same link.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from pathlib import Path

from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection

R_ARM_ABS32 = 2
R_ARM_REL32 = 3
R_ARM_THM_CALL = 10
R_ARM_THM_JUMP24 = 30
R_ARM_THM_JUMP19 = 51


_NUMBERED = re.compile(r"\.\d+$")


def stem(name: str) -> str:
    """`CSWTCH.10` -> `CSWTCH`, `check_response.constprop.0` -> `check_response.constprop`."""
    return _NUMBERED.sub("", name)


@dataclass(frozen=True)
class Symbol:
    name: str
    kind: str           # "func" | "object"
    address: int        # Thumb bit cleared
    size: int


def _decode_thumb_branch(hw1: int, hw2: int, conditional: bool) -> int:
    """Byte offset of a 32-bit Thumb BL/B.W (T4) or conditional B.W (T3) from PC+4."""
    s = (hw1 >> 10) & 1
    j1 = (hw2 >> 13) & 1
    j2 = (hw2 >> 11) & 1
    imm11 = hw2 & 0x7FF
    if conditional:
        imm6 = hw1 & 0x3F
        offset = (s << 20) | (j2 << 19) | (j1 << 18) | (imm6 << 12) | (imm11 << 1)
        bits = 21
    else:
        imm10 = hw1 & 0x3FF
        i1 = 1 ^ (j1 ^ s)
        i2 = 1 ^ (j2 ^ s)
        offset = (s << 24) | (i1 << 23) | (i2 << 22) | (imm10 << 12) | (imm11 << 1)
        bits = 25
    if offset & (1 << (bits - 1)):
        offset -= 1 << bits
    return offset


class Image:
    """Loaded bytes of an ELF's allocated sections, its symbols and its relocated fields."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        with open(self.path, "rb") as f:
            elf = ELFFile(f)
            self.sections = []
            for sec in elf.iter_sections():
                if sec["sh_flags"] & 0x2 and sec["sh_type"] != "SHT_NOBITS" and sec["sh_size"]:
                    self.sections.append((sec["sh_addr"], sec.data()))
            symtab = elf.get_section_by_name(".symtab")
            if symtab is None:
                raise ValueError(f"{self.path}: no symbol table")
            self.symbols: list[Symbol] = []
            self.labels: dict[int, list[str]] = {}      # every named address, sized or not
            for sym in symtab.iter_symbols():
                stype = sym["st_info"]["type"]
                kind = {"STT_FUNC": "func", "STT_OBJECT": "object"}.get(stype)
                if kind and sym["st_size"] > 0 and sym.name:
                    self.symbols.append(Symbol(sym.name, kind, sym["st_value"] & ~1, sym["st_size"]))
                if sym.name and not sym.name.startswith("$") and stype not in ("STT_SECTION", "STT_FILE"):
                    value = sym["st_value"] & ~1 if stype == "STT_FUNC" else sym["st_value"]
                    self.labels.setdefault(value, []).append(sym.name)
            # relocated fields: address -> relocation type, and the named symbol it was written
            # against where there is one (a section-relative field names no symbol)
            self.relocated: dict[int, int] = {}
            self.reloc_symbol: dict[int, tuple[str, int]] = {}
            for sec in elf.iter_sections():
                if isinstance(sec, RelocationSection):
                    target = elf.get_section(sec["sh_info"])
                    if not target["sh_flags"] & 0x2:
                        continue            # debug info
                    table = elf.get_section(sec["sh_link"])
                    for rel in sec.iter_relocations():
                        self.relocated[rel["r_offset"]] = rel["r_info_type"]
                        sym = table.get_symbol(rel["r_info_sym"])
                        if sym.name and sym["st_info"]["type"] == "STT_NOTYPE":
                            self.reloc_symbol[rel["r_offset"]] = (sym.name, sym["st_value"])
        if not self.relocated:
            raise ValueError(f"{self.path}: no relocation records (was it linked with --emit-relocs?)")
        self.symbols.sort(key=lambda s: s.address)
        self._starts = [s.address for s in self.symbols]

    def read(self, address: int, size: int) -> bytes:
        for base, data in self.sections:
            if base <= address and address + size <= base + len(data):
                return data[address - base:address - base + size]
        raise KeyError(f"0x{address:08x}+{size} is in no loaded section of {self.path}")

    def symbolize(self, address: int) -> str:
        """Name an address as symbol+offset (nearest symbol at or below it)."""
        i = bisect.bisect_right(self._starts, address) - 1
        if i < 0:
            return f"0x{address:08x}"
        # prefer a symbol that contains the address over one that merely precedes it
        for j in range(i, max(-1, i - 8), -1):
            s = self.symbols[j]
            if s.address <= address < s.address + s.size:
                return f"{s.name}+{address - s.address}"
        s = self.symbols[i]
        return f"{s.name}+{address - s.address}"

    def _containing(self, address: int) -> Symbol | None:
        i = bisect.bisect_right(self._starts, address) - 1
        for j in range(i, max(-1, i - 8), -1):
            s = self.symbols[j]
            if s.address <= address < s.address + s.size:
                return s
        return None

    def target(self, address: int) -> tuple:
        """What a relocated field points at, independently of where the link put it."""
        sym = self._containing(address)
        if sym is not None:
            return ("sym", stem(sym.name), address - sym.address)
        if address in self.labels:
            return ("label", min(stem(n) for n in self.labels[address]))
        for base, data in self.sections:
            if base <= address < base + len(data):
                tail = data[address - base:address - base + 64]
                end = tail.find(b"\0")
                return ("data", tail[:end + 1] if end >= 0 else tail[:16])
        return ("near", self.symbolize(address))

    def _code_or_data(self, address: int) -> int:
        """A Thumb function pointer has bit 0 set; a byte pointer may be odd as well."""
        if address & 1:
            i = bisect.bisect_right(self._starts, address & ~1) - 1
            if i >= 0:
                s = self.symbols[i]
                if s.kind == "func" and s.address <= (address & ~1) < s.address + s.size:
                    return address & ~1
        return address

    def normalized(self, sym: Symbol) -> list:
        """The symbol's bytes with every relocated field replaced by what it points at."""
        raw = self.read(sym.address, sym.size)
        out: list = []
        pos = 0
        while pos < len(raw):
            addr = sym.address + pos
            rtype = self.relocated.get(addr)
            if rtype is None or pos + 4 > len(raw):
                out.append(raw[pos])
                pos += 1
                continue
            word = int.from_bytes(raw[pos:pos + 4], "little")
            if rtype == R_ARM_ABS32 and addr in self.reloc_symbol:
                # written against a label of the link (_sccm_bss, _estack): name it by that label,
                # whichever object happens to start there
                name, value = self.reloc_symbol[addr]
                token = ("abs", ("label", name, word - value))
            elif rtype == R_ARM_ABS32:
                token = ("abs", self.target(self._code_or_data(word)))
            elif rtype == R_ARM_REL32:
                token = ("rel", self.target((addr + word) & 0xFFFFFFFF))
            elif rtype in (R_ARM_THM_CALL, R_ARM_THM_JUMP24, R_ARM_THM_JUMP19):
                hw1 = int.from_bytes(raw[pos:pos + 2], "little")
                hw2 = int.from_bytes(raw[pos + 2:pos + 4], "little")
                target = addr + 4 + _decode_thumb_branch(hw1, hw2, rtype == R_ARM_THM_JUMP19)
                if not any(base <= target < base + len(data) for base, data in self.sections):
                    # not a branch any more: a call of an undefined weak function, which the linker
                    # turned into a NOP (ELF for the Arm Architecture, "Static linking")
                    token = ("insn", raw[pos:pos + 4])
                else:
                    # keep the opcode bits (BL vs B.W, condition) and name the target
                    token = ("branch", rtype, hw1 & 0xF800, hw2 & 0xD000,
                             (hw1 >> 6) & 0xF if rtype == R_ARM_THM_JUMP19 else 0, self.target(target))
            else:
                token = ("reloc", rtype)    # MOVW/MOVT and the like: masked
            out.append(token)
            pos += 4
        return out


def differing_symbols(a: Path, b: Path) -> tuple[set[tuple[str, str]], set[tuple[str, str]], set[tuple[str, str]]]:
    """((kind, name) whose normalised contents differ, only in a, only in b); kind is
    "func" or "object".

    Objects in .bss have no contents; they are compared by size only.
    """
    ia, ib = Image(a), Image(b)

    def by_name(img: Image) -> dict[tuple[str, str], list[Symbol]]:
        table: dict[tuple[str, str], list[Symbol]] = {}
        for s in img.symbols:
            table.setdefault((s.kind, stem(s.name)), []).append(s)
        return table

    ta, tb = by_name(ia), by_name(ib)
    differ: set[tuple[str, str]] = set()
    for key in ta.keys() & tb.keys():
        la, lb = ta[key], tb[key]
        if len(la) != len(lb):
            differ.add(key)
            continue
        for sa, sb in zip(la, lb):
            if sa.size != sb.size:
                differ.add(key)
                break
            try:
                ca, cb = ia.normalized(sa), ib.normalized(sb)
            except KeyError:                # no contents (.bss, .ccm_bss): sizes matched
                continue
            if ca != cb:
                differ.add(key)
                break
    return differ, set(ta.keys() - tb.keys()), set(tb.keys() - ta.keys())


def raw_differing_functions(a: Path, b: Path) -> set[str]:
    """Functions whose raw bytes (or addresses) differ: what a naive comparison would report."""
    ia, ib = Image(a), Image(b)
    fa = {s.name: s for s in ia.symbols if s.kind == "func"}
    fb = {s.name: s for s in ib.symbols if s.kind == "func"}
    out = set()
    for name in fa.keys() & fb.keys():
        sa, sb = fa[name], fb[name]
        if sa.address != sb.address or ia.read(sa.address, sa.size) != ib.read(sb.address, sb.size):
            out.add(name)
    return out
