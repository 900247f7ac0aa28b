"""Peripheral models: registers declared as data, and the services a model gets from the machine.

A model subclasses `Peripheral`, names the Renode type it stands for with `@model("UART.STM32_UART")`,
and declares its registers field by field in `REGISTERS` (registers.py: bits, access mode, reset
value, callbacks). The bus calls `read(offset, size)` and `write(offset, size, value)`; sub-word
accesses are merged into the 32-bit register here, and the access modes are applied here, so model
code only reacts to what a write meant.

State rule (for machine snapshots): everything a model must remember lives in instance attributes
that `copy.deepcopy` can copy, and every event it schedules is a bound method of the model.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar, Protocol

from sim.machine.peripherals.clocks import ClockTree
from sim.machine.peripherals.registers import Field, Register, RegisterLayout

MASK32 = 0xFFFF_FFFF


class MachineServices(Protocol):
    """What the machine offers a peripheral model (implemented by sim.machine)."""

    frequency: int          # the reference clock virtual time counts, Hz (clocks.py)
    clocks: ClockTree       # the live clock tree (the RCC, or FixedClocks without one)

    def now(self) -> int:
        """Current virtual time in reference cycles (exact, also inside an MMIO access)."""

    def schedule(self, delay_cycles: int, callback: Callable[[], None]) -> object:
        """Run `callback` after `delay_cycles` reference cycles; returns a handle for `cancel`."""

    def clocks_changed(self) -> None:
        """The clock tree changed (called by the RCC at the exact moment): the core, SysTick and
        every model with a `clocks_changed()` method follow the new rates from now on."""

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


MODEL_TYPES: dict[str, type["Peripheral"]] = {}


def model(renode_type: str) -> Callable[[type["Peripheral"]], type["Peripheral"]]:
    """Register a class as the built-in model of a Renode type name (as written in .repl files)."""

    def register(cls: type["Peripheral"]) -> type["Peripheral"]:
        cls.RENODE_TYPE = renode_type
        MODEL_TYPES[renode_type] = cls
        return cls

    return register


class Peripheral:
    """Base of every model: register storage, the bus interface and helpers.

    Register values live in `self.values` (register name -> int), the one piece of register
    state, so snapshots copy a dict. Model code reads and sets fields by name:
    `self[DMASR.TPS]`, `self[DMASR.TPS] = 6`, `self[MACCR]` (the whole register). Those are the
    hardware's own updates: access modes and callbacks apply to bus accesses only.
    """

    RENODE_TYPE: ClassVar[str] = ""
    REGISTERS: ClassVar[tuple[Register, ...]] = ()
    SIZE: ClassVar[int] = 0x400          # default bus window when the .repl gives a point address
    REGISTER_ADDRESSING: ClassVar[str] = "byte"     # "index": offsets are register numbers (MDIO)
    layout: ClassVar[RegisterLayout]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # compiled once per class: offsets, masks and resolved callbacks for the bus path
        cls.layout = RegisterLayout(cls, cls.REGISTERS, bytewise=cls.REGISTER_ADDRESSING == "byte")
        cls._by_byte = cls.layout.by_byte

    def __init__(self, services: MachineServices, name: str, params: dict[str, Any] | None = None,
                 irqs: dict[str, int] | None = None, *, address: int | None = None) -> None:
        self.services = services
        self.name = name
        self.params = dict(params or {})
        self.irqs = dict(irqs or {})       # output name ("" for the default output) -> NVIC line
        self.address = address             # where the bus registered it (None: not on the bus)
        # output name -> (receiver's gpio_input, its input number): wires to other models
        self.wires: dict[str, list[tuple[Callable[[int, bool], None], int]]] = {}
        self.values: dict[str, int] = {}
        self.reset()

    @classmethod
    def model_for(cls, params: dict[str, Any], address: int | None) -> type["Peripheral"]:
        """The class that models this entry. A Renode type that stands for several register
        layouts (Renode's one STM32_Timer is the basic TIM6/7 and the general-purpose TIM2-5)
        picks the right one by address or attributes; the bus asks before building."""
        return cls

    # --- lifecycle -------------------------------------------------------------
    def reset(self) -> None:
        self.values = dict(self.layout.reset_values)

    # --- fields and registers by name (the model's own logic) --------------------
    # (a Register has register_name/lsb/bits/mask like a field covering it whole)
    def __getitem__(self, key: Field | Register) -> int:
        return (self.values[key.register_name] >> key.lsb) & key.bits

    def __setitem__(self, key: Field | Register, value: int) -> None:
        values, name, mask = self.values, key.register_name, key.mask
        values[name] = (values[name] & ~mask) | ((value << key.lsb) & mask)

    def peek(self, register: Register) -> int:
        """What a read of `register` would return, without the read's side effects."""
        return self.layout.by_name[register.name].peek(self)

    # --- bus interface -----------------------------------------------------------
    def read(self, offset: int, size: int) -> int:
        compiled = self._by_byte.get(offset)
        if compiled is None:
            return self.read_unmapped(offset, size)
        value = self.values[compiled.name] if compiled.plain_read else compiled.load(self)
        return (value >> ((offset & 3) << 3)) & _SIZE_MASK[size]

    def write(self, offset: int, size: int, value: int) -> None:
        compiled = self._by_byte.get(offset)
        if compiled is None:
            self.write_unmapped(offset, size, value)
            return
        shift = (offset & 3) << 3
        lane = (_SIZE_MASK[size] << shift) & MASK32
        compiled.store(self, (value << shift) & lane, lane)

    def read_unmapped(self, offset: int, size: int) -> int:
        """Reserved offsets read as zero, like most STM32 blocks."""
        return 0

    def write_unmapped(self, offset: int, size: int, value: int) -> None:
        """Writes to reserved offsets are ignored."""

    # --- helpers -------------------------------------------------------------
    def irq_line(self, output: str = "") -> int | None:
        return self.irqs.get(output)

    def drive_irq(self, level: bool, output: str = "") -> None:
        """Drive an output: its NVIC line, and the inputs of other models wired to it (a PHY's
        nINT to a GPIO pin, a pin to an EXTI line)."""
        line = self.irqs.get(output)
        if line is not None:
            self.services.set_irq(line, level)
        for receiver, number in self.wires.get(output, ()):
            receiver(number, level)

    def wire(self, output: str, receiver: Callable[[int, bool], None], number: int) -> None:
        """Connect `output` to input `number` of another model (its `gpio_input`), as the
        platform file's `output -> entry@number` says; the input sees the output's level now."""
        self.wires.setdefault(output, []).append((receiver, number))
        level = self.output_level(output)
        if level is not None:
            receiver(number, level)

    def output_level(self, output: str) -> bool | None:
        """The level an output drives now, for a model whose outputs are signals (pins) rather
        than interrupt requests; None if it has no such output."""
        return None

    def param(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)


_SIZE_MASK = (0, 0xFF, 0xFFFF, 0xFF_FFFF, 0xFFFF_FFFF)
