"""Struct layouts from an image's DWARF: the offset and size of a member, the size of a struct.

The diagnosis reads firmware state the way a debugger does: `mbedtls_ssl_context.cur_out_ctr`,
`tskTaskControlBlock.pcTaskName`. The struct is looked up in the compilation unit of a function
that uses it (found through `.debug_aranges`), which is fast even for an image with all of Mbed
TLS in it. Results are cached per image file (path, size, modification time).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path


@dataclass(frozen=True)
class Member:
    offset: int
    size: int | None


@dataclass(frozen=True)
class Struct:
    name: str
    size: int
    members: dict[str, Member]

    def has(self, member: str) -> bool:
        return member in self.members

    def offset(self, member: str) -> int:
        return self.members[member].offset


def struct_layout(elf: str | Path, name: str, near_function: str) -> Struct | None:
    """The layout of `struct name` (or a typedef of that name) as the compilation unit that defines
    `near_function` sees it; None when the image has no debug information for it."""
    path = Path(elf)
    try:
        st = path.stat()
    except OSError:
        return None
    return _layout(str(path.resolve()), st.st_size, st.st_mtime_ns, name, near_function)


@lru_cache(maxsize=64)
def _layout(path: str, _size: int, _mtime: int, name: str, near_function: str) -> Struct | None:
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    try:
        with open(path, "rb") as f:
            elf = ELFFile(f)
            if not elf.has_dwarf_info():
                return None
            symtab = elf.get_section_by_name(".symtab")
            found = symtab.get_symbol_by_name(near_function) if symtab is not None else None
            if not found:
                return None
            dwarf = elf.get_dwarf_info(relocate_dwarf_sections=False)      # linked: already resolved
            aranges = dwarf.get_aranges()
            offset = aranges.cu_offset_at_addr(found[0]["st_value"] & ~1) if aranges is not None else None
            if offset is None:
                return None
            return _find(dwarf.get_CU_at(offset), name.encode())
    except (ELFError, OSError, KeyError, ValueError):
        return None


def _find(cu, name: bytes) -> Struct | None:
    for die in cu.iter_DIEs():
        if die.tag not in ("DW_TAG_structure_type", "DW_TAG_typedef"):
            continue
        attr = die.attributes.get("DW_AT_name")
        if attr is None or attr.value != name:
            continue
        if die.tag == "DW_TAG_typedef":
            die = die.get_DIE_from_attribute("DW_AT_type")
            if die.tag != "DW_TAG_structure_type":
                continue
        size = die.attributes.get("DW_AT_byte_size")
        if size is None:                       # a declaration only
            continue
        members = {}
        for child in die.iter_children():
            child_name = child.attributes.get("DW_AT_name")
            location = child.attributes.get("DW_AT_data_member_location")
            if child.tag != "DW_TAG_member" or child_name is None or location is None:
                continue
            members[child_name.value.decode()] = Member(location.value, _type_size(child))
        return Struct(name.decode(), size.value, members)
    return None


def _type_size(die) -> int | None:
    """The byte size of a member's type (through typedefs, qualifiers and arrays)."""
    seen = 0
    while "DW_AT_type" in die.attributes and seen < 16:
        die = die.get_DIE_from_attribute("DW_AT_type")
        seen += 1
        if "DW_AT_byte_size" in die.attributes and die.tag != "DW_TAG_array_type":
            return die.attributes["DW_AT_byte_size"].value
        if die.tag == "DW_TAG_array_type":
            element = _type_size(die)
            count = 1
            for sub in die.iter_children():
                if sub.tag == "DW_TAG_subrange_type":
                    upper = sub.attributes.get("DW_AT_upper_bound")
                    count_attr = sub.attributes.get("DW_AT_count")
                    if count_attr is not None:
                        count *= count_attr.value
                    elif upper is not None:
                        count *= upper.value + 1
            return element * count if element is not None else None
    return None
