"""What the Renode backend needs to know about our platform file the Renode backend needs at run time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sim.errors import BackendError
from sim.renode import catalogue
from sim.renode.repl_scan import ReplFile, ReplSyntaxError, load


@dataclass(frozen=True)
class RenodePlatform:
    path: Path
    frequency: int               # core clock, Hz: the NVIC's systickFrequency (SysTick = core clock)
    cpu: str                     # name of the CPU.CortexM entry, as the Monitor addresses it
    uarts: tuple[str, ...]       # names of the UART.STM32_UART entries
    ethernet: str | None         # name of the SynopsysEthernetMAC entry
    ethernet_base: int | None    # its bus address (MACA0HR/LR are read from here)


def _entries_of(repl: ReplFile, type_name: str):
    return [e for e in repl.entries if e.type and catalogue.lookup(e.type)
            and catalogue.lookup(e.type).name == type_name]


def _last_value(repl: ReplFile, name: str, attribute: str) -> str | None:
    values = [a.value for e in repl.by_name(name) for a in e.attributes if a.name == attribute]
    return values[-1] if values else None


def read_platform(path: str | Path) -> RenodePlatform:
    path = Path(path)
    if not path.is_file():
        raise BackendError(f"platform file {path} does not exist (the default is sim/platform/stm32f407.repl)")
    try:
        repl = load(path)
    except ReplSyntaxError as exc:
        raise BackendError(f"cannot read the platform file: {exc}") from exc
    cpus = _entries_of(repl, "CPU.CortexM")
    nvics = _entries_of(repl, "IRQControllers.NVIC")
    if len(cpus) != 1 or len(nvics) != 1:
        raise BackendError(f"{path}: the Renode backend needs exactly one CPU.CortexM and one "
                           f"IRQControllers.NVIC entry (found {len(cpus)} and {len(nvics)})")
    systick = _last_value(repl, nvics[0].name, "systickFrequency")
    if systick is None:
        raise BackendError(f"{path}:{nvics[0].line}: {nvics[0].name} has no systickFrequency; set it "
                           f"to the core clock (e.g. systickFrequency: 168000000), see docs/renode.md")
    frequency = int(systick.replace("_", ""), 0)
    macs = _entries_of(repl, "Network.SynopsysEthernetMAC")
    mac_base = None
    if macs and macs[0].registration:
        found = re.search(r"sysbus\s+<?\s*(0[xX][0-9a-fA-F_]+|\d+)", macs[0].registration)
        mac_base = int(found.group(1).replace("_", ""), 0) if found else None
    return RenodePlatform(
        path=path, frequency=frequency, cpu=cpus[0].name,
        uarts=tuple(e.name for e in _entries_of(repl, "UART.STM32_UART")),
        ethernet=macs[0].name if macs else None, ethernet_base=mac_base)
