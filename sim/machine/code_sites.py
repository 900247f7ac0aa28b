"""Code sites: every instruction address the machine must see before it runs (breakpoints and
user hooks) and the watchpoints on data.

One site per address. A site whose every execution begins a translation block (blocks.py) is
dispatched by the time base when that block starts (timebase.py: no unicorn hook, nothing to
retranslate); any other, and every breakpoint, gets an exact unicorn code hook, which unicorn
looks at only when it translates code - so adding or removing one retranslates the code it
touches: at once between runs, at the next block boundary from inside a callback. Watchpoints are
memory hooks; while any exists, the time base stops exactly at the instruction after the access
(exact mode), and all code is translated again with the memory hooks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from unicorn import unicorn_const as U

from sim.backend import HookContext
from sim.errors import BackendError

from .blocks import BlockStarts
from .elf import ElfImage

if TYPE_CHECKING:  # pragma: no cover
    from .machine import Machine

_WATCH_TYPES = {"write": U.UC_HOOK_MEM_WRITE, "read": U.UC_HOOK_MEM_READ,
                "access": U.UC_HOOK_MEM_READ | U.UC_HOOK_MEM_WRITE}


@dataclass
class CodeSite:
    """Everything hooked at one instruction address."""
    address: int
    symbol: str | None
    breakpoint: bool = False
    hooks: dict[int, Callable[[HookContext], None]] = field(default_factory=dict)
    uc_hook: int | None = None                # UC_HOOK_CODE
    block: bool = False                       # dispatched by the time base at block starts


@dataclass
class Watchpoint:
    address: int
    length: int
    kind: str                 # "write" | "read" | "access"
    uc_hook: int


class CodeSites:
    """The machine's code sites and watchpoints (`machine.sites`)."""

    def __init__(self, machine: "Machine") -> None:
        self.m = machine
        self.core = machine.core
        self.tb = machine.core.timebase
        self.state = machine.run_state
        self.block_hooks = machine.options.block_hooks
        self.sites: dict[int, CodeSite] = {}
        self.blocks: BlockStarts | None = None
        self._block_safe: dict[int, bool] = {}        # address -> dispatched at block starts
        self._hook_ids: dict[int, int] = {}           # user hook handle -> site address
        self._next_hook_id = 1
        self.watchpoints: list[Watchpoint] = []
        self._invalidate: list[tuple[int, int]] = []  # code to retranslate at the next slice
        self.tb.set_callbacks(self._on_site, machine.loop.on_mask_lowered)

    # --- a new image ---------------------------------------------------------------------------
    def load_image(self, image: ElfImage, read: Callable[[int, int], bytes | None]) -> None:
        """Classify the new image's code; keep breakpoints and hooks."""
        self.blocks = BlockStarts(image, read)
        self._block_safe.clear()
        for site in list(self.sites.values()):
            self._sync(site)

    # --- user hooks, breakpoints, watchpoints (Backend) -----------------------------------------
    def hook(self, address: int, callback: Callable[[HookContext], None]) -> int:
        handle = self._next_hook_id
        self._next_hook_id += 1
        site = self._site(address)
        site.hooks[handle] = callback
        self._hook_ids[handle] = address
        self._sync(site)
        return handle

    def unhook(self, handle: int) -> None:
        address = self._hook_ids.pop(handle, None)
        if address is None:
            raise BackendError(f"no hook with handle {handle}")
        site = self.sites[address]
        del site.hooks[handle]
        self._sync(site)

    def has_breakpoint(self, address: int) -> bool:
        site = self.sites.get(address & ~1)
        return site is not None and site.breakpoint

    def add_breakpoint(self, address: int) -> None:
        site = self._site(address & ~1)
        site.breakpoint = True
        self._sync(site)

    def remove_breakpoint(self, address: int) -> None:
        site = self.sites.get(address & ~1)
        if site is not None and site.breakpoint:
            site.breakpoint = False
            self._sync(site)

    def add_watchpoint(self, address: int, length: int, kind: str) -> None:
        if kind not in _WATCH_TYPES:
            raise BackendError(f"watchpoint kind must be write, read or access, not {kind!r}")
        if length <= 0:
            raise BackendError("watchpoint length must be positive")
        state, tb, m = self.state, self.tb, self.m

        def hit(_uch, access: int, addr: int, size: int, value: int, _user) -> None:
            try:
                if state.debug_stop is None:
                    state.debug_stop = ("watchpoint", address, kind)
                    tb.stop_next_instruction()     # the access completes; stop right after it
            except BaseException as exc:
                m.loop.callback_failed(exc)

        handle = self.core.hook_memory(_WATCH_TYPES[kind], hit, address, address + length - 1)
        self.watchpoints.append(Watchpoint(address, length, kind, handle))
        m.loop.exact_wanted = True
        self._retranslate_all()

    def remove_watchpoint(self, address: int, length: int, kind: str) -> None:
        for wp in self.watchpoints:
            if (wp.address, wp.length, wp.kind) == (address, length, kind):
                self.core.unhook(wp.uc_hook)
                self.watchpoints.remove(wp)
                self.m.loop.exact_wanted = bool(self.watchpoints)
                self._retranslate_all()          # back to the fast memory path
                return

    def hook_stores(self, begin: int, end: int, callback: Callable) -> int:
        """`callback` (unicorn's UC_HOOK_MEM_WRITE signature) before every CPU store into
        [begin, end) - provenance.py. Like a watchpoint, it needs all code retranslated."""
        handle = self.core.hook_memory(U.UC_HOOK_MEM_WRITE, callback, begin, end - 1)
        self._retranslate_all()
        return handle

    def unhook_stores(self, handle: int) -> None:
        self.core.unhook(handle)
        self._retranslate_all()                  # back to the fast memory path

    def hook_kind(self, address: int) -> str | None:
        """How the site at `address` is hooked: "block", "code" or None (for tests and bench)."""
        site = self.sites.get(address & ~1)
        if site is None:
            return None
        return "code" if site.uc_hook is not None else "block" if site.block else None

    # --- retranslation ---------------------------------------------------------------------------
    def flush_invalidations(self) -> None:
        """At a slice boundary: retranslate what changed while the CPU ran."""
        uc = self.core.uc
        for lo, hi in self._invalidate:
            if hi - lo >= 1 << 32:
                uc.ctl_flush_tb()
            else:
                uc.ctl_remove_cache(lo, hi)
        self._invalidate.clear()

    @property
    def invalidations_pending(self) -> bool:
        return bool(self._invalidate)

    def _invalidate_code(self, address: int, end: int | None = None) -> None:
        """Retranslate the code at `address`: unicorn checks hooks only when it translates."""
        end = address + 4 if end is None else end
        if self.state.in_slice:
            # not from inside a callback: at the next block boundary, where the slice ends
            self._invalidate.append((address, end))
            self.m.loop.stop_at_boundary()
        else:
            self.core.uc.ctl_remove_cache(address, end)

    def _retranslate_all(self) -> None:
        """unicorn decides per block, when it translates it, whether loads and stores call the
        memory hooks (qemu/include/tcg/tcg.h, `tcg_uc_has_hookmem`): code translated before a
        watchpoint existed would never see it."""
        if self.state.in_slice:
            self._invalidate.append((0, 1 << 32))        # at the next block boundary
            self.m.loop.stop_at_boundary()
        else:
            self.core.uc.ctl_flush_tb()

    # --- sites and their unicorn hooks -----------------------------------------------------------
    def _site(self, address: int) -> CodeSite:
        """The site at `address` (created empty; call _sync after changing it)."""
        site = self.sites.get(address)
        if site is None:
            site = self.sites[address] = CodeSite(address, self.m.symbols.symbolize(address))
        return site

    def _dispatched_at_block_start(self, address: int) -> bool:
        found = self._block_safe.get(address)
        if found is None:
            safe, padding = self.blocks.classify(address) if self.blocks is not None else (False, None)
            found = self._block_safe[address] = safe and padding is None
        return found

    def _sync(self, site: CodeSite) -> None:
        """Give the site what its uses need (an exact code hook, a block-start dispatch or
        nothing) and drop it when unused. Breakpoints are always exact."""
        safe = self.block_hooks and self._dispatched_at_block_start(site.address)
        want_code = site.breakpoint or (bool(site.hooks) and not safe)
        want_block = bool(site.hooks) and not want_code
        if want_code != (site.uc_hook is not None):
            if want_code:
                site.uc_hook = self.core.hook_code(self._on_code, site.address, site.address)
            else:
                self.core.unhook(site.uc_hook)
                site.uc_hook = None
            self._invalidate_code(site.address)
        if want_block != site.block:
            if want_block:
                self.tb.add_site(site.address)
            else:
                self.tb.remove_site(site.address)
            site.block = want_block
        if not (want_code or want_block):
            self.sites.pop(site.address, None)

    # --- the callbacks -------------------------------------------------------------------------
    def _on_site(self, address: int) -> None:
        """The time base, at the start of a block at a dispatched site (its first instruction
        not yet counted; time is exact)."""
        loop = self.m.loop
        loop.enter_block_hook()
        try:
            site = self.sites.get(address)
            if site is not None and site.block:
                self._run_hooks(site, address)
        except BaseException as exc:
            loop.callback_failed(exc)
        finally:
            loop.leave_hook()

    def _on_code(self, _uch, address: int, _size: int, _user) -> None:
        loop = self.m.loop
        loop.enter_code_hook(address)
        try:
            site = self.sites.get(address)
            if site is None:
                return
            state = self.state
            if site.breakpoint and not (state.skip_break == address and self.tb.first_instruction(address)):
                state.debug_stop = ("breakpoint", address)
                self.tb.stop_before(address)
                return
            self._run_hooks(site, address)
        except BaseException as exc:
            loop.callback_failed(exc)
        finally:
            loop.leave_hook()

    def _run_hooks(self, site: CodeSite, address: int) -> None:
        if site.hooks:
            ctx = HookContext(self.m, address, site.symbol)
            for callback in list(site.hooks.values()):
                callback(ctx)
