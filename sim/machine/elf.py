"""Firmware images: a 32-bit little-endian ARM ELF read with pyelftools, its loadable segments
(placed at their load addresses, so .data is copied by the firmware's startup as on silicon) and
its symbol table (for hooks by name and for `func+0x12` in reports)."""

from __future__ import annotations

import bisect
import difflib
import io
import struct
from dataclasses import dataclass, field
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.construct import ConstructError
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from sim.errors import BackendError


class ElfError(BackendError):
    """The file is not a firmware image this machine can run; the message says why."""


@dataclass(frozen=True)
class Segment:
    index: int
    load_address: int          # p_paddr (LMA): where the bytes go
    run_address: int           # p_vaddr (VMA)
    data: bytes                # p_filesz bytes
    mem_size: int              # p_memsz
    sections: tuple[str, ...]  # sections inside, for error messages

    def describe(self) -> str:
        names = " ".join(self.sections) or "no sections"
        return (f"segment {self.index} ({names}; load address 0x{self.load_address:08x}, "
                f"{len(self.data)} bytes in file, {self.mem_size} in memory)")


@dataclass(frozen=True)
class Symbol:
    name: str
    address: int               # Thumb bit cleared for functions
    size: int
    is_function: bool


class SymbolTable:
    def __init__(self, symbols: list[Symbol]) -> None:
        self._by_name: dict[str, Symbol] = {}
        for s in symbols:
            # prefer a sized function over a label of the same name
            old = self._by_name.get(s.name)
            if old is None or (s.is_function and not old.is_function) or (s.size and not old.size):
                self._by_name[s.name] = s
        ordered = sorted(self._by_name.values(), key=lambda s: (s.address, -s.size))
        self._starts = [s.address for s in ordered]
        self._ordered = ordered

    def __len__(self) -> int:
        return len(self._by_name)

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    def get(self, name: str) -> Symbol | None:
        return self._by_name.get(name)

    def address(self, name: str) -> int:
        sym = self._by_name.get(name)
        if sym is None:
            close = difflib.get_close_matches(name, self._by_name, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise BackendError(f"no symbol {name!r} in the loaded ELF{hint}")
        return sym.address

    def functions(self) -> list[Symbol]:
        return [s for s in self._ordered if s.is_function and s.size]

    def symbolize(self, address: int) -> str | None:
        """`name+0xNN` for the symbol containing `address` (or the nearest one below it)."""
        i = bisect.bisect_right(self._starts, address) - 1
        best = None
        while i >= 0:
            s = self._ordered[i]
            if s.size and s.address <= address < s.address + s.size:
                best = s
                break
            if best is None:
                best = s
            if address - s.address > 0x10000:
                break
            i -= 1
        if best is None or address - best.address > 0x10000:
            return None
        off = address - best.address
        return best.name if off == 0 else f"{best.name}+0x{off:x}"


@dataclass
class ElfImage:
    path: str
    entry: int
    segments: list[Segment]
    symbols: SymbolTable
    code_ranges: list[tuple[int, int]] = field(default_factory=list)   # executable sections
    # ARM ELF mapping symbols ($t Thumb code, $d data, $a ARM code) as (address, "t"|"d"|"a"),
    # sorted: where code and data (literal pools, jump tables) begin inside the sections
    mapping: list[tuple[int, str]] = field(default_factory=list)


def _section_in(section, segment) -> bool:
    """By file offset for sections with contents (robust to odd addresses), by address for .bss."""
    if section["sh_type"] == "SHT_NOBITS":
        start, size = segment["p_vaddr"], segment["p_memsz"]
        return start <= section["sh_addr"] < start + size
    start, size = segment["p_offset"], segment["p_filesz"]
    return section["sh_size"] > 0 and start <= section["sh_offset"] < start + size


_ELF32_HEADER = 52
# what pyelftools raises on damaged input besides its own ELFError: construct's parse errors
# and plain Python errors from reading past the data or decoding names
_PARSE_ERRORS = (ELFError, ConstructError, struct.error, ValueError, IndexError, KeyError,
                 UnicodeDecodeError, OverflowError, AttributeError, TypeError, MemoryError)


def read_elf(path: str | Path) -> ElfImage:
    """The image at `path`, or ElfError naming the file, what is wrong with it and the fix."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ElfError(f"firmware ELF {path} does not exist") from None
    except IsADirectoryError:
        raise ElfError(f"firmware ELF {path} is a directory, not an ELF file") from None
    except OSError as exc:
        raise ElfError(f"cannot read firmware ELF {path}: {exc.strerror or exc}") from None
    if raw[:4] != b"\x7fELF":
        raise ElfError(f"{path} is not an ELF file (no \\x7fELF magic); give the firmware .elf, "
                       f"not a .bin or .hex")
    if len(raw) < _ELF32_HEADER:
        raise ElfError(f"{path} is truncated ({len(raw)} bytes, shorter than an ELF header): "
                       f"build or copy the firmware again")
    if raw[4] != 1:
        raise ElfError(f"{path} is a 64-bit ELF; the STM32F407 needs a 32-bit ARM image "
                       f"(build it with arm-none-eabi-gcc)")
    if raw[5] != 1:
        raise ElfError(f"{path} is big-endian; the Cortex-M4 image must be little-endian")
    try:
        return _parse(path, raw)
    except ElfError:
        raise
    except _PARSE_ERRORS as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ElfError(f"{path} is damaged or truncated ({detail}): build or copy the firmware "
                       f"again") from None


def _parse(path: Path, raw: bytes) -> ElfImage:
    elf = ELFFile(io.BytesIO(raw))
    if elf["e_machine"] != "EM_ARM":
        raise ElfError(f"{path} is built for {elf['e_machine']}, not ARM: build it with "
                       f"arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb")
    sections = [s for s in elf.iter_sections() if s["sh_flags"] & SH_FLAGS.SHF_ALLOC]
    segments: list[Segment] = []
    for i, seg in enumerate(elf.iter_segments()):
        if seg["p_type"] != "PT_LOAD" or seg["p_memsz"] == 0:
            continue
        data = seg.data()
        if len(data) != seg["p_filesz"]:
            raise ElfError(f"{path} is truncated: segment {i} needs {seg['p_filesz']} bytes at file "
                           f"offset {seg['p_offset']}, the file has {len(data)} there; build or copy "
                           f"the firmware again")
        inside = tuple(s.name for s in sections if _section_in(s, seg))
        segments.append(Segment(i, seg["p_paddr"], seg["p_vaddr"], data, seg["p_memsz"], inside))
    if not segments:
        raise ElfError(f"{path} has no loadable segments (is it a relocatable object, not a linked image?)")
    code_ranges = [(s["sh_addr"], s["sh_addr"] + s["sh_size"]) for s in sections
                   if s["sh_flags"] & SH_FLAGS.SHF_EXECINSTR and s["sh_size"]]
    symbols: list[Symbol] = []
    mapping: set[tuple[int, str]] = set()
    symtab = elf.get_section_by_name(".symtab")
    if isinstance(symtab, SymbolTableSection):
        strtab = elf.get_section(symtab["sh_link"])
        for name, value, size, kind, shndx in _symbols(raw, symtab, strtab):
            if name[:2] in ("$t", "$d", "$a") and name[2:3] in ("", ".") and shndx not in _UNDEF_ABS:
                mapping.add((value, name[1]))
                continue
            if not name or name.startswith("$") or kind in (_STT_SECTION, _STT_FILE):
                continue
            if shndx in _UNDEF_ABS and kind != _STT_OBJECT:
                continue
            is_func = kind == _STT_FUNC
            symbols.append(Symbol(name, value & ~1 if is_func else value, size, is_func))
    return ElfImage(str(path), elf["e_entry"], segments, SymbolTable(symbols), code_ranges,
                    sorted(mapping))


_ELF32_SYM = struct.Struct("<IIIBBH")       # st_name st_value st_size st_info st_other st_shndx
_STT_OBJECT, _STT_FUNC, _STT_SECTION, _STT_FILE = 1, 2, 3, 4
_UNDEF_ABS = (0, 0xFFF1)                    # SHN_UNDEF, SHN_ABS


def _symbols(raw: bytes, symtab, strtab):
    """(name, value, size, type, section index) of every symbol, read straight from the file
    (pyelftools' per-symbol parsing took 0.2 s for the reference firmware's 3,100 symbols)."""
    start, size = symtab["sh_offset"], symtab["sh_size"]
    if symtab["sh_entsize"] != _ELF32_SYM.size or start + size > len(raw):
        raise ElfError("the symbol table is damaged (entry size or extent)")
    names = raw[strtab["sh_offset"]:strtab["sh_offset"] + strtab["sh_size"]]
    for st_name, value, sym_size, info, _other, shndx in _ELF32_SYM.iter_unpack(raw[start:start + size]):
        end = names.find(b"\0", st_name)
        if st_name > len(names) or end < 0:
            raise ElfError(f"a symbol name is outside the string table (offset {st_name})")
        yield names[st_name:end].decode("utf-8"), value, sym_size, info & 0xF, shndx
