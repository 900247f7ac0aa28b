"""RenodeMachine: the sim.backend.Backend surface on a real Renode, driven through pyrenode3.

Boot: `load_elf` only reads the image; the machine is built (seed first, platform, ELF) by the
first thing that needs it, or by `reset()`. So `load_elf` then `reset` boots once.

Time: `run(max_cycles)` advances Renode with `RunFor` in slices of at most `slice_us` virtual
microseconds, so a transmitted frame or `request_stop()` ends the run at the next slice boundary
(Renode cannot be paused from inside its CPU thread). Between slices the emulation is paused:
queued UART bytes and received frames are handed over then, and Renode delivers them at its next
sync point. One instruction is one cycle at the platform clock (PerformanceInMips), so `cycles`
means the same as on the built-in machine; Renode time is whole microseconds, so the backend runs
the whole microseconds a request covers and carries the rest into the next run.

State: a snapshot is Renode's own saved emulation (the Monitor's `Save`) plus what this backend
keeps beside it (UART transcripts, counters, the TX descriptor position); `restore` loads it
(`Load`) and attaches our callbacks to the loaded machine. Nothing is replayed.

Ethernet: Renode 1.16.1's MAC model never clears DMAOMR.FTF and does not say which descriptors a
frame came from; sim.renode.ethernet_dma supplies both (a write hook on the MAC, and a walk of the
TX descriptors in guest memory when a frame appears).

Debugging: breakpoints, watchpoints and single steps are Renode's GDB server's job
(`start_gdb_server`); the methods of the contract that would need them say so.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import weakref
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from sim.backend import HookContext, RunResult, StopReason
from sim.errors import BackendError
from sim.frame_types import DmaSegment, TxFrame
from sim.renode import commands, ethernet_dma, registers
from sim.renode.frames import split_fcs, with_fcs
from sim.renode.locate import renode_status
from sim.renode.platform_info import RenodePlatform, read_platform
from sim.renode.ports import RenodeEthernet, RenodeUart, mac_from_registers
from sim.renode.repl_check import check_repl, errors
from sim.renode.repl_scan import ReplSyntaxError
from sim.renode.symbols import FirmwareImage

MACA0HR, MACA0LR = 0x40, 0x44
BROADCAST = b"\xff" * 6
LOG_TAIL_LINES = 30

_DEBUG_HINT = ("on the Renode backend, breakpoints, watchpoints and single steps go through Renode's "
               "GDB server: call start_gdb_server(port) (or `--gdb PORT`) and use gdb-multiarch")

_active: "weakref.ref[RenodeMachine] | None" = None


@dataclass(frozen=True)
class RenodeSnapshot:
    """A saved emulation (Renode's file) and the backend's own state beside it."""

    firmware: Path | None
    emulation_file: Path
    cycles: int
    microseconds: int
    uarts: dict[str, tuple[bytes, bytes, int]]
    tx_cursor: int | None
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


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


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
        # Renode's own log and saved emulations live here while the machine does
        self._workdir = Path(tempfile.mkdtemp(prefix="sim-renode-"))
        self._remove_workdir = weakref.finalize(self, shutil.rmtree, self._workdir, True)
        self.log_path = self._workdir / "renode.log"

        self._image: FirmwareImage | None = None
        self._uarts = {name: RenodeUart(name) for name in self.platform.uarts}
        self._ethernet = RenodeEthernet(self)
        self._hooks: dict[int, tuple[int, str | None, Callable[[HookContext], None]]] = {}
        self._hook_delegates: dict[int, Any] = {}
        self._hook_ids = itertools.count(1)
        self._snapshot_ids = itertools.count(1)
        self._closed = False
        self._retired = False
        self._booted = False
        self._attached: list[Callable[[], None]] = []
        self._stats: Counter[str] = Counter()
        self._reset_counters()
        self._claim_emulation()

    def _claim_emulation(self) -> None:
        """Renode runs one emulation per process (RunFor advances every machine in it): the machine
        that boots or restores takes it, and the previous owner is retired until it does the same."""
        global _active
        previous = _active() if _active is not None else None
        if previous is not None and previous is not self:
            previous._retired = True
        self._retired = False
        _active = weakref.ref(self)

    def _reset_counters(self) -> None:
        self._us_done = 0
        self._cycles = 0
        self._slice_end = 0
        self._stop = False
        self._error: BaseException | None = None
        self._tx_cursor: int | None = None
        self._stats = Counter()

    # --- lifecycle ---------------------------------------------------------------------------------
    def _plan(self) -> commands.BootPlan:
        return commands.BootPlan(
            repl=self.platform.path, elf=self._image.path if self._image else None, seed=self.seed,
            frequency_hz=self.frequency, quantum_us=self.quantum_us, cpu=self.platform.cpu)

    def _boot(self) -> None:
        """A fresh Renode machine from the platform file and the loaded ELF, seed set first."""
        if self._closed:
            self._check_open()
        self._claim_emulation()
        bridge = self._bridge
        self._attached = []
        bridge.clear()
        for command in commands.log_commands(self.log_path):
            bridge.execute(command)
        for uart in self._uarts.values():
            uart.set_state((b"", b"", 0))
        self._reset_counters()
        try:
            for command in commands.commands_for_boot(self._plan()):
                bridge.execute(command)
        except BackendError as exc:
            raise BackendError(f"{exc}{self._log_tail()}") from exc
        self._booted = True
        self._attach()

    def _attach(self) -> None:
        """Find the machine's parts and connect our callbacks (after a boot or a Load)."""
        bridge = self._bridge
        self._mach = bridge.machine(commands.DEFAULT_MACHINE_NAME)
        self._cpu = bridge.peripheral(self._mach, self.platform.cpu)
        detach: list[Callable[[], None]] = []
        self._uart_peripherals = {}
        for name in self._uarts:
            peripheral = bridge.peripheral(self._mach, name)
            detach.append(bridge.on_uart_char(peripheral, lambda value, name=name: self._uart_output(name, value)))
            self._uart_peripherals[name] = peripheral
        self._mac = None
        if self.platform.ethernet is not None:
            self._mac = bridge.peripheral(self._mach, self.platform.ethernet)
            detach.append(bridge.on_frame_ready(self._mac, self._frame_output))
            detach.append(bridge.hook_writes(self._mach, self._mac, self._mac_write))
        self._attached = detach
        self._hook_delegates = {handle: self._attach_hook(handle) for handle in self._hooks}

    def _detach(self) -> None:
        """Disconnect every Python callback: Renode cannot save an emulation that refers to them."""
        for handle in list(self._hook_delegates):
            address = self._hooks[handle][0]
            self._bridge.remove_hook(self._cpu, address, self._hook_delegates.pop(handle))
        for undo in reversed(self._attached):
            undo()
        self._attached = []

    def _ensure_booted(self) -> None:
        self._check_open()
        if not self._booted:
            self._boot()

    def _check_open(self) -> None:
        if self._closed:
            raise BackendError("this RenodeMachine is closed")
        if self._retired:
            raise BackendError("another RenodeMachine took Renode's emulation since this one last booted: "
                               "Renode runs one emulation per process (RunFor advances every machine in "
                               "it). restore() a snapshot or reset() to take it back.")

    def _log_tail(self) -> str:
        """The end of Renode's own log, for error messages."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        if not lines:
            return ""
        shown = "\n".join(f"  | {line}" for line in lines[-LOG_TAIL_LINES:])
        return f"\nRenode's log ({self.log_path}), last {min(len(lines), LOG_TAIL_LINES)} lines:\n{shown}"

    def renode_log(self) -> str:
        """Everything Renode logged since this machine last booted (warnings about unmodelled
        registers, loads, saves)."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def close(self) -> None:
        global _active
        if not self._closed:
            self._closed = True
            if _active is not None and _active() is self:   # a retired machine's emulation is gone
                self._bridge.clear()
                _active = None
            self._remove_workdir()                          # its log and saved emulations

    def __enter__(self) -> "RenodeMachine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def load_elf(self, path: str) -> None:
        """Take the firmware; the machine boots with it at the next reset() or first use."""
        self._check_open()
        self._image = FirmwareImage(path)
        self._booted = False

    def reset(self) -> None:
        """Boot from the platform and the loaded ELF (a fresh machine, seed set first)."""
        self._boot()

    @property
    def cycles(self) -> int:
        return self._cycles

    # --- running -----------------------------------------------------------------------------------
    def run(self, max_cycles: int) -> RunResult:
        self._ensure_booted()
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
                self._stats["uart_rx_bytes"] += len(chunk)
        self._slice_end = (self._us_done + microseconds) * self._mips
        try:
            self._bridge.run_for(microseconds)
        except BackendError as exc:
            raise BackendError(f"{exc}{self._log_tail()}") from exc
        self._us_done += microseconds
        self._stats["slices"] += 1
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def request_stop(self) -> None:
        self._stop = True

    def step(self, *, mask_interrupts: bool = False) -> RunResult:
        raise BackendError(f"step() is not available: {_DEBUG_HINT}")

    # --- callbacks from Renode's CPU thread --------------------------------------------------------------
    def _fail_after_slice(self, exc: BaseException) -> None:
        """An exception inside a callback must not unwind into Renode: keep the first one, stop
        at the slice boundary and raise it there."""
        if self._error is None:
            self._error = exc
        self._stop = True

    def _guarded(self, callback: Callable[..., Any], *args: Any) -> None:
        try:
            callback(*args)
        except BaseException as exc:
            self._fail_after_slice(exc)

    def _uart_output(self, name: str, value: int) -> None:
        self._stats["uart_tx_bytes"] += 1
        for callback in self._uarts[name].emitted(value):
            self._guarded(callback, bytes([value]))

    def _mac_write(self, offset: int, value: int) -> int:
        """Every firmware write to the MAC, before the model sees it (sim.renode.ethernet_dma)."""
        try:
            if offset == ethernet_dma.DMATDLAR:
                self._tx_cursor = ethernet_dma.list_address(value)
            changed = ethernet_dma.write_seen_by_model(offset, value)
            if changed != value:
                self._stats["ftf_cleared"] += 1
            return changed
        except BaseException as exc:
            self._fail_after_slice(exc)
            return value

    def _read_descriptor(self, address: int) -> tuple[int, int, int, int]:
        raw = self._bridge.read_memory(self._mach, address, ethernet_dma.DESCRIPTOR_BYTES)
        return tuple(int.from_bytes(raw[i:i + 4], "little") for i in range(0, 16, 4))  # type: ignore[return-value]

    def _gather_list(self, data: bytes) -> tuple[tuple[DmaSegment, ...], int]:
        """The DMA segments and CIC of the frame just sent, read back from its TX descriptors."""
        found = None
        if self._tx_cursor is not None:
            found = ethernet_dma.gather_list(self._read_descriptor, self._tx_cursor, len(data))
        if found is None:
            self._stats["tx_gather_unknown"] += 1
            return (), 0
        segments, self._tx_cursor, cic = found
        return segments, cic

    def _frame_output(self, raw: bytes) -> None:
        data, fcs_ok = split_fcs(raw)
        self._stats["frames_tx"] += 1
        if not fcs_ok:
            self._stats["tx_bad_fcs"] += 1
        try:
            segments, cic = self._gather_list(data)
        except BaseException as exc:
            self._fail_after_slice(exc)
            return
        # the frame reaches the link at the end of the slice, when the runner regains control
        frame = TxFrame(data=data, cycles=self._slice_end, segments=segments, checksum_insertion=cic)
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
        self._ensure_booted()
        base = self.platform.ethernet_base
        if base is None:
            return None
        high = self._bridge.read_u32(self._mach, base + MACA0HR)
        low = self._bridge.read_u32(self._mach, base + MACA0LR)
        return mac_from_registers(high, low)

    def _receive_frame(self, frame: bytes) -> bool:
        """Hand a frame (without FCS) to Renode's MAC, FCS attached; it arrives at the next sync point.

        The return value predicts the 1.16.1 model's address filter (only its own address and
        broadcast pass, multicast is dropped): Renode delivers asynchronously and reports no drops
        back.
        """
        self._ensure_booted()
        if self._mac is None:
            raise BackendError(f"{self.platform.path.name} declares no Network.SynopsysEthernetMAC")
        try:
            data = with_fcs(frame)
        except ValueError:
            self._stats["rx_dropped"] += 1
            return False
        self._bridge.inject_frame(self._mach, self._mac, data)
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
        if self._booted:
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
        delegate = self._hook_delegates.pop(handle, None)
        if delegate is not None and not (self._closed or self._retired):
            self._bridge.remove_hook(self._cpu, address, delegate)

    def read_memory(self, address: int, size: int) -> bytes:
        self._ensure_booted()
        return self._bridge.read_memory(self._mach, address, size)

    def write_memory(self, address: int, data: bytes) -> None:
        self._ensure_booted()
        self._bridge.write_memory(self._mach, address, bytes(data))

    def read_register(self, name: str) -> int:
        self._ensure_booted()
        key = name.lower()
        bridge, cpu = self._bridge, self._cpu
        if key in registers.STACK_POINTERS or key == "control":
            on_psp = bridge.get_register(cpu, registers.PROCESS_SP_IN_USE)
            if key == "control":
                return registers.control_value(bridge.get_register(cpu, registers.CONTROL), on_psp)
            return bridge.get_register(cpu, registers.stack_pointer_index(key, on_psp))
        return bridge.get_register(cpu, registers.register_index(key))

    def write_register(self, name: str, value: int) -> None:
        self._ensure_booted()
        key = name.lower()
        value &= 0xFFFF_FFFF
        bridge, cpu = self._bridge, self._cpu
        if key == "control":
            on_psp = bridge.get_register(cpu, registers.PROCESS_SP_IN_USE)
            if bool(value & registers.CONTROL_SPSEL) != bool(on_psp):
                raise BackendError("changing CONTROL.SPSEL through write_register would not switch "
                                   "stacks on Renode (tlib keeps the stack in use apart from CONTROL); "
                                   "set MSP/PSP instead, or use Renode's GDB server")
            index = registers.CONTROL
        elif key in registers.STACK_POINTERS:
            index = registers.stack_pointer_index(key, bridge.get_register(cpu, registers.PROCESS_SP_IN_USE))
        else:
            index = registers.register_index(key)
        bridge.set_register(cpu, index, value)

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
        self._ensure_booted()
        self._bridge.execute(commands.gdb_server_command(port))
        return port

    # --- state ------------------------------------------------------------------------------------------------
    def snapshot(self) -> RenodeSnapshot:
        """Save the emulation with Renode's `Save` (callbacks detached for it) and our state beside it.

        The file is deleted when the snapshot object is no longer referenced, or with the machine.
        """
        self._ensure_booted()
        path = self._workdir / f"snapshot-{next(self._snapshot_ids)}.save"
        self._detach()
        try:
            self._bridge.save(commands.save_command(path))
        except BackendError as exc:
            raise BackendError(f"{exc}{self._log_tail()}") from exc
        finally:
            self._attach()
        self._stats["snapshots"] += 1
        snapshot = RenodeSnapshot(
            firmware=self._image.path if self._image else None, emulation_file=path,
            cycles=self._cycles, microseconds=self._us_done,
            uarts={name: uart.state() for name, uart in self._uarts.items()},
            tx_cursor=self._tx_cursor, stats=dict(self._stats))
        weakref.finalize(snapshot, _unlink, path)
        return snapshot

    def restore(self, snapshot: object) -> None:
        """Load the saved emulation (Renode's `Load`) and attach our callbacks to it."""
        if self._closed:
            self._check_open()
        if not isinstance(snapshot, RenodeSnapshot):
            raise BackendError(f"restore() needs a snapshot taken by RenodeMachine, not {type(snapshot).__name__}")
        if not snapshot.emulation_file.is_file():
            raise BackendError(f"the snapshot's saved emulation {snapshot.emulation_file} is gone "
                               f"(it lives only as long as its RenodeMachine)")
        was_current = not self._retired
        self._claim_emulation()
        current = self._image.path if self._image else None
        if snapshot.firmware != current:
            self._image = FirmwareImage(snapshot.firmware) if snapshot.firmware else None
        if self._booted and was_current:
            self._detach()
        try:
            self._bridge.load(commands.load_command(snapshot.emulation_file),
                              commands.select_machine_command(), commands.DEFAULT_MACHINE_NAME)
        except BackendError as exc:
            raise BackendError(f"{exc}{self._log_tail()}") from exc
        self._booted = True
        self._attach()
        self._stop = False
        self._error = None
        self._cycles = snapshot.cycles
        self._us_done = snapshot.microseconds
        self._slice_end = self._us_done * self._mips
        self._tx_cursor = snapshot.tx_cursor
        for name, state in snapshot.uarts.items():
            self._uarts[name].set_state(state)
        self._stats = Counter(snapshot.stats)
        self._stats["restores"] += 1

    @property
    def stats(self) -> dict[str, int]:
        counters = dict(self._stats)
        if not (self._closed or self._retired) and self._booted:
            instructions = self._bridge.executed_instructions(self._cpu)
            if instructions is not None:
                counters["instructions"] = instructions
        return counters
