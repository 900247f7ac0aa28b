"""Ask a running Renode about peripheral types and platform descriptions; run as a script.

    python renode_probe.py REQUEST.json ANSWER.json

REQUEST: {"types": ["UART.STM32_UART", ...], "cases": [{"id": ..., "repl": ..., "inspect": [...]}]}.
ANSWER:  {"version": EmulationManager.VersionString,
          "types": {name: what Renode's loaded assemblies say about the class},
          "cases": {id: {"ok": bool, "error": Renode's message, "inspect": {entry: {...}}}}}.

Each case's platform description is loaded into a fresh machine of a fresh emulation with the
Monitor's `machine LoadPlatformDescriptionFromString`, as `LoadPlatformDescription` loads a file.
It runs in its own process so the tests' own Renode emulation (one per process) is never touched,
and it leaves with os._exit once the answer is written: Mono's shutdown after Renode has run
takes seconds and adds nothing.
"""

from __future__ import annotations

import json
import os
import sys
import traceback

CSHARP_NAMES = {
    "System.Byte": "byte", "System.UInt16": "ushort", "System.UInt32": "uint", "System.UInt64": "ulong",
    "System.Int16": "short", "System.Int32": "int", "System.Int64": "long", "System.Boolean": "bool",
    "System.String": "string",
}


