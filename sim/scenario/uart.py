"""The one UART line waiter: collect what a UART prints and stop the running backend the moment
an awaited line appears (inside `run()`, at the virtual time its last byte was sent).

Used by the boot (`ready`), the shell-driven runner (each command's status line, Robot's `Wait For
Line On Uart`) and `python -m sim boot --until TEXT`. Works with any `sim.backend.Backend`.

Lines are the text between "\\n" with "\\r" removed, decoded as Latin-1 so that every byte maps to
one character and a pattern matches exactly the bytes the firmware sent. A waiter looks at
complete lines only, unless it asks for the unfinished last line too (Renode's
`includeUnfinishedLine`): `ready` is awaited that way, so the boot stops on its last character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from sim.backend import Backend

UART_TAIL = 20                      # lines shown by `tail()` in error messages


@dataclass
class LineWaiter:
    regex: re.Pattern
    scan: int                        # byte offset of the first line not yet searched
    partial_line: bool               # also search the unfinished last line
    match: re.Match | None = None
    cycles: int | None = None        # virtual time (backend cycles) when the line appeared

    @property
    def found(self) -> bool:
        return self.match is not None


def _decode(raw: bytes | bytearray) -> str:
    return bytes(raw).decode("latin-1").replace("\r", "")


class UartLines:
    """What one UART printed, and the waiters for lines still to come. Feed it from
    `UartPort.on_output` (directly or through a router that outlives it)."""

    def __init__(self, backend: Backend, initial: bytes = b"",
                 echo: Callable[[bytes], None] | None = None) -> None:
        self.backend = backend
        self.data = bytearray(initial)
        self.echo = echo
        self._waiters: list[LineWaiter] = []

    def feed(self, chunk: bytes) -> None:
        self.data += chunk
        if self.echo is not None:
            self.echo(bytes(chunk))
        for waiter in list(self._waiters):
            if self._search(waiter):
                waiter.cycles = self.backend.cycles
                self._waiters.remove(waiter)
                self.backend.request_stop()

    def expect(self, pattern: str | re.Pattern, *, since: int | None = None,
               partial_line: bool = False) -> LineWaiter:
        """Wait for a line matching `pattern` (searched with `re.search`) in what the UART printed
        from byte offset `since` on (default: only output still to come). A line already there
        is found at once; otherwise `run()` stops as soon as it appears."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        if not regex.pattern:
            raise ValueError("a UART waiter needs a non-empty pattern")
        waiter = LineWaiter(regex, len(self.data) if since is None else since, partial_line)
        if self._search(waiter):
            waiter.cycles = self.backend.cycles
        else:
            self._waiters.append(waiter)
        return waiter

    def cancel(self, waiter: LineWaiter) -> None:
        """Stop waiting (a limit ended the wait): the line must not stop a later run."""
        if waiter in self._waiters:
            self._waiters.remove(waiter)

    def _search(self, waiter: LineWaiter) -> bool:
        end = self.data.rfind(b"\n", waiter.scan)
        if end >= 0:
            for line in _decode(self.data[waiter.scan:end]).split("\n"):
                match = waiter.regex.search(line)
                if match:
                    waiter.match = match
                    return True
            waiter.scan = end + 1
        if waiter.partial_line:
            match = waiter.regex.search(_decode(self.data[waiter.scan:]))
            if match:
                waiter.match = match
                return True
        return False

    # --- reading what was printed -------------------------------------------------------------
    def text(self, since: int = 0) -> str:
        return _decode(self.data[since:])

    def lines_since(self, offset: int) -> list[str]:
        """The complete lines printed from byte `offset` on."""
        return self.text(offset).split("\n")[:-1]

    def tail(self, n: int = UART_TAIL, name: str | None = None) -> str:
        """The last `n` lines, for an error message (`name`: the UART's, when it matters which)."""
        lines = self.text().split("\n")
        while lines and not lines[-1].strip():
            lines.pop()
        shown = lines[-n:]
        if not shown:
            return f"({name or 'the UART'} printed nothing)"
        return f"last {name or 'UART'} lines:\n" + "\n".join(f"  | {ln}" for ln in shown)
