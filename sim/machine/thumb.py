"""What the time base needs to know about a Thumb instruction, from its encoding alone: its length,
whether it always ends a translation block, and whether it lowers an interrupt mask.

The native helper (native/timebase.c, `thumb_info`) decodes the same three facts the same way;
tests/machine/test_timebase.py checks the two against each other on every halfword pair of the
reference firmware and against unicorn's own translator (the size and instruction count of the
block it translates at each address).

"Always ends a block" follows QEMU's Thumb translator (qemu/target/arm/translate.c): a branch
(B, B<cond>, BL, BLX, BX, CBZ/CBNZ, TBB/TBH), any instruction that writes the PC (POP or LDM with
PC, LDR PC, MOV/ADD PC), MSR (`gen_lookup_tb`), ISB (`gen_goto_tb`), WFI, WFE and YIELD
(DISAS_WFI/WFE/YIELD), SVC, BKPT and UDF (exceptions). The set must never name an instruction the
translator can run past - that would make virtual time depend on where unicorn happened to split
code - so anything uncertain is left out: CPS ends the block only when privileged (in Thread mode
unprivileged it is a NOP, `trans_CPS_v7m`), SEV and DSB/DMB never do, and VMSR sometimes does.
Leaving an instruction out only makes a block boundary rarer, never wrong (docs/machine.md).

"Lowers a mask": MSR to PRIMASK, BASEPRI or FAULTMASK, and CPSIE (ARMv7-M ARM B5.2.3, B5.2.1).
BASEPRI_MAX only raises the mask.
"""

from __future__ import annotations

from typing import NamedTuple

_MASK_SYSM = (0x10, 0x11, 0x13)          # PRIMASK, BASEPRI, FAULTMASK (ARMv7-M ARM B5.1.1)


class ThumbInfo(NamedTuple):
    size: int            # 2 or 4 bytes
    ends_block: bool     # the translator always ends the block after it
    lowers_mask: bool    # MSR PRIMASK/BASEPRI/FAULTMASK or CPSIE


def is_wide(hw1: int) -> bool:
    """The first halfword of a 32-bit Thumb-2 instruction (0b11101, 0b11110, 0b11111 prefixes)."""
    return hw1 >> 11 in (0b11101, 0b11110, 0b11111)


def thumb_info(hw1: int, hw2: int) -> ThumbInfo:
    """The instruction whose first halfword is `hw1` (`hw2`: the halfword after it)."""
    if not is_wide(hw1):
        return ThumbInfo(2, _ends_16(hw1), 0xB661 <= hw1 <= 0xB663)
    ends, lowers = _info_32(hw1, hw2)
    return ThumbInfo(4, ends, lowers)


def _ends_16(hw: int) -> bool:
    if hw & 0xF000 == 0xD000:                 # B<cond>, UDF, SVC
        return True
    if hw & 0xF800 == 0xE000:                 # B
        return True
    if hw & 0xF500 == 0xB100:                 # CBZ, CBNZ
        return True
    if hw & 0xFF00 in (0x4700, 0xBD00, 0xBE00):   # BX/BLX, POP {..., PC}, BKPT
        return True
    if hw & 0xFD00 == 0x4400:                 # ADD/MOV (high registers): Rdn = PC writes it
        return (hw >> 4 & 0x8 | hw & 0x7) == 15
    if hw & 0xFF0F == 0xBF00:                 # hints: YIELD, WFE, WFI
        return (hw >> 4 & 0xF) in (1, 2, 3)
    return False


def _info_32(hw1: int, hw2: int) -> tuple[bool, bool]:
    if hw1 & 0xF800 == 0xF000 and hw2 & 0x8000:             # branches and miscellaneous control
        if hw2 & 0x5000:                                     # B.W, BL, BLX (immediate)
            return True, False
        if hw1 >> 6 & 0xE != 0xE:                            # B<cond>.W
            return True, False
        if hw1 & 0xFFF0 == 0xF380:                           # MSR (register)
            lowers = hw2 & 0xFF00 == 0x8800 and hw2 & 0xFF in _MASK_SYSM
            return True, lowers
        if hw1 & 0xFFF0 == 0xF3A0 and not hw2 & 0x0700:      # hints: YIELD.W, WFE.W, WFI.W
            return hw2 & 0xFF in (1, 2, 3), False
        if hw1 & 0xFFF0 == 0xF3B0:                           # DSB, DMB, ISB
            return hw2 >> 4 & 0xF == 6, False
        if hw1 & 0xFFF0 == 0xF7F0 and hw2 & 0xF000 == 0xA000:    # UDF.W
            return True, False
        return False, False
    if hw1 & 0xFFF0 == 0xE8D0 and hw2 & 0xFFE0 == 0xF000:    # TBB, TBH
        return True, False
    if hw1 & 0xFFD0 in (0xE890, 0xE910):                     # LDM (IA/DB, POP.W): PC in the list
        return bool(hw2 & 0x8000), False
    if hw1 & 0xFFF0 in (0xF8D0, 0xF850) or hw1 & 0xFF7F == 0xF85F:   # LDR (imm, reg, literal)
        return hw2 >> 12 == 15, False
    return False, False


def block_facts(code: bytes) -> tuple[int, bool, bool]:
    """(instructions, last ends a block, last lowers a mask) of the straight-line code `code`
    (a translation block's bytes, starting at an instruction)."""
    n, at, info = 0, 0, ThumbInfo(2, False, False)
    size = len(code)
    while at < size:
        hw1 = code[at] | code[at + 1] << 8
        hw2 = code[at + 2] | code[at + 3] << 8 if at + 3 < size else 0
        info = thumb_info(hw1, hw2)
        at += info.size
        n += 1
    return n, info.ends_block, info.lowers_mask


def instruction_index(code: bytes, offset: int) -> int:
    """How many instructions of `code` begin before byte `offset` (an instruction boundary, or
    the end)."""
    n = at = 0
    while at < offset:
        at += 4 if is_wide(code[at] | code[at + 1] << 8) else 2
        n += 1
    return n
