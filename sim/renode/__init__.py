"""The Renode backend: the same platform file, ELFs and suites on a real Renode, through pyrenode3.

    from sim.platform import DEFAULT_REPL
    from sim.renode import RenodeMachine, renode_status
    available, reason = renode_status()
    machine = RenodeMachine(DEFAULT_REPL, seed=1)   # BackendError if Renode is absent

Importing this package does not import pyrenode3 (that import starts Renode); only creating a
RenodeMachine does. See the "Renode backend" section of README.md and docs/renode.md.
"""

from sim.renode.locate import INSTALL_HINT, RENODE_VERSION, renode_status
from sim.renode.machine import RenodeMachine, RenodeSnapshot

__all__ = ["INSTALL_HINT", "RENODE_VERSION", "RenodeMachine", "RenodeSnapshot", "renode_status"]
