"""`python -m sim boot ELF [--repl F] [--until TEXT] [--max-virtual S] [--max-wall S] [--seed N]`:
boot a firmware on the built-in machine and stream its UART to stdout.

Exit status: 0 when TEXT appeared (or, without --until, when the virtual-time limit was reached
cleanly); 1 when a limit was reached first or the firmware faulted (the message says which limit,
the virtual time, and shows the last UART lines or the fault report); 2 for bad input (platform
file, ELF, UART name). Messages go to stderr, the UART to stdout.

The wall-time limit is checked here, between run() slices: it only decides when to give up and
never influences the simulation, which stays deterministic.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from sim.backend import StopReason
from sim.errors import BackendError
from sim.platform import PlatformError

from .machine import Machine
from .uart_stream import UartStream

SLICE_SECONDS = 0.01                  # virtual time per run() call between wall-clock checks
LAST_LINES = 12


def _say(err: TextIO, text: str) -> None:
    err.write(text.rstrip("\n") + "\n")
    err.flush()


def boot_command(args, out=None, err: TextIO | None = None) -> int:
    out = out or sys.stdout.buffer
    err = err or sys.stderr
    if args.max_virtual <= 0 or args.max_wall <= 0:
        _say(err, "boot: --max-virtual and --max-wall must be positive")
        return 2
    try:
        machine = Machine(args.repl, seed=args.seed)
        machine.load_elf(args.elf)
        port = machine.uart(args.uart)
    except (PlatformError, BackendError) as exc:
        _say(err, f"boot: {exc}")
        return 2

    def echo(data: bytes) -> None:
        out.write(data)
        out.flush()

    stream = UartStream(machine, port, echo=echo)
    waiter = stream.expect(args.until) if args.until else None
    limit = int(args.max_virtual * machine.frequency)
    start = machine.cycles
    deadline = time.monotonic() + args.max_wall
    step = max(1, int(SLICE_SECONDS * machine.frequency))

    def tail() -> str:
        lines = stream.last_lines(LAST_LINES)
        if not lines:
            return f"  ({args.uart} printed nothing)"
        return "\n".join(f"  | {line}" for line in lines)

    def at() -> str:
        return f"virtual time {(machine.cycles - start) / machine.frequency:.3f} s"

    try:
        while True:
            if waiter is not None and waiter.found:
                _say(err, f"\nboot: {args.until!r} appeared on {args.uart} at "
                          f"{(waiter.cycles - start) / machine.frequency:.3f} s virtual time")
                return 0
            elapsed = machine.cycles - start
            if elapsed >= limit:
                if waiter is None:
                    _say(err, f"\nboot: ran {args.max_virtual:g} s of virtual time")
                    return 0
                _say(err, f"\nboot: --max-virtual limit of {args.max_virtual:g} s reached ({at()}) "
                          f"before {args.until!r} appeared on {args.uart}; last lines:\n{tail()}")
                return 1
            if time.monotonic() > deadline:
                _say(err, f"\nboot: --max-wall limit of {args.max_wall:g} s reached at {at()}"
                          + (f" before {args.until!r} appeared on {args.uart}" if waiter else "")
                          + f"; last lines:\n{tail()}")
                return 1
            result = machine.run(min(step, limit - elapsed))
            if result.reason is StopReason.FAULT:
                _say(err, f"\nboot: the firmware stopped at {at()}:\n{result.fault}\n"
                          f"last {args.uart} lines:\n{tail()}")
                return 1
            if result.reason is StopReason.BREAKPOINT:
                pc = machine.read_register("pc")
                where = machine.symbolize(pc) or f"0x{pc:08x}"
                _say(err, f"\nboot: the firmware executed BKPT at 0x{pc:08x} ({where}) at {at()}: "
                          f"it halts for a debugger; last lines:\n{tail()}")
                return 1
    except KeyboardInterrupt:
        _say(err, f"\nboot: interrupted at {at()}")
        return 130
