"""The time base in Python: the fallback for machines where the compiled one (native/timebase.c)
could not be built. The two must behave identically - the same counts, the same stops, the same
boundaries - so this file follows the C one function by function; tests/machine/test_timebase.py
runs both on the same firmware and compares. It is about 20 times slower (a Python call per
translated block); docs/machine.md ("Time") gives the rules both implement.
"""

from __future__ import annotations

import ctypes
from typing import Callable

from unicorn import arm_const as A
from unicorn import unicorn_const as U

from .thumb import block_facts, instruction_index
from .uclib import HOOK_CODE_CFUNC, emu_start_raw, uc_hook_h, uclib

UNTIL_NEVER = 0xFFFF_FFFF
NO_BLOCK = 1                          # an odd address: no Thumb block starts there
STOP_NONE, STOP_BOUNDARY, STOP_BEFORE, STOP_MASK, STOP_ERROR = range(5)
_FOREVER = (1 << 64) - 1
_pc_value = ctypes.c_uint32()


class PyTimeBase:
    """Virtual time counted per translated block (the interface of `_native.TimeBase`)."""

    native = False          # the TLB fill and MMIO stay on cpu.py's and bus.py's ctypes hooks

    def __init__(self, uc) -> None:
        self._uc = uc
        self._uch = uc._uch
        self._regions: list[tuple[int, int, memoryview, bool]] = []
        self._blocks: dict[tuple[int, int], tuple[int, bool, bool]] = {}   # (pc, size) -> facts
        self._sites: set[int] = set()
        self._on_site: Callable[[int], object] | None = None
        self._on_mask: Callable[[], bool] | None = None
        self._hooks: list[object] = []
        self._block_handle: int | None = None
        self._insn_handle: int | None = None
        self._exact = False
        self.count = 0
        self._deadline = _FOREVER
        self._block_count = 0
        self._cur_base = 0
        self._prev_key = NO_BLOCK
        self._cur_pc = NO_BLOCK
        self.slice_start = 0
        self._stopping = False
        self._stop_reason = STOP_NONE
        self._stop_boundary = False
        self._code_stop = False
        self._stop_before_block = False
        self.in_slice = False
        self._exc_pending = False
        self._in_hook = False
        self._exact_now = 0
        self._exact_left = -1
        self._stop_next_insn = False
        self._error: BaseException | None = None

    # --- setup -------------------------------------------------------------------------------
    def _add_hook(self, htype: int, fn) -> int:
        cb = HOOK_CODE_CFUNC(fn)
        handle = uc_hook_h()
        status = uclib.uc_hook_add(self._uch, ctypes.byref(handle), htype, cb, None,
                                   ctypes.c_uint64(1), ctypes.c_uint64(0))
        if status != U.UC_ERR_OK:
            raise RuntimeError(f"uc_hook_add({htype}) failed: {status}")
        self._hooks.append(cb)
        return handle.value

    def attach(self) -> None:
        if self._block_handle is None:
            self._block_handle = self._add_hook(U.UC_HOOK_BLOCK, self._on_block)

    def add_region(self, base: int, size: int, host: int, writable: bool) -> None:
        view = memoryview((ctypes.c_ubyte * size).from_address(host)).cast("B")
        self._regions.append((base, size, view, bool(writable)))

    def set_exact(self, on: bool) -> None:
        if on and not self._exact:
            self._insn_handle = self._add_hook(U.UC_HOOK_CODE, self._on_insn)
        elif not on and self._exact:
            uclib.uc_hook_del(self._uch, uc_hook_h(self._insn_handle))
            self._insn_handle = None
        self._exact = bool(on)

    def set_callbacks(self, on_site, on_mask) -> None:
        self._on_site, self._on_mask = on_site, on_mask

    def add_site(self, pc: int) -> None:
        self._sites.add(pc)

    def remove_site(self, pc: int) -> None:
        self._sites.discard(pc)

    def forget_code(self) -> None:
        self._blocks.clear()

    # --- code facts ----------------------------------------------------------------------------
    def _code(self, pc: int, size: int) -> tuple[bytes | None, bool]:
        for base, rsize, view, writable in self._regions:
            if base <= pc and pc + size <= base + rsize:
                return bytes(view[pc - base:pc - base + size]), writable
        try:
            return bytes(self._uc.mem_read(pc, size)), True
        except Exception:                     # noqa: BLE001 - cannot happen for translated code
            return None, True

    def _facts(self, pc: int, size: int) -> tuple[int, bool, bool]:
        facts = self._blocks.get((pc, size))
        if facts is None:
            code, writable = self._code(pc, size)
            facts = block_facts(code) if code is not None else ((size + 1) // 2, False, False)
            if not writable:                  # code the firmware may rewrite is never cached
                self._blocks[(pc, size)] = facts
        return facts

    def _cur_end(self) -> int:
        return self._prev_key & ~1

    def _cur_boundary(self) -> bool:
        return self._cur_pc != NO_BLOCK and self._block_count == self._cur_base

    def _begun_before(self, pc: int) -> int:
        if self._cur_pc == NO_BLOCK or not self._cur_pc <= pc < self._cur_end():
            return self.count
        code, _ = self._code(self._cur_pc, self._cur_end() - self._cur_pc)
        if code is None:
            return self._cur_base
        return self._cur_base + instruction_index(code, pc - self._cur_pc)

    # --- the hooks -----------------------------------------------------------------------------
    def _stop(self, reason: int) -> None:
        self._stopping = True
        self._stop_reason = reason
        uclib.uc_emu_stop(self._uch)

    def _call(self, fn, *args) -> bool:
        try:
            return bool(fn(*args))
        except BaseException as exc:          # kept, and the block does not run (as in C)
            if self._error is None:
                self._error = exc
            self._stop_before_block = True
            return False

    def _on_block(self, _uch, address: int, size: int, _user) -> None:
        if self._stopping:
            return                    # the exit check right after this hook ends the slice here
        pc = address
        n, ends, _lowers = self._facts(pc, size)
        count = self.count
        boundary = pc != self._prev_key
        if boundary:
            self._block_count = count
            if count >= self._deadline:
                self._stop_boundary = True
                self._stop(STOP_BOUNDARY)
                return
        if (self._exc_pending and self._on_mask is not None and self._cur_pc != NO_BLOCK
                and pc == self._cur_end() and self._facts(self._cur_pc, self._cur_end() - self._cur_pc)[2]):
            self._in_hook, self._exact_now = True, self.slice_start + count
            take = self._call(self._on_mask)
            self._in_hook = False
            if take or self._stop_before_block:
                self._stop_boundary = True if take else boundary
                self._stop(STOP_MASK if take else STOP_ERROR)
                return
        if pc in self._sites and self._on_site is not None:
            self._in_hook, self._exact_now = True, self.slice_start + count
            self._call(self._on_site, pc)
            self._in_hook = False
            if self._stop_before_block:
                self._stop_boundary = boundary
                self._stop(STOP_ERROR if self._error is not None else STOP_BEFORE)
                return
        self._cur_base = count
        self._cur_pc = pc
        self.count = count + n
        self._prev_key = pc + size + ends

    def _on_insn(self, _uch, address: int, _size: int, _user) -> None:
        if self._stopping:
            return
        if self._stop_next_insn or self._exact_left == 0:
            self._code_stop = True
            self._stop_boundary = address == self._cur_pc and self._cur_boundary()
            self._stop(STOP_BEFORE)
            return
        if self._exact_left > 0:
            self._exact_left -= 1

    # --- a slice -------------------------------------------------------------------------------
    def run(self, pc: int, slice_start: int, deadline: int, at_boundary: bool, block_time: int,
            exact_left: int) -> tuple[int, int, bool, int, int, int]:
        pc &= ~1
        self.slice_start = slice_start
        self._deadline = deadline - slice_start if deadline > slice_start else 0
        self.count = self._cur_base = 0
        self._block_count = block_time - slice_start
        self._prev_key = NO_BLOCK if at_boundary else pc
        self._cur_pc = NO_BLOCK
        self._exact_left = exact_left
        self._stopping = self._code_stop = self._stop_before_block = self._stop_next_insn = False
        self._stop_reason = STOP_NONE
        self._stop_boundary = False
        self._in_hook = False
        self.in_slice = True
        try:
            err = emu_start_raw(self._uch, pc | 1, UNTIL_NEVER)
        finally:
            self.in_slice = False
            self._stopping = False
        uclib.uc_reg_read(self._uch, A.UC_ARM_REG_PC, ctypes.byref(_pc_value))
        pc_now = _pc_value.value & ~1
        executed = self.count
        if (self._cur_pc != NO_BLOCK and (err != 0 or self._code_stop)
                and self._cur_pc <= pc_now < self._cur_end()):
            executed = self._begun_before(pc_now)      # stopped inside the block
            boundary = pc_now == self._cur_pc and self._cur_boundary()
        elif self._stop_reason != STOP_NONE:
            boundary = self._stop_boundary
        else:                                           # WFI, or a fault outside the last block
            boundary = pc_now != self._prev_key
        self.count = executed
        return err, executed, bool(boundary), slice_start + self._block_count, self._stop_reason, pc_now

    # --- inside the slice ----------------------------------------------------------------------
    def now(self) -> int:
        return self._exact_now if self._in_hook else self.slice_start + self._block_count

    def time_at(self, pc: int) -> int:
        return self.slice_start + self._begun_before(pc & ~1)

    def enter_hook(self, pc: int) -> int:
        self._exact_now = self.slice_start + self._begun_before(pc & ~1)
        self._in_hook = True
        return self._exact_now

    def leave_hook(self) -> None:
        self._in_hook = False

    def first_instruction(self, pc: int) -> bool:
        return self._cur_base == 0 and pc & ~1 == self._cur_pc

    def set_deadline(self, time: int) -> None:
        d = time - self.slice_start if time > self.slice_start else 0
        if d < self._deadline:
            self._deadline = d

    def stop_at_boundary(self) -> None:
        self._deadline = 0

    def stop_before(self, pc: int) -> None:
        if not self.in_slice or self._stopping:
            return
        self._code_stop = True
        self._stop_boundary = pc & ~1 == self._cur_pc and self._cur_boundary()
        self._stop(STOP_BEFORE)

    def stop_before_block(self) -> None:
        self._stop_before_block = True

    def stop_next_instruction(self) -> None:
        self._stop_next_insn = True

    def control_transfer(self) -> None:
        self._prev_key |= 1          # odd: never a block start; the current block's end is kept

    def set_exception_pending(self, on: bool) -> None:
        self._exc_pending = bool(on)

    def take_error(self) -> BaseException | None:
        error, self._error = self._error, None
        return error
