"""A stand-in for pyrenode3 and the .NET namespaces it exposes, recording every call.

It lets the Renode backend's thin pyrenode3 layer run without Renode, so tests can check the call
sequence, and it refuses any Monitor command that is not in the documented syntax table below
(Renode 1.16.1's Monitor), so an unknown command fails the test instead of passing silently.

`FakeRenode.on_run` lets a test script what "the firmware" does during an `emulation RunFor`:
print on a UART, transmit a frame, hit a hooked address.
"""

from __future__ import annotations

import importlib.machinery
import re
import sys
import types
from pathlib import Path
from typing import Any, Callable

# Monitor syntax Renode 1.16.1 accepts, one regex per command form (what it calls in the comment).
DOCUMENTED_COMMANDS = {
    "SetSeed": r"emulation SetSeed \d+",                                   # Emulation.SetSeed
    "mach create": r'mach create "[\w.-]+"',                               # renode-docs machines
    "LoadPlatformDescription": r"machine LoadPlatformDescription @\S+",    # PlatformDescriptionMachineExtensions
    "PerformanceInMips": r"\w+ PerformanceInMips \d+",                     # BaseCPU.PerformanceInMips
    "SetGlobalQuantum": r'emulation SetGlobalQuantum "[\d:.]+"',           # Emulation.SetGlobalQuantum
    "SetGlobalAdvanceImmediately": r"emulation SetGlobalAdvanceImmediately (true|false)",  # Emulation
    "LoadELF": r"sysbus LoadELF @\S+",                                     # FileLoaderExtensions.LoadELF
    "StartGdbServer": r"machine StartGdbServer \d+( (true|false))?",       # Machine.StartGdbServer
    "logFile": r"logFile @\S+( (true|false))?",                            # LoggerFileCommand (path, flush)
    "logLevel": r"logLevel -?\d",                                          # the Monitor's logLevel
    "Save": r"Save @\S+",                                                  # EmulationManager.Save
    "Load": r"Load @\S+",                                                  # EmulationManager.Load
    "mach set": r'mach set "[\w.-]+"',                                    # the Monitor's mach
}
TICKS_PER_SECOND = 10**9   # TimeInterval resolution on Renode master (1e-9 s)


def documented(command: str) -> bool:
    return any(re.fullmatch(pattern, command) for pattern in DOCUMENTED_COMMANDS.values())


class Event:
    """A .NET event: `+=` / `-=` delegates, `fire(...)` calls them."""

    def __init__(self) -> None:
        self.handlers: list[Callable] = []

    def __iadd__(self, handler: Callable) -> "Event":
        self.handlers.append(handler)
        return self

    def __isub__(self, handler: Callable) -> "Event":
        self.handlers.remove(handler)
        return self

    def fire(self, *args: Any) -> None:
        for handler in list(self.handlers):
            handler(*args)


class Delegate:
    def __init__(self, types_: tuple, function: Callable) -> None:
        self.types = types_
        self.function = function

    def __call__(self, *args: Any) -> Any:
        return self.function(*args)


class _Generic:
    """`Action[T1, T2](fn)` and `Array[Byte](items)`."""

    def __init__(self, name: str, make: Callable) -> None:
        self.name = name
        self.make = make

    def __getitem__(self, type_args: Any) -> Callable:
        type_args = type_args if isinstance(type_args, tuple) else (type_args,)
        return lambda *args: self.make(type_args, *args)


class EthernetFrame:
    def __init__(self, data: bytes) -> None:
        self.Bytes = list(data)

    @staticmethod
    def TryCreateEthernetFrame(data: list, add_crc: bool):
        FAKE.record("EthernetFrame.TryCreateEthernetFrame", bytes(data), add_crc)
        return True, EthernetFrame(bytes(data) + (b"CRC!" if add_crc else b""))


class RegisterValue:
    def __init__(self, value: int) -> None:
        self.RawValue = value

    @staticmethod
    def Create(value: int, bits: int) -> "RegisterValue":
        assert bits == 32
        return RegisterValue(int(value))


