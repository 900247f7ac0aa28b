"""Where the firmware lowers its interrupt masks.

unicorn does not trap `msr basepri/primask/faultmask` or `cpsie`, so a pending interrupt that
such an instruction unmasks would wait until the next time-slice boundary. We disassemble the
loaded code with capstone and hook the instruction *after* each of them; the hook takes the
pending exception right there, as the silicon does (facts unicorn-cortex-m.md, pitfall 7).

Limit: code copied into RAM at run time is not scanned (the reference firmware runs from flash).
"""

from __future__ import annotations

from capstone import CS_ARCH_ARM, CS_MODE_MCLASS, CS_MODE_THUMB, Cs

from .elf import ElfImage

_MASK_REGISTERS = ("basepri", "primask", "faultmask")


def _lowers_mask(mnemonic: str, op_str: str) -> bool:
    if mnemonic.startswith("cpsie"):
        return True
    if mnemonic.startswith("msr"):
        target = op_str.split(",", 1)[0].strip().lower()
        return target in _MASK_REGISTERS           # basepri_max can only raise the mask
    return False


def mask_lowering_sites(image: ElfImage, read) -> set[int]:
    """Addresses of the instructions that follow a mask-lowering instruction.

    `read(address, size)` returns the loaded bytes. Each sized function is disassembled from its
    start (exact instruction boundaries); executable sections are swept as well, to cover
    assembly without symbol sizes (a spurious site costs nothing: it is never an instruction)."""
    md = Cs(CS_ARCH_ARM, CS_MODE_THUMB | CS_MODE_MCLASS)
    md.skipdata = True
    ranges = [(s.address, s.address + s.size) for s in image.symbols.functions()]
    ranges += image.code_ranges
    sites: set[int] = set()
    for start, end in ranges:
        code = read(start, end - start)
        if not code:
            continue
        for insn in md.disasm(code, start):
            if _lowers_mask(insn.mnemonic, insn.op_str):
                sites.add(insn.address + insn.size)
    return sites
