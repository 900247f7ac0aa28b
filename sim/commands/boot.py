"""`python -m sim boot ELF [--repl F] [--until TEXT] [--max-virtual S] [--max-wall S] [--seed N]`:
boot a firmware on the built-in machine and stream its UART to stdout.

Exit status: 0 when TEXT appeared (or, without --until, when the virtual-time limit was reached
cleanly); 1 when a limit was reached first or the firmware faulted (the message says which limit,
the virtual time, and shows the last UART lines or the fault report); 2 for bad input (platform
file, ELF, UART name: raised as SimError, reported by the CLI's error boundary); 130 on Ctrl-C.
Messages go to stderr, the UART to stdout.
"""

from __future__ import annotations

import re
import sys
from typing import TextIO

from sim.backends import create_backend
from sim.scenario import Ending, UartLines, WallLimit, describe_halt, platform_file, resolve_firmware, run_until

SLICE_SECONDS = 0.01                  # virtual time per run() call between wall-clock checks
LAST_LINES = 12


def _say(err: TextIO, text: str) -> None:
    err.write(text.rstrip("\n") + "\n")
    err.flush()


def boot_command(args, out=None, err: TextIO | None = None) -> int:
    out = out or sys.stdout.buffer
    err = err or sys.stderr
    elf = resolve_firmware(args.elf)
    machine = create_backend("builtin", platform_file(args.repl), seed=args.seed, fault_mode="report")
    machine.load_elf(str(elf))
    port = machine.uart(args.uart)

    def echo(data: bytes) -> None:
        out.write(data)
        out.flush()

    lines = UartLines(machine, echo=echo)
    port.on_output(lines.feed)
    # the UART's bytes are matched as Latin-1 text: look for the bytes of TEXT as the user typed it
    waiter = (lines.expect(re.escape(args.until.encode().decode("latin-1")), partial_line=True)
              if args.until else None)
    start = machine.cycles
    deadline = start + int(args.max_virtual * machine.frequency)

    def at() -> str:
        return f"virtual time {(machine.cycles - start) / machine.frequency:.3f} s"

    def tail() -> str:
        return lines.tail(LAST_LINES, args.uart)

    try:
        stop = run_until(machine, lambda: waiter is not None and waiter.found, deadline=deadline,
                         wall=WallLimit(args.max_wall), slice_cycles=max(1, int(SLICE_SECONDS * machine.frequency)))
    except KeyboardInterrupt:
        _say(err, f"\nboot: interrupted at {at()}")
        return 130
    if stop.ending is Ending.DONE:
        _say(err, f"\nboot: {args.until!r} appeared on {args.uart} at "
                  f"{(waiter.cycles - start) / machine.frequency:.3f} s virtual time")
        return 0
    if stop.ending is Ending.VIRTUAL_LIMIT:
        if waiter is None:
            _say(err, f"\nboot: ran {args.max_virtual:g} s of virtual time")
            return 0
        _say(err, f"\nboot: --max-virtual limit of {args.max_virtual:g} s reached ({at()}) "
                  f"before {args.until!r} appeared on {args.uart}; {tail()}")
    elif stop.ending is Ending.WALL_LIMIT:
        _say(err, f"\nboot: --max-wall limit of {args.max_wall:g} s reached at {at()}"
                  + (f" before {args.until!r} appeared on {args.uart}" if waiter else "") + f"; {tail()}")
    elif stop.ending is Ending.FAULT:
        _say(err, f"\nboot: the firmware stopped at {at()}:\n{stop.result.fault}\n{tail()}")
    else:
        _say(err, f"\nboot: {describe_halt(machine, stop.result)} ({at()}); {tail()}")
    return 1
