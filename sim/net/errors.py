"""The error a virtual-network setting raises when it cannot work (a leaf: every sim.net module
may raise it, the command line turns it into one line and exit status 2)."""

from __future__ import annotations

from sim.errors import SimError


class NetworkConfigError(SimError, ValueError):
    """A virtual-network option that cannot work; the message names the option and the fix."""
