"""Snapshot and restore of the whole machine: CPU context (banked SPs, FP registers, special
registers - unicorn's context), every memory, the SCS/NVIC/SysTick, the clock with its event
queue, and every peripheral's state (UART transcripts included).

Peripheral state is copied with `copy.deepcopy` in one memo, so the events in the queue (bound
methods of models) and links between models (MAC <-> PHY) stay consistent. Restore happens in
place - the live objects keep their identity - so ports a caller holds (`machine.uart("usart1")`,
`machine.ethernet`) remain valid. Host-side listeners are not machine state: bound methods of
objects outside the machine (a UART line waiter, a link) are shared, not copied, and attributes a
model lists in `SNAPSHOT_KEEP` keep their live values across a restore. Breakpoints, hooks and
watchpoints are debugger state and are kept too.
"""

from __future__ import annotations

import copy
import types
from typing import TYPE_CHECKING, Any

from sim.errors import BackendError

if TYPE_CHECKING:  # pragma: no cover
    from .machine import Machine, Snapshot

_ATOMIC = (int, float, str, bytes, bool, type(None), complex, range, type)


def _owned_objects(m: "Machine") -> dict[str, Any]:
    objects: dict[str, Any] = {f"peripheral:{name}": p for name, p in m.peripherals.items()}
    objects["scs"] = m.scs
    objects["clock"] = m.clock
    return objects


def _machine_memo(m: "Machine", roots: list[Any]) -> dict[int, Any]:
    """Objects that must be shared, not copied: the machine and its engines, and anything
    outside the machine that model state refers to through a bound method (a listener)."""
    memo: dict[int, Any] = {}
    for obj in (m, m.bus, m.core, m.exceptions, m.spec, m.symbols, m.image, m.options,
                m._random_root):
        memo[id(obj)] = obj
    owned = {id(r) for r in roots}
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, _ATOMIC):
            continue
        seen.add(id(obj))
        if isinstance(obj, types.MethodType):
            owner = obj.__self__
            if id(owner) not in owned and not _is_machine_state(owner):
                memo[id(owner)] = owner
            else:
                stack.append(owner)
        elif isinstance(obj, dict):
            stack.extend(obj.values())
            stack.extend(k for k in obj if not isinstance(k, _ATOMIC))
        elif isinstance(obj, (list, tuple, set, frozenset)):
            stack.extend(obj)
        elif hasattr(obj, "__dict__") and (id(obj) in owned or _is_machine_state(obj)):
            for name in getattr(type(obj), "SNAPSHOT_KEEP", ()):
                value = getattr(obj, name, None)
                memo[id(value)] = value
            stack.extend(vars(obj).values())
        elif hasattr(obj, "__slots__") and _is_machine_state(obj):
            stack.extend(getattr(obj, s) for s in obj.__slots__ if hasattr(obj, s))
    return memo


def _is_machine_state(obj: Any) -> bool:
    module = type(obj).__module__ or ""
    return module.startswith(("sim.machine", "sim.backend", "sim.net.frames", "sim.event_queue"))


def take_snapshot(m: "Machine") -> "Snapshot":
    from .machine import Snapshot
    if m._in_slice:
        raise BackendError("snapshot() cannot be taken inside a callback while the CPU runs; "
                           "call it between run() calls")
    roots = _owned_objects(m)
    memo = _machine_memo(m, list(roots.values()))
    copied = copy.deepcopy(roots, memo)
    scalars = {
        "instructions": m.instructions, "idle_cycles": m.idle_cycles,
        "mmio_accesses": m.mmio_accesses, "reset_requested": m._reset_requested,
        "resets": m.resets, "sleeping": m._sleeping,
        "exceptions": copy.deepcopy({k: getattr(m.exceptions, k) for k in
                                     ("entries", "returns", "tail_chains", "fault_context",
                                      "exc_return_seen")}),
        "image": m.image, "symbols": m.symbols,
    }
    return Snapshot(m.core.uc.context_save(), m.bus.snapshot_memories(), copied, scalars)


def restore_snapshot(m: "Machine", snap: "Snapshot") -> None:
    from .machine import Snapshot
    if not isinstance(snap, Snapshot):
        raise BackendError(f"restore() needs a Snapshot from this machine's snapshot(), got {type(snap).__name__}")
    if m._in_slice:
        raise BackendError("restore() cannot run inside a callback while the CPU runs")
    live = _owned_objects(m)
    if set(live) != set(snap.objects):
        raise BackendError("this snapshot was taken on a machine with different peripherals")
    if snap.shared is None:
        snap.shared = _machine_memo(m, list(snap.objects.values()))
    memo = dict(snap.shared)                   # deepcopy adds to it: a fresh one per restore
    for key, saved in snap.objects.items():
        memo[id(saved)] = live[key]            # references between saved objects -> live objects
    for key, saved in snap.objects.items():
        target = live[key]
        keep = {name: getattr(target, name) for name in getattr(type(target), "SNAPSHOT_KEEP", ())
                if hasattr(target, name)}
        state = copy.deepcopy(vars(saved), memo)
        target.__dict__.clear()
        target.__dict__.update(state)
        target.__dict__.update(keep)
    m.core.uc.context_restore(snap.cpu)
    for region in m.bus.restore_memories(snap.memories):
        m.core.uc.ctl_remove_cache(region.base, region.end)     # flash (code) differed
    for region in m.bus.memories:
        if region.writable:
            m.core.uc.ctl_remove_cache(region.base, region.end)  # code in RAM may be stale
    sc = snap.scalars
    m.instructions, m.idle_cycles = sc["instructions"], sc["idle_cycles"]
    m.mmio_accesses, m._reset_requested = sc["mmio_accesses"], sc["reset_requested"]
    m.resets = sc["resets"]
    m._sleeping = sc["sleeping"]
    for k, v in copy.deepcopy(sc["exceptions"]).items():
        setattr(m.exceptions, k, v)
    if sc["image"] is not m.image:
        m.image, m.symbols = sc["image"], sc["symbols"]
    m._stopped_at = None
    m._skip_break = m._skip_watch = None
    m._stuck_regs = None
