"""Provenance: every write into chosen memory ranges, so that one can ask who last wrote a byte.

`Machine.trace_writes(ranges)` starts a `WriteTrace`: from then on until `stop()` it records each
write into the ranges in order - the address, the bytes written, the PC, LR, SP and IPSR of the
CPU, the virtual time (reference cycles), and optionally the value of a context word (an RTOS's
current-task pointer) - and answers "who last wrote these bytes, as of time T"
(`last_writers`). It sees:

- the CPU's stores, through one unicorn `UC_HOOK_MEM_WRITE` hook per range (code_sites.py
  `hook_stores`; unicorn calls it for every store the hook's range covers, once all code is
  retranslated with memory hooks in place);
- the writes that reach RAM without a CPU store instruction, through the bus's write observer:
  exception-entry stacking (the exception engine writes the frame; ARMv7-M ARM B1.5.6) and
  bus-master DMA (a peripheral model's descriptor write-back or received data).

Writes through `Machine.write_memory` (a debugger) are not traced; `unseen_changes()` finds any
byte whose contents differ from what the recorded writes left there.

The cost is global, not per range: with any memory hook present unicorn routes every load and
store of the CPU through its slow helper path, which makes a whole scenario more than twice as slow
(scripts/bench, `provenance_cost`: +124% on a 16 KiB POST). Scenarios therefore run without it,
and a failing run is replayed with it (docs/diagnosis.md). Memory is bounded: at most `limit` writes are kept; later
ones are counted in `dropped` and answers past that point say they are incomplete.
"""

from __future__ import annotations

import bisect
import struct
from array import array
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from unicorn import arm_const as A

from sim.errors import BackendError

from .cpu import RegBatch

if TYPE_CHECKING:  # pragma: no cover
    from .machine import Machine

CPU_STORE = "store"                     # a store instruction (or a bit-band alias write)
STACKING = "exception stacking"         # the frame pushed on exception entry
DMA = "dma"                             # a bus master (peripheral model)
_KINDS = (CPU_STORE, STACKING, DMA)
DEFAULT_LIMIT = 2_000_000               # writes kept (about 45 bytes each)


@dataclass(frozen=True)
class Write:
    """One recorded write. `context` is the context word's value at the time (None: not traced)."""

    index: int
    cycles: int                 # virtual time, reference cycles
    address: int
    data: bytes
    pc: int
    lr: int
    sp: int
    ipsr: int                   # 0: Thread mode; else the exception number being handled
    kind: str                   # CPU_STORE | STACKING | DMA
    context: int | None

    @property
    def end(self) -> int:
        return self.address + len(self.data)


@dataclass(frozen=True)
class Span:
    """Bytes [start, end) that share their last writer (None: not written since the trace began)."""

    start: int
    end: int
    write: Write | None


