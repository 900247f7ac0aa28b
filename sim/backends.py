"""Opening a backend by name: the one place that knows both implementations (each imported
lazily, since Renode is optional and the built-in machine loads unicorn)."""

from __future__ import annotations

from sim.backend import Backend
from sim.errors import BackendError

BACKENDS = ("builtin", "renode")


def create_backend(name: str, repl_path, *, seed: int = 1, fault_mode: str = "report",
                   on_unmapped: str = "fault") -> Backend:
    """Open the named backend on a platform file.

    `fault_mode` (built-in machine): "report" ends a run at an unmapped access or undefined
    instruction with the machine's report; "firmware" lets the firmware's own fault handlers run,
    as on silicon, and reports when they park the CPU (Renode always behaves that way).
    `on_unmapped` (built-in machine): "warn" reads 0 from and ignores writes to addresses nothing
    is modelled at, and records them (Renode always behaves that way)."""
    if name == "builtin":
        from sim.machine import Machine

        return Machine(repl_path, seed=seed, fault_mode=fault_mode, on_unmapped=on_unmapped)
    if name == "renode":
        from sim.renode import RenodeMachine

        return RenodeMachine(repl_path, seed=seed)
    raise BackendError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
