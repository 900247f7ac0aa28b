"""Our platform and run steps, translated into Renode Monitor commands (pure functions).

Everything the backend asks Renode to do that has a documented Monitor form is built here as a
string, so the exact command sequence can be tested without Renode and exported as a `.resc`
script for people who run plain Renode. The syntax of each command is the one Renode 1.16.1's
Monitor accepts (its documentation, and the C# method each command calls, named in the
docstrings).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sim.errors import BackendError
from sim.seed import SeededRandom

US_PER_S = 1_000_000
INT32_MAX = 2**31 - 1
DEFAULT_MACHINE_NAME = "stm32f407"

# `@path` arguments end at whitespace and quotes delimit strings, so such paths cannot be passed.
_UNSAFE_PATH = re.compile(r"[\s\"'`$;]")


def monitor_path(path: str | Path) -> str:
    """`@/absolute/path` as the Monitor takes file arguments (as in `machine LoadPlatformDescription @path.repl`)."""
    text = str(Path(path).resolve())
    if _UNSAFE_PATH.search(text):
        raise BackendError(
            f"Renode's Monitor cannot take the path {text!r}: it contains whitespace, a quote, '$' "
            f"or ';'. Move or symlink the file to a path without them.")
    return "@" + text


def renode_seed(seed: int) -> int:
    """The value passed to `emulation SetSeed`: Renode's seed is a 32-bit int
    (`Emulation.SetSeed(int)`, renode-infrastructure src/Emulator/Main/Core/Emulation.cs).

    Seeds 0..2**31-1 are passed unchanged, so `--seed 7` is `emulation SetSeed 7`; any other
    integer is folded deterministically into that range.
    """
    if 0 <= seed <= INT32_MAX:
        return seed
    return SeededRandom(seed).child("renode-seed").getrandbits(31)


def time_string(microseconds: int) -> str:
    """A Monitor time argument for a whole number of microseconds.

    Renode parses `[[h:]m:]s[.frac]` and turns the fraction into ticks through a double,
    truncating (TimeInterval.TryParse, renode-infrastructure src/Emulator/Main/Time/TimeInterval.cs):
    "0.000007" becomes 6.99999... us and is cut to 6 on a microsecond-resolution build. A guard
    digit 1e-10 s past the last microsecond digit keeps the product just above the exact tick
    count on both microsecond- and nanosecond-resolution builds, so the truncation lands on the
    intended value (the backend runs time through `Emulation.RunFor` with whole microseconds; the
    strings are for the quantum and for `.resc` scripts).
    """
    if microseconds < 0:
        raise ValueError("virtual time cannot be negative")
    seconds, fraction = divmod(microseconds, US_PER_S)
    return f"{seconds}.{fraction:06d}0001"


def parse_time_string(text: str, ticks_per_second: int) -> int:
    """Renode's parse of a time argument, in ticks (the reference the tests check time_string against)."""
    match = re.fullmatch(r"(?:(?:(\d+):)?(\d+):)?(\d+)(\.\d+)?", text)
    if not match:
        raise ValueError(f"not a Renode time string: {text!r}")
    hours, minutes, seconds, decimals = match.groups()
    ticks = int(float("0" + decimals) * ticks_per_second) if decimals else 0
    ticks += int(seconds) * ticks_per_second
    ticks += int(minutes or 0) * 60 * ticks_per_second
    ticks += int(hours or 0) * 3600 * ticks_per_second
    return ticks


def performance_in_mips(frequency_hz: int) -> int:
    """`cpu PerformanceInMips` for one instruction per cycle at the platform clock.

    The built-in machine counts one cycle per instruction; Renode's default is 100 MIPS (BaseCPU.cs),
    which would make busy-wait loops and time-outs 1.68x longer in virtual time at 168 MHz.
    """
    if frequency_hz <= 0 or frequency_hz % US_PER_S:
        raise BackendError(
            f"the platform clock {frequency_hz} Hz is not a whole number of MHz; Renode's "
            f"PerformanceInMips takes whole MIPS. Set nvic systickFrequency to a multiple of 1000000.")
    return frequency_hz // US_PER_S


