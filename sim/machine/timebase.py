"""The machine's time base: virtual time counted per translated block, one implementation per
process - the compiled helper (native/timebase.c, built by `pip install` as
`sim.machine._native`) or, where it could not be built, the same rules in Python
(pytimebase.py), selected automatically with a one-line warning. TLS_FW_SIM_NATIVE=0 forces the
Python one (CI runs part of the suite so and compares the artifacts), =1 requires the compiled one.

The interface (both implement it):
  attach()                                register the block hook (once per core)
  add_region(base, size, host, writable)  memory the block decoder reads code from
  run(pc, slice_start, deadline, at_boundary, block_time, exact_left)
        -> (uc_err, executed, at_boundary, block_time, stop_reason, pc)
                                          one slice: ends at the first block boundary at or
                                          after `deadline` (absolute cycles), on a stop, a
                                          fault or WFI; exact_left >= 0 ends it exactly that
                                          many instructions in (single steps, exact mode on)
  now(), time_at(pc), enter_hook(pc), leave_hook(), first_instruction(pc)
  set_deadline(t), stop_at_boundary(), stop_before(pc), stop_before_block(),
  stop_next_instruction(), control_transfer(), set_exception_pending(on)
  set_callbacks(on_site, on_mask), add_site(pc), remove_site(pc), forget_code(),
  set_exact(on), take_error(), count, in_slice, slice_start
  native                                  True: the compiled one, which also serves the TLB fill
                                          (attach_tlb_fill), MMIO (map_mmio, take_mmio_count) and
                                          exception entry and return (bind_exceptions,
                                          take_pending, takeable)
docs/machine.md ("Time") explains the rules.
"""

from __future__ import annotations

import importlib
import os
import sys

from sim.errors import BackendError

from .pytimebase import STOP_BEFORE, STOP_BOUNDARY, STOP_ERROR, STOP_MASK, STOP_NONE, PyTimeBase
from .uclib import function_address

__all__ = ["open_timebase", "native_available", "implementation", "STOP_NONE", "STOP_BOUNDARY",
           "STOP_BEFORE", "STOP_MASK", "STOP_ERROR"]

ENV = "TLS_FW_SIM_NATIVE"
_API = ("uc_hook_add", "uc_hook_del", "uc_emu_start", "uc_emu_stop", "uc_reg_read", "uc_mem_read",
        "uc_reg_write", "uc_mmio_map", "uc_reg_read_batch", "uc_reg_write_batch")

try:   # the compiled module (a leaf: it imports nothing of ours)
    _NativeTimeBase = importlib.import_module(f"{__package__}._native").TimeBase
    _IMPORT_ERROR: str | None = None
except ImportError as exc:  # pragma: no cover - depends on the build
    _NativeTimeBase = None
    _IMPORT_ERROR = str(exc)

_warned = False


def native_available() -> bool:
    """The compiled time base was built and imports."""
    return _NativeTimeBase is not None


def implementation() -> str:
    """"native" or "python": what open_timebase() gives in this process (TLS_FW_SIM_NATIVE)."""
    wanted = os.environ.get(ENV, "").strip()
    if wanted not in ("", "0", "1"):
        raise BackendError(f"{ENV}={wanted!r}: use 1 (the compiled time base, required), 0 (the "
                           f"Python fallback) or leave it unset (compiled when built)")
    if wanted == "0":
        return "python"
    if _NativeTimeBase is None:
        if wanted == "1":
            raise BackendError(f"{ENV}=1 but the compiled time base sim.machine._native is not "
                               f"built ({_IMPORT_ERROR}): reinstall with a C compiler and the "
                               f"Python headers present (pip install -e .), or unset {ENV}")
        return "python"
    return "native"


def _warn_once() -> None:
    global _warned
    if not _warned:
        _warned = True
        print(f"tls-fw-sim: the compiled time base is not built ({_IMPORT_ERROR}); using the "
              f"Python one, about 20x slower - reinstall with a C compiler and Python headers "
              f"(pip install -e .)", file=sys.stderr)


def open_timebase(uc):
    """A time base for the unicorn core `uc` (a unicorn.Uc)."""
    from unicorn import arm_const as A
    from unicorn import unicorn_const as U

    if implementation() == "python":
        if os.environ.get(ENV, "").strip() != "0":
            _warn_once()
        return PyTimeBase(uc)
    api = {name: function_address(name) for name in _API}
    constants = {"reg_pc": A.UC_ARM_REG_PC, "reg_xpsr": A.UC_ARM_REG_XPSR, "hook_block": U.UC_HOOK_BLOCK,
                 "hook_code": U.UC_HOOK_CODE, "hook_tlb_fill": U.UC_HOOK_TLB_FILL,
                 "mem_fetch": U.UC_MEM_FETCH, "prot_all": U.UC_PROT_ALL,
                 "prot_rw": U.UC_PROT_READ | U.UC_PROT_WRITE, "hook_intr": U.UC_HOOK_INTR}
    return _NativeTimeBase(uc._uch.value, api, constants)
