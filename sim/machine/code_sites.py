"""Code sites: every instruction address the machine must see before it runs (breakpoints, user
hooks, the instructions after a mask-lowering MSR/CPS) and the watchpoints on data.

One site per address, served by one unicorn hook: a block hook where every execution of the
address begins a translation block (blocks.py), else an exact code hook - as breakpoints always
are. Code hooks halve the speed of the whole CPU, block hooks cost nothing where they are not.
unicorn looks at hooks only when it translates code, so a change here retranslates what it
touches: at once between runs, at the next slice boundary from inside a callback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from unicorn import unicorn_const as U

from sim.backend import HookContext
from sim.errors import BackendError

from .blocks import BlockStarts
from .elf import ElfImage
from .masks import mask_lowering_sites

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
    mask: bool = False                        # follows an instruction that lowers a mask
    hooks: dict[int, Callable[[HookContext], None]] = field(default_factory=dict)
    uc_hook: int | None = None                # UC_HOOK_CODE
    block_hook: int | None = None             # UC_HOOK_BLOCK
    block_handler: Any = None                 # the method it calls
    guard_hook: int | None = None             # UC_HOOK_BLOCK on the padding before it (blocks.py)


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
        self.state = machine.run_state
        self.block_hooks = machine.options.block_hooks
        self.sites: dict[int, CodeSite] = {}
        self.blocks: BlockStarts | None = None
        self._block_safe: dict[int, tuple] = {}       # address -> BlockStarts.classify()
        self._padding_before: dict[int, int] = {}     # padding address -> hooked address after it
        self._hook_ids: dict[int, int] = {}           # user hook handle -> site address
        self._next_hook_id = 1
        self.watchpoints: list[Watchpoint] = []
        self._invalidate: list[tuple[int, int]] = []  # code to retranslate at the next slice

    # --- a new image ---------------------------------------------------------------------------
    def load_image(self, image: ElfImage, read: Callable[[int, int], bytes | None]) -> None:
        """Classify the new image's code and find its mask sites; keep breakpoints and hooks."""
        self.blocks = BlockStarts(image, read)
        self._block_safe.clear()
        self._padding_before.clear()
        for site in self.sites.values():
            site.mask = False
            if site.guard_hook is not None:          # the padding before it may have moved
                self.core.unhook(site.guard_hook)
                site.guard_hook = None
        for address in mask_lowering_sites(image, read):
            self._site(address).mask = True
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
        state, core, m = self.state, self.core, self.m

        def hit(_uch, access: int, addr: int, size: int, value: int, _user) -> None:
            try:
                if state.skip_watch is not None and core.counter == 1 and state.skip_watch == m.pc():
                    return                 # re-executing the access we stopped at
                if state.debug_stop is None:
                    state.debug_stop = ("watchpoint", address, kind)
                    core.stop_now()
            except BaseException as exc:
                m.loop.callback_failed(exc)

        handle = core.hook_memory(_WATCH_TYPES[kind], hit, address, address + length - 1)
        self.watchpoints.append(Watchpoint(address, length, kind, handle))
        self._retranslate_all()

    def remove_watchpoint(self, address: int, length: int, kind: str) -> None:
        for wp in self.watchpoints:
            if (wp.address, wp.length, wp.kind) == (address, length, kind):
                self.core.unhook(wp.uc_hook)
                self.watchpoints.remove(wp)
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
        return "code" if site.uc_hook is not None else "block" if site.block_hook is not None else None

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
            # not from inside a callback: at the slice boundary, which we make the next instruction
            self._invalidate.append((address, end))
            self.m.loop.stop_after_current()
        else:
            self.core.uc.ctl_remove_cache(address, end)

    def _retranslate_all(self) -> None:
        """unicorn decides per block, when it translates it, whether loads and stores call the
        memory hooks (qemu/include/tcg/tcg.h, `tcg_uc_has_hookmem`): code translated before a
        watchpoint existed would never see it."""
        if self.state.in_slice:
            self._invalidate.append((0, 1 << 32))        # at the slice boundary, made the next insn
            self.m.loop.stop_after_current()
        else:
            self.core.uc.ctl_flush_tb()

    # --- sites and their unicorn hooks -----------------------------------------------------------
    def _site(self, address: int) -> CodeSite:
        """The site at `address` (created empty; call _sync after changing it)."""
        site = self.sites.get(address)
        if site is None:
            site = self.sites[address] = CodeSite(address, self.m.symbols.symbolize(address))
        return site

    def _block_class(self, address: int) -> tuple[bool, tuple[int, int] | None]:
        found = self._block_safe.get(address)
        if found is None:
            found = self.blocks.classify(address) if self.blocks is not None else (False, None)
            self._block_safe[address] = found
        return found

    def _sync(self, site: CodeSite) -> None:
        """Give the site the unicorn hook its uses need (none, block or code) and drop it when
        unused. Breakpoints stay exact at any address; mask sites follow an MSR/CPS, which
        always ends a block."""
        if not self.block_hooks:
            safe, padding = False, None
        elif site.mask:
            safe, padding = True, None
        else:
            safe, padding = self._block_class(site.address)
        want_code = site.breakpoint or (bool(site.hooks) or site.mask) and not safe
        want_block = not want_code and (site.mask or bool(site.hooks))
        want_guard = want_block and padding is not None
        changed = False
        core = self.core
        if want_guard != (site.guard_hook is not None):
            if want_guard:
                site.guard_hook = core.hook_block(self._on_padding, padding[0], padding[1] - 1)
                self._padding_before.update((a, site.address) for a in range(*padding, 2))
                self._invalidate_code(padding[0], padding[1])
            else:
                core.unhook(site.guard_hook)
                site.guard_hook = None
                for a in [a for a, x in self._padding_before.items() if x == site.address]:
                    del self._padding_before[a]
        if want_code != (site.uc_hook is not None):
            if want_code:
                site.uc_hook = core.hook_code(self._on_code, site.address, site.address)
            else:
                core.unhook(site.uc_hook)
                site.uc_hook = None
            changed = True
        handler = self._on_block if site.hooks else self._on_mask_block
        if site.block_hook is not None and (not want_block or site.block_handler != handler):
            core.unhook(site.block_hook)
            site.block_hook = None
            changed = True
        if want_block and site.block_hook is None:
            site.block_hook = core.hook_block(handler, site.address, site.address)
            site.block_handler = handler
            changed = True
        if not (want_code or want_block):
            self.sites.pop(site.address, None)
        if changed:
            self._invalidate_code(site.address)

    # --- the unicorn callbacks -------------------------------------------------------------------
    def _on_mask_block(self, _uch, address: int, _size: int, _user) -> None:
        """Block hook of a site that is only a mask site (most of them): nothing to do unless
        an exception is pending."""
        if self.m.scs.pending:
            self._on_block(_uch, address, _size, _user)

    def _on_block(self, _uch, address: int, _size: int, _user) -> None:
        core, state = self.core, self.state
        if core.counter >= core.budget:
            return       # the slice ends before this block's first instruction; the next begins here
        state.in_block = True
        try:
            site = self.sites.get(address)
            if site is None or site.block_hook is None:
                return
            self._visit(site, address, self.m.loop.stop_before_current)
        except BaseException as exc:
            self.m.loop.callback_failed(exc)
        finally:
            state.in_block = False

    def _on_padding(self, _uch, address: int, _size: int, _user) -> None:
        """A jump into the alignment padding before a hooked address: end the slice right after
        the padding (16-bit instructions), so the hooked address begins the next block."""
        try:
            hooked = self._padding_before.get(address)
            if hooked is not None:
                core = self.core
                core.end_slice_at(core.counter + (hooked - address) // 2)
        except BaseException as exc:
            self.m.loop.callback_failed(exc)

    def _on_code(self, _uch, address: int, _size: int, _user) -> None:
        try:
            site = self.sites.get(address)
            if site is None:
                return
            state = self.state
            if site.breakpoint and not (state.skip_break == address and self.core.counter == 1):
                state.debug_stop = ("breakpoint", address)
                self.core.stop_now()
                return
            self._visit(site, address, self.core.stop_now)
        except BaseException as exc:
            self.m.loop.callback_failed(exc)

    def _visit(self, site: CodeSite, address: int, stop_before: Callable[[], None]) -> None:
        """What a hooked address does before its instruction runs, whichever hook kind got there:
        at a mask site with an exception now takeable, end the slice so it is taken first;
        otherwise run the user hooks."""
        m = self.m
        if site.mask and m.scs.candidates() and m.exceptions.takeable() is not None:
            self.state.slice_break = True                # taken before this instruction runs
            stop_before()
            return
        if site.hooks:
            ctx = HookContext(m, address, site.symbol)
            for callback in list(site.hooks.values()):
                callback(ctx)
