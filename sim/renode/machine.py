"""RenodeMachine: the sim.backend.Backend surface on a real Renode, driven through pyrenode3.

Time: `run(max_cycles)` advances Renode with `emulation RunFor` in slices of at most `slice_us`
virtual microseconds, so a transmitted frame or `request_stop()` ends the run at the next slice
boundary (Renode cannot be paused from inside its CPU thread). Between slices the emulation is
paused: queued UART bytes and received frames are handed over then, and Renode delivers them at
its next sync point. One instruction is one cycle at the platform clock (PerformanceInMips), so
`cycles` means the same as on the built-in machine; Renode time is whole microseconds, so the
backend runs the whole microseconds a request covers and carries the rest into the next run.

State: Renode's own save/restore is not documented in the facts, so a snapshot is the record of
everything that changed the machine since boot (RunFor slices, UART bytes, frames, memory and
register writes), and `restore` boots again and replays it with callbacks muted. With the seed
set first and the same slice sequence this reproduces the state; hooks are assumed to observe,
not to modify.

Debugging: breakpoints, watchpoints and single steps are Renode's GDB server's job
(`start_gdb_server`); the methods of the contract that would need them say so.
"""

from __future__ import annotations

import itertools
import weakref
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from sim.backend import HookContext, RunResult, StopReason
from sim.errors import BackendError
from sim.frame_types import TxFrame
from sim.renode import commands, registers
from sim.renode.frames import split_fcs, with_fcs
from sim.renode.locate import renode_status
from sim.renode.platform_info import RenodePlatform, read_platform
from sim.renode.ports import RenodeEthernet, RenodeUart, mac_from_registers
from sim.renode.repl_check import check_repl, errors
from sim.renode.repl_scan import ReplSyntaxError
from sim.renode.symbols import FirmwareImage

MACA0HR, MACA0LR = 0x40, 0x44
BROADCAST = b"\xff" * 6

_DEBUG_HINT = ("on the Renode backend, breakpoints, watchpoints and single steps go through Renode's "
               "GDB server: call start_gdb_server(port) (or `--gdb PORT`) and use gdb-multiarch")

_active: "weakref.ref[RenodeMachine] | None" = None


@dataclass(frozen=True)
class RenodeSnapshot:
    firmware: Path | None
    log: tuple[tuple, ...]
    cycles: int
    uarts: dict[str, tuple[bytes, bytes, int]]
    stats: dict[str, int] = field(default_factory=dict)


def _checked_platform(path: Path) -> RenodePlatform:
    """The platform file, refused before Renode is touched if Renode 1.16.1 cannot use it."""
    if not path.is_file():
        raise BackendError(f"platform file {path} does not exist (the default is sim/platform/stm32f407.repl)")
    try:
        problems = errors(check_repl(path))
    except ReplSyntaxError as exc:
        raise BackendError(f"cannot read the platform file: {exc}") from exc
    if problems:
        raise BackendError("the platform file will not work on Renode 1.16.1:\n"
                           + "\n".join(str(p) for p in problems))
    return read_platform(path)


