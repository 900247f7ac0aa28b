"""The only module that touches pyrenode3 and Renode's .NET objects.

Importing pyrenode3 loads Renode (pyrenode3's `__init__` runs its loader unless
PYRENODE_SKIP_LOAD is set), so this module is imported only when a RenodeMachine is created.
Boot, save and load go through `Monitor.execute` (the strings come from sim.renode.commands);
the rest uses the .NET objects directly:

- UART output: the UART's `CharReceived` event; input: `WriteChar` (Renode's IUART).
- Ethernet out: the MAC's `FrameReady` event, whose frames carry the FCS (Renode 1.16.1's
  SynopsysEthernetMAC builds them with `addCrc: true`).
- Ethernet in: `machine.HandleTimeDomainEvent(mac.ReceiveFrame, frame, <external-world time>)`,
  the path Renode's NetworkInterfaceTester.SendFrame and its Switch use
  (renode-infrastructure src/Emulator/Main/Testing/NetworkInterfaceTester.cs,
  src/Emulator/Extensions/Tools/Network/Switch.cs): in the default SynchronizedIO mode the frame
  is delivered at the next sync point, while the machine runs, so the 1.16.1 model does not drop
  it as it does frames handed to a paused machine.
- CPU hooks: `cpu.AddHook(address, CpuAddressHook)` (ICPUWithHooks). The parameter is Renode's
  named delegate type `CpuAddressHook`; pythonnet will not convert an `Action[...]` into it.
- MMIO writes to a peripheral, seen (and changed) before the model gets them:
  `sysbus.SetHookBeforePeripheralWrite<uint>(peripheral, Func<uint, long, uint>)`.
- registers: `GetRegister`/`SetRegister` with a `RegisterValue` (the `...Unsafe` forms are
  obsolete in 1.16.1 and log a warning); memory: sysbus `ReadBytes`/`WriteBytes`/`ReadDoubleWord`.
- time: `Emulation.RunFor(TimeInterval)`, what the Monitor's `emulation RunFor` calls.
- peripherals: `machine.TryGetByName<IPeripheral>("sysbus.NAME")`, once per boot or load.

Callbacks run on Renode's CPU thread; the caller keeps them short and must not let
exceptions escape into Renode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from sim.errors import BackendError
from sim.renode.locate import INSTALL_HINT


@dataclass(frozen=True)
class Handle:
    """A Renode object as the backend holds it: `internal` is the .NET object itself."""

    internal: Any


@dataclass(frozen=True)
class MachineHandle(Handle):
    sysbus: Handle


class RenodeBridge:
    def __init__(self) -> None:
        try:
            import pyrenode3  # noqa: F401  (loads Renode)
            from Antmicro.Renode.Core import EmulationManager
            from Antmicro.Renode.Network import EthernetFrame
            from Antmicro.Renode.Peripherals import IPeripheral
            from Antmicro.Renode.Peripherals.CPU import CpuAddressHook, RegisterValue
            from Antmicro.Renode.Time import TimeInterval, TimeStamp
            from pyrenode3.wrappers import Emulation, Monitor
            from System import Action, Array, Byte, Func, Int64, UInt32, UInt64
        except Exception as exc:  # ImportError, or whatever Renode's loader raised
            raise BackendError(f"pyrenode3 could not load Renode ({type(exc).__name__}: {exc}). "
                               f"{INSTALL_HINT}") from exc
        self._Action, self._Array, self._Byte, self._UInt64 = Action, Array, Byte, UInt64
        self._Func, self._Int64, self._UInt32 = Func, Int64, UInt32
        self._EmulationManager = EmulationManager
        self._EthernetFrame = EthernetFrame
        self._IPeripheral = IPeripheral
        self._CpuAddressHook, self._RegisterValue = CpuAddressHook, RegisterValue
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
    # Looked up once per boot or load and kept: pyrenode3's attribute walk (`mach.sysbus.usart1`)
    # inspects every peripheral's extension methods and costs about 0.3 s per lookup.
    def machine(self, name: str) -> MachineHandle:
        found, machine = self.emulation.internal.TryGetMachineByName(name)
        if not found:
            raise BackendError(f"Renode has no machine named {name!r} after loading the platform")
        return MachineHandle(machine, Handle(machine.SystemBus))

    def peripheral(self, machine: MachineHandle, name: str) -> Handle:
        found, peripheral = machine.internal.TryGetByName[self._IPeripheral](f"sysbus.{name}")
        if not found:
            raise BackendError(f"Renode's machine has no peripheral sysbus.{name}; check the platform file")
        # pythonnet hands back the IPeripheral interface; the events and methods are on the class
        return Handle(getattr(peripheral, "__implementation__", peripheral))

    # --- events --------------------------------------------------------------------------------------
    # Each `on_...`/`hook_writes` returns a function that disconnects what it connected: Renode
    # cannot save an emulation whose events still point at Python code.
    def on_frame_ready(self, mac: Any, callback: Callable[[bytes], None]) -> Callable[[], None]:
        delegate = self._Action[self._EthernetFrame](lambda frame: callback(bytes(frame.Bytes)))
        mac.internal.FrameReady += delegate

        def undo() -> None:
            mac.internal.FrameReady -= delegate
        return undo

    def on_uart_char(self, uart: Any, callback: Callable[[int], None]) -> Callable[[], None]:
        delegate = self._Action[self._Byte](lambda value: callback(int(value)))
        uart.internal.CharReceived += delegate

        def undo() -> None:
            uart.internal.CharReceived -= delegate
        return undo

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
        delegate = self._CpuAddressHook(lambda _cpu, pc: callback(int(pc)))
        cpu.internal.AddHook(self._UInt64(address), delegate)
        return delegate

    def hook_writes(self, machine: Any, peripheral: Any,
                    callback: Callable[[int, int], int]) -> Callable[[], None]:
        """Call `callback(offset, value)` before each 32-bit write to `peripheral`; the model gets
        the value it returns. One such hook per peripheral (a new one replaces the old)."""
        UInt32 = self._UInt32
        delegate = self._Func[UInt32, self._Int64, UInt32](
            lambda value, offset: UInt32(callback(int(offset), int(value)) & 0xFFFF_FFFF))
        sysbus = machine.sysbus.internal
        sysbus.SetHookBeforePeripheralWrite[UInt32](peripheral.internal, delegate, None)

        def undo() -> None:
            sysbus.SetHookBeforePeripheralWrite[UInt32](peripheral.internal, None, None)
        return undo

    # --- saved emulations ---------------------------------------------------------------------------------
    def save(self, command: str) -> None:
        """Save the emulation (the Monitor's `Save @path`, given as `command`)."""
        self.execute(command)

    def load(self, command: str, select: str, machine_name: str) -> MachineHandle:
        """Replace the emulation with a saved one (`Load @path`), make its machine current again
        (`mach set`) and return it ready for RunFor.

        A machine comes out of a saved emulation not started: RunFor then advances virtual time
        but its CPU never executes. Starting and at once pausing it (the master time source is not
        running, so no virtual time passes) puts it in the paused state RunFor resumes from.
        """
        self.execute(command)
        self.execute(select)
        machine = self.machine(machine_name)
        machine.internal.Start()
        machine.internal.Pause()
        return machine

    # --- time ------------------------------------------------------------------------------------------
    def run_for(self, microseconds: int) -> None:
        """Run every machine exactly `microseconds` of virtual time, then pause: what the Monitor's
        `emulation RunFor` does, called directly (no command string to build and parse per slice)."""
        emulation = self._EmulationManager.Instance.CurrentEmulation
        try:
            emulation.RunFor(self._TimeInterval.FromMicroseconds(self._UInt64(microseconds)))
        except Exception as exc:  # a .NET exception from Renode
            raise BackendError(f"Renode failed to run {microseconds} us: {exc}") from exc

    def remove_hook(self, cpu: Any, address: int, delegate: Any) -> None:
        cpu.internal.RemoveHook(self._UInt64(address), delegate)

    # --- state -----------------------------------------------------------------------------------------
    def get_register(self, cpu: Any, index: int) -> int:
        return int(cpu.internal.GetRegister(index).RawValue)

    def set_register(self, cpu: Any, index: int, value: int) -> None:
        cpu.internal.SetRegister(index, self._RegisterValue.Create(self._UInt64(value & 0xFFFF_FFFF), 32))

    def read_memory(self, machine: Any, address: int, size: int) -> bytes:
        return bytes(machine.sysbus.internal.ReadBytes(self._UInt64(address), size))

    def write_memory(self, machine: Any, address: int, data: bytes) -> None:
        machine.sysbus.internal.WriteBytes(self._Array[self._Byte](list(data)), self._UInt64(address))

    def read_u32(self, machine: Any, address: int) -> int:
        return int(machine.sysbus.internal.ReadDoubleWord(self._UInt64(address)))

    def executed_instructions(self, cpu: Any) -> int | None:
        value = getattr(cpu.internal, "ExecutedInstructions", None)
        return None if value is None else int(value)
