"""The unicorn Cortex-M4F core: model selection, the exact executed-instruction counter and the
slice budget, batched register access, and raw (binding-free) hook and MMIO registration.

What this relies on in unicorn 2.1.4 (pinned; docs/machine.md explains each point):
- `UC_MODE_MCLASS` forces a Cortex-M33 whatever model is asked for (qemu/target/arm/cpu.c,
  `cpu_arm_init`); plain THUMB + `ctl_set_cpu_model(UC_CPU_ARM_CORTEX_M4)` is the M4.
- `emu_start(count=n)` counts with an internal code hook that increments `uc_struct.emu_counter`
  and stops once it passes `emu_count` (uc.c `hook_count_cb`; include/uc_priv.h). There is no API
  for "instructions executed" when a run stops early, so we find the two fields at startup by
  running known counts, check them on every core, and lower `emu_count` to end a slice cleanly
  after the current instruction (`end_slice_at`).
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
import struct
from typing import Callable, Sequence

import unicorn
from unicorn import arm_const as A
from unicorn import unicorn_const as U

try:  # the binding's native callback signatures (unicorn 2.1.x layout)
    from unicorn.unicorn_py3.unicorn import (HOOK_CODE_CFUNC, HOOK_INSN_INVALID_CFUNC,
                                             HOOK_INTR_CFUNC, HOOK_MEM_ACCESS_CFUNC,
                                             HOOK_MEM_INVALID_CFUNC, HOOK_TLB_FILL_CFUNC,
                                             MMIO_READ_CFUNC, MMIO_WRITE_CFUNC, uc_hook_h, uclib)
except ImportError as exc:  # pragma: no cover - depends on the installed wheel
    raise ImportError(f"sim.machine needs unicorn 2.1.x (pinned 2.1.4 in pyproject.toml); "
                      f"found {unicorn.__version__}: {exc}") from exc

UNTIL_NEVER = 0xFFFF_FFFF        # odd, so a Thumb PC never equals it: runs end only by count/stop
_CALIBRATION_BASE = 0x6000_0000  # scratch page used once per core, then unmapped
_TLB_PAGE_BITS = 10              # unicorn's ARM target page: 1 KiB
_RW = U.UC_PROT_READ | U.UC_PROT_WRITE
_XPSR_IT = 0x0600_FC00           # IT[1:0] (bits 26:25) and IT[7:2] (bits 15:10)
_SCAN_BYTES = 16384
_UNTIL, _ZERO = ctypes.c_uint64(UNTIL_NEVER), ctypes.c_uint64(0)

_counter_offset: int | None = None

# The hot calls without the binding's argtypes: ctypes then skips converting every argument
# (0.22 instead of 0.50 us per register batch). Callers pass ctypes objects or C ints.
_fast = ctypes.CDLL(uclib._name)
_reg_read_batch = _fast.uc_reg_read_batch
_reg_write_batch = _fast.uc_reg_write_batch
_emu_start = _fast.uc_emu_start


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
        _reg_read_batch(self._uch, self.ids, self.ptrs, self._n)
        return self.vals[:]

    def write(self, values: Sequence[int]) -> None:
        self.vals[:] = values
        _reg_write_batch(self._uch, self.ids, self.ptrs, self._n)


def _new_uc() -> unicorn.Uc:
    uc = unicorn.Uc(U.UC_ARCH_ARM, U.UC_MODE_THUMB)
    uc.ctl_set_cpu_model(A.UC_CPU_ARM_CORTEX_M4)
    if uc.ctl_get_cpu_model() != A.UC_CPU_ARM_CORTEX_M4:
        raise CoreError("unicorn did not select the Cortex-M4 model (ctl_set_cpu_model ignored)")
    return uc


def _calibration_program() -> bytes:
    # loop: adds r0, #1 ; b loop   (a 2-instruction loop the counter can be checked against)
    return struct.pack("<HH", 0x3001, 0xE7FD)


def _run_counted(uc: unicorn.Uc, count: int) -> bytes:
    uc.emu_start(_CALIBRATION_BASE | 1, UNTIL_NEVER, 0, count)
    return ctypes.string_at(uc._uch.value, _SCAN_BYTES)


def _find_counter_offset(uc: unicorn.Uc) -> int:
    """Offset of (emu_counter, emu_count) in uc_struct: the unique place holding
    (n+1, n) after a run of n instructions, for two different n."""
    counts = (12345, 6789)
    snaps = [_run_counted(uc, n) for n in counts]
    found = []
    for off in range(0, _SCAN_BYTES - 16, 8):
        if all(struct.unpack_from("<QQ", snap, off) == (n + 1, n) for snap, n in zip(snaps, counts)):
            found.append(off)
    if len(found) != 1:
        raise CoreError(f"could not locate unicorn's instruction counter (candidates {found}); "
                        f"this machine needs unicorn 2.1.4, found {unicorn.__version__}")
    return found[0]


class UnicornCore:
    """A unicorn Cortex-M4 with exact instruction accounting."""

    def __init__(self) -> None:
        global _counter_offset
        self.uc = uc = _new_uc()
        uc.mem_map(_CALIBRATION_BASE, 0x400, U.UC_PROT_ALL)
        uc.mem_write(_CALIBRATION_BASE, _calibration_program())
        if _counter_offset is None:
            _counter_offset = _find_counter_offset(uc)
        base = uc._uch.value
        self._counter = ctypes.c_uint64.from_address(base + _counter_offset)
        self._count = ctypes.c_uint64.from_address(base + _counter_offset + 8)
        # self-check on this very instance: a counted run must leave (n+1, n) where we look
        uc.emu_start(_CALIBRATION_BASE | 1, UNTIL_NEVER, 0, 1001)
        if (self._counter.value, self._count.value) != (1002, 1001):
            raise CoreError(f"unicorn's instruction counter is not where calibration found it "
                            f"({self._counter.value}, {self._count.value}); unicorn "
                            f"{unicorn.__version__} is not supported (pin 2.1.4)")
        uc.mem_unmap(_CALIBRATION_BASE, 0x400)
        uc.ctl_remove_cache(_CALIBRATION_BASE, _CALIBRATION_BASE + 0x400)
        self._keep: list[object] = []        # ctypes callbacks must outlive their registration
        self._hooks: dict[int, object] = {}
        self._data_ram: list[tuple[int, int]] = []   # RAM whose pages start read/write only
        self._code_pages: set[int] = set()           # pages code was fetched from
        self._xpsr_reg = RegBatch(uc, (A.UC_ARM_REG_XPSR,))
        self.callback_error: BaseException | None = None   # raised inside the TLB fill
        uc.ctl_set_tlb_mode(U.UC_TLB_VIRTUAL)
        self._add(U.UC_HOOK_TLB_FILL, HOOK_TLB_FILL_CFUNC, self._fill_tlb)

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
        except BaseException as exc:       # e.g. Ctrl-C: fill plainly, stop after this instruction
            if self.callback_error is None:
                self.callback_error = exc
            self.stop_after_current()
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

    # --- instruction accounting ------------------------------------------------------------------
    @property
    def counter(self) -> int:
        """Count-hook invocations since the current/last emu_start (instructions begun)."""
        return self._counter.value

    @property
    def budget(self) -> int:
        """The `counter` value past which the running slice ends: the count given to `start`, or
        less once the slice was shortened."""
        return self._count.value

    def end_slice_at(self, begun: int) -> None:
        """End the running slice before instruction `begun + 1` begins (never later than it
        would end anyway): the one way the budget changes while the CPU runs."""
        count = self._count
        if begun < count.value:
            count.value = begun

    def stop_after_current(self) -> None:
        """End the running slice cleanly before the next instruction (no re-execution)."""
        self._count.value = self._counter.value

    def stop_now(self) -> None:
        """From a code hook: end the slice before the hooked instruction executes.

        Inside an IT block unicorn drops this request; the count trick set alongside then ends
        the slice after the block instead (so a stop is never lost, only late)."""
        uclib.uc_emu_stop(self.uc._uch)
        self._count.value = self._counter.value

    def start(self, pc: int, count: int) -> None:
        """Run at most `count` instructions from `pc` (Thumb). Raises UcError on a fault."""
        status = _emu_start(self.uc._uch, ctypes.c_uint64(pc | 1), _UNTIL, _ZERO, ctypes.c_size_t(count))
        if status != U.UC_ERR_OK:
            raise unicorn.UcError(status)

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
        """Before every instruction in [begin, end]. Costly: see blocks.py."""
        return self._add(U.UC_HOOK_CODE, HOOK_CODE_CFUNC, fn, begin, end)

    def hook_block(self, fn: Callable[[int, int, int], None], begin: int, end: int) -> int:
        """Before every translation block that starts in [begin, end] (before its first
        instruction is counted: inside, `counter` is the instructions begun before the block)."""
        return self._add(U.UC_HOOK_BLOCK, HOOK_CODE_CFUNC, fn, begin, end)

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
        rcb, wcb = MMIO_READ_CFUNC(read), MMIO_WRITE_CFUNC(write)
        status = uclib.uc_mmio_map(self.uc._uch, address, size, rcb, None, wcb, None)
        if status != U.UC_ERR_OK:
            raise unicorn.UcError(status)
        self._keep += [rcb, wcb]

    def map_buffer(self, address: int, buffer: ctypes.Array, perms: int) -> None:
        self.uc.mem_map_ptr(address, ctypes.sizeof(buffer), perms, ctypes.addressof(buffer))
