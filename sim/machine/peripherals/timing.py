"""Virtual-time deadlines for peripheral models, kept as plain data so snapshots stay simple.

A model arms a named deadline (`self.arm("tx", delay, self._tx_done)`); the machine's event queue
calls the bound method later, and the method first asks `self.expire("tx")`. Re-arming or
disarming never needs the queue's handle: an event whose deadline was moved or dropped simply
finds `expire()` False and returns. So the only state is `self._deadlines` (name -> due cycle),
which `copy.deepcopy` copies, and every scheduled callback is a bound method of the model, as
the snapshot rule in base.py asks.
"""

from __future__ import annotations

from typing import Callable


class Deadlines:
    """Mixin for `Peripheral` subclasses; call `clear_deadlines()` from `reset()`."""

    _deadlines: dict[str, int]

    def clear_deadlines(self) -> None:
        self._deadlines = {}

    def arm(self, key: str, delay_cycles: int, callback: Callable[[], None]) -> None:
        """(Re)arm deadline `key` `delay_cycles` from now; `callback` must call `expire(key)`."""
        delay = max(0, int(delay_cycles))
        self._deadlines[key] = self.services.now() + delay    # type: ignore[attr-defined]
        self.services.schedule(delay, callback)               # type: ignore[attr-defined]

    def disarm(self, key: str) -> None:
        self._deadlines.pop(key, None)

    def armed(self, key: str) -> bool:
        return key in self._deadlines

    def expire(self, key: str) -> bool:
        """True exactly once, when the deadline for `key` has been reached."""
        due = self._deadlines.get(key)
        if due is None or self.services.now() < due:         # type: ignore[attr-defined]
            return False
        del self._deadlines[key]
        return True
