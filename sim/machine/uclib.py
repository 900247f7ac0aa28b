"""unicorn's C library as the machine calls it: the loaded library of the Python binding, the
callback signatures of include/unicorn/unicorn.h, and the few calls made without the binding's
per-call argument conversion. The one place that knows where the binding keeps its library
(unicorn 2.1: `unicorn.unicorn_py3.unicorn.uclib`; 2.0: `unicorn.unicorn._uc`).
"""

from __future__ import annotations

import ctypes

import unicorn

try:
    from unicorn.unicorn_py3.unicorn import uclib
except ImportError:  # pragma: no cover - unicorn 2.0's binding
    try:
        from unicorn.unicorn import _uc as uclib   # type: ignore[attr-defined,no-redef]
    except ImportError as exc:
        raise ImportError(f"sim.machine needs unicorn 2.x (pyproject.toml names the tested "
                          f"releases); found {unicorn.__version__}: {exc}") from exc

_u64, _u32, _int, _ptr = ctypes.c_uint64, ctypes.c_uint32, ctypes.c_int, ctypes.c_void_p
uc_hook_h = ctypes.c_size_t


class uc_tlb_entry(ctypes.Structure):
    _fields_ = (("paddr", _u64), ("perms", _int))


# callback signatures (unicorn.h: uc_cb_hookcode_t, uc_cb_hookintr_t, ...)
HOOK_CODE_CFUNC = ctypes.CFUNCTYPE(None, _ptr, _u64, _u32, _ptr)
HOOK_INTR_CFUNC = ctypes.CFUNCTYPE(None, _ptr, _u32, _ptr)
HOOK_INSN_INVALID_CFUNC = ctypes.CFUNCTYPE(ctypes.c_bool, _ptr, _ptr)
HOOK_MEM_ACCESS_CFUNC = ctypes.CFUNCTYPE(None, _ptr, _int, _u64, _int, ctypes.c_int64, _ptr)
HOOK_MEM_INVALID_CFUNC = ctypes.CFUNCTYPE(ctypes.c_bool, _ptr, _int, _u64, _int, ctypes.c_int64, _ptr)
HOOK_TLB_FILL_CFUNC = ctypes.CFUNCTYPE(ctypes.c_bool, _ptr, _u64, _int, ctypes.POINTER(uc_tlb_entry), _ptr)
MMIO_READ_CFUNC = ctypes.CFUNCTYPE(_u64, _ptr, _u64, _u32, _ptr)
MMIO_WRITE_CFUNC = ctypes.CFUNCTYPE(None, _ptr, _u64, _u32, _u64, _ptr)

# The hot calls without argtypes: ctypes then skips converting every argument (0.22 instead of
# 0.50 us per register batch). Callers pass ctypes objects or C ints.
_fast = ctypes.CDLL(uclib._name)
reg_read_batch = _fast.uc_reg_read_batch
reg_write_batch = _fast.uc_reg_write_batch
_emu_start = _fast.uc_emu_start
_ZERO = ctypes.c_uint64(0)


def emu_start_raw(uch, begin: int, until: int) -> int:
    """uc_emu_start without counting (the time base counts); returns unicorn's error code."""
    return _emu_start(uch, ctypes.c_uint64(begin), ctypes.c_uint64(until), _ZERO, ctypes.c_size_t(0))


def function_address(name: str) -> int:
    """Address of one of unicorn's C functions (handed to the compiled time base)."""
    return ctypes.cast(getattr(uclib, name), ctypes.c_void_p).value
