"""The unicorn Cortex-M4F core: model selection, its time base, batched register access, and raw
(binding-free) hook and MMIO registration.

What this relies on in unicorn 2.x (docs/machine.md explains each point):
- `UC_MODE_MCLASS` forces a Cortex-M33 whatever model is asked for (qemu/target/arm/cpu.c,
  `cpu_arm_init`); plain THUMB + `ctl_set_cpu_model(UC_CPU_ARM_CORTEX_M4)` is the M4.
- Virtual time is counted per translated block by the time base (timebase.py: compiled, or
  the Python fallback), which owns the one UC_HOOK_BLOCK hook; emu_start runs uncounted.
- The binding's `reg_read`/`reg_write` cost ~1.2 us each; one `uc_reg_read_batch` /
  `uc_reg_write_batch` call through ctypes is ~10x cheaper per register.
- Stores to pages that hold translated code take the slow path (qemu/accel/tcg/cputlb.c,
  `notdirty_write`), and QEMU's M-profile default memory map makes SRAM executable. With
  `UC_TLB_VIRTUAL` our TLB-fill hook decides: RAM pages no code was ever fetched from are
  read/write only and stores take the fast path; a fetch marks its page executable for good, so
  code in RAM still runs and writes to it still invalidate its translations. Unicorn's own region
  permissions still apply.
- A Python exception cannot cross a ctypes callback (ctypes prints "Exception ignored" and
  returns 0), so every callback catches BaseException and hands it to the machine, which stops
  the slice and re-raises it from run(); the TLB fill records it in `callback_error`.
"""

from __future__ import annotations

import ctypes
from typing import Callable, Sequence

import unicorn
from unicorn import arm_const as A
from unicorn import unicorn_const as U

from .timebase import open_timebase
from .uclib import (HOOK_CODE_CFUNC, HOOK_INSN_INVALID_CFUNC, HOOK_INTR_CFUNC, HOOK_MEM_ACCESS_CFUNC,
                    HOOK_MEM_INVALID_CFUNC, HOOK_TLB_FILL_CFUNC, MMIO_READ_CFUNC, MMIO_WRITE_CFUNC,
                    reg_read_batch, reg_write_batch, uc_hook_h, uclib)

_TLB_PAGE_BITS = 10              # unicorn's ARM target page: 1 KiB
_RW = U.UC_PROT_READ | U.UC_PROT_WRITE
_XPSR_IT = 0x0600_FC00           # IT[1:0] (bits 26:25) and IT[7:2] (bits 15:10)


class CoreError(RuntimeError):
    """The unicorn build does not behave as this module relies on (a different version?)."""


class RegBatch:
    """One preallocated uc_reg_read_batch / uc_reg_write_batch over a fixed register list.

    Writes are applied in list order (uc.c `uc_reg_write_batch` loops over the list), which the
    exception engine relies on."""

    __slots__ = ("_uch", "ids", "vals", "ptrs", "n", "_n")

    def __init__(self, uc: unicorn.Uc, reg_ids: Sequence[int], width: int = 4) -> None:
        self._uch = uc._uch
        self.n = len(reg_ids)
        self.ids = (ctypes.c_int * self.n)(*reg_ids)
        ctype = ctypes.c_uint32 if width == 4 else ctypes.c_uint64
        self.vals = (ctype * self.n)()
        base = ctypes.addressof(self.vals)
        self.ptrs = (ctypes.c_void_p * self.n)(*[base + width * i for i in range(self.n)])
        self._n = ctypes.c_int(self.n)

    def read(self) -> list[int]:
        reg_read_batch(self._uch, self.ids, self.ptrs, self._n)
        return self.vals[:]

    def write(self, values: Sequence[int]) -> None:
        self.vals[:] = values
        reg_write_batch(self._uch, self.ids, self.ptrs, self._n)


def _new_uc() -> unicorn.Uc:
    uc = unicorn.Uc(U.UC_ARCH_ARM, U.UC_MODE_THUMB)
    uc.ctl_set_cpu_model(A.UC_CPU_ARM_CORTEX_M4)
    if uc.ctl_get_cpu_model() != A.UC_CPU_ARM_CORTEX_M4:
        raise CoreError("unicorn did not select the Cortex-M4 model (ctl_set_cpu_model ignored)")
    return uc


