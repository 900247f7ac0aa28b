"""Provenance for the diagnosis: which memory a replay traces, and what the trace then says about
the bytes that matter.

What is traced (`plan_ranges`, from the first run's evidence, since a replay puts everything at
the same addresses): the TX DMA buffers the frames were read from (the whole object the ELF names,
e.g. `eth_tx_buffers`), the buffers the BIO send callback was handed (Mbed TLS's record buffer),
the buffers the application handed to `mbedtls_ssl_write`, and the TLS context with its current
transform (the sequence counter, IVs and key material pointers; `mbedtls_ssl_context`,
`mbedtls_ssl_transform` sized from DWARF).

What is asked (`Provenance.facts`): for the first changed bytes on the wire, who last wrote them in
the DMA buffer before the frame went out; for a retransmission that differs, who rewrote the
source bytes between the first transmission and the retransmission; for application bytes that
were handed to `mbedtls_ssl_write` again with other contents after WANT_READ/WANT_WRITE, who
rewrote the application's buffer between the two calls; for the TLS context, every change of the
outgoing sequence counter and every write into the context that no task made on its own stack (the
writer's stack pointer outside the task's stack, exception stacking, DMA).
"""

from __future__ import annotations

import re
import struct

from sim.vtime import cycles_to_ns

from .dwarf import struct_layout
from .probes import SSL_CONTEXT, TLS_WRITE, CallProbes
from .tasks import TaskView

TRANSFORM = "mbedtls_ssl_transform"
COUNTER = "cur_out_ctr"
QUOTED_BYTES = 4                # bytes quoted per changed place
MAX_REGIONS = 3
MAX_FOREIGN = 8
WANT = (-0x6900, -0x6880)       # MBEDTLS_ERR_SSL_WANT_READ, _WANT_WRITE (mbedtls/include/mbedtls/ssl.h)


def plan_ranges(runner, probes: CallProbes) -> list[tuple[int, int, str]]:
    """(start, end, what) of every range a replay of this run should trace."""
    m = runner.machine
    out: list[tuple[int, int, str]] = []
    seen_buffers: set[int] = set()
    for info in runner.link.frames:
        if info.direction != "device->host" or info.tx is None:
            continue
        for seg in info.tx.segments:
            if seg.buffer in seen_buffers:
                continue
            seen_buffers.add(seg.buffer)
            span = _object_at(m, seg.buffer) or (seg.buffer, seg.buffer + seg.length)
            out.append((*span, "TX DMA buffer"))
    for call in probes.calls:
        if call.role in ("bio_send", "tls_write") and call.args[1] and 0 < call.args[2] <= 1 << 20:
            what = "TLS record buffer" if call.role == "bio_send" else "application data buffer"
            out.append((call.args[1], call.args[1] + call.args[2], what))
    for start, size, what in tls_state_objects(probes):
        out.append((start, start + size, what))
    return [r for r in out if m.bus.memory_at(r[0], r[1] - r[0]) is not None] if hasattr(m, "bus") else out


def tls_state_objects(probes: CallProbes) -> list[tuple[int, int, str]]:
    """(address, size, name) of the TLS context and its current transform, from DWARF and the
    first mbedtls_ssl_write call."""
    writes = probes.by_role("tls_write")
    if not writes or probes.ssl is None:
        return []
    first = writes[0]
    out = [(first.args[0], probes.ssl.size, SSL_CONTEXT)]
    transform = first.state.get("transform_out")
    layout = struct_layout(probes.elf, TRANSFORM, TLS_WRITE)
    if transform and layout is not None:
        out.append((transform, layout.size, TRANSFORM))
    return out


def _object_at(machine, address: int) -> tuple[int, int] | None:
    """The extent of the ELF object containing `address` (a sized data symbol)."""
    name = (machine.symbolize(address) or "").split("+")[0]
    symbols = getattr(machine, "symbols", None)
    symbol = symbols.get(name) if symbols is not None and name else None
    if symbol is None or not symbol.size or not symbol.address <= address < symbol.address + symbol.size:
        return None
    return symbol.address, symbol.address + symbol.size