class FakePeripheral:
    def __init__(self, path: str) -> None:
        self.path = path
        self.internal = types.SimpleNamespace()
        internal = self.internal
        internal.CharReceived = Event()
        internal.FrameReady = Event()
        internal.received = []
        internal.WriteChar = lambda value: FAKE.record(f"{path}.WriteChar", int(value))
        internal.ReceiveFrame = lambda frame: (FAKE.record(f"{path}.ReceiveFrame", bytes(frame.Bytes)),
                                               internal.received.append(bytes(frame.Bytes)))
        internal.hooks = {}

        def add_hook(address, delegate):
            FAKE.record(f"{path}.AddHook", int(address))
            internal.hooks.setdefault(int(address), []).append(delegate)

        def remove_hook(address, delegate):
            FAKE.record(f"{path}.RemoveHook", int(address))
            internal.hooks[int(address)].remove(delegate)

        internal.AddHook = add_hook
        internal.RemoveHook = remove_hook
        internal.registers = {}
        internal.GetRegister = lambda index: RegisterValue(internal.registers.get(index, 0))

        def set_register(index, value):
            FAKE.record(f"{path}.SetRegister", index, value.RawValue)
            internal.registers[index] = value.RawValue

        internal.SetRegister = set_register
        internal.ExecutedInstructions = 0


class _SetHook:
    """`SetHookBeforePeripheralWrite[UInt32](peripheral, hook, range)`: a None hook clears it."""

    def __init__(self, machine: "FakeMachine") -> None:
        self._machine = machine

    def __getitem__(self, type_arg):
        def set_hook(peripheral, hook, subrange):
            FAKE.record("sysbus.SetHookBeforePeripheralWrite", peripheral.path, hook is not None)
            if hook is None:
                self._machine.write_hooks.pop(peripheral.path, None)
            else:
                self._machine.write_hooks[peripheral.path] = hook
        return set_hook


class FakeSysbus:
    def __init__(self, machine: "FakeMachine") -> None:
        self._machine = machine
        self.internal = types.SimpleNamespace(
            ReadBytes=lambda address, count: [machine.memory.get(int(address) + i, 0) for i in range(count)],
            WriteBytes=self._write_bytes,
            ReadDoubleWord=lambda address: int.from_bytes(
                bytes(machine.memory.get(int(address) + i, 0) for i in range(4)), "little"),
            SetHookBeforePeripheralWrite=_SetHook(machine))

    def _write_bytes(self, data, address) -> None:
        FAKE.record("sysbus.WriteBytes", int(address), bytes(data))
        for i, value in enumerate(data):
            self._machine.memory[int(address) + i] = value

    def __getattr__(self, name: str) -> FakePeripheral:
        if name.startswith("_") or name not in self._machine.peripherals:
            raise AttributeError(name)
        return self._machine.peripherals[name]


class FakeMachine:
    def __init__(self, name: str) -> None:
        self.name = name
        self.peripherals: dict[str, FakePeripheral] = {}
        self.memory: dict[int, int] = {}
        self.sysbus = FakeSysbus(self)
        self.pending_events: list[tuple[Callable, Any]] = []
        outer = self

        class _HandleTimeDomainEvent:
            def __getitem__(self, type_arg):
                def handle(handler, argument, stamp):
                    FAKE.record("machine.HandleTimeDomainEvent", type_arg.__name__, stamp)
                    outer.pending_events.append((handler, argument))
                return handle

        class _TryGetByName:
            def __getitem__(self, type_arg):
                def find(path):
                    name = path.split(".", 1)[1] if path.startswith("sysbus.") else None
                    peripheral = outer.peripherals.get(name)
                    return (peripheral is not None), (peripheral.internal if peripheral else None)
                return find

        self.write_hooks: dict[str, Callable] = {}
        self.mac_registers: dict[int, int] = {}
        self.started = False
        self.internal = types.SimpleNamespace(
            HandleTimeDomainEvent=_HandleTimeDomainEvent(), SystemBus=self.sysbus.internal,
            TryGetByName=_TryGetByName(), Start=self._start, Pause=lambda: FAKE.record("machine.Pause"))

    def _start(self) -> None:
        FAKE.record("machine.Start")
        self.started = True

    def add_peripherals(self, names: list[str]) -> None:
        for name in names:
            self.peripherals[name] = FakePeripheral(f"sysbus.{name}")
            self.peripherals[name].internal.path = f"sysbus.{name}"


