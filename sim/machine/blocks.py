"""Addresses that begin every translation block executing them, so a hook there can be
dispatched by the time base at block starts (timebase.py) instead of an exact UC_HOOK_CODE.

Why: a code hook makes unicorn translate a call before its instruction, and adding or removing
one retranslates the code it touches; a hook the time base dispatches costs a table lookup at the
block starts it already sees, and needs no retranslation.

A dispatched hook at X fires once per execution of X exactly when every execution of X begins a
block. Execution reaches X either by a jump (blocks are looked up by their exact start address,
so one begins at X) or by falling through from the instruction that ends right before X, inside
the same block - unless that instruction always ends its block (thumb.py says which: branches,
writes of the PC, MSR, ISB, WFI/WFE/YIELD, SVC, BKPT, UDF). Data never falls through. So X
qualifies when the instruction ending at X is one of those, or the bytes before X are data (ELF
mapping symbol `$d`) or no code.

Thumb instructions have two lengths, so which instruction ends at X is only certain when decoding
forward from a known instruction boundary: the ELF mapping symbols (`$t` begins Thumb code, `$d`
data) give one at the start of every run of code. Without them only one case is certain: a BL
ending at X (a call's return address) - read either way, the halfword before X is a branch, SVC,
UDF or the start of a longer instruction, so no fall-through can reach X. Anything else gets
the exact code hook.

Alignment padding: a fifth of the reference firmware's functions follow a NOP (or 0x0000) that
pads the function before, which ends with a branch. The padding runs only if something jumps
into it, and then the block begins there, before X: `classify` reports the padding, and such an
X gets the exact code hook.
"""

from __future__ import annotations

import bisect

from .elf import ElfImage
from .thumb import is_wide, thumb_info

_PADDING = (b"\x00\xbf", b"\x00\x00")            # nop; movs r0, r0 (zero fill)


def _is_bl(hw1: int, hw2: int) -> bool:
    return hw1 >> 11 == 0b11110 and hw2 & 0xD000 == 0xD000


def ends_block(code: bytes) -> bool:
    """True if the one Thumb instruction in `code` always ends unicorn's translation block."""
    if len(code) not in (2, 4) or (len(code) == 4) != is_wide(code[0] | code[1] << 8):
        return False
    hw2 = code[2] | code[3] << 8 if len(code) == 4 else 0
    return thumb_info(code[0] | code[1] << 8, hw2).ends_block


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
