"""The benchmarks' one error type (a leaf: every benchmark module raises it)."""

from sim.errors import SimError


class BenchError(SimError, RuntimeError):
    """A benchmark could not run (missing toolchain, firmware or tool); the message says what to do."""
