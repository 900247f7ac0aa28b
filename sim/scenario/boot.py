"""Boot once, start many times: a firmware image is booted once per (image, platform, seed,
backend) and snapshotted; every scenario restores that snapshot.

Where the snapshot is taken depends on the scenario's shape. A shell-driven image is booted to its
shell's `ready` line (nothing it does before that depends on the scenario). A device-initiated
image is snapshotted at reset, before its first instruction: it may send its first DHCP DISCOVER
within milliseconds, and nothing it sends may go unanswered or unrecorded, so the scenario's host
side is attached from the first cycle on.

Scenarios boot with `fault_mode="firmware"`: a fault enters the firmware's own handler, as on the
board (the reference image prints its crash dump), and the run ends with the machine's report -
stacked frame, decoded CFSR/HFSR, faulting symbol - once the handler parks the CPU.

A scenario that substitutes the image's trust store boots with its flash patches
(sim/scenario/identity.py) written into the emulated memory after the image is loaded and before
its first instruction; the ELF file is only read. The patches are part of the cache key, so the
patched and the unpatched image are two boots.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from sim.backend import Backend
from sim.backends import create_backend
from sim.errors import ScenarioError
from sim.frame_types import TxFrame
from sim.platform import DEFAULT_REPL, load_platform
from sim.vtime import NS_PER_MS, NS_PER_S, cycles_to_ns, ns_to_cycles

from .limits import Ending, WallLimit, describe_halt, run_until
from .model import require_positive_seconds, resolve_firmware
from .shell import READY, READY_LINE
from .uart import UartLines

BOOT_SLICE_NS = 100 * NS_PER_MS        # virtual time per run() between limit checks
SHELL_UART = "usart1"


class BootFailed(ScenarioError):
    """The firmware did not reach `ready`; `uart` holds what it printed, `virtual_ns` how long it ran."""

    def __init__(self, message: str, uart: bytes, virtual_ns: int) -> None:
        super().__init__(message)
        self.uart = uart
        self.virtual_ns = virtual_ns


class BootInterrupted(KeyboardInterrupt):
    """Ctrl-C during the boot, with what the firmware had printed by then."""

    def __init__(self, uart: bytes, virtual_ns: int) -> None:
        super().__init__()
        self.uart = uart
        self.virtual_ns = virtual_ns


class Router:
    """A backend's callbacks are registered once, at boot; each scenario points them at itself.
    `on_uart(name, data)` gets the output of every UART the boot registered."""

    def __init__(self) -> None:
        self.on_tx: Callable[[TxFrame], None] | None = None
        self.on_uart: Callable[[str, bytes], None] | None = None

    def tx(self, frame: TxFrame) -> None:
        if self.on_tx is not None:
            self.on_tx(frame)

    def uart_output(self, name: str) -> Callable[[bytes], None]:
        def output(data: bytes) -> None:
            if self.on_uart is not None:
                self.on_uart(name, data)
        return output


@dataclass
class BootedMachine:
    backend: Backend
    snapshot: object
    router: Router
    boot_transcript: bytes          # what the console printed up to the snapshot
    boot_cycles: int
    boot_wall_s: float
    uarts: tuple[str, ...] = (SHELL_UART,)     # the UARTs whose output reaches the router
    at_reset: bool = False          # the snapshot is the reset state (device-initiated images)
    boot_unmodelled: tuple = ()     # unmodelled hardware the boot touched (on_unmapped="warn")
    patch_key: str = ""             # the flash patches written before the first instruction ('' none)


_BOOT_CACHE: dict[tuple, BootedMachine] = {}
_DIGESTS: dict[tuple, str] = {}


def _file_digest(path: Path) -> str:
    """SHA-256 of a file, remembered while its size and mtime stay the same (ELFs with debug info
    are megabytes, and every scenario asks for its boot)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _DIGESTS:
        _DIGESTS[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return _DIGESTS[key]


def platform_file(repl: str | Path) -> Path:
    """`repl` as an existing file, or a ScenarioError that says what to give instead."""
    path = Path(repl)
    if not str(repl) or not path.exists():
        raise ScenarioError(f"platform file {str(repl)!r} does not exist: name a .repl file (the default is {DEFAULT_REPL})")
    if not path.is_file():
        raise ScenarioError(f"platform file {str(repl)!r} is a directory, not a .repl file: name the file "
                            f"(the default is {DEFAULT_REPL})")
    return path


def platform_uarts(repl: str | Path) -> tuple[str, ...]:
    """The names of the platform's UARTs (entries of a Renode `UART.*` type), in file order."""
    spec = load_platform(platform_file(repl))
    return tuple(e.name for e in spec.entries.values() if (e.type or "").startswith("UART."))


def load_image(machine: Backend, elf: Path, patches=()) -> None:
    """Load the ELF, reset, and write the flash patches before the first instruction. (After the
    reset, not before it: a backend may build its machine afresh from the ELF at reset, as Renode
    does; the built-in machine keeps memory across a reset, as silicon does. Either way the core
    has not executed anything yet, and no patch lies in the vector table the reset reads.)"""
    machine.load_elf(str(elf))
    machine.reset()
    for patch in patches:
        machine.write_memory(patch.load_address, patch.data)
        if machine.read_memory(patch.load_address, len(patch.data)) != patch.data:
            raise ScenarioError(f"the {len(patch.data)}-byte patch at 0x{patch.load_address:08x} ({patch.section}) "
                                f"did not take: the platform has no writable memory there")


def _patch_key(patches) -> str:
    from .identity import patch_key
    return patch_key(patches)


def boot_at_reset(firmware: str | Path, *, repl: str | Path = DEFAULT_REPL, seed: int = 1,
                  backend: str = "builtin", cache: bool = True, fault_mode: str = "firmware",
                  on_unmapped: str = "fault", patches=()) -> BootedMachine:
    """Load the image (with its flash `patches`), reset, and snapshot before the first
    instruction, with every UART of the platform and the Ethernet MAC reporting to the router (or
    reuse the cached one)."""
    elf = resolve_firmware(firmware)
    repl = platform_file(repl)
    patch_key = _patch_key(patches)
    key = ("reset", backend, _file_digest(elf), _file_digest(repl), seed, fault_mode, on_unmapped, patch_key)
    if cache and key in _BOOT_CACHE:
        return _BOOT_CACHE[key]
    started = time.monotonic()
    uarts = platform_uarts(repl)
    machine = create_backend(backend, repl, seed=seed, fault_mode=fault_mode, on_unmapped=on_unmapped)
    load_image(machine, elf, patches)
    router = Router()
    for name in uarts:
        machine.uart(name).on_output(router.uart_output(name))
    machine.ethernet.on_transmit(router.tx)
    booted = BootedMachine(machine, machine.snapshot(), router, b"", machine.cycles, time.monotonic() - started,
                           uarts=uarts, at_reset=True, patch_key=patch_key)
    if cache:
        _BOOT_CACHE[key] = booted
    return booted


def boot(firmware: str | Path, *, repl: str | Path = DEFAULT_REPL, seed: int = 1, backend: str = "builtin",
         timeout_s: float = 10.0, max_wall_s: float = 120.0, cache: bool = True,
         fault_mode: str = "firmware", on_unmapped: str = "fault", patches=()) -> BootedMachine:
    """Boot to `ready` (or reuse the cached boot of the same image, flash patches, platform, seed
    and backend).

    Raises BootFailed (a ScenarioError) when a limit or a fault comes first, and BootInterrupted
    (a KeyboardInterrupt) on Ctrl-C; both carry what the UART printed."""
    require_positive_seconds(timeout_s, "the boot timeout")
    require_positive_seconds(max_wall_s, "the wall-time limit")
    elf = resolve_firmware(firmware)
    repl = platform_file(repl)
    patch_key = _patch_key(patches)
    key = (backend, _file_digest(elf), _file_digest(repl), seed, fault_mode, on_unmapped, patch_key)
    if cache and key in _BOOT_CACHE:
        return _BOOT_CACHE[key]
    machine = create_backend(backend, repl, seed=seed, fault_mode=fault_mode, on_unmapped=on_unmapped)
    load_image(machine, elf, patches)
    router = Router()
    port = machine.uart(SHELL_UART)
    port.on_output(router.uart_output(SHELL_UART))
    # Frames the firmware sends before `ready` (none expected: no traffic until a command) go nowhere.
    machine.ethernet.on_transmit(router.tx)
    lines = UartLines(machine)
    router.on_uart = lambda name, data: lines.feed(data)
    ready = lines.expect(READY, since=0, partial_line=True)
    wall = WallLimit(max_wall_s)
    try:
        stop = run_until(machine, lambda: ready.found, deadline=ns_to_cycles(int(timeout_s * NS_PER_S), machine.frequency),
                         wall=wall, slice_cycles=ns_to_cycles(BOOT_SLICE_NS, machine.frequency))
    except KeyboardInterrupt:
        raise BootInterrupted(bytes(lines.data), cycles_to_ns(machine.cycles, machine.frequency)) from None
    finally:
        router.on_uart = None
    if stop.ending is not Ending.DONE:
        virtual_ns = cycles_to_ns(machine.cycles, machine.frequency)
        if stop.ending is Ending.VIRTUAL_LIMIT:
            message = f"the firmware did not print '{READY_LINE}' within {timeout_s} s of virtual time ({elf.name})."
        elif stop.ending is Ending.WALL_LIMIT:
            message = (f"boot of {elf.name} hit the wall-time limit of {max_wall_s} s before '{READY_LINE}' "
                       f"(virtual {virtual_ns / NS_PER_MS:.1f} ms).")
        elif stop.ending is Ending.FAULT:
            message = f"the firmware faulted during boot:\n{stop.result.fault}"
        else:
            message = f"during boot: {describe_halt(machine, stop.result)}"
        raise BootFailed(f"{message}\n{lines.tail()}", bytes(lines.data), virtual_ns)
    booted = BootedMachine(machine, machine.snapshot(), router, bytes(port.transcript), machine.cycles,
                           time.monotonic() - wall.started,
                           boot_unmodelled=tuple(getattr(machine, "unmodelled_accesses", list)()),
                           patch_key=patch_key)
    if cache:
        _BOOT_CACHE[key] = booted
    return booted


def boot_scenario(scenario, identity=None) -> BootedMachine:
    """The boot a scenario starts from: at reset for a device-initiated one, at `ready` otherwise,
    with the flash patches of its server identity (`identity`: its ScenarioIdentity, prepared
    here when not given)."""
    if identity is None:
        from .identity import scenario_identity
        identity = scenario_identity(scenario)
    if scenario.device is not None:
        return boot_at_reset(scenario.firmware, repl=scenario.repl, seed=scenario.seed, backend=scenario.backend,
                             on_unmapped=scenario.on_unmapped, patches=identity.patches)
    return boot(scenario.firmware, repl=scenario.repl, seed=scenario.seed, backend=scenario.backend,
                timeout_s=scenario.boot_timeout_s, max_wall_s=scenario.max_wall_s, on_unmapped=scenario.on_unmapped,
                patches=identity.patches)


def clear_boot_cache() -> None:
    _BOOT_CACHE.clear()
