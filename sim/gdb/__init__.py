"""GDB remote serial protocol server for the built-in machine (`python -m sim run ... --gdb PORT`).

    rsp.py         wire format: packets, acks, Ctrl-C, escaping
    connection.py  one client socket: acks / NoAck, retransmission, polling reads
    target.py      target description and register numbering
    commands.py    what each packet does to a halted target
    monitor.py     `monitor reset|time|uart|journal|help`
    debugger.py    run control: the runner's quanta, halting, stepping, connections in turn
"""

from .debugger import Debugger, TargetKilled, attach_debugger, gdb_command_line

__all__ = ["Debugger", "TargetKilled", "attach_debugger", "gdb_command_line"]