class UnicornCore:
    """A unicorn Cortex-M4 with its time base (`timebase`, the one place instructions are
    counted: timebase.py)."""

    def __init__(self, counted: bool = True) -> None:
        """`counted=False`: no time base hook (the benchmark's bare unicorn with our TLB policy)."""
        self.uc = uc = _new_uc()
        self._keep: list[object] = []        # ctypes callbacks must outlive their registration
        self._hooks: dict[int, object] = {}
        self._data_ram: list[tuple[int, int]] = []   # RAM whose pages start read/write only
        self._code_pages: set[int] = set()           # pages code was fetched from
        self._xpsr_reg = RegBatch(uc, (A.UC_ARM_REG_XPSR,))
        self.callback_error: BaseException | None = None   # raised inside the TLB fill
        uc.ctl_set_tlb_mode(U.UC_TLB_VIRTUAL)
        self.timebase = tb = open_timebase(uc)
        if counted:
            tb.attach()
        if tb.native:
            tb.attach_tlb_fill()             # the same policy as _fill_tlb, in C
        else:
            self._add(U.UC_HOOK_TLB_FILL, HOOK_TLB_FILL_CFUNC, self._fill_tlb)
        self._exact = False

    # --- memory permissions seen by the TLB (see the module docstring) ---------------------------
    def add_data_ram(self, start: int, end: int) -> None:
        """[start, end) is RAM: its pages are read/write only until code is fetched from them."""
        self._data_ram.append((start, end))

    def _fill_tlb(self, uch, vaddr: int, access: int, entry, _user) -> bool:
        e = entry.contents
        e.paddr = vaddr                              # identity: unicorn's own map decides the rest
        try:
            page = vaddr >> _TLB_PAGE_BITS
            if access == U.UC_MEM_FETCH:             # (at translation time, between blocks)
                self._code_pages.add(page)
                e.perms = U.UC_PROT_ALL
                return True
            self._clear_stale_it_state(uch)
            if page not in self._code_pages and any(lo <= vaddr < hi for lo, hi in self._data_ram):
                e.perms = _RW
            else:
                e.perms = U.UC_PROT_ALL
            return True
        except BaseException as exc:       # e.g. Ctrl-C: fill plainly, stop at the next boundary
            if self.callback_error is None:
                self.callback_error = exc
            self.timebase.stop_at_boundary()
            e.perms = U.UC_PROT_ALL
            return True

    def _clear_stale_it_state(self, uch) -> None:
        """unicorn_fill_tlb() ran cpu_restore_state(), which leaves the IT state of the current
        instruction in env->condexec_bits. A running block keeps that field 0 (translate.c,
        arm_tr_tb_start) and stores it only when it exits inside an IT block, so after a miss in
        an IT block the next block would be translated as if still inside one - instructions
        skipped and uncounted (seen on the reference firmware). Restore the invariant; the flags
        and IPSR are written back unchanged (TCG synced them before the memory access)."""
        xpsr = self._xpsr_reg
        value = xpsr.read()[0]
        if value & _XPSR_IT:
            xpsr.write((value & ~_XPSR_IT,))

    # --- exact mode ----------------------------------------------------------------------------
    @property
    def exact(self) -> bool:
        return self._exact

    def set_exact(self, on: bool) -> None:
        """Per-instruction stops (single steps, watchpoints) on or off: a hook before every
        instruction, so all code is translated again."""
        if on != self._exact:
            self.timebase.set_exact(on)
            self.uc.ctl_flush_tb()
        self._exact = on

    # --- raw hooks (no binding layers between unicorn and our handler) ---------------------------
    def _add(self, htype: int, cfunc, fn: Callable, begin: int = 1, end: int = 0) -> int:
        cb = cfunc(fn)
        handle = uc_hook_h()
        status = uclib.uc_hook_add(self.uc._uch, ctypes.byref(handle), htype, cb, None,
                                   ctypes.c_uint64(begin), ctypes.c_uint64(end))
        if status != U.UC_ERR_OK:
            raise unicorn.UcError(status)
        self._hooks[handle.value] = cb
        return handle.value

    def hook_interrupt(self, fn: Callable[[int, int], None]) -> int:
        return self._add(U.UC_HOOK_INTR, HOOK_INTR_CFUNC, fn)

    def hook_code(self, fn: Callable[[int, int, int], None], begin: int, end: int) -> int:
        """Before every instruction in [begin, end] (unicorn retranslates nothing by itself: add
        it before the code runs, or retranslate; code_sites.py does)."""
        return self._add(U.UC_HOOK_CODE, HOOK_CODE_CFUNC, fn, begin, end)

    def hook_invalid_instruction(self, fn: Callable[[int], bool]) -> int:
        return self._add(U.UC_HOOK_INSN_INVALID, HOOK_INSN_INVALID_CFUNC, fn)

    def hook_bad_access(self, fn: Callable[[int, int, int, int, int], bool]) -> list[int]:
        """Unmapped and protection faults, everywhere but in data RAM (where none can happen):
        unicorn never lets a page under any memory hook take the fast store path."""
        handles, start = [], 0
        for lo, hi in sorted(self._data_ram) + [(1 << 32, 1 << 32)]:
            if lo > start:
                handles.append(self._add(U.UC_HOOK_MEM_UNMAPPED | U.UC_HOOK_MEM_PROT,
                                         HOOK_MEM_INVALID_CFUNC, fn, start, lo - 1))
            start = max(start, hi)
        return handles

    def hook_memory(self, htype: int, fn: Callable, begin: int, end: int) -> int:
        return self._add(htype, HOOK_MEM_ACCESS_CFUNC, fn, begin, end)

    def unhook(self, handle: int) -> None:
        uclib.uc_hook_del(self.uc._uch, uc_hook_h(handle))
        self._hooks.pop(handle, None)

    def map_mmio(self, address: int, size: int, read: Callable[[int, int, int, int], int],
                 write: Callable[[int, int, int, int, int], None]) -> None:
        """unicorn calls read(uch, offset, size, user) / write(uch, offset, size, value, user)
        through ctypes (the compiled time base's map_mmio calls the models without ctypes)."""
        rcb, wcb = MMIO_READ_CFUNC(read), MMIO_WRITE_CFUNC(write)
        status = uclib.uc_mmio_map(self.uc._uch, address, size, rcb, None, wcb, None)
        if status != U.UC_ERR_OK:
            raise unicorn.UcError(status)
        self._keep += [rcb, wcb]

    def map_buffer(self, address: int, buffer: ctypes.Array, perms: int) -> None:
        self.uc.mem_map_ptr(address, ctypes.sizeof(buffer), perms, ctypes.addressof(buffer))
        self.timebase.add_region(address, ctypes.sizeof(buffer), ctypes.addressof(buffer),
                                 bool(perms & U.UC_PROT_WRITE))
