"""How the diagnosis quotes what it found: times, addresses, tasks and the writers of bytes."""

from __future__ import annotations

WANT = {-0x6900: "WANT_READ", -0x6880: "WANT_WRITE"}       # mbedtls/include/mbedtls/ssl.h


def ms(ns: int | None) -> str:
    return "?" if ns is None else f"{ns / 1e6:.1f} ms"


def hx(value: int | None) -> str:
    return "?" if value is None else f"0x{value:08x}"


def code(value: int | None) -> str:
    """An Mbed TLS return value as the firmware prints it (-0x6880 (WANT_WRITE))."""
    if value is None:
        return "?"
    text = f"-0x{-value:04x}" if value < 0 else str(value)
    return text + (f" ({WANT[value]})" if value in WANT else "")


def task(call: dict) -> str:
    t = call.get("task")
    return f"task {t['name']}" if t else "an unknown task"


def writer(w: dict | None, *, pc: bool = False) -> str:
    """`memcpy+0x14 (called from eth_tx_copy_frame+0x4b) at 101.2 ms, task tcpip` and, for a
    stack pointer outside the task's stack, where it was; `pc` adds the PC itself."""
    if w is None:
        return "never written since the boot snapshot"
    what = {"exception stacking": "exception entry stacking the frame of ",
            "dma": "a DMA transfer during "}.get(w.get("kind"), "")
    text = f"{what}{w['function']}"
    details = [f"PC {hx(w['pc'])}"] if pc and w.get("pc") is not None else []
    if w.get("caller") and w.get("kind") == "store":
        details.append(f"called from {w['caller']}")
    if details:
        text += f" ({', '.join(details)})"
    text += f" at {ms(w['time_ns'])}"
    if w.get("handler"):
        text += f", in exception {w['handler']}"
    elif w.get("task"):
        text += f", task {w['task']}"
    if w.get("sp_outside_stack"):
        stack = w.get("stack") or [None, None]
        text += (f", SP {hx(w['sp'])} {w['sp_outside_stack']} "
                 f"[{hx(stack[0])}, {hx(stack[1]) if stack[1] is not None else '?'})")
    return text


def spans(entries: list[dict], what: str) -> list[str]:
    """One line per run of bytes with the same last writer."""
    out = []
    for span in entries:
        n = span["end"] - span["start"]
        out.append(f"{what} {hx(span['start'])} ({n} byte{'s' if n != 1 else ''}, {span['bytes']}): "
                   + (f"last written by {writer(span['writer'])}" if span["writer"] else writer(None)))
    return out
