"""The built-in STM32F407 emulator (the default backend): `Machine(repl_path, seed=...)`.

    from sim.machine import Machine
    from sim.platform import DEFAULT_REPL
    m = Machine(DEFAULT_REPL, seed=1)
    m.load_elf("build/firmware/fixed.elf")
    result = m.run(max_virtual=1.0)
"""

from .machine import DEFAULT_REPL, Machine, MachineOptions, Snapshot

__all__ = ["Machine", "MachineOptions", "Snapshot", "DEFAULT_REPL"]
