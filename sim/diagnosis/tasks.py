"""The firmware's tasks as a debugger sees them: which task runs, its name and its stack bounds.

For FreeRTOS-API kernels: `pxCurrentTCB` points at the running task's control block, whose layout
comes from the image's DWARF (`tskTaskControlBlock`). Both layouts in use are understood: the
FreeRTOS kernel's (`pcTaskName`, `pxStack`, and `pxEndOfStack` when the configuration records the
stack's end; FreeRTOS-Kernel `tasks.c`) and this project's fw-kernel (`name`, `stack`,
`stack_depth`; firmware/kernel/tasks.c). An image without them has no task view (None).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from .dwarf import struct_layout

CURRENT = "pxCurrentTCB"
TCB = "tskTaskControlBlock"
KERNEL_FUNCTIONS = ("vTaskDelay", "xTaskGetTickCount", "vTaskSwitchContext", "xTaskCreate")
STACK_WORD = 4                      # StackType_t on Cortex-M


@dataclass(frozen=True)
class Task:
    tcb: int
    name: str
    stack_bottom: int | None        # lowest address of the stack
    stack_top: int | None           # one past its highest address (None: the kernel does not record it)

    def sp_position(self, sp: int) -> str | None:
        """Where `sp` lies against this task's stack: None inside it, else a phrase."""
        if self.stack_bottom is None:
            return None
        if sp < self.stack_bottom:
            return f"{self.stack_bottom - sp} bytes below the bottom of {self.name}'s stack"
        if self.stack_top is not None and sp > self.stack_top:
            return f"{sp - self.stack_top} bytes above the top of {self.name}'s stack"
        return None

    def bounds_text(self) -> str:
        if self.stack_bottom is None:
            return "stack bounds unknown"
        top = f"0x{self.stack_top:08x}" if self.stack_top is not None else "?"
        return f"stack [0x{self.stack_bottom:08x}, {top})"

    def to_dict(self) -> dict:
        return {"tcb": self.tcb, "name": self.name, "stack_bottom": self.stack_bottom, "stack_top": self.stack_top}

    @classmethod
    def from_dict(cls, d: dict) -> "Task":
        return cls(d["tcb"], d["name"], d.get("stack_bottom"), d.get("stack_top"))


class TaskView:
    """Reads tasks from a running machine; `TaskView.open(machine, elf)` is None without a kernel."""

    def __init__(self, machine, current: int, layout) -> None:
        self.machine = machine
        self.current_address = current
        self.name_at, self.name_size = _member(layout, ("pcTaskName", "name"))
        self.stack_at, _ = _member(layout, ("pxStack", "stack"))
        self.end_at = layout.offset("pxEndOfStack") if layout.has("pxEndOfStack") else None
        self.depth_at = layout.offset("stack_depth") if layout.has("stack_depth") else None

    @classmethod
    def open(cls, machine, elf: str | Path) -> "TaskView | None":
        try:
            current = machine.symbol_address(CURRENT)
        except Exception:          # no such symbol: not a FreeRTOS-API image
            return None
        for function in KERNEL_FUNCTIONS:
            layout = struct_layout(elf, TCB, function)
            if layout is not None and any(layout.has(m) for m in ("pcTaskName", "name")):
                return cls(machine, current, layout)
        return None

    def current_tcb(self) -> int:
        return self._u32(self.current_address)

    def describe(self, tcb: int) -> Task | None:
        if not tcb:
            return None
        try:
            raw = self.machine.read_memory(tcb + self.name_at, self.name_size or 16)
            name = raw.split(b"\0")[0].decode("ascii", "replace") or "?"
            bottom = self._u32(tcb + self.stack_at) if self.stack_at is not None else None
            top = None
            if self.depth_at is not None and bottom is not None:
                top = bottom + STACK_WORD * self._u32(tcb + self.depth_at)
            elif self.end_at is not None:
                top = self._u32(tcb + self.end_at) + STACK_WORD      # pxEndOfStack: the highest word
        except Exception:
            return None
        return Task(tcb, name, bottom, top)

    def current(self) -> Task | None:
        return self.describe(self.current_tcb())

    def _u32(self, address: int) -> int:
        return struct.unpack("<I", self.machine.read_memory(address, 4))[0]


def _member(layout, names: tuple[str, ...]) -> tuple[int | None, int | None]:
    for name in names:
        if layout.has(name):
            member = layout.members[name]
            return member.offset, member.size
    return None, None
