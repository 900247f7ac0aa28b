"""The surface both emulator backends offer to the scenario runner, the keywords, the CLI and GDB.

The built-in machine (`sim.machine.Machine`) and the Renode backend (`sim.renode.RenodeMachine`)
implement `Backend`. Code above this layer (scenarios, Robot keywords, the CLI) must use only what
is declared here, so a suite never knows which backend runs it.

Time is virtual: `cycles` counts CPU cycles at `frequency` Hz since reset. `run(max_cycles)` is the
only way time advances; callbacks fire synchronously inside `run` at exact instruction boundaries.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Callable, Protocol, runtime_checkable

from sim.frame_types import TxFrame


class StopReason(enum.Enum):
    LIMIT = "limit"            # max_cycles of virtual time elapsed
    REQUESTED = "requested"    # request_stop() was called (by a callback, a waiter or GDB)
    BREAKPOINT = "breakpoint"  # PC reached a breakpoint (before executing that instruction)
    WATCHPOINT = "watchpoint"  # a watched address was accessed (PC still at the accessing insn)
    STEP = "step"              # step() retired one instruction (or entered an exception)
    FAULT = "fault"            # emulation cannot continue: see RunResult.fault


@dataclass
class FaultReport:
    """Why the CPU cannot continue, in words a firmware developer can act on."""

    kind: str                  # "unmapped-access", "hardfault", "lockup", "invalid-instruction", ...
    pc: int
    message: str               # full human-readable report (registers, CFSR decode, symbol)
    address: int | None = None
    symbol: str | None = None  # "function+0x12" nearest to pc

    def __str__(self) -> str:
        return self.message


@dataclass
class RunResult:
    reason: StopReason
    cycles: int                            # virtual cycles that elapsed in this call
    address: int | None = None             # breakpoint address or watchpoint data address
    watch_kind: str | None = None          # "write" | "read" | "access"
    fault: FaultReport | None = None


@dataclass
class HookContext:
    """What a hook callback sees: the backend (to read registers/memory) and the hit address."""

    backend: "Backend"
    address: int
    symbol: str | None = None


@runtime_checkable
class UartPort(Protocol):
    name: str

    @property
    def transcript(self) -> bytes:
        """Everything the firmware has transmitted since reset."""

    def write(self, data: bytes) -> None:
        """Queue bytes for the firmware to receive, paced at the configured baud in virtual time."""

    def on_output(self, callback: Callable[[bytes], None]) -> None:
        """Call `callback(bytes)` as the firmware transmits (inside run())."""


@runtime_checkable
class EthernetPort(Protocol):
    @property
    def mac_address(self) -> bytes | None:
        """The station address the firmware programmed (MACA0), or None before it did."""

    def on_transmit(self, callback: Callable[[TxFrame], None]) -> None:
        """Call `callback(frame)` for each frame the firmware sends (inside run()).

        The backend calls `request_stop()` after each transmitted frame, so the runner can move
        it across the link at the exact virtual time.
        """

    def receive(self, frame: bytes) -> bool:
        """Deliver a frame (without FCS) from the wire now. False if the MAC dropped it
        (receiver off, filtered, or no free descriptor); the reason is counted in `stats`."""

    def set_link(self, up: bool, speed: int | None = None, duplex: str | None = None) -> None:
        """Plug the cable in (`up`, into a partner advertising `speed` Mb/s and `duplex`, None for
        all it can) or pull it out, now; the PHY's link and auto-negotiation follow as on a board."""


@runtime_checkable
class Backend(Protocol):
    name: str              # "builtin" | "renode"
    frequency: int         # CPU clock in Hz, from the platform file

    @property
    def cycles(self) -> int: ...

    # --- image and lifecycle -------------------------------------------------
    def load_elf(self, path: str) -> None: ...
    def reset(self) -> None: ...
    def run(self, max_cycles: int) -> RunResult: ...
    def step(self, *, mask_interrupts: bool = False) -> RunResult: ...
    def request_stop(self) -> None: ...

    # --- ports ---------------------------------------------------------------
    def uart(self, name: str = "usart1") -> UartPort: ...

    @property
    def ethernet(self) -> EthernetPort: ...

    # --- inspection ----------------------------------------------------------
    def symbol_address(self, name: str) -> int: ...
    def symbolize(self, address: int) -> str | None: ...
    def hook(self, target: str | int, callback: Callable[[HookContext], None]) -> int: ...
    def unhook(self, handle: int) -> None: ...
    def read_memory(self, address: int, size: int) -> bytes: ...
    def write_memory(self, address: int, data: bytes) -> None: ...
    def read_register(self, name: str) -> int: ...
    def write_register(self, name: str, value: int) -> None: ...

    # --- debugging -----------------------------------------------------------
    def add_breakpoint(self, address: int) -> None: ...
    def remove_breakpoint(self, address: int) -> None: ...
    def add_watchpoint(self, address: int, length: int, kind: str) -> None: ...
    def remove_watchpoint(self, address: int, length: int, kind: str) -> None: ...

    # --- state ---------------------------------------------------------------
    def snapshot(self) -> object: ...
    def restore(self, snapshot: object) -> None: ...

    @property
    def stats(self) -> dict[str, int]:
        """Counters: instructions, exceptions, mmio_accesses, frames_tx, frames_rx, rx_dropped..."""


# Register names every backend understands in read_register/write_register.
CORE_REGISTERS = tuple(f"r{i}" for i in range(13)) + ("sp", "lr", "pc", "xpsr")
SYSTEM_REGISTERS = ("msp", "psp", "primask", "basepri", "faultmask", "control")
FP_REGISTERS = tuple(f"s{i}" for i in range(32)) + tuple(f"d{i}" for i in range(16)) + ("fpscr",)
