"""CPU stores into the flash array: performed or dropped as the flash interface decides, never a
bus fault (RM0090 §3.6.2: a store outside a programming sequence is not performed and sets
FLASH_SR.PGSERR; the CPU sees no error).

The CPU's view of flash is writable, with a write hook over it (every address flash is mapped
at: the array and its boot alias at 0x0). The hook runs before each store, asks the flash
interface (`STM32F4_FlashController.store_allowed`), and for a store it refuses keeps the bytes
about to be overwritten and ends the slice after the instruction. The instruction completes with
every other effect it has (the writeback of its base register, the rest of an STM);
`finish()` - called by the run loop after every slice - then puts the refused bytes back and
drops the translated code of those pages, whose bytes changed under it. Stores into flash are
rare, and only pages under the hook take unicorn's slow store path, so code runs as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .bus import MemoryRegion
    from .machine import Machine

PAGE = 0x400


@dataclass
class _Refused:
    region: "MemoryRegion"
    address: int
    before: bytes


class FlashStores:
    def __init__(self, machine: "Machine", controller) -> None:
        self.m = machine
        self.controller = controller            # the flash interface model (None: no controller)
        self.refused_pending: list[_Refused] = []
        self.stores = 0                         # stores the CPU made into flash
        self.refused = 0                        # of them, not performed

    @property
    def pending(self) -> bool:
        return bool(self.refused_pending)

    def hook(self, region: "MemoryRegion"):
        """The write-hook callback for one registration of a flash memory."""
        def on_store(_uch, _access, address, size, _value, _user) -> None:
            try:
                self.store(region, address, size)
            except BaseException as exc:
                self.m.loop.callback_failed(exc)
        return on_store

    def store(self, region: "MemoryRegion", address: int, size: int) -> None:
        """The CPU is about to store `size` bytes at `address` in flash `region`."""
        self.stores += 1
        offset = address - region.base
        if self.controller is not None and self.controller.store_allowed(offset, size):
            return                              # programmed: the store goes through
        self.refused += 1
        self.refused_pending.append(_Refused(region, address, bytes(region.view[offset:offset + size])))
        self.m.loop.stop_after_current()

    def finish(self) -> None:
        """After the slice: put back the bytes of every refused store, newest first, and drop the
        translated code of the pages they touched."""
        uc = self.m.core.uc
        pages: set[tuple[int, int]] = set()
        while self.refused_pending:
            r = self.refused_pending.pop()
            offset = r.address - r.region.base
            r.region.view[offset:offset + len(r.before)] = r.before
            pages.add((id(r.region.buffer), offset & ~(PAGE - 1)))
        for buffer_id, offset in pages:
            for region in self.m.bus.memories:        # every address the page is seen at
                if id(region.buffer) == buffer_id and offset < region.size:
                    uc.ctl_remove_cache(region.base + offset, region.base + offset + PAGE)


__all__ = ["FlashStores"]
