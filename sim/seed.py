"""Deterministic randomness derived from one scenario seed.

Every consumer of randomness (STM32 RNG model, TLS peer randoms and ephemeral keys, TCP initial
sequence numbers, fault injection) takes a `SeededRandom` child with its own label, so adding a
consumer never shifts the stream another consumer sees.
"""

from __future__ import annotations

import hashlib


class SeededRandom:
    """An unbounded byte stream from SHAKE-256(seed, label); never reads the OS entropy pool."""

    def __init__(self, seed: int | bytes | str, label: str = "") -> None:
        if isinstance(seed, int):
            seed_bytes = seed.to_bytes(16, "big", signed=True)
        elif isinstance(seed, str):
            seed_bytes = seed.encode()
        else:
            seed_bytes = bytes(seed)
        self._seed = seed_bytes
        self._label = label
        self._counter = 0
        self._buffer = b""

    def child(self, label: str) -> "SeededRandom":
        """An independent stream for a sub-component."""
        return SeededRandom(self._seed, f"{self._label}/{label}")

    def bytes(self, n: int) -> bytes:
        while len(self._buffer) < n:
            block = hashlib.shake_256(
                b"tls-fw-sim\0" + self._seed + b"\0" + self._label.encode() + b"\0"
                + self._counter.to_bytes(8, "big")
            ).digest(1024)
            self._counter += 1
            self._buffer += block
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out

    def getrandbits(self, k: int) -> int:
        nbytes = (k + 7) // 8
        value = int.from_bytes(self.bytes(nbytes), "big")
        return value >> (nbytes * 8 - k)

    def randbelow(self, n: int) -> int:
        """Uniform integer in [0, n) by rejection sampling."""
        if n <= 0:
            raise ValueError("randbelow needs a positive bound")
        k = n.bit_length()
        while True:
            value = self.getrandbits(k)
            if value < n:
                return value

    def randint(self, a: int, b: int) -> int:
        return a + self.randbelow(b - a + 1)

    def random(self) -> float:
        return self.getrandbits(53) / (1 << 53)

    def u32(self) -> int:
        return self.getrandbits(32)
