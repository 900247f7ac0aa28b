"""Running the defect gallery's images on the built-in machine, and watching their functions.

`post()` runs one POST scenario on an image with the field conditions a test asks for: link
faults, a server policy, the host's advertised TCP window. `Calls` records the calls of a
firmware function from the machine (arguments at entry, return value, the FreeRTOS task that
made the call), so a test can check the mechanism of a defect on the firmware itself rather than
on its consequences alone. Struct member offsets come from the image's DWARF.
"""

from __future__ import annotations

import dataclasses
import hashlib
import struct
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from elftools.elf.elffile import ELFFile
from fw_testlib import BUILD

from sim.scenario import Result, Scenario, ScenarioRunner, Step

GCM = "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256"
RECORD_MAX = 4096           # the firmware's MBEDTLS_SSL_OUT_CONTENT_LEN: one POST write at most
BODY_PERIOD = 251           # body[i] = i % 251 (firmware/README.md, "The UART shell")


def body(offset: int, length: int) -> bytes:
    return bytes((offset + i) % BODY_PERIOD for i in range(length))


def body_sha256(size: int) -> str:
    return hashlib.sha256(body(0, size)).hexdigest()


def image(name: str) -> Path:
    return BUILD / f"{name}.elf"


@dataclass
class Run:
    result: Result
    runner: ScenarioRunner

    @property
    def step(self):
        assert self.result.error is None, self.result.error
        (step,) = self.result.steps
        return step

    @property
    def journal(self):
        (session,) = self.step.sessions
        return session.journal

    def status_line(self) -> str:
        """The firmware's final `post: ...` line."""
        return [line for line in self.step.uart_lines if line.startswith(("post: ok", "post: error"))][-1]


def post(name: str, size: int, *, tls: str = "1.2", suite: str = GCM, faults: tuple = (), policy=None,
         window: int | None = None, watch: tuple[Calls, ...] = ()) -> Run:
    """One `post /upload SIZE` on image `name`; `window` is the receive window the host (the
    server's TCP) advertises; `watch` are Calls recorders to attach to the machine for the run."""
    scenario = Scenario(firmware=str(image(name)), steps=(Step("post", "/upload", size, expect="any"),),
                        tls_version=tls, suite=suite, faults=faults, policy=policy, max_wall_s=120.0)
    runner = ScenarioRunner(scenario)
    if window is not None:
        runner.stack.tcp_config = dataclasses.replace(runner.stack.tcp_config, receive_buffer=window)
    for calls in watch:
        calls.attach(runner.machine)
    try:
        result = runner.run()
    finally:
        for calls in watch:
            calls.detach()
    return Run(result, runner)


# --- the image's types ------------------------------------------------------------------------------

# a compilation unit that declares each struct the tests look into (searching one is fast)
DECLARED_IN = {"tskTaskControlBlock": "kernel/tasks.c", "tls_session": "tls/tls_client.c",
               "mbedtls_ssl_context": "tls/tls_client.c"}


@cache
def member_offset(elf: Path, struct_name: str, member: str) -> int:
    """Offset of `member` in `struct struct_name` (or a typedef of that name), from DWARF."""
    unit = DECLARED_IN[struct_name]
    with open(elf, "rb") as f:
        dwarf = ELFFile(f).get_dwarf_info(relocate_dwarf_sections=False)   # linked: already resolved
        for cu in dwarf.iter_CUs():
            if not cu.get_top_DIE().attributes["DW_AT_name"].value.decode().endswith(unit):
                continue
            for die in cu.iter_DIEs():
                if die.tag not in ("DW_TAG_structure_type", "DW_TAG_typedef"):
                    continue
                name = die.attributes.get("DW_AT_name")
                if name is None or name.value.decode() != struct_name:
                    continue
                if die.tag == "DW_TAG_typedef":
                    die = die.get_DIE_from_attribute("DW_AT_type")
                for child in die.iter_children():
                    child_name = child.attributes.get("DW_AT_name")
                    if child.tag == "DW_TAG_member" and child_name and child_name.value.decode() == member:
                        return child.attributes["DW_AT_data_member_location"].value
    raise LookupError(f"{elf.name}: no member {member} in {struct_name}")