@dataclass(frozen=True)
class BootPlan:
    """What `commands_for_boot` needs to know about one machine."""

    repl: Path
    elf: Path | None
    seed: int
    frequency_hz: int
    quantum_us: int = 100
    cpu: str = "cpu"
    machine_name: str = DEFAULT_MACHINE_NAME


def commands_for_boot(plan: BootPlan) -> list[str]:
    """Monitor commands that create the machine, in the order Renode needs them.

    - `emulation SetSeed` first: the seed must be set before anything draws a random number, or
      Renode logs that the run cannot be reproduced (PseudorandomNumberGenerator.cs).
    - the platform file is loaded unchanged.
    - `cpu PerformanceInMips` makes one instruction one cycle at the platform clock.
    - an explicit global quantum, so runs do not depend on Renode's default (100 us).
    - `SetGlobalAdvanceImmediately true`: never wait for the wall clock; virtual time only.
    - the ELF last (`sysbus LoadELF`, as Renode's own stm32f4_discovery.resc does).
    """
    if plan.quantum_us <= 0:
        raise BackendError("the Renode quantum must be at least 1 us")
    commands = [
        f"emulation SetSeed {renode_seed(plan.seed)}",
        f'mach create "{plan.machine_name}"',
        f"machine LoadPlatformDescription {monitor_path(plan.repl)}",
        f"{plan.cpu} PerformanceInMips {performance_in_mips(plan.frequency_hz)}",
        f'emulation SetGlobalQuantum "{time_string(plan.quantum_us)}"',
        "emulation SetGlobalAdvanceImmediately true",
    ]
    if plan.elf is not None:
        commands.append(f"sysbus LoadELF {monitor_path(plan.elf)}")
    return commands


def log_commands(path: Path) -> list[str]:
    """Send Renode's own log to a file (`logFile @path true`), read back when something fails.

    `true` flushes after every message (LoggerFileCommand.cs): otherwise FileBackend flushes on a
    5-second timer, and a read right after a short run finds the file empty. Warnings and errors
    only (`logLevel 2`): at the default level Renode logs two lines per RunFor slice ("Machine
    paused/resumed"), which would grow the file without bound.
    """
    return [f"logFile {monitor_path(path)} true", "logLevel 2"]


def save_command(path: Path) -> str:
    """Save the whole emulation to a file (`Save @path`, Renode's state snapshots)."""
    return f"Save {monitor_path(path)}"


def load_command(path: Path) -> str:
    """Replace the emulation with one saved by `Save` (`Load @path`)."""
    return f"Load {monitor_path(path)}"


def select_machine_command(name: str = DEFAULT_MACHINE_NAME) -> str:
    """Make `name` the Monitor's current machine again after a `Load` (`mach set "name"`)."""
    return f'mach set "{name}"'


def gdb_server_command(port: int, autostart: bool = False) -> str:
    """`machine StartGdbServer <port> <autostart>` (Machine.StartGdbServer(int port, bool
    autostartEmulation = true, ...), renode-infrastructure src/Emulator/Main/Core/Machine.cs).

    Renode's autostart defaults to true, which starts the emulation freely when GDB connects; our
    runner advances time with RunFor, which throws on a started emulation. So we pass false: GDB
    halts and resumes the CPU, and virtual time stands still while it is halted.
    """
    if not 1 <= port <= 65535:
        raise BackendError(f"GDB port {port} is outside 1..65535")
    return f"machine StartGdbServer {port} {'true' if autostart else 'false'}"


def renode_script(plan: BootPlan, gdb_port: int | None = None) -> str:
    """The same boot as a `.resc` script, for running our platform in a plain Renode."""
    lines = [
        "# Generated by `python -m sim.renode resc`: boots our platform and firmware in Renode",
        "# the same way the Renode backend does (same seed, quantum and CPU speed).",
        *commands_for_boot(plan),
    ]
    if gdb_port is not None:
        lines.append(gdb_server_command(gdb_port))
    lines.append('# then run it: `start`, or `emulation RunFor "10"` for ten virtual seconds')
    return "\n".join(lines) + "\n"
