"""The cause section of a diagnosis, as text: the class, its key evidence line, the lines that
support it, what the class means and where to look."""

from __future__ import annotations

from . import quote
from .causes import Cause
from .classes import cause_class


def cause_text(cause: Cause, evidence: dict | None = None) -> str:
    c = cause_class(cause.key)
    lines = [f"Cause: {c.title} ({cause.key})"]
    lines += [f"  {line}" for line in cause.evidence]
    if cause.key not in ("none",):
        lines.append(f"  what it means: {c.meaning}")
        lines.append(f"  where to look: {c.look_at}")
    prov = (evidence or {}).get("provenance") or {}
    replay = prov.get("replay")
    if replay:
        trace = prov.get("trace") or {}
        lines.append(f"  provenance from a replay of the run that reproduced it byte for byte "
                     f"({', '.join(replay['compared'])}; {replay['frames']} frames); {trace.get('writes', 0)} writes "
                     f"traced" + ("" if trace.get("complete", True) else " (limit reached: later writes not kept)")
                     + (f"; {trace['unseen_changes']} bytes changed by writes the trace did not see"
                        if trace.get("unseen_changes") else ""))
    return "\n".join(lines) + "\n"


__all__ = ["cause_text", "quote"]
