"""Where the firmware lowers its interrupt masks.

unicorn does not trap `msr basepri/primask/faultmask` or `cpsie`, so a pending interrupt that
such an instruction unmasks would wait until the next time-slice boundary. We find them in the
loaded code and hook the instruction *after* each; the hook takes the pending exception right
there, as the silicon does: the new mask applies from the next instruction on (ARMv7-M ARM
B5.2.1 CPS, B5.2.3 MSR).

Finding them: a byte search for their Thumb encodings (MSR T1 `F38n 88ss` with SYSm PRIMASK,
BASEPRI or FAULTMASK; CPSIE `B66x`), each candidate confirmed by capstone. Disassembling the whole
image with capstone took over a second for the reference firmware; the search takes
milliseconds. A candidate that is really data or the middle of another instruction only costs a
hook that never runs - and even a hook on a genuine instruction boundary is harmless, because
taking a takeable exception is correct at any boundary.

Limit: code copied into RAM at run time is not scanned (the reference firmware runs from flash).
"""

from __future__ import annotations

import re

from capstone import CS_ARCH_ARM, CS_MODE_MCLASS, CS_MODE_THUMB, Cs

from .elf import ElfImage

_MASK_REGISTERS = ("basepri", "primask", "faultmask")      # basepri_max only raises the mask
# MSR (register) T1: 1111 0011 1000 Rn | 1000 1000 SYSm  (SYSm 0x10 PRIMASK, 0x11 BASEPRI,
# 0x13 FAULTMASK); CPS T1: 1011 0110 011 im=0 0 A I F  (enable: im = 0)
_CANDIDATES = re.compile(rb"[\x80-\x8f]\xf3[\x10\x11\x13]\x88|[\x61-\x63]\xb6", re.DOTALL)
_md = Cs(CS_ARCH_ARM, CS_MODE_THUMB | CS_MODE_MCLASS)


def _lowers_mask(mnemonic: str, op_str: str) -> bool:
    if mnemonic.startswith("cpsie"):
        return True
    if mnemonic.startswith("msr"):
        return op_str.split(",", 1)[0].strip().lower() in _MASK_REGISTERS
    return False


def mask_lowering_sites(image: ElfImage, read) -> set[int]:
    """Addresses of the instructions that follow a mask-lowering instruction.
    `read(address, size)` returns the loaded bytes of the image's code."""
    sites: set[int] = set()
    for start, end in image.code_ranges:
        code = read(start, end - start)
        if not code:
            continue
        for match in _CANDIDATES.finditer(code):
            offset = match.start()
            if (start + offset) & 1:
                continue                                    # Thumb instructions are halfword aligned
            for address, size, mnemonic, op_str in _md.disasm_lite(code[offset:offset + 4],
                                                                   start + offset, 1):
                if _lowers_mask(mnemonic, op_str):
                    sites.add(address + size)
    return sites
