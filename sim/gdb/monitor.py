"""`monitor ...` commands (GDB's qRcmd): reset, time, uart, journal, help.

They see the machine and, once the scenario runner has bound itself to the debugger, the
scenario (its boot snapshot and the peer's record journal).
"""

from __future__ import annotations

from typing import Any

from sim.backend import Backend

HELP = """monitor commands (simulator):
  reset         restore the boot snapshot (firmware at 'ready'; without a scenario: a system
                reset from the vector table). The scenario's host side is not reset, so the step
                in progress will likely fail: use it to restart the firmware, not the scenario.
                Run 'maintenance flush register-cache' afterwards to see the new registers.
  time          virtual time, cycles and instructions retired
  uart [N]      the last N lines the firmware printed on usart1 (default 20)
  journal       the TLS peer's record journal so far (every connection of this scenario)
  help          this text
"""


class Monitor:
    def __init__(self, machine: Backend) -> None:
        self.machine = machine
        self.runner: Any = None                  # sim.scenario.ScenarioRunner, once bound

    def __call__(self, command: str) -> str:
        words = command.split()
        if not words:
            return HELP
        name, args = words[0].lower(), words[1:]
        handler = {"reset": self.reset, "time": self.time, "uart": self.uart,
                   "journal": self.journal, "help": lambda _args: HELP}.get(name)
        if handler is None:
            return f"unknown monitor command {words[0]!r}\n{HELP}"
        return handler(args)

    def reset(self, args: list[str]) -> str:
        booted = getattr(self.runner, "booted", None)
        if booted is not None:
            self.machine.restore(booted.snapshot)
            return (f"restored the boot snapshot (pc 0x{self.machine.read_register('pc'):08x}); "
                    f"the scenario's host side was not reset\n")
        self.machine.reset()
        return f"system reset: pc 0x{self.machine.read_register('pc'):08x} from the vector table\n"

    def time(self, args: list[str]) -> str:
        m = self.machine
        cycles = m.cycles
        instructions = m.stats.get("instructions", 0)
        return (f"virtual time {cycles / m.frequency * 1000:.6f} ms ({cycles} cycles at "
                f"{m.frequency / 1e6:g} MHz), {instructions} instructions retired\n")

    def uart(self, args: list[str]) -> str:
        try:
            count = int(args[0]) if args else 20
        except ValueError:
            return f"monitor uart takes a line count, not {args[0]!r}\n"
        text = bytes(self.machine.uart("usart1").transcript).decode("latin-1").replace("\r", "")
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        shown = lines[-count:] if count > 0 else []
        return "\n".join(shown) + "\n" if shown else "(the UART printed nothing)\n"

    def journal(self, args: list[str]) -> str:
        peer = getattr(self.runner, "peer", None)
        if peer is None:
            return "no scenario is bound to the debugger: no peer journal\n"
        sessions = list(peer.sessions)
        if not sessions:
            return "the peer has had no TLS connection yet\n"
        return "\n".join(s.journal.to_text() for s in sessions) + "\n"
