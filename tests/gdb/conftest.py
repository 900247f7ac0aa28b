"""Fixtures for the GDB server tests: the reference firmware on the built-in machine, served by
a debugger on a free port (see gdbkit.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))   # gdbkit.py

from gdbkit import FIXED_ELF, RspClient, ServedMachine  # noqa: E402


@pytest.fixture
def served():
    """The fixed firmware from reset, halted until a client connects and continues."""
    if not FIXED_ELF.exists():
        pytest.fail(f"{FIXED_ELF} is not built: run scripts/setup")
    from sim.machine import Machine

    machine = Machine()
    machine.load_elf(FIXED_ELF)
    target = ServedMachine(machine)
    clients: list[RspClient] = []

    def connect() -> RspClient:
        client = RspClient(target.port)
        clients.append(client)
        return client

    target.connect = connect
    yield target
    for client in clients:
        client.close()
    target.stop()
