#!/usr/bin/env python3
"""Per-region memory use of firmware ELFs, checked against the STM32F407's regions.

FLASH holds every allocated section that lives there plus the load image of initialised data;
SRAM holds .data/.bss and the main stack (_main_stack_size); CCM holds .ccm_bss. Exits 1 naming
the region that overflows. Standard library only: the firmware build must not need more.
"""

from __future__ import annotations

import struct
import sys

REGIONS = {  # name: (origin, length)
    "FLASH": (0x08000000, 1024 * 1024),
    "SRAM": (0x20000000, 128 * 1024),
    "CCM": (0x10000000, 64 * 1024),
}
SHF_ALLOC = 0x2
SHT_NOBITS = 8
SHT_SYMTAB = 2
PT_LOAD = 1


def region_of(addr: int) -> str | None:
    for name, (origin, length) in REGIONS.items():
        if origin <= addr < origin + length:
            return name
    return None


def read_elf(path: str):
    data = open(path, "rb").read()
    if data[:4] != b"\x7fELF" or data[4] != 1 or data[5] != 1:
        raise SystemExit(f"{path}: not a 32-bit little-endian ELF")
    (e_phoff, e_shoff) = struct.unpack_from("<II", data, 28)
    (e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx) = struct.unpack_from("<HHHHH", data, 42)
    segments = [struct.unpack_from("<IIIIIIII", data, e_phoff + i * e_phentsize) for i in range(e_phnum)]
    sections = [struct.unpack_from("<IIIIIIIIII", data, e_shoff + i * e_shentsize) for i in range(e_shnum)]
    strtab = sections[e_shstrndx]

    def name(off: int, table) -> str:
        start = table[4] + off
        return data[start:data.index(b"\0", start)].decode()

    named = [(name(s[0], strtab), s) for s in sections]
    symbols = {}
    for _, s in named:
        if s[1] == SHT_SYMTAB:
            link = sections[s[6]]
            for i in range(s[5] // 16):
                st_name, st_value = struct.unpack_from("<II", data, s[4] + i * 16)
                if st_name:
                    symbols[name(st_name, link)] = st_value
    return segments, named, symbols


def usage(path: str) -> dict[str, int]:
    segments, sections, symbols = read_elf(path)
    used = dict.fromkeys(REGIONS, 0)
    for sec_name, (_, sh_type, sh_flags, sh_addr, _, sh_size, *_rest) in sections:
        if not (sh_flags & SHF_ALLOC) or sh_size == 0:
            continue
        region = region_of(sh_addr)
        if region is None:
            raise SystemExit(f"{path}: section {sec_name} at 0x{sh_addr:08x} is outside every memory region")
        used[region] += sh_size
        if sh_type != SHT_NOBITS and region != "FLASH":
            # initialised data: its load image sits in flash (LMA from the segment)
            for p_type, _, p_vaddr, p_paddr, _, p_memsz, *_ in segments:
                if p_type == PT_LOAD and p_vaddr <= sh_addr < p_vaddr + p_memsz and p_paddr != p_vaddr:
                    if region_of(p_paddr) == "FLASH":
                        used["FLASH"] += sh_size
                    break
    used["SRAM"] += symbols.get("_main_stack_size", 0)
    return used


def main(argv: list[str]) -> int:
    quiet = "--quiet" in argv          # only report overflows (the link step uses it)
    ok = True
    for path in (a for a in argv if a != "--quiet"):
        used = usage(path)
        if not quiet:
            print(f"memory: {path}")
        for region, (_, length) in REGIONS.items():
            note = " (incl. main stack)" if region == "SRAM" else ""
            if not quiet:
                print(f"  {region:<5} {used[region]:>8} / {length:>8} bytes  {100.0 * used[region] / length:5.1f}%{note}")
            if used[region] > length:
                print(f"memory: error: {region} overflows by {used[region] - length} bytes in {path}", file=sys.stderr)
                ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