class WriteTrace:
    """The record of writes into `ranges` ([(start, end), ...]); see the module docstring."""

    def __init__(self, machine: "Machine", ranges: Iterable[tuple[int, int]], *,
                 context_word: int | None = None, limit: int = DEFAULT_LIMIT) -> None:
        self.m = machine
        self.ranges = _merged(ranges)
        if not self.ranges:
            raise BackendError("a write trace needs at least one address range (start < end)")
        for start, end in self.ranges:
            region = machine.bus.memory_at(start, end - start)
            if region is None or not region.writable:
                raise BackendError(f"cannot trace writes to 0x{start:08x}-0x{end - 1:08x}: "
                                   f"{machine.faults.describe_address(start)} (give RAM ranges)")
        self.limit = limit
        self.dropped = 0
        self.initial = {start: machine.read_memory(start, end - start) for start, end in self.ranges}
        self.started_cycles = machine.cycles
        self._context = None
        if context_word is not None:
            region = machine.bus.memory_at(context_word, 4)
            if region is None:
                raise BackendError(f"the context word 0x{context_word:08x} is not in RAM")
            self._context = (region.view, context_word - region.base)
        # the writes, column by column (bounded memory, cheap appends)
        self._cycles = array("Q")
        self._address = array("I")
        self._offset = array("Q")         # into _data
        self._length = array("I")
        self._pc = array("I")
        self._lr = array("I")
        self._sp = array("I")
        self._ipsr = array("H")
        self._kind = array("B")
        self._ctx = array("I")
        self._data = bytearray()
        self._regs = RegBatch(machine.core.uc, (A.UC_ARM_REG_PC, A.UC_ARM_REG_LR, A.UC_ARM_REG_SP,
                                                A.UC_ARM_REG_IPSR))
        self._handles = [machine.sites.hook_stores(start, end, self._on_store) for start, end in self.ranges]
        machine.bus.write_observers.append(self._on_bus_write)
        self.active = True

    # --- recording ---------------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop recording (the record stays readable); all code is retranslated without the hooks."""
        if not self.active:
            return
        self.active = False
        for handle in self._handles:
            self.m.sites.unhook_stores(handle)
        self._handles.clear()
        observers = self.m.bus.write_observers
        if self._on_bus_write in observers:
            observers.remove(self._on_bus_write)

    def _on_store(self, _uch, _access: int, address: int, size: int, value: int, _user) -> None:
        try:
            self._record(address, (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little"), CPU_STORE,
                         exact=True)
        except BaseException as exc:       # nothing may cross the ctypes callback (cpu.py)
            self.m.loop.callback_failed(exc)

    def _on_bus_write(self, address: int, data: bytes, origin: str) -> None:
        end = address + len(data)
        for start, stop in self.ranges:
            if address < stop and start < end:
                lo, hi = max(address, start), min(end, stop)
                kind = DMA if origin == "dma" else STACKING if len(data) >= 32 else CPU_STORE
                self._record(lo, bytes(data[lo - address:hi - address]), kind)

    def _record(self, address: int, data: bytes, kind: str, exact: bool = False) -> None:
        if len(self._cycles) >= self.limit:
            self.dropped += 1
            return
        pc, lr, sp, ipsr = self._regs.read()
        # a store: the time its instruction began (inside a slice, now() is the time the
        # straight-line block began - docs/machine.md, "Time")
        self._cycles.append(self.m.loop.time_of_instruction(pc) if exact else self.m.loop.now())
        self._address.append(address)
        self._offset.append(len(self._data))
        self._length.append(len(data))
        self._data += data
        self._pc.append(pc & ~1)
        self._lr.append(lr)
        self._sp.append(sp)
        self._ipsr.append(ipsr & 0x1FF)
        self._kind.append(_KINDS.index(kind))
        if self._context is not None:
            view, offset = self._context
            self._ctx.append(struct.unpack_from("<I", view, offset)[0])

    # --- reading -----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._cycles)

    @property
    def complete(self) -> bool:
        """Every write into the ranges was kept (the limit was not reached)."""
        return self.dropped == 0

    def write(self, index: int) -> Write:
        offset, length = self._offset[index], self._length[index]
        return Write(index, self._cycles[index], self._address[index], bytes(self._data[offset:offset + length]),
                     self._pc[index], self._lr[index], self._sp[index], self._ipsr[index], _KINDS[self._kind[index]],
                     self._ctx[index] if self._context is not None else None)

    def covers(self, start: int, end: int) -> bool:
        return any(lo <= start and end <= hi for lo, hi in self.ranges)

    def writes(self, start: int, end: int, *, before: int | None = None) -> list[Write]:
        """The writes that touched [start, end), oldest first; `before`: only those at an earlier
        virtual time (reference cycles)."""
        self._require(start, end)
        out = []
        address, length, cycles = self._address, self._length, self._cycles
        for i in range(len(cycles)):
            if before is not None and cycles[i] >= before:
                break
            a = address[i]
            if a < end and start < a + length[i]:
                out.append(self.write(i))
        return out

    def last_writers(self, start: int, end: int, *, before: int | None = None) -> list[Span]:
        """[start, end) cut into spans of bytes with the same last writer (as of `before`)."""
        self._require(start, end)
        owner: list[int | None] = [None] * (end - start)
        unknown = end - start
        address, length, cycles = self._address, self._length, self._cycles
        n = len(cycles)
        if before is not None:
            n = bisect.bisect_left(cycles, before)
        for i in range(n - 1, -1, -1):
            a = address[i]
            lo, hi = max(a, start), min(a + length[i], end)
            if lo >= hi:
                continue
            for k in range(lo - start, hi - start):
                if owner[k] is None:
                    owner[k] = i
                    unknown -= 1
            if not unknown:
                break
        spans: list[Span] = []
        for k, index in enumerate(owner):
            if spans and spans[-1].end == start + k and (spans[-1].write.index if spans[-1].write else None) == index:
                spans[-1] = Span(spans[-1].start, start + k + 1, spans[-1].write)
            else:
                spans.append(Span(start + k, start + k + 1, self.write(index) if index is not None else None))
        return spans

    def contents(self, start: int, end: int, *, before: int | None = None) -> bytes:
        """What [start, end) held at time `before` (the end of the trace if None), from the initial
        contents and the recorded writes."""
        self._require(start, end)
        base = next(lo for lo, hi in self.ranges if lo <= start and end <= hi)
        out = bytearray(self.initial[base][start - base:end - base])
        for span in self.last_writers(start, end, before=before):
            w = span.write
            if w is not None:
                out[span.start - start:span.end - start] = w.data[span.start - w.address:span.end - w.address]
        return bytes(out)

    def unseen_changes(self) -> list[int]:
        """Addresses whose memory now differs from what the recorded writes left there: a write the
        trace did not see (a debugger's), or any write once the limit was reached."""
        out = []
        for start, end in self.ranges:
            now = self.m.read_memory(start, end - start)
            expected = self.contents(start, end)
            out += [start + k for k in range(end - start) if now[k] != expected[k]]
        return out

    def _require(self, start: int, end: int) -> None:
        if not self.covers(start, end):
            raise BackendError(f"0x{start:08x}-0x{end - 1:08x} is not inside the traced ranges "
                               f"({', '.join(f'0x{a:08x}-0x{b - 1:08x}' for a, b in self.ranges)})")


def _merged(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for start, end in sorted((int(a), int(b)) for a, b in ranges if int(b) > int(a)):
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return [(a, b) for a, b in out]
