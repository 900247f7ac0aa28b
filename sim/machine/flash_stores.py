"""CPU stores into the flash array: performed or dropped as the flash interface decides, never a
bus fault (RM0090 §3.6.2: a store outside a programming sequence is not performed and sets
FLASH_SR.PGSERR; the CPU sees no error).

Flash stays mapped read/execute only, so nothing costs anything until firmware stores into it.
Such a store traps (unicorn's write-protection hook, `trap()`), and the CPU stops before the
instruction. The run loop then calls `replay()`: the flash interface judges the store
(`STM32F4_FlashController.store_allowed`), flash is made writable - outside emulation, where
changing protection is safe - and the one instruction runs again, completing with every effect it
has (the writeback of its base register, the other stores of an STM). A refused store's bytes
are then put back; flash becomes read-only again and the translated code of the touched pages is
dropped, since their bytes changed under it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from unicorn import unicorn_const as U

if TYPE_CHECKING:  # pragma: no cover
    from .bus import MemoryRegion
    from .machine import Machine

PAGE = 0x400
SPAN = 2 * PAGE                 # the bytes one store instruction can reach: at most 64, across one page edge


@dataclass
class _Trap:
    region: "MemoryRegion"
    address: int
    size: int


class FlashStores:
    def __init__(self, machine: "Machine", controller) -> None:
        self.m = machine
        self.controller = controller            # the flash interface model (None: no controller)
        self.trapped: _Trap | None = None
        self.stores = 0                         # store instructions the CPU aimed at flash
        self.refused = 0                        # of them, not performed

    def trap(self, region: "MemoryRegion", address: int, size: int) -> None:
        """From the protection trap: the current instruction stores into flash; the CPU stops
        before it (the hook returns False), and the run loop replays it."""
        self.trapped = _Trap(region, address, size)

    def replay(self, run_one: Callable[[], bool]) -> bool:
        """Run the trapped instruction with flash writable (`run_one` runs one instruction and
        returns what the run loop's slice returns), keeping or undoing its store."""
        trap, self.trapped = self.trapped, None
        region = trap.region
        offset = trap.address - region.base
        performed = self.controller is not None and self.controller.store_allowed(offset, trap.size)
        self.stores += 1
        self.refused += not performed
        start = max(0, (offset & ~(PAGE - 1)) - PAGE)
        end = min(region.size, start + 2 * SPAN)
        before = bytes(region.view[start:end])
        flash = [r for r in self.m.bus.memories if r.buffer is region.buffer]
        uc = self.m.core.uc
        for r in flash:
            uc.mem_protect(r.base, r.size, U.UC_PROT_ALL)
        try:
            result = run_one()
        finally:
            if not performed:
                region.view[start:end] = before
            for r in flash:
                uc.mem_protect(r.base, r.size, U.UC_PROT_READ | U.UC_PROT_EXEC)
                uc.ctl_remove_cache(r.base + start, r.base + end)
            if performed:       # the time base keeps what it decoded of read-only code
                self.m.core.timebase.forget_code()
        return result


__all__ = ["FlashStores"]
