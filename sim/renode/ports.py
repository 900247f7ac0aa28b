"""UART and Ethernet ports of the Renode backend (sim.backend.UartPort / EthernetPort).

The ports hold what the backend contract promises (transcript, callbacks, queued input); the
machine moves bytes and frames between them and Renode at RunFor boundaries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from sim.errors import BackendError
from sim.frame_types import TxFrame

if TYPE_CHECKING:
    from sim.renode.machine import RenodeMachine

BITS_PER_CHAR = 10      # 8N1: start + 8 data + stop
US_PER_S = 1_000_000


class RenodeUart:
    """One STM32_UART. Output arrives through Renode's CharReceived event; input is queued here and
    handed to Renode's WriteChar at the configured baud, a slice at a time (Renode 1.16.1 does not
    pace received characters itself)."""

    def __init__(self, name: str, baud: int = 115200) -> None:
        self.name = name
        self.baud = baud
        self._transcript = bytearray()
        self._pending = bytearray()
        self._callbacks: list[Callable[[bytes], None]] = []
        self._credit = 0           # bit-time credit carried between slices, in bit-microseconds

    @property
    def transcript(self) -> bytes:
        return bytes(self._transcript)

    def write(self, data: bytes) -> None:
        self._pending += data

    def on_output(self, callback: Callable[[bytes], None]) -> None:
        self._callbacks.append(callback)

    # --- machine side ---------------------------------------------------------------------------
    @property
    def pending(self) -> bytes:
        return bytes(self._pending)

    def take_for_slice(self, microseconds: int) -> bytes:
        """The queued bytes the line can carry in `microseconds` at `baud` (credit carries over)."""
        if not self._pending:
            self._credit = 0
            return b""
        self._credit += microseconds * self.baud
        count = self._credit // (BITS_PER_CHAR * US_PER_S)
        if count == 0:
            return b""
        self._credit -= count * BITS_PER_CHAR * US_PER_S
        chunk = bytes(self._pending[:count])
        del self._pending[:count]
        return chunk

    def emitted(self, byte: int) -> list[Callable[[bytes], None]]:
        """Record one byte the firmware sent; returns the callbacks to notify."""
        self._transcript.append(byte)
        return self._callbacks

    def state(self) -> tuple[bytes, bytes, int]:
        return bytes(self._transcript), bytes(self._pending), self._credit

    def set_state(self, state: tuple[bytes, bytes, int]) -> None:
        transcript, pending, credit = state
        self._transcript = bytearray(transcript)
        self._pending = bytearray(pending)
        self._credit = credit


def mac_from_registers(high: int, low: int) -> bytes | None:
    """Station address from MACA0HR/MACA0LR: LR holds octets a-d, HR bits 15:0 octets e-f
    (RM0090, ETH_MACA0HR and ETH_MACA0LR)."""
    address = (low & 0xFFFF_FFFF).to_bytes(4, "little") + (high & 0xFFFF).to_bytes(2, "little")
    if address in (b"\x00" * 6, b"\xff" * 6):
        return None
    return address


class RenodeEthernet:
    """The SynopsysEthernetMAC seen through FrameReady (out) and time-domain events (in)."""

    def __init__(self, machine: "RenodeMachine") -> None:
        self._machine = machine
        self._callbacks: list[Callable[[TxFrame], None]] = []

    @property
    def mac_address(self) -> bytes | None:
        return self._machine._read_mac_address()

    def on_transmit(self, callback: Callable[[TxFrame], None]) -> None:
        self._callbacks.append(callback)

    def receive(self, frame: bytes) -> bool:
        return self._machine._receive_frame(frame)

    def set_link(self, up: bool, speed: int | None = None, duplex: str | None = None) -> None:
        raise BackendError("Renode 1.16.1's PHY model (Network.EthernetPhysicalLayer) serves fixed register "
                           "values and has no cable to pull: run link changes on the built-in machine "
                           "(--backend builtin)")

    @property
    def callbacks(self) -> list[Callable[[TxFrame], None]]:
        return self._callbacks