class FakeRenode:
    """The recorder behind the fake modules; `FAKE` is the live instance."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.commands: list[str] = []
        self.machines: dict[str, FakeMachine] = {}
        self.current: FakeMachine | None = None
        self.elapsed_ticks = 0
        self.seed: int | None = None
        self.on_run: Callable[["FakeRenode", int], None] | None = None
        self.saved: dict[str, dict] = {}
        self.peripheral_names = ["cpu", "usart1", "usart2", "usart3", "usart6", "ethernet"]

    def record(self, *call: Any) -> None:
        self.calls.append(call)

    # --- Monitor ----------------------------------------------------------------------------------
    def execute(self, command: str) -> tuple[str, str]:
        self.record("Monitor.execute", command)
        self.commands.append(command)
        if not documented(command):
            return "", f"There is no such command or device: {command}"
        words = command.split()
        if words[:2] == ["emulation", "SetSeed"]:
            if self.current is not None:
                return "", "fake: SetSeed after the machine was created cannot be reproduced"
            self.seed = int(words[2])
        elif words[:2] == ["mach", "create"]:
            name = command.split('"')[1]
            self.current = self.machines[name] = FakeMachine(name)
        elif words[:2] == ["machine", "LoadPlatformDescription"]:
            if self.current is None:
                return "", "No machine selected"
            if not Path(words[2][1:]).is_file():
                return "", f"Could not find file {words[2][1:]}"
            self.current.add_peripherals(self.peripheral_names)
        elif words[:2] == ["sysbus", "LoadELF"]:
            if not Path(words[2][1:]).is_file():
                return "", f"Could not find file {words[2][1:]}"
        elif words[0] == "Save":
            attached = self.python_callbacks()
            if attached:
                # what Renode 1.16.1 answers when an event or hook still points at Python code
                return "", ("Error encountered during saving: Pointer or ThreadLocal or SpinLock "
                            f"encountered during serialization ({', '.join(attached)})")
            self.saved[words[1][1:]] = self.state_of(self.current)
            Path(words[1][1:]).write_bytes(b"fake saved emulation")
        elif words[0] == "Load":
            if words[1][1:] not in self.saved:
                return "", f"Could not find file {words[1][1:]}"
            self.load_state(self.saved[words[1][1:]])
        return "ok", ""

    def run_for(self, ticks: int) -> None:
        """`Emulation.RunFor`: deliver pending events at the first sync point, let the scripted
        firmware act, advance the clock."""
        self.record("Emulation.RunFor", ticks)
        machine = self.current
        # externally injected events are delivered at the first sync point, while running
        events, machine.pending_events = machine.pending_events, []
        for handler, argument in events:
            handler(argument)
        if self.on_run is not None:
            self.on_run(self, ticks)
        self.elapsed_ticks += ticks

    # --- saved emulations -------------------------------------------------------------------------
    def python_callbacks(self) -> list[str]:
        """What still points at Python code: Renode cannot save an emulation while anything does."""
        found = []
        for name, peripheral in self.current.peripherals.items():
            internal = peripheral.internal
            if internal.CharReceived.handlers or internal.FrameReady.handlers:
                found.append(f"{name} event")
            if any(internal.hooks.values()):
                found.append(f"{name} hook")
        found += [f"{path} write hook" for path in self.current.write_hooks]
        return found

    def state_of(self, machine: "FakeMachine") -> dict:
        return {"name": machine.name, "memory": dict(machine.memory), "elapsed": self.elapsed_ticks,
                "registers": {n: dict(p.internal.registers) for n, p in machine.peripherals.items()},
                "mac": dict(machine.mac_registers)}

    def load_state(self, state: dict) -> None:
        """A new machine object with the saved contents, as Renode's Load builds one."""
        machine = FakeMachine(state["name"])
        machine.add_peripherals(self.peripheral_names)
        machine.memory = dict(state["memory"])
        machine.mac_registers = dict(state["mac"])
        for name, values in state["registers"].items():
            machine.peripherals[name].internal.registers = dict(values)
        self.machines = {machine.name: machine}
        self.current = machine
        self.elapsed_ticks = state["elapsed"]

    def clear(self) -> None:
        self.record("Emulation.clear")
        self.machines.clear()
        self.current = None
        self.seed = None
        self.elapsed_ticks = 0

    def get_mach(self, name: str):
        machine = self.machines.get(name)
        return machine

    # --- what scripted firmware can do during RunFor ----------------------------------------------
    def peripheral(self, name: str) -> FakePeripheral:
        return self.current.peripherals[name]

    def uart_print(self, name: str, text: bytes) -> None:
        for value in text:
            self.peripheral(name).internal.CharReceived.fire(value)

    def transmit(self, frame_with_fcs: bytes) -> None:
        self.peripheral("ethernet").internal.FrameReady.fire(EthernetFrame(frame_with_fcs))

    def mac_write(self, offset: int, value: int) -> int:
        """The firmware writes a MAC register: the write hook (if any) first, then the model."""
        hook = self.current.write_hooks.get("sysbus.ethernet")
        if hook is not None:
            value = int(hook(value, offset))
        self.current.mac_registers[offset] = value
        return value

    def write_words(self, address: int, words: list[int]) -> None:
        """Guest memory as the firmware leaves it (descriptors, buffers)."""
        for n, word in enumerate(words):
            for i, byte in enumerate(word.to_bytes(4, "little")):
                self.current.memory[address + 4 * n + i] = byte

    def hit(self, address: int) -> None:
        cpu = self.peripheral("cpu")
        for delegate in list(cpu.internal.hooks.get(address, [])):
            delegate(cpu, address)


