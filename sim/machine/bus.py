"""The memory map and MMIO dispatch, built from a PlatformSpec.

- `Memory.MappedMemory` entries become host buffers mapped into unicorn at every address they are
  registered at (flash is also at 0x0, the boot alias). The memory the flash controller names
  (`flash: flash`) is flash: the CPU's stores into it are performed or dropped as the flash
  interface decides (flash_stores.py); bus masters cannot write it.
- Peripherals are instantiated from `MODEL_TYPES` (sim.machine.peripherals) by their Renode type
  (the class's `model_for(attributes, address)` picks the layout where one Renode type stands
  for several) with the entry's attributes as `params`, its sysbus address, and its IRQ
  connections resolved to NVIC lines (through `Miscellaneous.CombinedInput`, which the bus
  resolves statically). A connection to another model's input (`-> gpioPortB@14`, a pin to
  `exti@14`) is wired to that model's `gpio_input(number, level)`. A PHY registered
  `@ ethernet 0` is handed to the MAC with `attach_phy(0, phy)`.
- Each MMIO window gets its own unicorn mmio region when it owns its 1 KiB pages (one Python call
  per access, straight into the model); pages shared by several windows go through a small
  dispatcher. Accesses to addresses nothing is registered at are faults (reported by the machine),
  or - with `on_unmapped="warn"` - read 0, ignore writes and are recorded (unmodelled.py): an
  unmapped page is then mapped on first touch to a window that counts every access.
- CPU stores into flash are judged by the flash interface, not faulted (flash_stores.py).
- `sysbus init: Tag <a, b> "NAME" value` ranges read as `value` and ignore writes.
"""

from __future__ import annotations

import bisect
import ctypes
import mmap
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from unicorn import unicorn_const as U

from sim.platform import Entry, PlatformError, PlatformSpec, Reference, Registration

from .core_models import CORE_TYPES, BitBanding
from .elf import ElfError, ElfImage, Segment
from .flash_stores import FlashStores
from .unmodelled import UnmodelledAccesses

if TYPE_CHECKING:  # pragma: no cover
    from .machine import Machine

PAGE = 0x400                           # unicorn's ARM target page (mmio granularity)
ADDRESS_SPACE = 1 << 32
MEMORY_TYPE = "Memory.MappedMemory"
NVIC_TYPE = "IRQControllers.NVIC"
CPU_TYPE = "CPU.CortexM"
COMBINER_TYPE = "Miscellaneous.CombinedInput"
FLASH_CONTROLLER_TYPE = "MTD.STM32F4_FlashController"
SUPPORTED_CPU_TYPES = ("cortex-m4", "cortex-m4f")
# STM32F4 bus matrix: the CCM data RAM is on the CPU's D-bus only; no DMA master reaches it
# (RM0090 §2.1, the system architecture figure, and §2.3.1 "Embedded SRAM").
DMA_UNREACHABLE = ((0x1000_0000, 0x1001_0000),)


class BusFault(Exception):
    """An access the bus cannot complete (raised inside MMIO callbacks, reported by the machine)."""

    def __init__(self, address: int, size: int, write: bool, reason: str) -> None:
        super().__init__(reason)
        self.address = address
        self.size = size
        self.write = write
        self.reason = reason


@dataclass
class MemoryRegion:
    name: str
    base: int
    size: int
    buffer: ctypes.Array
    view: memoryview
    writable: bool
    dma: bool
    alias_of: int                      # base of the primary registration (same buffer)

    def __post_init__(self) -> None:
        self.end = self.base + self.size

    def describe(self) -> str:
        alias = "" if self.alias_of == self.base else f", alias of 0x{self.alias_of:08x}"
        return f"{self.name} (0x{self.base:08x}-0x{self.end - 1:08x}{alias})"


@dataclass
class Window:
    """An MMIO range: a peripheral model, the SCS, a bit-band alias or a tag."""
    name: str
    start: int
    end: int                           # exclusive
    read: Callable[[int, int], int]    # (offset from start, size)
    write: Callable[[int, int, int], None]
    model: Any = None