class RenodeMachine:
    name = "renode"

    def __init__(self, repl_path: str | Path, seed: int = 1, *, quantum_us: int = 100,
                 slice_us: int = 1000) -> None:
        available, reason = renode_status()
        if not available:
            raise BackendError(reason)
        if quantum_us <= 0 or slice_us <= 0 or slice_us % quantum_us:
            raise BackendError(f"slice_us ({slice_us}) must be a positive multiple of quantum_us "
                               f"({quantum_us}) so every RunFor ends on a sync point")
        self.platform: RenodePlatform = _checked_platform(Path(repl_path))
        self.frequency = self.platform.frequency
        self.seed = seed
        self.quantum_us = quantum_us
        self.slice_us = slice_us
        self._mips = commands.performance_in_mips(self.frequency)

        from sim.renode.bridge import RenodeBridge  # imports pyrenode3, which loads Renode
        self._bridge = RenodeBridge()

        self._image: FirmwareImage | None = None
        self._uarts = {name: RenodeUart(name) for name in self.platform.uarts}
        self._ethernet = RenodeEthernet(self)
        self._hooks: dict[int, tuple[int, str | None, Callable[[HookContext], None]]] = {}
        self._hook_delegates: dict[int, Any] = {}
        self._hook_ids = itertools.count(1)
        self._closed = False
        self._boot()

    # --- lifecycle ---------------------------------------------------------------------------------
    def _plan(self) -> commands.BootPlan:
        return commands.BootPlan(
            repl=self.platform.path, elf=self._image.path if self._image else None, seed=self.seed,
            frequency_hz=self.frequency, quantum_us=self.quantum_us, cpu=self.platform.cpu)

    def _boot(self) -> None:
        """A fresh Renode machine from the platform file (and the ELF, if one is loaded)."""
        global _active
        previous = _active() if _active is not None else None
        if previous is not None and previous is not self:
            previous._closed = True        # one emulation per process: RunFor runs every machine
        _active = weakref.ref(self)
        bridge = self._bridge
        bridge.clear()
        for uart in self._uarts.values():
            uart.set_state((b"", b"", 0))
        for command in commands.commands_for_boot(self._plan()):
            bridge.execute(command)
        self._mach = bridge.machine(commands.DEFAULT_MACHINE_NAME)
        self._cpu = bridge.peripheral(self._mach, self.platform.cpu)
        self._uart_peripherals = {}
        for name in self._uarts:
            peripheral = bridge.peripheral(self._mach, name)
            bridge.on_uart_char(peripheral, lambda value, name=name: self._uart_output(name, value))
            self._uart_peripherals[name] = peripheral
        self._mac = None
        if self.platform.ethernet is not None:
            self._mac = bridge.peripheral(self._mach, self.platform.ethernet)
            bridge.on_frame_ready(self._mac, self._frame_output)
        self._hook_delegates = {handle: self._attach_hook(handle) for handle in self._hooks}
        self._us_done = 0
        self._cycles = 0
        self._slice_end = 0
        self._log: list[tuple] = []
        self._stop = False
        self._error: BaseException | None = None
        self._replaying = False
        self._stats: Counter[str] = Counter()

    def _check_open(self) -> None:
        if self._closed:
            raise BackendError("this RenodeMachine was replaced by a newer one or closed: Renode runs "
                               "one emulation per process (RunFor advances every machine in it)")

    def close(self) -> None:
        global _active
        if not self._closed:
            self._closed = True
            self._bridge.clear()
            if _active is not None and _active() is self:
                _active = None

    def __enter__(self) -> "RenodeMachine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def load_elf(self, path: str) -> None:
        self._check_open()
        self._image = FirmwareImage(path)
        self._boot()

    def reset(self) -> None:
        """Boot again from the platform and the loaded ELF (a fresh machine, seed set first)."""
        self._check_open()
        self._boot()

    @property
    def cycles(self) -> int:
        return self._cycles

    # --- running -----------------------------------------------------------------------------------
    def run(self, max_cycles: int) -> RunResult:
        self._check_open()
        if max_cycles < 0:
            raise ValueError("max_cycles cannot be negative")
        start = self._cycles
        target = start + max_cycles
        self._stop = False
        while self._us_done < target // self._mips:
            step = min(self.slice_us, target // self._mips - self._us_done)
            self._run_slice(step)
            if self._stop:
                self._cycles = max(self._cycles, self._us_done * self._mips)
                return RunResult(StopReason.REQUESTED, self._cycles - start)
        self._cycles = target
        return RunResult(StopReason.LIMIT, max_cycles)

    def _run_slice(self, microseconds: int) -> None:
        for name, uart in self._uarts.items():
            chunk = uart.take_for_slice(microseconds)
            if chunk:
                self._bridge.uart_write(self._uart_peripherals[name], chunk)
                self._log.append(("uart", name, chunk))
                self._stats["uart_rx_bytes"] += len(chunk)
        self._slice_end = (self._us_done + microseconds) * self._mips
        self._bridge.execute(commands.run_for_command(microseconds))
        self._us_done += microseconds
        self._log.append(("run", microseconds))
        self._stats["slices"] += 1
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def request_stop(self) -> None:
        self._stop = True

    def step(self, *, mask_interrupts: bool = False) -> RunResult:
        raise BackendError(f"step() is not available: {_DEBUG_HINT}")

    # --- callbacks from Renode's CPU thread --------------------------------------------------------------
    def _guarded(self, callback: Callable[..., Any], *args: Any) -> None:
        if self._replaying:
            return
        try:
            callback(*args)
        except BaseException as exc:  # must not unwind into Renode; re-raised after the slice
            if self._error is None:
                self._error = exc
            self._stop = True

    def _uart_output(self, name: str, value: int) -> None:
        if self._replaying:
            return
        self._stats["uart_tx_bytes"] += 1
        for callback in self._uarts[name].emitted(value):
            self._guarded(callback, bytes([value]))

    def _frame_output(self, raw: bytes) -> None:
        if self._replaying:
            return
        data, fcs_ok = split_fcs(raw)
        self._stats["frames_tx"] += 1
        if not fcs_ok:
            self._stats["tx_bad_fcs"] += 1
        # the frame reaches the link at the end of the slice, when the runner regains control
        frame = TxFrame(data=data, cycles=self._slice_end)
        for callback in self._ethernet.callbacks:
            self._guarded(callback, frame)
        self._stop = True

    # --- ports ---------------------------------------------------------------------------------------
    def uart(self, name: str = "usart1") -> RenodeUart:
        try:
            return self._uarts[name]
        except KeyError:
            raise BackendError(f"no UART named {name!r} in {self.platform.path.name} "
                               f"(it has {', '.join(self._uarts) or 'none'})") from None

    @property
    def ethernet(self) -> RenodeEthernet:
        if self.platform.ethernet is None:
            raise BackendError(f"{self.platform.path.name} declares no Network.SynopsysEthernetMAC")
        return self._ethernet

    def _read_mac_address(self) -> bytes | None:
        self._check_open()
        base = self.platform.ethernet_base
        if base is None:
            return None
        high = self._bridge.read_u32(self._mach, base + MACA0HR)
        low = self._bridge.read_u32(self._mach, base + MACA0LR)
        return mac_from_registers(high, low)

    def _receive_frame(self, frame: bytes) -> bool:
        """Hand a frame (without FCS) to Renode's MAC, FCS attached; it arrives at the next sync point.

        The return value predicts the 1.16.1 model's address filter (only its own address and
        broadcast pass, multicast is dropped, §2.2): Renode delivers asynchronously and reports
        no drops back.
        """
        self._check_open()
        if self._mac is None:
            raise BackendError(f"{self.platform.path.name} declares no Network.SynopsysEthernetMAC")
        try:
            data = with_fcs(frame)
        except ValueError:
            self._stats["rx_dropped"] += 1
            return False
        self._bridge.inject_frame(self._mach, self._mac, data)
        self._log.append(("frame", data))
        self._stats["frames_rx"] += 1
        destination = bytes(frame[:6])
        if destination != BROADCAST and destination != self._read_mac_address():
            self._stats["rx_dropped"] += 1
            return False
        return True

    # --- inspection ------------------------------------------------------------------------------------
    def _firmware(self) -> FirmwareImage:
        if self._image is None:
            raise BackendError("no firmware loaded: call load_elf() first")
        return self._image

    def symbol_address(self, name: str) -> int:
        return self._firmware().address_of(name)

    def symbolize(self, address: int) -> str | None:
        return self._image.symbolize(address) if self._image else None

    def hook(self, target: str | int, callback: Callable[[HookContext], None]) -> int:
        self._check_open()
        if isinstance(target, str):
            address, symbol = self.symbol_address(target), target
        else:
            address, symbol = target & ~1, self.symbolize(target & ~1)
        handle = next(self._hook_ids)
        self._hooks[handle] = (address, symbol, callback)
        self._hook_delegates[handle] = self._attach_hook(handle)
        return handle

    def _attach_hook(self, handle: int) -> Any:
        address, symbol, callback = self._hooks[handle]
        return self._bridge.add_hook(
            self._cpu, address,
            lambda pc: self._guarded(callback, HookContext(self, pc, symbol)))

    def unhook(self, handle: int) -> None:
        if handle not in self._hooks:
            raise BackendError(f"no hook with handle {handle} (already removed?)")
        address, _, _ = self._hooks.pop(handle)
        self._bridge.remove_hook(self._cpu, address, self._hook_delegates.pop(handle))

    def read_memory(self, address: int, size: int) -> bytes:
        self._check_open()
        return self._bridge.read_memory(self._mach, address, size)

    def write_memory(self, address: int, data: bytes) -> None:
        self._check_open()
        self._bridge.write_memory(self._mach, address, bytes(data))
        if not self._replaying:
            self._log.append(("mem", address, bytes(data)))

    def _register_index(self, name: str) -> int:
        if name.lower() in registers.BANKED:
            control = self._bridge.get_register(self._cpu, registers.CONTROL)
            xpsr = self._bridge.get_register(self._cpu, registers.XPSR)
            return registers.banked_sp_index(name, control, xpsr)
        return registers.register_index(name)

    def read_register(self, name: str) -> int:
        self._check_open()
        return self._bridge.get_register(self._cpu, self._register_index(name))

    def write_register(self, name: str, value: int) -> None:
        self._check_open()
        index = self._register_index(name)
        self._bridge.set_register(self._cpu, index, value)
        if not self._replaying:
            self._log.append(("reg", index, value & 0xFFFF_FFFF))

    # --- debugging ----------------------------------------------------------------------------------------
    def add_breakpoint(self, address: int) -> None:
        raise BackendError(f"add_breakpoint: {_DEBUG_HINT}")

    def remove_breakpoint(self, address: int) -> None:
        raise BackendError(f"remove_breakpoint: {_DEBUG_HINT}")

    def add_watchpoint(self, address: int, length: int, kind: str) -> None:
        raise BackendError(f"add_watchpoint: {_DEBUG_HINT}")

    def remove_watchpoint(self, address: int, length: int, kind: str) -> None:
        raise BackendError(f"remove_watchpoint: {_DEBUG_HINT}")

    def start_gdb_server(self, port: int) -> int:
        """Serve GDB from Renode (`machine StartGdbServer PORT false`); returns the port.

        The emulation does not start on connect: time still advances only through run(), and
        stands still while GDB holds the CPU halted, so the host peer never times out.
        """
        self._check_open()
        self._bridge.execute(commands.gdb_server_command(port))
        return port

    # --- state ------------------------------------------------------------------------------------------------
    def snapshot(self) -> RenodeSnapshot:
        self._check_open()
        return RenodeSnapshot(
            firmware=self._image.path if self._image else None, log=tuple(self._log),
            cycles=self._cycles, uarts={name: uart.state() for name, uart in self._uarts.items()},
            stats=dict(self._stats))

    def restore(self, snapshot: object) -> None:
        """Boot again and replay the snapshot's record, with every callback muted."""
        self._check_open()
        if not isinstance(snapshot, RenodeSnapshot):
            raise BackendError(f"restore() needs a snapshot taken by RenodeMachine, not {type(snapshot).__name__}")
        current = self._image.path if self._image else None
        if snapshot.firmware != current:
            self._image = FirmwareImage(snapshot.firmware) if snapshot.firmware else None
        self._boot()
        self._replaying = True
        try:
            for entry in snapshot.log:
                self._replay(entry)
        finally:
            self._replaying = False
            self._error = None
        self._log = list(snapshot.log)
        self._cycles = snapshot.cycles
        for name, state in snapshot.uarts.items():
            self._uarts[name].set_state(state)
        self._stats = Counter(snapshot.stats)

    def _replay(self, entry: tuple) -> None:
        kind = entry[0]
        if kind == "run":
            self._bridge.execute(commands.run_for_command(entry[1]))
            self._us_done += entry[1]
        elif kind == "uart":
            self._bridge.uart_write(self._uart_peripherals[entry[1]], entry[2])
        elif kind == "frame":
            self._bridge.inject_frame(self._mach, self._mac, entry[1])
        elif kind == "mem":
            self._bridge.write_memory(self._mach, entry[1], entry[2])
        elif kind == "reg":
            self._bridge.set_register(self._cpu, entry[1], entry[2])
        else:
            raise BackendError(f"unknown snapshot record {kind!r}")

    @property
    def stats(self) -> dict[str, int]:
        counters = dict(self._stats)
        if not self._closed:
            instructions = self._bridge.executed_instructions(self._cpu)
            if instructions is not None:
                counters["instructions"] = instructions
        return counters
