"""Run a purpose-built test firmware to its end and read its `test_result` struct.

Works on any `sim.backend.Backend`: it only uses symbol_address, add_breakpoint, run and
read_memory. The layout mirrors sim/baremetal/common/test.h (keep the two in step).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from sim.backend import Backend, RunResult, StopReason

TEST_MAGIC = 0x54534554
TEST_VALUES = 64
_HEADER = struct.Struct("<8I")
RESULT_SIZE = _HEADER.size + 4 * TEST_VALUES


@dataclass
class TestResult:
    magic: int
    done: bool
    checks: int
    failures: int
    first_failure_line: int
    unexpected_vector: int
    unexpected_pc: int
    values: tuple[int, ...]

    @property
    def passed(self) -> bool:
        return (self.magic == TEST_MAGIC and self.done and self.failures == 0
                and self.unexpected_vector == 0)

    def describe(self) -> str:
        if self.magic != TEST_MAGIC:
            return f"startup never ran (magic 0x{self.magic:08x})"
        parts = [f"done={self.done} checks={self.checks} failures={self.failures}"]
        if self.failures:
            parts.append(f"first failed CHECK at line {self.first_failure_line}")
        if self.unexpected_vector:
            parts.append(f"unexpected exception {self.unexpected_vector} "
                         f"(stacked pc 0x{self.unexpected_pc:08x})")
        return ", ".join(parts)


def read_test_result(backend: Backend) -> TestResult:
    raw = backend.read_memory(backend.symbol_address("test_result"), RESULT_SIZE)
    head = _HEADER.unpack_from(raw)
    values = struct.unpack_from(f"<{TEST_VALUES}I", raw, _HEADER.size)
    return TestResult(head[0], bool(head[1]), head[2], head[3], head[4], head[5], head[6], values)


def run_to_finish(backend: Backend, max_cycles: int = 200_000_000,
                  slice_cycles: int | None = None) -> tuple[RunResult, TestResult]:
    """Run until the firmware halts on the BKPT in test_finish() (a BREAKPOINT stop), a fault,
    or the limit; return the last RunResult and the firmware's result. `slice_cycles` splits the
    run into run() calls of that size (to exercise resuming); by default one call."""
    remaining = max_cycles
    while True:
        step = min(remaining, slice_cycles or remaining)
        result = backend.run(step)
        remaining -= result.cycles
        if result.reason in (StopReason.FAULT, StopReason.BREAKPOINT, StopReason.WATCHPOINT):
            break
        if remaining <= 0:
            break
    return result, read_test_result(backend)
