"""Test kit for the peripheral models: a fake machine (MachineServices) and register access.

`FakeMachine` implements `MachineServices` without the CPU core: a cycle counter the test
advances, an event queue run in time order, a log of IRQ levels, and 128 KiB of DMA-reachable
SRAM at 0x20000000 (anything else - CCM at 0x10000000 included - raises DmaError, as the real
bus matrix refuses it).
"""

from __future__ import annotations

import heapq
import itertools
import struct

from fractions import Fraction

from sim.machine.peripherals.base import DmaError
from sim.machine.peripherals.clocks import CLOCK_NAMES
from sim.seed import SeededRandom

SRAM_BASE = 0x2000_0000
SRAM_SIZE = 0x2_0000


class FakeClocks:
    """A clock tree the test sets by hand (`clocks.set(TIMCLK1=84_000_000)`); every clock starts
    at 168 MHz. Setting rates tells the machine, as the RCC does."""

    def __init__(self, machine: "FakeMachine") -> None:
        self.machine = machine
        self.rates = {name: Fraction(168_000_000) for name in CLOCK_NAMES}

    def rate(self, clock: str) -> Fraction:
        return self.rates[clock]

    def set(self, **rates: int) -> None:
        for name, hz in rates.items():
            self.rates[name] = Fraction(hz)
        self.machine.clocks_changed()


class FakeMachine:
    frequency = 168_000_000

    def __init__(self, seed: int = 1) -> None:
        self.seed = seed
        self.clocks = FakeClocks(self)
        self.clock_listeners: list = []            # models told of clock changes
        self.clock_changes = 0
        self.cycles = 0
        self._events: list[tuple[int, int, object]] = []
        self._seq = itertools.count()
        self.irq_log: list[tuple[int, int, bool]] = []        # (cycle, line, level)
        self.irq_levels: dict[int, bool] = {}
        self.ram = bytearray(SRAM_SIZE)
        self.stop_requests = 0

    # --- MachineServices ----------------------------------------------------------------
    def now(self) -> int:
        return self.cycles

    def schedule(self, delay_cycles: int, callback) -> object:
        entry = [self.cycles + max(0, int(delay_cycles)), next(self._seq), callback]
        heapq.heappush(self._events, entry)
        return entry

    def cancel(self, handle) -> None:
        handle[2] = None

    def set_irq(self, irq: int, level: bool) -> None:
        self.irq_log.append((self.cycles, irq, bool(level)))
        self.irq_levels[irq] = bool(level)

    def _ram_slice(self, address: int, size: int, write: bool) -> slice:
        if not (SRAM_BASE <= address and address + size <= SRAM_BASE + SRAM_SIZE):
            raise DmaError(address, size, write)
        return slice(address - SRAM_BASE, address - SRAM_BASE + size)

    def dma_read(self, address: int, size: int) -> bytes:
        return bytes(self.ram[self._ram_slice(address, size, False)])

    def dma_write(self, address: int, data: bytes) -> None:
        self.ram[self._ram_slice(address, len(data), True)] = data

    def request_stop(self) -> None:
        self.stop_requests += 1

    def clocks_changed(self) -> None:
        self.clock_changes += 1
        for model in self.clock_listeners:
            model.clocks_changed()

    def pending_events(self) -> int:
        """Scheduled callbacks not yet run (cancelled or superseded ones included)."""
        return sum(1 for e in self._events if e[2] is not None)

    def random(self, label: str) -> SeededRandom:
        return SeededRandom(self.seed).child(label)

    # --- test controls -------------------------------------------------------------------
    def advance(self, cycles: int) -> None:
        """Let `cycles` of virtual time pass, running due events in order."""
        self.run_to(self.cycles + cycles)

    def run_to(self, time: int) -> None:
        while self._events and self._events[0][0] <= time:
            due, _, callback = heapq.heappop(self._events)
            self.cycles = max(self.cycles, due)
            if callback is not None:
                callback()
        self.cycles = max(self.cycles, time)

    def run_until(self, predicate, limit: int = 10_000_000, step: int = 16) -> int:
        """Advance in small steps until predicate() holds; returns the cycle it held at."""
        end = self.cycles + limit
        while not predicate():
            if self.cycles >= end:
                raise AssertionError(f"condition not reached within {limit} cycles")
            self.advance(step)
        return self.cycles

    def irq(self, line: int) -> bool:
        return self.irq_levels.get(line, False)

    # RAM helpers (addresses are bus addresses)
    def w32(self, address: int, value: int) -> None:
        self.dma_write(address, struct.pack("<I", value & 0xFFFF_FFFF))

    def r32(self, address: int) -> int:
        return struct.unpack("<I", self.dma_read(address, 4))[0]

    def write(self, address: int, data: bytes) -> None:
        self.dma_write(address, data)

    def read(self, address: int, size: int) -> bytes:
        return self.dma_read(address, size)


class Regs:
    """32-bit register access to a model by name (offsets from the model's declaration)."""

    def __init__(self, model) -> None:
        self.model = model
        self.offsets = {r.name: r.offset for r in model.REGISTERS}

    def __getitem__(self, name: str) -> int:
        return self.model.read(self.offsets[name], 4)

    def __setitem__(self, name: str, value: int) -> None:
        self.model.write(self.offsets[name], 4, value & 0xFFFF_FFFF)