class Provenance:
    """Turns a finished trace of a replay into the facts the diagnosis quotes."""

    def __init__(self, runner, trace, probes: CallProbes) -> None:
        self.runner = runner
        self.m = runner.machine
        self.trace = trace
        self.probes = probes
        self.tasks = TaskView.open(self.m, probes.elf)
        self._task_cache: dict[int, object] = {}

    # --- writers -----------------------------------------------------------------------------------
    def ns(self, cycles: int) -> int:
        return cycles_to_ns(cycles, self.m.frequency)

    def task(self, tcb: int | None):
        if tcb is None or self.tasks is None:
            return None
        if tcb not in self._task_cache:
            self._task_cache[tcb] = self.tasks.describe(tcb)
        return self._task_cache[tcb]

    def writer(self, w) -> dict:
        """A write as the diagnosis quotes it."""
        task = self.task(w.context) if not w.ipsr else None
        out = {"function": self.m.symbolize(w.pc) or f"0x{w.pc:08x}", "pc": w.pc, "caller": self.caller(w.pc, w.lr),
               "time_ns": self.ns(w.cycles), "kind": w.kind, "sp": w.sp, "address": w.address,
               "data": w.data.hex(), "handler": w.ipsr or None,
               "task": task.name if task is not None else None}
        if task is not None:
            out["stack"] = [task.stack_bottom, task.stack_top]
            out["sp_outside_stack"] = task.sp_position(w.sp)
        return out

    def caller(self, pc: int, lr: int) -> str | None:
        """Where the writing function was called from - only when LR provably holds its return
        address: the instruction before it is a BL to the start of that function. LR is a scratch
        register (AAPCS): in a function that has called others it holds a stale address."""
        if lr >= 0xFFFF_FF00 or not lr & 1:
            return None                                  # EXC_RETURN, or not a Thumb return address
        site = lr & ~1
        name = (self.m.symbolize(pc) or "").split("+")[0]
        try:
            start = self.m.symbol_address(name) & ~1
            first, second = struct.unpack("<HH", self.m.read_memory(site - 4, 4))
        except Exception:
            return None
        if bl_target(site, first, second) != start:
            return None
        return self.m.symbolize(site)

    def spans(self, start: int, end: int, before_cycles: int | None) -> list[dict]:
        """[start, end) in runs of bytes last written by the same code (function, caller, task,
        kind: a byte loop's stores count as one writer; the latest time is quoted)."""
        def same(w: dict | None):
            return None if w is None else (w["function"], w["caller"], w["task"], w["kind"])

        out: list[dict] = []
        for span in self.trace.last_writers(start, end, before=before_cycles):
            writer = self.writer(span.write) if span.write is not None else None
            if out and out[-1]["end"] == span.start and same(out[-1]["writer"]) == same(writer):
                if writer is not None and writer["time_ns"] > out[-1]["writer"]["time_ns"]:
                    out[-1]["writer"] = writer
                out[-1]["end"] = span.end
            else:
                out.append({"start": span.start, "end": span.end, "writer": writer})
        for entry in out:
            entry["bytes"] = self.trace.contents(entry["start"], entry["end"], before=before_cycles).hex()
        return out

    # --- the facts -----------------------------------------------------------------------------------
    def facts(self, evidence: dict, locate) -> dict:
        trace = self.trace
        out = {"trace": {"ranges": [[a, b] for a, b in trace.ranges], "writes": len(trace),
                         "complete": trace.complete, "unseen_changes": len(trace.unseen_changes())},
               "changed_bytes": self._changed_bytes(evidence, locate),
               "retransmitted_bytes": self._retransmitted(evidence),
               "application_bytes": self._application(evidence),
               "tls_state": self._tls_state(evidence)}
        return out

    def _changed_bytes(self, evidence: dict, locate) -> list[dict]:
        """The DMA buffer bytes where the first changed regions travelled, as they were when the
        frame went out."""
        difference = (evidence.get("stream") or {}).get("difference") or {}
        out = []
        for region in difference.get("regions", [])[:MAX_REGIONS] or (
                [{"offset": difference["first_offset"]}] if difference.get("first_offset") is not None else []):
            try:
                loc = locate(region["offset"])
            except Exception:
                loc = None
            if loc is None or loc.dma is None or loc.frame is None:
                continue
            tx = self._tx(loc.frame)
            at = loc.dma.buffer + loc.dma.offset
            start = at - min(loc.dma.offset, QUOTED_BYTES)      # with the bytes before: where a copy stopped
            end = at + QUOTED_BYTES
            if tx is None or not trace_covers(self.trace, start, end):
                continue
            out.append({"stream_offset": region["offset"], "frame": loc.frame, "frame_offset": loc.frame_offset,
                        "buffer": loc.dma.buffer, "buffer_symbol": loc.dma.buffer_symbol,
                        "buffer_offset": loc.dma.offset,
                        "address": at, "sent_ns": self.ns(tx.cycles), "spans": self.spans(start, end, tx.cycles)})
        return out

    def _tx(self, frame_id: int):
        info = self.runner.link.frame_info(frame_id)
        if info.tx is None and info.sent_as is not None:
            info = self.runner.link.frame_info(info.sent_as)
        return info.tx

    def _retransmitted(self, evidence: dict) -> list[dict]:
        """For each retransmission that differs: the source bytes in the TLS record buffer (found
        from the BIO send call that handed the original bytes over), who last wrote them before the
        retransmission, and what they held when the original went out."""
        out = []
        sends = (evidence.get("calls") or {}).get("bio_send", [])
        for r in (evidence.get("capture") or {}).get("retransmissions", []):
            if not r.get("differing_bytes"):
                continue
            at = r["stream_offset"] + r["first_differing"]
            call = next((c for c in sends if c.get("stream_offset") is not None and c["result"]
                         and c["stream_offset"] <= at < c["stream_offset"] + c["result"]), None)
            original, again = self._tx(r["original_frame"]), self._tx(r["retransmission_frame"])
            if call is None or original is None or again is None:
                continue
            start = call["args"][1] + (at - call["stream_offset"])
            end = start + QUOTED_BYTES
            if not trace_covers(self.trace, start, end):
                continue
            out.append({"stream_offset": at, "address": start, "bio_send_call": call["index"],
                        "original_sent_ns": self.ns(original.cycles), "retransmitted_ns": self.ns(again.cycles),
                        "acked_ns": r.get("acked_ns"),
                        "bytes_at_original": self.trace.contents(start, end, before=original.cycles).hex(),
                        "bytes_at_retransmission": self.trace.contents(start, end, before=again.cycles).hex(),
                        "spans": self.spans(start, end, again.cycles)})
        return out

    def _application(self, evidence: dict) -> list[dict]:
        """For an mbedtls_ssl_write call after one that returned WANT_READ/WANT_WRITE with the same
        buffer but other contents: who last wrote the first bytes that differ, as of the second call."""
        writes = [c for c in (evidence.get("calls") or {}).get("tls_write", []) if c["args"][2] > 0]
        out = []
        for a, b in zip(writes, writes[1:]):
            if a["result"] not in WANT or a.get("returned_cycles") is None or a["args"][1:3] != b["args"][1:3] \
                    or a.get("data_sha256") == b.get("data_sha256"):
                continue
            buffer, length = b["args"][1], b["args"][2]
            if not trace_covers(self.trace, buffer, buffer + length):
                continue
            old = self.trace.contents(buffer, buffer + length, before=a["entered_cycles"])
            new = self.trace.contents(buffer, buffer + length, before=b["entered_cycles"])
            first = next((k for k in range(length) if old[k] != new[k]), 0)
            start = buffer + first
            end = min(start + QUOTED_BYTES, buffer + length)
            spans = self.spans(start, end, b["entered_cycles"])
            rewritten = bool(spans) and all(
                span["writer"] is not None and a["returned_ns"] <= span["writer"]["time_ns"] <= b["entered_ns"]
                for span in spans)
            out.append({"address": start, "offset": first, "call": b["index"], "want_call": a["index"],
                        "want_result": a["result"], "want_returned_ns": a["returned_ns"],
                        "next_entered_ns": b["entered_ns"], "rewritten_between": rewritten, "spans": spans})
            if len(out) >= MAX_REGIONS:
                break
        return out

    def _tls_state(self, evidence: dict) -> dict:
        objects = tls_state_objects(self.probes)
        if not objects:
            return {}
        ssl, ssl_size, _ = objects[0]
        layout = self.probes.ssl
        out: dict = {"context": ssl, "objects": [{"address": a, "size": s, "name": n} for a, s, n in objects]}
        if layout is not None and layout.has(COUNTER) and trace_covers(self.trace, ssl, ssl + ssl_size):
            counter = ssl + layout.offset(COUNTER)
            out["counter"] = {"field": f"{SSL_CONTEXT}.{COUNTER}", "address": counter, "changes": []}
            for w in self.trace.writes(counter, counter + 8):
                value = self.trace.contents(counter, counter + 8, before=w.cycles + 1)
                out["counter"]["changes"].append({"value": value.hex(), "writer": self.writer(w)})
        foreign = []
        for start, size, name in objects:
            if not trace_covers(self.trace, start, start + size):
                continue
            member_of = _members(self.probes, name)
            for w in self.trace.writes(start, start + size):
                writer = self.writer(w)
                if w.kind == "store" and not writer.get("sp_outside_stack"):
                    continue
                offset = w.address - start
                writer["object"] = name
                writer["field"] = member_of(offset)
                writer["offset"] = offset
                foreign.append(writer)
                if len(foreign) >= MAX_FOREIGN:
                    break
        out["foreign_writes"] = foreign
        return out