def main(request_path: str, answer_path: str) -> int:
    with open(request_path) as f:
        request = json.load(f)
    import clr
    import pyrenode3  # noqa: F401  (loads Renode, and with it pythonnet's `clr`)
    import System
    from Antmicro.Renode.Core import GPIO, IGPIOReceiver, ILocalGPIOReceiver, INumberedGPIOOutput
    from Antmicro.Renode.Peripherals import DefaultInterruptAttribute, IKnownSize, IPeripheral, NameAliasAttribute
    from pyrenode3.wrappers import Emulation, Monitor
    from System.Reflection import BindingFlags

    def clr_type(python_type):
        return clr.GetClrType(python_type)

    gpio_t, receiver_t = clr_type(GPIO), clr_type(IGPIOReceiver)
    local_t, numbered_t = clr_type(ILocalGPIOReceiver), clr_type(INumberedGPIOOutput)
    known_size_t = clr_type(IKnownSize)
    default_irq_t, alias_t = clr_type(DefaultInterruptAttribute), clr_type(NameAliasAttribute)

    def find_type(name: str):
        full = "Antmicro.Renode.Peripherals." + name
        for assembly in System.AppDomain.CurrentDomain.GetAssemblies():
            found = assembly.GetType(full)
            if found is not None:
                return found
        return None

    def csharp_name(t) -> str:
        underlying = System.Nullable.GetUnderlyingType(t)
        if underlying is not None:
            return csharp_name(underlying) + "?"
        if t.IsGenericType:
            name = t.Name.split("`")[0]
            return f"{name}<{', '.join(csharp_name(a) for a in t.GetGenericArguments())}>"
        return CSHARP_NAMES.get(t.FullName, t.Name)

    def literal_settable(t) -> bool:
        """Can a .repl literal (number, bool, string, enum, range) be converted to this type?"""
        t = System.Nullable.GetUnderlyingType(t) or t
        return t.IsEnum or t.FullName in CSHARP_NAMES or t.Name == "Range"

    def default_of(parameter):
        if not parameter.IsOptional:
            return {"required": True}
        value = parameter.DefaultValue
        if value is None:
            return {"required": False, "default": None}
        if parameter.ParameterType.IsEnum or (System.Nullable.GetUnderlyingType(parameter.ParameterType) or
                                                parameter.ParameterType).IsEnum:
            enum_type = System.Nullable.GetUnderlyingType(parameter.ParameterType) or parameter.ParameterType
            return {"required": False, "default": f"{enum_type.Name}.{System.Enum.GetName(enum_type, value)}"}
        if isinstance(value, bool):
            return {"required": False, "default": value}
        try:
            return {"required": False, "default": int(value)}
        except (TypeError, ValueError):
            return {"required": False, "default": str(value)}

    def describe(name: str) -> dict:
        t = find_type(name)
        if t is None:
            return {"found": False}
        constructors = []
        for ctor in t.GetConstructors():
            params = []
            for p in ctor.GetParameters():
                if p.ParameterType.Name == "IMachine":
                    continue
                alias = p.GetCustomAttributes(alias_t, False)
                entry = {"name": p.Name, "type": csharp_name(p.ParameterType),
                         "alias": alias[0].Name if len(alias) else None, **default_of(p)}
                ptype = System.Nullable.GetUnderlyingType(p.ParameterType) or p.ParameterType
                if ptype.IsEnum:
                    entry["choices"] = [f"{ptype.Name}.{n}" for n in System.Enum.GetNames(ptype)]
                params.append(entry)
            constructors.append(params)
        properties = {}
        gpio, default_gpio = [], []
        for p in t.GetProperties(BindingFlags.Public | BindingFlags.Instance):
            if p.GetIndexParameters().Length:
                continue
            if gpio_t.IsAssignableFrom(p.PropertyType):
                gpio.append(p.Name)
                if p.GetCustomAttributes(default_irq_t, True).Length:
                    default_gpio.append(p.Name)
            elif p.GetSetMethod() is not None and literal_settable(p.PropertyType):
                ptype = System.Nullable.GetUnderlyingType(p.PropertyType) or p.PropertyType
                properties[p.Name] = {
                    "type": csharp_name(p.PropertyType),
                    "choices": [f"{ptype.Name}.{n}" for n in System.Enum.GetNames(ptype)] if ptype.IsEnum else []}
        return {"found": True, "full_name": t.FullName, "constructors": constructors,
                "properties": properties, "gpio": sorted(gpio), "default_gpio": sorted(default_gpio),
                "numbered": numbered_t.IsAssignableFrom(t), "receiver": receiver_t.IsAssignableFrom(t),
                "local_receiver": local_t.IsAssignableFrom(t), "known_size": known_size_t.IsAssignableFrom(t)}

    emulation, monitor = Emulation(), Monitor()
    from Antmicro.Renode.Core import EmulationManager
    answer = {"version": str(EmulationManager.Instance.VersionString), "types": {}, "cases": {}}
    for name in request["types"]:
        answer["types"][name] = describe(name)

    for case in request["cases"]:
        emulation.clear()
        monitor.execute('mach create "probe"')
        repl = case["repl"]
        try:
            _, error = monitor.execute(f'machine LoadPlatformDescriptionFromString """{repl}"""')
        except Exception as exc:  # noqa: BLE001  (a .NET exception Renode let escape: OverflowException)
            error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        result = {"ok": not error, "error": str(error or "")}
        if not error:
            _, machine = emulation.internal.TryGetMachineByName("probe")
            inspected = {}
            for entry in case.get("inspect", ()):      # a full name: "sysbus.ctx_mac.subject"
                ok, peripheral = machine.TryGetByName[IPeripheral](entry)
                if not ok:
                    inspected[entry] = {"found": False}
                    continue
                peripheral = getattr(peripheral, "__implementation__", peripheral)
                read_back = {"found": True}
                read_back["size"] = int(peripheral.Size) if known_size_t.IsInstanceOfType(peripheral) else None
                read_back["connections"] = (int(peripheral.Connections.Count)
                                        if numbered_t.IsInstanceOfType(peripheral) else None)
                inspected[entry] = read_back
            result["inspect"] = inspected
        answer["cases"][case["id"]] = result
    emulation.clear()
    with open(answer_path, "w") as f:
        json.dump(answer, f, indent=1)
    return 0


if __name__ == "__main__":
    try:
        status = main(sys.argv[1], sys.argv[2])
    except BaseException:                      # noqa: BLE001  (reported, then a hard exit)
        traceback.print_exc()
        status = 2
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
