"""The only module that touches pyrenode3 and Renode's .NET objects.

Importing pyrenode3 loads Renode (facts/renode.md §5), so this module is imported only when a
RenodeMachine is created. Everything with a documented Monitor form goes through
`Monitor.execute` (the strings come from sim.renode.commands); what has none uses the .NET
objects pyrenode3 exposes:

- UART output: the UART's `CharReceived` event; input: `WriteChar` (Renode's IUART).
- Ethernet out: the MAC's `FrameReady` event, whose frames carry the FCS (§2.1).
- Ethernet in: `machine.HandleTimeDomainEvent(mac.ReceiveFrame, frame, <external-world time>)`,
  the path Renode's NetworkInterfaceTester.SendFrame and its Switch use (§3.1): in the default
  SynchronizedIO mode the frame is delivered at the next sync point, while the machine runs, so
  the 1.16.1 model does not drop it as it does frames handed to a paused machine (§2.2, §3.1).
- CPU hooks: `cpu.AddHook(address, Action[ICpuSupportingGdb, UInt64])` (ICPUWithHooks).
- registers and memory: `GetRegisterUnsafe`/`SetRegisterUnsafe`, sysbus `ReadBytes`/`WriteBytes`/
  `ReadDoubleWord`.

Callbacks run on Renode's CPU thread (§5 "Events"); the caller keeps them short and must not let
exceptions escape into Renode.
"""

from __future__ import annotations

from typing import Any, Callable

from sim.errors import BackendError
from sim.renode.locate import INSTALL_HINT


class RenodeBridge:
    def __init__(self) -> None:
        try:
            import pyrenode3  # noqa: F401  (loads Renode, §5)
            from Antmicro.Renode.Core import EmulationManager
            from Antmicro.Renode.Network import EthernetFrame
            from Antmicro.Renode.Peripherals.CPU import ICpuSupportingGdb
            from Antmicro.Renode.Time import TimeInterval, TimeStamp
            from pyrenode3.wrappers import Emulation, Monitor
            from System import Action, Array, Byte, UInt64
        except Exception as exc:  # ImportError, or whatever Renode's loader raised
            raise BackendError(f"pyrenode3 could not load Renode ({type(exc).__name__}: {exc}). "
                               f"{INSTALL_HINT}") from exc
        self._Action, self._Array, self._Byte, self._UInt64 = Action, Array, Byte, UInt64
        self._EmulationManager = EmulationManager
        self._EthernetFrame = EthernetFrame
        self._ICpuSupportingGdb = ICpuSupportingGdb
        self._TimeInterval, self._TimeStamp = TimeInterval, TimeStamp
        self.emulation = Emulation()
        self.monitor = Monitor()

    # --- Monitor ---------------------------------------------------------------------------------
    def execute(self, command: str) -> str:
        output, error = self.monitor.execute(command)
        if error:
            raise BackendError(f"Renode rejected `{command}`: {str(error).strip()}")
        return str(output or "")

    def clear(self) -> None:
        """Remove every machine and start a fresh emulation (pyrenode3 `Emulation.clear`)."""
        self.emulation.clear()

    # --- objects -----------------------------------------------------------------------------------
    def machine(self, name: str) -> Any:
        machine = self.emulation.get_mach(name)
        if machine is None:
            raise BackendError(f"Renode has no machine named {name!r} after loading the platform")
        return machine

    def peripheral(self, machine: Any, name: str) -> Any:
        try:
            return getattr(machine.sysbus, name)
        except AttributeError:
            raise BackendError(f"Renode's machine has no peripheral sysbus.{name}; check the platform file") from None

    # --- events --------------------------------------------------------------------------------------
    def on_frame_ready(self, mac: Any, callback: Callable[[bytes], None]) -> Any:
        delegate = self._Action[self._EthernetFrame](lambda frame: callback(bytes(frame.Bytes)))
        mac.internal.FrameReady += delegate
        return delegate

    def on_uart_char(self, uart: Any, callback: Callable[[int], None]) -> Any:
        delegate = self._Action[self._Byte](lambda value: callback(int(value)))
        uart.internal.CharReceived += delegate
        return delegate

    def uart_write(self, uart: Any, data: bytes) -> None:
        for value in data:
            uart.internal.WriteChar(self._Byte(value))

    def inject_frame(self, machine: Any, mac: Any, frame_with_fcs: bytes) -> None:
        ok, frame = self._EthernetFrame.TryCreateEthernetFrame(
            self._Array[self._Byte](list(frame_with_fcs)), False)
        if not ok:
            raise BackendError(f"Renode could not parse a {len(frame_with_fcs)}-byte frame as Ethernet")
        when = self._TimeStamp(self._TimeInterval.Empty, self._EmulationManager.ExternalWorld)
        deliver = self._Action[self._EthernetFrame](mac.internal.ReceiveFrame)
        machine.internal.HandleTimeDomainEvent[self._EthernetFrame](deliver, frame, when)

    def add_hook(self, cpu: Any, address: int, callback: Callable[[int], None]) -> Any:
        delegate = self._Action[self._ICpuSupportingGdb, self._UInt64](
            lambda _cpu, pc: callback(int(pc)))
        cpu.internal.AddHook(self._UInt64(address), delegate)
        return delegate

    def remove_hook(self, cpu: Any, address: int, delegate: Any) -> None:
        cpu.internal.RemoveHook(self._UInt64(address), delegate)

    # --- state -----------------------------------------------------------------------------------------
    def get_register(self, cpu: Any, index: int) -> int:
        return int(cpu.internal.GetRegisterUnsafe(index).RawValue)

    def set_register(self, cpu: Any, index: int, value: int) -> None:
        cpu.internal.SetRegisterUnsafe(index, self._UInt64(value & 0xFFFF_FFFF))

    def read_memory(self, machine: Any, address: int, size: int) -> bytes:
        return bytes(machine.sysbus.internal.ReadBytes(self._UInt64(address), size))

    def write_memory(self, machine: Any, address: int, data: bytes) -> None:
        machine.sysbus.internal.WriteBytes(self._Array[self._Byte](list(data)), self._UInt64(address))

    def read_u32(self, machine: Any, address: int) -> int:
        return int(machine.sysbus.internal.ReadDoubleWord(self._UInt64(address)))

    def executed_instructions(self, cpu: Any) -> int | None:
        value = getattr(cpu.internal, "ExecutedInstructions", None)
        return None if value is None else int(value)