class Bus:
    def __init__(self, spec: PlatformSpec, machine: "Machine") -> None:
        self.spec = spec
        self.m = machine
        self.memories: list[MemoryRegion] = []
        self.windows: list[Window] = []
        self.peripherals: dict[str, Any] = {}
        self.irq_routes: dict[str, dict[str, int]] = {}
        self.unrouted_irqs: list[str] = []
        self.accesses = 0
        self.warn_unmapped = machine.options.on_unmapped == "warn"
        self.unmodelled = UnmodelledAccesses(self._function_at_pc, machine.now)
        self.flash_stores: FlashStores | None = None
        # writes into RAM that are no CPU store instruction (exception stacking through write_ram,
        # bus-master DMA): each observer gets (address, data, "bus" | "dma") - provenance.py
        self.write_observers: list[Callable[[int, bytes, str], None]] = []
        self._build_memories()

    # --- construction ----------------------------------------------------------------------------------
    def _build_memories(self) -> None:
        """Check every memory entry (size, registration, alignment, the 32-bit address space,
        overlaps) before any is allocated; then give each a lazily allocated host buffer."""
        flash_names = set()
        for e in self.spec.entries_of_type(FLASH_CONTROLLER_TYPE):
            ref = e.attributes.get("flash")
            if isinstance(ref, Reference):
                flash_names.add(ref.name)
        planned: list[tuple[Entry, int, list[Registration]]] = []
        claimed: list[tuple[int, int, str]] = []          # (start, end, description)
        for e in self.spec.entries_of_type(MEMORY_TYPE):
            size = e.attributes.get("size")
            if isinstance(size, bool) or not isinstance(size, int) or size <= 0 or size % PAGE:
                raise PlatformError(f"{e.attribute_locations.get('size', e.location)}: memory {e.name} "
                                    f"needs 'size:' as a positive multiple of 0x{PAGE:x}, got {size!r}")
            addresses = [r for r in e.registrations if r.parent == "sysbus"]
            if not addresses or any(r.address is None for r in addresses):
                raise PlatformError(f"{e.location}: memory {e.name} must be registered "
                                    f"'@ sysbus <address>' (or '@ {{ sysbus A; sysbus B }}')")
            for r in addresses:
                if r.address % PAGE:
                    raise PlatformError(f"{r.location}: memory {e.name} at 0x{r.address:x} must be "
                                        f"aligned to 0x{PAGE:x}")
                if r.address + size > ADDRESS_SPACE:
                    raise PlatformError(f"{r.location}: memory {e.name} at 0x{r.address:08x} with size "
                                        f"0x{size:x} ends at 0x{r.address + size - 1:x}, beyond the "
                                        f"Cortex-M4's 32-bit address space (last address 0xffffffff): "
                                        f"give a smaller 'size:'")
                for lo, hi, what in claimed:
                    if r.address < hi and lo < r.address + size:
                        raise PlatformError(f"{r.location}: {e.name} at 0x{r.address:08x}-"
                                            f"0x{r.address + size - 1:08x} overlaps {what}")
                claimed.append((r.address, r.address + size,
                                f"{e.name} (0x{r.address:08x}-0x{r.address + size - 1:08x})"))
            planned.append((e, size, addresses))
        if not planned:
            raise PlatformError(f"{self.spec.path}: no Memory.MappedMemory entries: the machine "
                                f"needs at least flash and RAM")
        for e, size, addresses in planned:
            buf = _host_memory(size)
            view = memoryview(buf).cast("B")
            is_flash = e.name in flash_names
            # flash is read/execute: a store into it traps, and flash_stores.py carries it out or not
            perms = U.UC_PROT_READ | U.UC_PROT_EXEC if is_flash else U.UC_PROT_ALL
            primary = addresses[0].address
            dma = not any(lo <= primary < hi for lo, hi in DMA_UNREACHABLE)
            for r in addresses:
                self.m.core.map_buffer(r.address, buf, perms)
                if not is_flash:
                    self.m.core.add_data_ram(r.address, r.address + size)
                self.memories.append(MemoryRegion(e.name, r.address, size, buf, view, not is_flash,
                                                  dma, primary))
        self.memories.sort(key=lambda r: r.base)
        # O(1) lookup for the CPU-side helpers: regions by the top byte of their addresses
        self._by_top: dict[int, list[MemoryRegion]] = {}
        for r in self.memories:
            for top in range(r.base >> 24, ((r.end - 1) >> 24) + 1):
                self._by_top.setdefault(top, []).append(r)

    def _check_overlap(self, start: int, end: int, name: str, loc) -> None:
        for r in self.memories:
            if start < r.end and r.base < end:
                raise PlatformError(f"{loc}: {name} at 0x{start:08x}-0x{end - 1:08x} overlaps {r.describe()}")
        for w in self.windows:
            if start < w.end and w.start < end:
                raise PlatformError(f"{loc}: {name} at 0x{start:08x}-0x{end - 1:08x} overlaps "
                                    f"{w.name} (0x{w.start:08x}-0x{w.end - 1:08x})")

    def build_peripherals(self, model_types: dict[str, type]) -> None:
        spec = self.spec
        combiners = {e.name: e for e in spec.entries_of_type(COMBINER_TYPE)}
        nvic = spec.one_of_type(NVIC_TYPE)
        known = sorted(set(model_types) | set(CORE_TYPES) |
                       {MEMORY_TYPE, NVIC_TYPE, CPU_TYPE, COMBINER_TYPE})
        children: list[tuple[Entry, Registration]] = []
        wires: list[tuple[Entry, Any]] = []
        for e in spec.entries.values():
            if e.type is None or e.type in (MEMORY_TYPE, NVIC_TYPE, CPU_TYPE, COMBINER_TYPE):
                continue
            cls = model_types.get(e.type) or CORE_TYPES.get(e.type)
            if cls is None:
                raise PlatformError(f"{e.location}: unknown peripheral type {e.type!r} for entry "
                                    f"{e.name!r}: the built-in machine models {', '.join(known)}")
            irqs = self._resolve_irqs(e, nvic.name, combiners, wires)
            self.irq_routes[e.name] = irqs
            address = next((r.address for r in e.registrations if r.parent == "sysbus"), None)
            try:
                if hasattr(cls, "model_for"):            # a peripheral model (not a core type)
                    cls = cls.model_for(dict(e.attributes), address)
                    model = cls(self.m, e.name, dict(e.attributes), irqs, address=address)
                else:
                    model = cls(self.m, e.name, dict(e.attributes), irqs)
            except PlatformError:
                raise
            except (TypeError, ValueError, KeyError) as exc:
                raise PlatformError(f"{e.location}: cannot build {e.name} ({e.type}): {exc}") from exc
            self.peripherals[e.name] = model
            for r in e.registrations:
                if r.parent == "sysbus":
                    self._register_window(e, r, model)
                elif r.parent != "none":
                    children.append((e, r))
        for e, r in children:
            parent = self.peripherals.get(r.parent)
            attach = getattr(parent, "attach_phy", None)
            if parent is None or attach is None:
                raise PlatformError(f"{r.location}: {e.name} is registered on {r.parent!r}, which is "
                                    f"not a peripheral that accepts children (a MAC with attach_phy)")
            attach(r.address or 0, self.peripherals[e.name])
        for e, c in wires:
            self._wire(e, c)
        self._register_scs(nvic)
        self._register_tags()
        self._map_windows()
        controllers = spec.entries_of_type(FLASH_CONTROLLER_TYPE)
        self.flash_stores = FlashStores(self.m, self.peripherals[controllers[0].name] if controllers else None)

    def _resolve_irqs(self, e: Entry, nvic: str, combiners: dict[str, Entry],
                      wires: list | None = None) -> dict[str, int]:
        routes: dict[str, int] = {}
        for c in e.irqs:
            target, line = c.target, c.input
            if target in combiners:
                outs = combiners[target].irqs
                if not outs:
                    raise PlatformError(f"{c.location}: {target} has no output connection (-> nvic@N)")
                target, line = outs[0].target, outs[0].input
            if target == "cpu" and e.type == NVIC_TYPE:
                continue
            if target != nvic:
                if wires is not None and target in self.spec.entries and target not in combiners:
                    wires.append((e, c))              # to another model's input: wired once built
                else:
                    self.unrouted_irqs.append(f"{e.name}.{c.source or 'IRQ'} -> {c.target}@{c.input}")
                continue
            if not 0 <= line < 82:
                raise PlatformError(f"{c.location}: nvic input {line} does not exist (STM32F407: 0..81)")
            routes[c.source] = line
        return routes

    def _wire(self, e: Entry, c: Any) -> None:
        """`source -> target@input` between two models: the source's output drives the target's
        `gpio_input(input, level)`."""
        source, target = self.peripherals.get(e.name), self.peripherals.get(c.target)
        receiver = getattr(target, "gpio_input", None)
        if source is None or target is None or receiver is None or not hasattr(source, "wire"):
            self.unrouted_irqs.append(f"{e.name}.{c.source or 'IRQ'} -> {c.target}@{c.input}")
            return
        try:
            source.wire(c.source, receiver, c.input)
        except ValueError as exc:
            raise PlatformError(f"{c.location}: {e.name} -> {c.target}@{c.input}: {exc}") from None

    def _register_window(self, e: Entry, r: Registration, model: Any) -> None:
        if r.address is None:
            raise PlatformError(f"{r.location}: {e.name} needs an address: '@ sysbus 0x...'")
        size = r.size or getattr(model, "SIZE", 0) or PAGE
        self._check_overlap(r.address, r.address + size, e.name, r.location)
        self.windows.append(Window(e.name, r.address, r.address + size, model.read, model.write, model))

    def _register_scs(self, nvic: Entry) -> None:
        regs = [r for r in nvic.registrations if r.parent == "sysbus"]
        if len(regs) != 1 or regs[0].address != 0xE000_E000:
            raise PlatformError(f"{nvic.location}: the NVIC must be registered '@ sysbus 0xE000E000'")
        scs = self.m.scs
        self.windows.append(Window("nvic", 0xE000_E000, 0xE000_F000, scs.read, scs.write, scs))

    def _register_tags(self) -> None:
        for t in self.spec.tags:
            value = t.value

            def read(offset: int, size: int, value: int = value, start: int = t.start) -> int:
                shift = ((start + offset) & 3) * 8
                return (value >> shift) & ((1 << (size * 8)) - 1)

            self._check_overlap(t.start, t.end + 1, f"tag {t.name}", t.location)
            self.windows.append(Window(f"tag {t.name}", t.start, t.end + 1, read, _ignore_write))

    def _map_windows(self) -> None:
        self.windows.sort(key=lambda w: w.start)
        self._starts = [w.start for w in self.windows]
        # group pages by the windows touching them
        pages: dict[int, list[Window]] = {}
        for w in self.windows:
            for page in range(w.start // PAGE * PAGE, w.end, PAGE):
                pages.setdefault(page, []).append(w)
        # a window that alone owns a run of pages gets a direct region; the rest a dispatcher
        done: set[int] = set()
        for w in self.windows:
            first, last = w.start // PAGE * PAGE, (w.end - 1) // PAGE * PAGE
            if all(pages[p] == [w] for p in range(first, last + PAGE, PAGE)):
                self._map(first, last + PAGE - first, w, w.start - first, w.end - first)
                done.update(range(first, last + PAGE, PAGE))
        shared = sorted(p for p in pages if p not in done)
        run_start = None
        for i, p in enumerate(shared):
            if run_start is None:
                run_start = p
            if i + 1 == len(shared) or shared[i + 1] != p + PAGE:
                self._map(run_start, p + PAGE - run_start, None, 0, p + PAGE - run_start)
                run_start = None

    def _map(self, region: int, size: int, w: Window | None, lo: int, hi: int) -> None:
        """One unicorn MMIO region: window `w` at [lo, hi) of it, or (None) a dispatcher over the
        windows sharing its pages. The compiled time base calls the models itself; the Python
        one goes through ctypes closures."""
        tb = self.m.core.timebase
        if not tb.native:
            self.m.core.map_mmio(region, size, *(self._direct(w, region) if w is not None
                                                  else self._dispatcher(region)))
            return
        loop, unmodelled = self.m.loop, self.unmodelled_access

        def outside(offset: int, size: int, write: bool) -> int:
            try:
                return unmodelled(region + offset, size, write, "no register here")
            except BaseException as exc:
                return loop.callback_failed(exc)

        def failed(exc: BaseException, _write: bool) -> int:
            return loop.callback_failed(exc)

        if w is not None:
            tb.map_mmio(region, size, w.read, w.write, lo, hi, outside, failed)
            return

        def read(offset: int, size: int) -> int:
            address = region + offset
            win = self.window_at(address)
            if win is None:
                return unmodelled(address, size, False, "nothing is registered at this address")
            return win.read(address - win.start, size)

        def write(offset: int, size: int, value: int) -> None:
            address = region + offset
            win = self.window_at(address)
            if win is None:
                unmodelled(address, size, True, "nothing is registered at this address")
                return
            win.write(address - win.start, size, value)

        tb.map_mmio(region, size, read, write, 0, size, outside, failed)

    def _direct(self, w: Window, region: int):
        lo, hi = w.start - region, w.end - region
        read, write = w.read, w.write
        state, failed, write_failed = self.m.run_state, self.m.loop.callback_failed, self.m.loop.write_failed
        unmodelled = self.unmodelled_access
        if lo == 0:
            def on_read(_uch, offset, size, _user):
                try:
                    state.mmio_accesses += 1
                    if offset >= hi:
                        return unmodelled(region + offset, size, False, "no register here")
                    return read(offset, size)
                except BaseException as exc:
                    return failed(exc)

            def on_write(_uch, offset, size, value, _user):
                try:
                    state.mmio_accesses += 1
                    if offset >= hi:
                        unmodelled(region + offset, size, True, "no register here")
                        return
                    write(offset, size, value)
                except BaseException as exc:
                    write_failed(exc)
        else:
            def on_read(_uch, offset, size, _user):
                try:
                    state.mmio_accesses += 1
                    if not lo <= offset < hi:
                        return unmodelled(region + offset, size, False, "no register here")
                    return read(offset - lo, size)
                except BaseException as exc:
                    return failed(exc)

            def on_write(_uch, offset, size, value, _user):
                try:
                    state.mmio_accesses += 1
                    if not lo <= offset < hi:
                        unmodelled(region + offset, size, True, "no register here")
                        return
                    write(offset - lo, size, value)
                except BaseException as exc:
                    write_failed(exc)
        return on_read, on_write

    def _dispatcher(self, region: int):
        state, failed, write_failed = self.m.run_state, self.m.loop.callback_failed, self.m.loop.write_failed
        unmodelled = self.unmodelled_access

        def on_read(_uch, offset, size, _user):
            try:
                state.mmio_accesses += 1
                address = region + offset
                w = self.window_at(address)
                if w is None:
                    return unmodelled(address, size, False, "nothing is registered at this address")
                return w.read(address - w.start, size)
            except BaseException as exc:
                return failed(exc)

        def on_write(_uch, offset, size, value, _user):
            try:
                state.mmio_accesses += 1
                address = region + offset
                w = self.window_at(address)
                if w is None:
                    unmodelled(address, size, True, "nothing is registered at this address")
                    return
                w.write(address - w.start, size, value)
            except BaseException as exc:
                write_failed(exc)
        return on_read, on_write

    # --- unmodelled hardware (on_unmapped="warn") ---------------------------------------------------------
    def unmodelled_access(self, address: int, size: int, write: bool, reason: str) -> int:
        """An access to no register: recorded (a read gives 0) in warn mode, else a BusFault."""
        if not self.warn_unmapped:
            raise BusFault(address, size, write, reason)
        self.unmodelled.touch(address, write)
        return 0

    def map_unmodelled(self, address: int) -> bool:
        """Map the unmapped page holding `address` to a window that records every access (from the
        CPU's unmapped-access trap, which then retries the access). False in fault mode."""
        if not self.warn_unmapped:
            return False
        page = address & ~(PAGE - 1)
        touch = self.unmodelled.touch
        state = self.m.run_state

        def on_read(_uch, offset, size, _user):
            try:
                state.mmio_accesses += 1
                touch(page + offset, False)
            except BaseException as exc:
                return self.m.loop.callback_failed(exc)
            return 0

        def on_write(_uch, offset, size, value, _user):
            try:
                state.mmio_accesses += 1
                touch(page + offset, True)
            except BaseException as exc:
                self.m.loop.write_failed(exc)

        self.m.core.map_mmio(page, PAGE, on_read, on_write)
        return True

    def _function_at_pc(self) -> str | None:
        where = self.m.symbols.symbolize(self.m.pc())
        return where.split("+")[0] if where else None

    # --- lookups --------------------------------------------------------------------------------------------
    def window_at(self, address: int) -> Window | None:
        i = bisect.bisect_right(self._starts, address) - 1
        if i >= 0 and address < self.windows[i].end:
            return self.windows[i]
        return None

    def memory_at(self, address: int, size: int = 1) -> MemoryRegion | None:
        for r in self._by_top.get(address >> 24, ()):
            if r.base <= address and address + size <= r.end:
                return r
        return None

    def describe_map(self) -> str:
        parts = [r.describe() for r in self.memories]
        return ", ".join(parts)

    # --- CPU-side helpers (stacking, vectors, bit-banding) --------------------------------------------------
    def read_ram(self, address: int, size: int) -> bytes | None:
        r = self.memory_at(address, size)
        if r is None:
            return None
        off = address - r.base
        return bytes(r.view[off:off + size])

    def write_ram(self, address: int, data: bytes) -> bool:
        r = self.memory_at(address, len(data))
        if r is None or not r.writable:
            return False
        off = address - r.base
        r.view[off:off + len(data)] = data
        for observe in self.write_observers:
            observe(address, data, "bus")
        return True

    def read_word(self, address: int) -> int | None:
        raw = self.read_ram(address, 4)
        return None if raw is None else int.from_bytes(raw, "little")

    def read_any(self, address: int, size: int) -> int:
        """A data read as the CPU would do it (memory or MMIO); BusFault if nothing is there."""
        raw = self.read_ram(address, size)
        if raw is not None:
            return int.from_bytes(raw, "little")
        w = self.window_at(address)
        if w is None:
            raise BusFault(address, size, False, "nothing is registered at this address")
        return w.read(address - w.start, size)

    def write_any(self, address: int, size: int, value: int) -> None:
        if self.write_ram(address, (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")):
            return
        w = self.window_at(address)
        if w is None or self.memory_at(address, size) is not None:
            raise BusFault(address, size, True, "nothing writable is registered at this address")
        w.write(address - w.start, size, value)

    # --- DMA (bus-master) access for peripheral models -----------------------------------------------------
    def dma_read(self, address: int, size: int) -> bytes:
        from .peripherals.base import DmaError
        r = self.memory_at(address, size)
        if r is None or not r.dma:
            raise DmaError(address, size, False)
        off = address - r.base
        return bytes(r.view[off:off + size])

    def dma_write(self, address: int, data: bytes) -> None:
        from .peripherals.base import DmaError
        r = self.memory_at(address, len(data))
        if r is None or not r.dma or not r.writable:
            raise DmaError(address, len(data), True)
        off = address - r.base
        r.view[off:off + len(data)] = data
        for observe in self.write_observers:
            observe(address, data, "dma")

    # --- firmware images -------------------------------------------------------------------------------------
    def check_image(self, image: ElfImage) -> None:
        """ElfError unless every segment fits a memory, at its load and its run address."""
        for seg in image.segments:
            if seg.data:
                self._check_fits(image, seg, seg.load_address, len(seg.data), "its load address")
            if seg.mem_size:
                self._check_fits(image, seg, seg.run_address, seg.mem_size, "its run address")

    def _check_fits(self, image: ElfImage, seg: Segment, address: int, size: int, what: str) -> None:
        if self.memory_at(address, size) is not None:
            return
        start = self.memory_at(address)
        end = address + size - 1
        if start is not None:
            where = (f"it starts in {start.describe()} but ends at 0x{end:08x}, "
                     f"{end - start.end + 1} bytes past its end")
        else:
            where = f"0x{address:08x}-0x{end:08x} is in no memory region"
        raise ElfError(f"{image.path}: {seg.describe()} does not fit the memory map at {what}: "
                       f"{where}. Memories: {self.describe_map()}. Link the firmware for the "
                       f"STM32F407 map or enlarge the memory in {self.spec.path}")

    def load_image(self, image: ElfImage) -> None:
        self.check_image(image)
        for seg in image.segments:
            if not seg.data:
                continue
            r = self.memory_at(seg.load_address, len(seg.data))
            off = seg.load_address - r.base
            r.view[off:off + len(seg.data)] = seg.data

    def snapshot_memories(self) -> dict[int, bytes]:
        seen: dict[int, bytes] = {}
        for r in self.memories:
            key = ctypes.addressof(r.buffer)
            if key not in seen:
                seen[key] = bytes(r.view)
        return seen

    def restore_memories(self, saved: dict[int, bytes]) -> list[MemoryRegion]:
        """Write saved contents back; returns the regions whose contents changed."""
        changed = []
        done: set[int] = set()
        for r in self.memories:
            key = ctypes.addressof(r.buffer)
            if key in done:
                continue
            done.add(key)
            data = saved[key]
            # bytes() first: comparing the ctypes memoryview itself goes item by item (15x slower)
            if r.writable or bytes(r.view) != data:
                if not r.writable:
                    changed.append(r)
                r.view[:] = data
        return changed


def _host_memory(size: int) -> ctypes.Array:
    """Zeroed host memory for an emulated memory, from an anonymous mapping: the OS provides
    pages when they are first touched, so a large memory costs nothing until it is used (a
    ctypes array allocated directly is zero-filled at once)."""
    return (ctypes.c_ubyte * size).from_buffer(mmap.mmap(-1, size))


def _ignore_write(offset: int, size: int, value: int) -> None:
    """Tagged ranges: writes are accepted and dropped, as Renode's Tag does."""


__all__ = ["Bus", "BusFault", "MemoryRegion", "Window", "BitBanding"]
