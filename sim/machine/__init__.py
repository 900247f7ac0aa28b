"""The built-in STM32F407 emulator (the default backend): `Machine(repl_path, seed=...)`.

    from sim.machine import Machine
    m = Machine("platforms/stm32f407.repl", seed=1)
    m.load_elf("build/firmware/fixed.elf")
    result = m.run(max_virtual=1.0)
"""

from .machine import DEFAULT_REPL, Machine, MachineOptions, Snapshot

__all__ = ["Machine", "MachineOptions", "Snapshot", "DEFAULT_REPL"]