def _members(probes: CallProbes, struct_name: str):
    layout = struct_layout(probes.elf, struct_name, TLS_WRITE)

    def member_of(offset: int) -> str:
        if layout is None:
            return f"{struct_name}+0x{offset:x}"
        best = None
        for name, member in layout.members.items():
            if member.offset <= offset and (best is None or member.offset > best[1].offset):
                best = (name, member)
        if best is None:
            return f"{struct_name}+0x{offset:x}"
        name, member = best
        inside = offset - member.offset
        if member.size is not None and inside >= member.size:
            return f"{struct_name}+0x{offset:x} (after {name})"
        return f"{struct_name}.{name}" + (f"+{inside}" if inside else "")
    return member_of


def bl_target(return_address: int, first: int, second: int) -> int | None:
    """The target of a Thumb-2 BL (encoding T1, ARMv7-M ARM A7.7.18) whose two halfwords are
    `first`, `second` and whose return address is `return_address`; None if it is no BL."""
    if first >> 11 != 0b11110 or second >> 14 != 0b11 or not second & 0x1000:
        return None
    s = (first >> 10) & 1
    i1 = 1 - (((second >> 13) & 1) ^ s)
    i2 = 1 - (((second >> 11) & 1) ^ s)
    imm = (s << 24) | (i1 << 23) | (i2 << 22) | ((first & 0x3FF) << 12) | ((second & 0x7FF) << 1)
    if s:
        imm -= 1 << 25
    return (return_address + imm) & 0xFFFF_FFFF


def trace_covers(trace, start: int, end: int) -> bool:
    return trace.covers(start, end)


def parse_address(text: str) -> int | None:
    found = re.match(r"0x([0-9a-fA-F]+)", text or "")
    return int(found.group(1), 16) if found else None