FAKE = FakeRenode()


def _module(name: str, **attributes: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__spec__ = importlib.machinery.ModuleSpec(name, None)
    module.__dict__.update(attributes)
    return module


def install(monkeypatch) -> FakeRenode:
    """Put the fake modules in sys.modules (undone by monkeypatch) and return a fresh recorder."""
    global FAKE
    FAKE = FakeRenode()

    class _CurrentEmulation:
        def TryGetMachineByName(self, name: str):
            machine = FAKE.get_mach(name)
            return (machine is not None), (machine.internal if machine else None)

        def RunFor(self, interval) -> None:
            FAKE.run_for(int(interval))

    class Emulation:
        internal = _CurrentEmulation()

        def clear(self) -> None:
            FAKE.clear()

    class Monitor:
        def execute(self, command: str):
            return FAKE.execute(command)

    class EmulationManager:
        ExternalWorld = "ExternalWorld"
        Instance = types.SimpleNamespace(CurrentEmulation=_CurrentEmulation())

    class TimeInterval:
        Empty = 0

        @staticmethod
        def FromMicroseconds(us) -> int:
            return int(us) * (TICKS_PER_SECOND // 1_000_000)

    class TimeStamp:
        def __init__(self, interval, domain) -> None:
            self.interval, self.domain = interval, domain

        def __repr__(self) -> str:
            return f"TimeStamp({self.interval}, {self.domain})"

    class IPeripheral:
        pass

    class Byte(int):
        pass

    class UInt64(int):
        pass

    class UInt32(int):
        pass

    class Int64(int):
        pass

    def cpu_address_hook(function):
        return Delegate(("ICpuSupportingGdb", "UInt64"), function)

    modules = {
        "pyrenode3": _module("pyrenode3"),
        "pyrenode3.wrappers": _module("pyrenode3.wrappers", Emulation=Emulation, Monitor=Monitor),
        "pythonnet": _module("pythonnet"),
        "System": _module("System", Action=_Generic("Action", lambda t, fn: Delegate(t, fn)),
                          Func=_Generic("Func", lambda t, fn: Delegate(t, fn)),
                          Array=_Generic("Array", lambda t, items: list(items)), Byte=Byte,
                          UInt32=UInt32, UInt64=UInt64, Int64=Int64),
        "Antmicro": _module("Antmicro"),
        "Antmicro.Renode": _module("Antmicro.Renode"),
        "Antmicro.Renode.Core": _module("Antmicro.Renode.Core", EmulationManager=EmulationManager),
        "Antmicro.Renode.Network": _module("Antmicro.Renode.Network", EthernetFrame=EthernetFrame),
        "Antmicro.Renode.Peripherals": _module("Antmicro.Renode.Peripherals", IPeripheral=IPeripheral),
        "Antmicro.Renode.Peripherals.CPU": _module("Antmicro.Renode.Peripherals.CPU",
                                                   CpuAddressHook=cpu_address_hook,
                                                   RegisterValue=RegisterValue),
        "Antmicro.Renode.Time": _module("Antmicro.Renode.Time", TimeInterval=TimeInterval,
                                        TimeStamp=TimeStamp),
    }
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    return FAKE
