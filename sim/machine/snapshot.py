"""Snapshot and restore of the whole machine: CPU context (banked SPs, FP registers, special
registers - unicorn's context), every memory, the SCS/NVIC/SysTick, the clock with its event
queue, the run state (run_state.py, copied whole) and every peripheral's state (UART transcripts
included).

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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sim.errors import BackendError

from .run_state import RunState

if TYPE_CHECKING:  # pragma: no cover
    from .machine import Machine

_ATOMIC = (int, float, str, bytes, bool, type(None), complex, range, type)
# modules whose objects are machine state (walked for listeners, copied): the machine's own, the
# shared event queue's events and the frame types models hold
_STATE_MODULES = ("sim.machine", "sim.backend", "sim.net.frames", "sim.event_queue")


@dataclass
class Snapshot:
    """Whole-machine state; restore it with Machine.restore()."""
    cpu: Any
    memories: dict[int, bytes]
    objects: dict[str, Any]
    run_state: RunState
    exceptions: dict[str, Any]                 # the exception engine's counters and fault context
    image: Any
    symbols: Any
    # what restore() shares rather than copies; the saved objects never change, so it is
    # computed on the first restore and reused
    shared: dict[int, Any] | None = field(default=None, repr=False, compare=False)


_EXCEPTION_STATE = ("entries", "returns", "tail_chains", "fault_context", "exc_return_seen")


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
                m.random_root, m.loop, m.faults, m.sites, m.run_state):
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
    return (type(obj).__module__ or "").startswith(_STATE_MODULES)


def take_snapshot(m: "Machine") -> Snapshot:
    if m.run_state.in_slice:
        raise BackendError("snapshot() cannot be taken inside a callback while the CPU runs; "
                           "call it between run() calls")
    roots = _owned_objects(m)
    memo = _machine_memo(m, list(roots.values()))
    copied = copy.deepcopy(roots, memo)
    exceptions = copy.deepcopy({k: getattr(m.exceptions, k) for k in _EXCEPTION_STATE})
    return Snapshot(m.core.uc.context_save(), m.bus.snapshot_memories(), copied,
                    m.counted().copy(), exceptions, m.image, m.symbols)


def restore_snapshot(m: "Machine", snap: Snapshot) -> None:
    if not isinstance(snap, Snapshot):
        raise BackendError(f"restore() needs a Snapshot from this machine's snapshot(), got {type(snap).__name__}")
    if m.run_state.in_slice:
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
    changed = m.bus.restore_memories(snap.memories)
    for region in changed:
        m.core.uc.ctl_remove_cache(region.base, region.end)     # flash (code) differed
    if changed:
        m.core.timebase.forget_code()            # it keeps what it decoded of read-only code
    for region in m.bus.memories:
        if region.writable:
            m.core.uc.ctl_remove_cache(region.base, region.end)  # code in RAM may be stale
    m.counted()                                # MMIO accesses of the past go with the past
    m.run_state.load(snap.run_state)
    for k, v in copy.deepcopy(snap.exceptions).items():
        setattr(m.exceptions, k, v)
    if snap.image is not m.image:
        m.image, m.symbols = snap.image, snap.symbols
