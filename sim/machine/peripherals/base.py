"""Peripheral models: registers declared as data, and the services a model gets from the machine.

A model subclasses `Peripheral`, names the Renode type it stands for with `@model("UART.STM32_UART")`,
and declares its registers as `Register` entries (name, offset, reset value, fields, write mask,
write-1-to-clear mask, read/write callbacks). The bus calls `read(offset, size)` and
`write(offset, size, value)`; sub-word accesses are merged into the 32-bit register here, so models
only ever see whole registers.

State rule (for machine snapshots): everything a model must remember lives in instance attributes
that `copy.deepcopy` can copy, and every event it schedules is a bound method of the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Protocol

MASK32 = 0xFFFF_FFFF


class MachineServices(Protocol):
    """What the machine offers a peripheral model (implemented by sim.machine)."""

    frequency: int                                  # CPU clock, Hz

    def now(self) -> int:
        """Current virtual time in CPU cycles (exact, also inside an MMIO access)."""

    def schedule(self, delay_cycles: int, callback: Callable[[], None]) -> object:
        """Run `callback` after `delay_cycles`; returns a handle for `cancel`."""

    def cancel(self, handle: object) -> None: ...

    def set_irq(self, irq: int, level: bool) -> None:
        """Drive NVIC input `irq` (level-sensitive: pending while high, as on the STM32)."""

    def dma_read(self, address: int, size: int) -> bytes:
        """Bus-master read of RAM/flash; raises DmaError for addresses a DMA cannot reach."""

    def dma_write(self, address: int, data: bytes) -> None: ...

    def request_stop(self) -> None:
        """End the current run() slice after the current instruction (e.g. a frame was sent)."""

    def random(self, label: str):
        """A `sim.seed.SeededRandom` child stream for this model (seeded from the machine seed)."""


class DmaError(Exception):
    """A bus-master access hit memory the DMA cannot reach (unmapped, CCM, peripheral space)."""

    def __init__(self, address: int, size: int, write: bool) -> None:
        super().__init__(f"DMA {'write' if write else 'read'} of {size} bytes at 0x{address:08x} is not reachable")
        self.address = address
        self.size = size
        self.write = write


@dataclass(frozen=True)
class Field:
    name: str
    lsb: int
    width: int = 1

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.lsb

    def get(self, value: int) -> int:
        return (value >> self.lsb) & ((1 << self.width) - 1)

    def set(self, value: int, field_value: int) -> int:
        return (value & ~self.mask) | ((field_value << self.lsb) & self.mask)


ReadHook = Callable[["Peripheral", int], int]              # (model, stored value) -> value read
WriteHook = Callable[["Peripheral", int, int], None]        # (model, old value, new value)


@dataclass(frozen=True)
class Register:
    name: str
    offset: int
    reset: int = 0
    fields: tuple[Field, ...] = ()
    write_mask: int = MASK32        # bits software can write (others keep their value)
    w1c_mask: int = 0               # bits cleared by writing 1 (writing 0 leaves them)
    on_read: ReadHook | None = None
    on_write: WriteHook | None = None
    read_clears: int = 0            # bits cleared by the read itself (e.g. SysTick COUNTFLAG)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name}")


MODEL_TYPES: dict[str, type["Peripheral"]] = {}


def model(renode_type: str) -> Callable[[type["Peripheral"]], type["Peripheral"]]:
    """Register a class as the built-in model of a Renode type name (as written in .repl files)."""

    def register(cls: type["Peripheral"]) -> type["Peripheral"]:
        cls.RENODE_TYPE = renode_type
        MODEL_TYPES[renode_type] = cls
        return cls

    return register


class Peripheral:
    RENODE_TYPE: ClassVar[str] = ""
    REGISTERS: ClassVar[tuple[Register, ...]] = ()
    SIZE: ClassVar[int] = 0x400          # default bus window when the .repl gives a point address

    def __init__(self, services: MachineServices, name: str, params: dict[str, Any] | None = None,
                 irqs: dict[str, int] | None = None) -> None:
        self.services = services
        self.name = name
        self.params = dict(params or {})
        self.irqs = dict(irqs or {})       # output name ("" for the default output) -> NVIC line
        self._by_offset = {r.offset: r for r in self.REGISTERS}
        self._by_name = {r.name: r for r in self.REGISTERS}
        self.values: dict[str, int] = {}
        self.reset()

    # --- lifecycle -------------------------------------------------------------
    def reset(self) -> None:
        self.values = {r.name: r.reset for r in self.REGISTERS}

    # --- register access by name (for the model's own logic) -----------------
    def reg(self, name: str) -> int:
        return self.values[name]

    def set_reg(self, name: str, value: int) -> None:
        self.values[name] = value & MASK32

    def get_field(self, reg: str, field_name: str) -> int:
        return self._by_name[reg].field(field_name).get(self.values[reg])

    def set_field(self, reg: str, field_name: str, value: int) -> None:
        f = self._by_name[reg].field(field_name)
        self.values[reg] = f.set(self.values[reg], value)

    def set_bits(self, reg: str, mask: int) -> None:
        self.values[reg] |= mask

    def clear_bits(self, reg: str, mask: int) -> None:
        self.values[reg] &= ~mask & MASK32

    # --- bus interface -----------------------------------------------------------
    def read(self, offset: int, size: int) -> int:
        base = offset & ~3
        reg = self._by_offset.get(base)
        if reg is None:
            return self.read_unmapped(offset, size)
        value = self.values[reg.name]
        if reg.on_read is not None:
            value = reg.on_read(self, value) & MASK32
        if reg.read_clears:
            self.values[reg.name] &= ~reg.read_clears & MASK32
        shift = (offset & 3) * 8
        return (value >> shift) & ((1 << (size * 8)) - 1)

    def write(self, offset: int, size: int, value: int) -> None:
        base = offset & ~3
        reg = self._by_offset.get(base)
        if reg is None:
            self.write_unmapped(offset, size, value)
            return
        old = self.values[reg.name]
        shift = (offset & 3) * 8
        lane = (((1 << (size * 8)) - 1) << shift) & MASK32
        value = (value << shift) & lane
        wmask = reg.write_mask & lane
        new = (old & ~wmask) | (value & wmask)
        if reg.w1c_mask:
            new &= ~(value & reg.w1c_mask & lane)
        new &= MASK32
        self.values[reg.name] = new
        if reg.on_write is not None:
            reg.on_write(self, old, new)

    def read_unmapped(self, offset: int, size: int) -> int:
        """Reserved offsets read as zero, like most STM32 blocks."""
        return 0

    def write_unmapped(self, offset: int, size: int, value: int) -> None:
        """Writes to reserved offsets are ignored."""

    # --- helpers -------------------------------------------------------------
    def irq_line(self, output: str = "") -> int | None:
        return self.irqs.get(output)

    def drive_irq(self, level: bool, output: str = "") -> None:
        line = self.irqs.get(output)
        if line is not None:
            self.services.set_irq(line, level)

    def param(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)


@dataclass
class PeripheralStats:
    reads: int = 0
    writes: int = 0
    extra: dict[str, int] = field(default_factory=dict)