class Tasks:
    """The running FreeRTOS task of an image built on firmware/kernel (TCB_t: name, stack)."""

    def __init__(self, machine, elf: Path) -> None:
        self.machine = machine
        self.current = machine.symbol_address("pxCurrentTCB")
        self.name_at = member_offset(elf, "tskTaskControlBlock", "name")
        self.stack_at = member_offset(elf, "tskTaskControlBlock", "stack")
        self.depth_at = member_offset(elf, "tskTaskControlBlock", "stack_depth")

    def _tcb(self) -> int:
        return u32(self.machine, self.current)

    def name(self) -> str:
        return self.machine.read_memory(self._tcb() + self.name_at, 12).split(b"\0")[0].decode()

    def stack(self) -> tuple[int, int]:
        """[bottom, top) of the running task's stack."""
        tcb = self._tcb()
        bottom = u32(self.machine, tcb + self.stack_at)
        return bottom, bottom + 4 * u32(self.machine, tcb + self.depth_at)


def u32(machine, address: int) -> int:
    return struct.unpack("<I", machine.read_memory(address, 4))[0]


def signed(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


# --- calls of one firmware function -----------------------------------------------------------------

@dataclass
class Call:
    task: str
    args: tuple[int, ...]               # r0-r3 at entry
    sp: int                             # at entry
    result: int | None = None           # r0 when it returned (signed); None while it runs
    extra: dict = field(default_factory=dict)


class Calls:
    """Every call of `function` during a run: entry registers, the task, and the return value.

    The return is caught at the caller's return address (a hook per distinct call site), so a
    call that another task interrupts with its own call of the same function is still paired
    with its own return (the stack pointer tells them apart). `on_entry(call, machine)` may add
    observations of its own to `call.extra`."""

    def __init__(self, elf: Path, function: str, on_entry=None) -> None:
        self.elf = elf
        self.function = function
        self.on_entry = on_entry
        self.calls: list[Call] = []
        self.events: list[tuple[str, Call]] = []    # ("enter" | "return", call), in order
        self._open: dict[int, Call] = {}          # entry sp -> call not yet returned
        self._hooks: list[int] = []
        self._return_sites: set[int] = set()
        self.machine = None

    def attach(self, machine) -> None:
        self.machine = machine
        self.tasks = Tasks(machine, self.elf)
        self._hooks.append(machine.hook(self.function, self._entry))

    def detach(self) -> None:
        for handle in self._hooks:
            self.machine.unhook(handle)
        self._hooks.clear()
        self._return_sites.clear()

    def _entry(self, ctx) -> None:
        m = self.machine
        sp = m.read_register("sp")
        call = Call(self.tasks.name(), tuple(m.read_register(f"r{i}") for i in range(4)), sp)
        if self.on_entry is not None:
            self.on_entry(call, m)
        self.calls.append(call)
        self.events.append(("enter", call))
        self._open[sp] = call
        lr = m.read_register("lr") & ~1
        if lr not in self._return_sites:
            self._return_sites.add(lr)
            self._hooks.append(m.hook(lr, self._returned))

    def _returned(self, ctx) -> None:
        # back in the caller: its sp is the callee's entry sp (AAPCS: the callee restores it)
        call = self._open.pop(self.machine.read_register("sp"), None)
        if call is not None:
            call.result = signed(self.machine.read_register("r0"))
            self.events.append(("return", call))

    def entered_during(self, inner_task: str, outer_task: str) -> list[Call]:
        """Calls by `inner_task` that began while a call by `outer_task` had not returned."""
        running, out = set(), []
        for kind, call in self.events:
            if call.task == outer_task:
                (running.add if kind == "enter" else running.discard)(id(call))
            elif kind == "enter" and call.task == inner_task and running:
                out.append(call)
        return out
