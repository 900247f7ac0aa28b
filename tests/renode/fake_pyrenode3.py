"""A stand-in for pyrenode3 and the .NET namespaces it exposes, recording every call.

It lets the Renode backend's thin pyrenode3 layer run without Renode, so tests can check the call
sequence, and it refuses any Monitor command that is not in the documented syntax table below
(facts/renode.md), so an undocumented command fails the test instead of passing silently.

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

from sim.renode.commands import parse_time_string

# Documented Monitor syntax, one regex per command form (facts/renode.md section in the comment).
DOCUMENTED_COMMANDS = {
    "SetSeed": r"emulation SetSeed \d+",                                   # §3.2, §8 quirk 9
    "mach create": r'mach create "[\w.-]+"',                               # renode-docs machines
    "LoadPlatformDescription": r"machine LoadPlatformDescription @\S+",    # §1.1
    "PerformanceInMips": r"\w+ PerformanceInMips \d+",                     # §3.2, §1.4 resc
    "SetGlobalQuantum": r'emulation SetGlobalQuantum "[\d:.]+"',           # §3.2
    "SetGlobalAdvanceImmediately": r"emulation SetGlobalAdvanceImmediately (true|false)",  # §3.2
    "LoadELF": r"sysbus LoadELF @\S+",                                     # §1.4 resc
    "RunFor": r'emulation RunFor "[\d:.]+"',                               # §3.2
    "StartGdbServer": r"machine StartGdbServer \d+( (true|false))?",       # §3.2
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
        internal.GetRegisterUnsafe = lambda index: RegisterValue(internal.registers.get(index, 0))

        def set_register(index, value):
            FAKE.record(f"{path}.SetRegisterUnsafe", index, int(value))
            internal.registers[index] = int(value)

        internal.SetRegisterUnsafe = set_register
        internal.ExecutedInstructions = 0


class FakeSysbus:
    def __init__(self, machine: "FakeMachine") -> None:
        self._machine = machine
        self.internal = types.SimpleNamespace(
            ReadBytes=lambda address, count: [machine.memory.get(int(address) + i, 0) for i in range(count)],
            WriteBytes=self._write_bytes,
            ReadDoubleWord=lambda address: int.from_bytes(
                bytes(machine.memory.get(int(address) + i, 0) for i in range(4)), "little"))

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

        self.internal = types.SimpleNamespace(HandleTimeDomainEvent=_HandleTimeDomainEvent())

    def add_peripherals(self, names: list[str]) -> None:
        for name in names:
            self.peripherals[name] = FakePeripheral(f"sysbus.{name}")


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
        elif words[:2] == ["emulation", "RunFor"]:
            ticks = parse_time_string(command.split('"')[1], TICKS_PER_SECOND)
            machine = self.current
            # externally injected events are delivered at the first sync point, while running
            events, machine.pending_events = machine.pending_events, []
            for handler, argument in events:
                handler(argument)
            if self.on_run is not None:
                self.on_run(self, ticks)
            self.elapsed_ticks += ticks
        return "ok", ""

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

    class Emulation:
        def clear(self) -> None:
            FAKE.clear()

        def get_mach(self, name: str):
            return FAKE.get_mach(name)

    class Monitor:
        def execute(self, command: str):
            return FAKE.execute(command)

    class EmulationManager:
        ExternalWorld = "ExternalWorld"

    class TimeInterval:
        Empty = 0

    class TimeStamp:
        def __init__(self, interval, domain) -> None:
            self.interval, self.domain = interval, domain

        def __repr__(self) -> str:
            return f"TimeStamp({self.interval}, {self.domain})"

    class ICpuSupportingGdb:
        pass

    class Byte(int):
        pass

    class UInt64(int):
        pass

    modules = {
        "pyrenode3": _module("pyrenode3"),
        "pyrenode3.wrappers": _module("pyrenode3.wrappers", Emulation=Emulation, Monitor=Monitor),
        "pythonnet": _module("pythonnet"),
        "System": _module("System", Action=_Generic("Action", lambda t, fn: Delegate(t, fn)),
                          Array=_Generic("Array", lambda t, items: list(items)), Byte=Byte, UInt64=UInt64),
        "Antmicro": _module("Antmicro"),
        "Antmicro.Renode": _module("Antmicro.Renode"),
        "Antmicro.Renode.Core": _module("Antmicro.Renode.Core", EmulationManager=EmulationManager),
        "Antmicro.Renode.Network": _module("Antmicro.Renode.Network", EthernetFrame=EthernetFrame),
        "Antmicro.Renode.Peripherals": _module("Antmicro.Renode.Peripherals"),
        "Antmicro.Renode.Peripherals.CPU": _module("Antmicro.Renode.Peripherals.CPU",
                                                   ICpuSupportingGdb=ICpuSupportingGdb),
        "Antmicro.Renode.Time": _module("Antmicro.Renode.Time", TimeInterval=TimeInterval,
                                        TimeStamp=TimeStamp),
    }
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    return FAKE
