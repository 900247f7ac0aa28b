"""Addresses that begin every translation block executing them, so a hook there can be a cheap
UC_HOOK_BLOCK instead of a UC_HOOK_CODE.

Why: unicorn 2.1.4 calls the instruction counter of `emu_start(count=...)` inline only while it
is the one UC_HOOK_CODE hook (tcg-op.h, gen_uc_tracecode: `hooks_count == 1`). One more code
hook anywhere, whatever its address range, sends every instruction through the generic hook walk:
the machine drops from ~400 to ~200 MIPS, and each further code hook costs ~2.5 ns per
instruction. A block hook is matched at translation time against the block's first address only
(translator.c, HOOK_EXISTS_BOUNDED at `tb->pc`), so elsewhere it costs nothing.

A block hook at X fires once per execution of X exactly when every execution of X begins a
block. Execution reaches X either by a jump (blocks are looked up by their exact start address,
so one begins at X) or by falling through from the instruction that ends right before X, inside
the same block - unless that instruction ends its block. QEMU's Thumb translator (translate.c)
ends the block after every instruction that may write the PC (B, BL, BLX, BX, CBZ/CBNZ, TBB/TBH,
POP/LDM/LDR/MOV/ADD to PC - taken or not), after MSR and CPS (gen_lookup_tb), ISB (gen_goto_tb),
WFI, WFE, YIELD, SVC, BKPT and UDF. Data never falls through. So X qualifies when the instruction
ending at X is one of those, or the bytes before X are data (ELF mapping symbol `$d`) or no code.

Thumb instructions have two lengths, so which instruction ends at X is only certain when decoding
forward from a known instruction boundary: the ELF mapping symbols (`$t` begins Thumb code, `$d`
data) give one at the start of every run of code. Without them only one case is certain: a BL
ending at X (a call's return address) - read either way, the halfword before X is a branch, SVC,
UDF or the start of a longer instruction, so no fall-through can reach X. Anything else gets
the exact (slow) code hook.

Alignment padding: a fifth of the reference firmware's functions follow a NOP (or 0x0000) that
pads the function before, which ends with a branch. The padding runs only if something jumps
into it, and then it begins a block; a guard (a block hook on the padding) ends the slice right
before X in that case, so the next block begins at X and X's hook stays exact.
"""

from __future__ import annotations

import bisect

from capstone import CS_ARCH_ARM, CS_GRP_CALL, CS_GRP_INT, CS_GRP_JUMP, CS_MODE_MCLASS, CS_MODE_THUMB, Cs
from capstone.arm import ARM_REG_PC

from .elf import ElfImage

_md = Cs(CS_ARCH_ARM, CS_MODE_THUMB | CS_MODE_MCLASS)
_md.detail = True
# instructions after which QEMU always begins a new block, besides branches and writes to PC
_BLOCK_ENDERS = {"msr", "cpsie", "cpsid", "isb", "wfi", "wfe", "yield", "svc", "bkpt", "udf"}
_PADDING = (b"\x00\xbf", b"\x00\x00")            # nop; movs r0, r0 (zero fill)
_CONDITIONS = {"eq", "ne", "cs", "hs", "cc", "lo", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt",
               "gt", "le", "al"}


def is_wide(halfword: int) -> bool:
    """The first halfword of a 32-bit Thumb-2 instruction (0b11101, 0b11110, 0b11111 prefixes)."""
    return halfword >> 11 in (0b11101, 0b11110, 0b11111)


def _is_bl(hw1: int, hw2: int) -> bool:
    return hw1 >> 11 == 0b11110 and hw2 & 0xD000 == 0xD000


def ends_block(code: bytes) -> bool:
    """True if the one Thumb instruction in `code` always ends QEMU's translation block."""
    for insn in _md.disasm(code, 0, 1):
        if insn.size != len(code):
            return False
        if insn.group(CS_GRP_JUMP) or insn.group(CS_GRP_CALL) or insn.group(CS_GRP_INT):
            return True
        if ARM_REG_PC in insn.regs_access()[1]:
            return True
        base = insn.mnemonic.split(".")[0]
        if base[-2:] in _CONDITIONS and base[:-2] in _BLOCK_ENDERS:
            base = base[:-2]
        return base in _BLOCK_ENDERS
    return False                                  # not an instruction capstone knows


class BlockStarts:
    """Answers `classify(address)` for one loaded image."""

    def __init__(self, image: ElfImage, read) -> None:
        self._read = read                          # read(address, size) -> bytes | None
        self._code = sorted(image.code_ranges)
        self._marks = image.mapping
        self._mark_addresses = [a for a, _ in image.mapping]

    def _in_code(self, address: int) -> bool:
        return any(lo <= address < hi for lo, hi in self._code)

    def classify(self, address: int) -> tuple[bool, tuple[int, int] | None]:
        """(True, None): every execution of `address` begins a block. (True, (lo, hi)): so it
        does provided a guard ends any block that begins in the padding [lo, hi) right before
        `address` (hi == address). (False, None): neither is certain."""
        address &= ~1
        if not self._in_code(address):
            return False, None                     # code the ELF does not describe (e.g. in RAM)
        if not self._in_code(address - 1):
            return True, None                      # X starts the image's code: nothing ends at X
        if not self._marks:
            raw = self._read(address - 4, 4)
            bl = raw is not None and _is_bl(raw[0] | raw[1] << 8, raw[2] | raw[3] << 8)
            return bl, None
        i = bisect.bisect_right(self._mark_addresses, address - 1) - 1
        if i < 0:
            return False, None
        start, kind = self._marks[i]
        if kind == "d":
            return True, None                      # data before X: nothing falls through
        if kind != "t":
            return False, None                     # ARM code: never on an M-profile core
        bounds = self._boundaries(start, address)
        if bounds is None:
            return False, None                     # X is not an instruction boundary
        end = address
        while bounds:
            last = self._read(bounds[-1], end - bounds[-1])
            if last is None:
                return False, None
            if ends_block(last):
                return True, (None if end == address else (end, address))
            if bytes(last) not in _PADDING:
                return False, None
            end = bounds.pop()
        return False, None

    def _boundaries(self, start: int, end: int) -> list[int] | None:
        """Instruction starts from a known boundary `start` up to `end` (followed by `end`
        itself), decoding lengths only; None if `end` is not a boundary."""
        n = end - start
        code = self._read(start, n)
        if code is None:
            return None
        at, starts = 0, [start]
        while at < n:
            at += 4 if is_wide(code[at] | code[at + 1] << 8) else 2
            starts.append(start + at)
        if at != n:
            return None
        starts.pop()                               # `end` itself
        return starts
