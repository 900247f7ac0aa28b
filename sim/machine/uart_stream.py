"""A UART's output as a stream with line waiters: collect what the firmware prints, split it
into lines, and stop the running backend the moment an awaited text appears (inside run(), at
the exact virtual time the last byte of it was sent). Works with any `sim.backend.Backend`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from sim.backend import Backend, UartPort


@dataclass
class Waiter:
    text: bytes
    start: int                       # search only output produced after the waiter was created
    found_at: int | None = None      # offset in the stream where `text` starts
    cycles: int | None = None        # virtual time when it appeared

    @property
    def found(self) -> bool:
        return self.found_at is not None


class UartStream:
    def __init__(self, backend: Backend, port: UartPort,
                 echo: Callable[[bytes], None] | None = None) -> None:
        self.backend = backend
        self.port = port
        self.data = bytearray()
        self.echo = echo
        self._waiters: list[Waiter] = []
        port.on_output(self._on_bytes)

    def _on_bytes(self, chunk: bytes) -> None:
        self.data += chunk
        if self.echo is not None:
            self.echo(bytes(chunk))
        for w in self._waiters:
            if w.found_at is None:
                at = self.data.find(w.text, max(w.start, len(self.data) - len(chunk) - len(w.text)))
                if at >= 0:
                    w.found_at = at
                    w.cycles = self.backend.cycles
                    self.backend.request_stop()

    def expect(self, text: str | bytes) -> Waiter:
        """Wait for `text` in output still to come; run() stops as soon as it appears."""
        raw = text.encode() if isinstance(text, str) else bytes(text)
        if not raw:
            raise ValueError("expect() needs a non-empty text")
        w = Waiter(raw, len(self.data))
        self._waiters.append(w)
        return w

    def lines(self) -> list[str]:
        text = self.data.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
        return text.split("\n")

    def last_lines(self, n: int = 10) -> list[str]:
        lines = self.lines()
        if lines and lines[-1] == "":
            lines = lines[:-1]
        return lines[-n:]
