"""Renode types the core models itself (not peripheral models): the Cortex-M bit-band aliases,
and a plain register file for blocks the platform must declare for Renode's sake but the
built-in machine does not emulate."""

from __future__ import annotations

from typing import Any


class BitBanding:
    """`Miscellaneous.BitBanding`: each word at alias + 32*byte + 4*bit reads/writes one bit of
    the byte at peripheralBase + byte (ARMv7-M B3.1.3). The write is a read-modify-write of the
    containing word, done through the bus so peripheral models see ordinary accesses."""

    RENODE_TYPE = "Miscellaneous.BitBanding"
    SIZE = 0x200_0000

    def __init__(self, services: Any, name: str, params: dict[str, Any] | None = None,
                 irqs: dict[str, int] | None = None) -> None:
        self.services = services
        self.name = name
        base = (params or {}).get("peripheralBase")
        if not isinstance(base, int):
            raise ValueError("Miscellaneous.BitBanding needs 'peripheralBase: <address>'")
        self.target_base = base

    def _target(self, offset: int) -> tuple[int, int]:
        byte = self.target_base + (offset >> 5)
        bit = (offset >> 2) & 7
        return byte & ~3, (byte & 3) * 8 + bit

    def read(self, offset: int, size: int) -> int:
        word, bit = self._target(offset)
        return (self.services.bus.read_any(word, 4) >> bit) & 1

    def write(self, offset: int, size: int, value: int) -> None:
        word, bit = self._target(offset)
        bus = self.services.bus
        old = bus.read_any(word, 4)
        new = (old | (1 << bit)) if value & 1 else (old & ~(1 << bit))
        bus.write_any(word, 4, new)

    def reset(self) -> None:
        pass


CORE_TYPES: dict[str, type] = {
    BitBanding.RENODE_TYPE: BitBanding,
}
