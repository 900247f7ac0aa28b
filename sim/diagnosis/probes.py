"""Call probes: the firmware's calls of a few functions, as a debugger with breakpoints would log
them - the task that called, the arguments (r0-r3, AAPCS), the stack pointer, the virtual times
of entry and return, the return value, and what the buffer argument held at entry.

The functions are the layers a TLS record crosses on its way out:

    tls_write    mbedtls_ssl_write(ssl, buf, len)          the application hands bytes to TLS
    bio_send     the BIO send callback (f_send of mbedtls_ssl_set_bio, found when it is set)
    socket_send  lwip_send(s, data, size, flags)           the callback hands bytes to the socket
    tcp_write    tcp_write(pcb, arg, len, apiflags)       or straight to lwIP's raw TCP API

A return is caught at the caller's return address (one hook per call site), and a call is paired
with its return by the stack pointer, so a call that another task interrupts with its own call of
the same function keeps its own return. Entry and return hooks are block hooks where possible
(code_sites.py) and change nothing the firmware does, so a probed run is the same run.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from pathlib import Path

from sim.vtime import cycles_to_ns

from .dwarf import struct_layout
from .tasks import Task, TaskView

TLS_WRITE = "mbedtls_ssl_write"
SET_BIO = "mbedtls_ssl_set_bio"
SOCKET_SEND = "lwip_send"
TCP_WRITE = "tcp_write"
ROLES = ("tls_write", "bio_send", "socket_send", "tcp_write")
DATA_LIMIT = 4 << 20                 # buffer bytes kept per probe (bounded memory)
SSL_CONTEXT = "mbedtls_ssl_context"


@dataclass
class Call:
    role: str
    function: str
    index: int
    task: Task | None
    args: tuple[int, int, int, int]
    sp: int
    entered_ns: int
    entered_cycles: int = 0              # the same instants in reference cycles (the write trace's clock)
    returned_cycles: int | None = None
    returned_ns: int | None = None
    result: int | None = None            # r0 at return, signed
    data: bytes | None = None            # the buffer argument's bytes at entry (bounded)
    state: dict = field(default_factory=dict)    # what a probe read besides (e.g. the TLS counter)

    @property
    def task_name(self) -> str | None:
        return self.task.name if self.task is not None else None

    def to_dict(self) -> dict:
        out = {"role": self.role, "function": self.function, "index": self.index,
               "task": self.task.to_dict() if self.task else None, "args": list(self.args), "sp": self.sp,
               "entered_ns": self.entered_ns, "returned_ns": self.returned_ns, "entered_cycles": self.entered_cycles,
               "returned_cycles": self.returned_cycles, "result": self.result}
        if self.data is not None:
            out["data_length"] = len(self.data)
            out["data_sha256"] = hashlib.sha256(self.data).hexdigest()
        out.update(self.state)
        return out


class _Probe:
    """The calls of one function."""

    def __init__(self, owner: "CallProbes", role: str, function: str, address: int, buffer_args=None,
                 on_entry=None) -> None:
        self.owner = owner
        self.role = role
        self.function = function
        self.address = address
        self.buffer_args = buffer_args          # (pointer arg index, length arg index) or None
        self.on_entry = on_entry
        self.open: dict[int, Call] = {}         # entry sp -> call not yet returned
        self.return_sites: set[int] = set()
        self.kept = 0

    def entry(self, _ctx) -> None:
        o = self.owner
        m = o.machine
        regs = [m.read_register(f"r{i}") for i in range(4)]
        sp = m.read_register("sp")
        now = m.cycles
        call = Call(self.role, self.function, len(o.calls), o.current_task(), tuple(regs), sp,
                    cycles_to_ns(now, m.frequency), now)
        if self.buffer_args is not None:
            pointer, length = regs[self.buffer_args[0]], regs[self.buffer_args[1]]
            if pointer and 0 < length <= DATA_LIMIT - self.kept:
                try:
                    call.data = m.read_memory(pointer, length)
                    self.kept += length
                except Exception:
                    call.data = None
        if self.on_entry is not None:
            self.on_entry(call)
        o.calls.append(call)
        o.events.append(("enter", call))
        self.open[sp] = call
        lr = m.read_register("lr") & ~1
        if lr not in self.return_sites:
            self.return_sites.add(lr)
            o.hook(lr, self.returned)

    def returned(self, _ctx) -> None:
        m = self.owner.machine
        call = self.open.pop(m.read_register("sp"), None)      # AAPCS: the callee restored sp
        if call is not None:
            call.result = _signed(m.read_register("r0"))
            call.returned_cycles = m.cycles
            call.returned_ns = cycles_to_ns(call.returned_cycles, m.frequency)
            self.owner.events.append(("return", call))


class CallProbes:
    """Probes on the functions above, attached to a machine for one run (`attach`, `detach`)."""

    def __init__(self, machine, elf: str | Path) -> None:
        self.machine = machine
        self.elf = Path(elf)
        self.tasks = TaskView.open(machine, elf)
        self.calls: list[Call] = []
        self.events: list[tuple[str, Call]] = []
        self._handles: list[int] = []
        self._probes: dict[int, _Probe] = {}
        self.ssl = struct_layout(elf, SSL_CONTEXT, TLS_WRITE)
        self._task_cache: dict[int, Task | None] = {}

    # --- wiring ----------------------------------------------------------------------------------
    def attach(self) -> "CallProbes":
        self._probe("tls_write", TLS_WRITE, buffer_args=(1, 2), on_entry=self._tls_state)
        self._probe("socket_send", SOCKET_SEND, buffer_args=(1, 2))
        self._probe("tcp_write", TCP_WRITE)
        self._probe("bio_set", SET_BIO, on_entry=self._bio_set)
        return self

    def detach(self) -> None:
        for handle in self._handles:
            try:
                self.machine.unhook(handle)
            except Exception:
                pass
        self._handles.clear()

    def hook(self, address: int, callback) -> None:
        self._handles.append(self.machine.hook(address, callback))

    def _probe(self, role: str, function: str, *, address: int | None = None, buffer_args=None,
               on_entry=None) -> None:
        if address is None:
            try:
                address = self.machine.symbol_address(function)
            except Exception:
                return                  # the image does not have this layer
        if address in self._probes:
            return
        probe = _Probe(self, role, function, address, buffer_args, on_entry)
        self._probes[address] = probe
        self.hook(address, probe.entry)

    def _bio_set(self, call: Call) -> None:
        """mbedtls_ssl_set_bio(ssl, p_bio, f_send, f_recv, f_recv_timeout): probe f_send."""
        f_send = call.args[2] & ~1
        if f_send:
            name = (self.machine.symbolize(f_send) or f"0x{f_send:08x}").split("+")[0]
            self._probe("bio_send", name, address=f_send, buffer_args=(1, 2))

    # --- what the probes read --------------------------------------------------------------------
    def current_task(self) -> Task | None:
        if self.tasks is None:
            return None
        tcb = self.tasks.current_tcb()
        if tcb not in self._task_cache:
            self._task_cache[tcb] = self.tasks.describe(tcb)
        return self._task_cache[tcb]

    def _tls_state(self, call: Call) -> None:
        """At mbedtls_ssl_write's entry: the context's outgoing sequence counter and where its
        record buffer and current transform are (mbedtls/include/mbedtls/ssl.h)."""
        if self.ssl is None or not call.args[0]:
            return
        ssl, m = call.args[0], self.machine
        try:
            if self.ssl.has("cur_out_ctr"):
                call.state["out_counter"] = m.read_memory(ssl + self.ssl.offset("cur_out_ctr"), 8).hex()
            for member in ("out_buf", "transform_out"):
                if self.ssl.has(member):
                    call.state[member] = struct.unpack("<I", m.read_memory(ssl + self.ssl.offset(member), 4))[0]
        except Exception:
            pass

    def by_role(self, role: str) -> list[Call]:
        return [c for c in self.calls if c.role == role]


def _signed(value: int) -> int:
    value &= 0xFFFF_FFFF
    return value - (1 << 32) if value & 0x8000_0000 else value
