"""The artifacts of a run, in one directory: uart.log capture.pcapng journal.json journal.txt
diagnosis.txt ladder.svg result.json - the same seven files whether the scenario passed, failed,
could not finish, or was interrupted (then they hold what ran so far).

`prepare_out_dir` creates the directory, or refuses it, before a machine starts: a result is never
computed only to be lost for want of a place to write it.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from pathlib import Path

from sim.errors import SimError

from .model import Result

ARTIFACT_FILES = ("uart.log", "capture.pcapng", "journal.json", "journal.txt", "diagnosis.txt", "ladder.svg",
                  "result.json")


class OutDirError(SimError):
    """The artifact directory cannot be created or written; the message names it and why."""


def prepare_out_dir(path: str | Path) -> Path:
    """Create `path` (and its parents) and check that files can be written into it."""
    if not str(path).strip():
        raise OutDirError("the artifact directory is an empty name: give a directory, e.g. --out out/run1")
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise OutDirError(f"the artifact directory {str(out)!r} is an existing file: choose another name or remove the file")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except NotADirectoryError:
        raise OutDirError(f"the artifact directory {str(out)!r} lies under a file, not a directory: "
                          f"choose a path whose parents are directories") from None
    except OSError as exc:
        raise OutDirError(f"cannot write artifacts into {str(out)!r} ({exc.strerror or exc}): "
                          f"choose a directory you can write to") from None
    return out


def write_artifacts(result: Result, out: Path, *, capture=None, keylog: str = "") -> dict[str, Path]:
    """Write the seven files; `capture` is the run's sim.net.pcapng.PcapngWriter (None: the run
    ended before the link existed, the capture is empty), `keylog` its TLS secrets (NSS key log),
    embedded into the capture so Wireshark decrypts it."""
    from sim.ladder import ladder_svg
    from sim.net.pcapng import PcapngWriter

    out.mkdir(parents=True, exist_ok=True)
    capture = capture if capture is not None else PcapngWriter()
    exchanges = result.exchanges                 # the steps, or the device's TLS connections
    sessions = [s for x in exchanges for s in x.sessions]
    if keylog:
        capture.add_secrets(keylog)
    paths = dict(zip(("uart", "capture", "journal_json", "journal_text", "diagnosis", "ladder", "result"),
                     (out / name for name in ARTIFACT_FILES)))
    paths["uart"].write_bytes(result.uart)
    paths["capture"].write_bytes(capture.to_bytes())
    paths["journal_json"].write_text(json.dumps(
        {"sessions": [{"step": _step_of(result, s), **s.journal.to_dict()} for s in sessions]},
        indent=1) + "\n")
    paths["journal_text"].write_text("\n".join(
        f"=== {s.journal.name} ({_step_of(result, s)}) ===\n{s.journal.to_text()}" for s in sessions) or "(no TLS connection)\n")
    diag_lines = []
    for x in exchanges:
        diag_lines.append(f"== {x.describe()}: {x.outcome} ==")
        diag_lines.append(x.diagnosis.text if x.diagnosis is not None else "no failure to explain\n")
    if result.error:
        diag_lines.append(f"== scenario error ==\n{result.error}\n")
    if result.interrupted:
        diag_lines.append("== interrupted ==\nthe run was stopped before the scenario finished\n")
    paths["diagnosis"].write_text("\n".join(diag_lines))
    sc = result.scenario
    title = (f"{sc.firmware}, device-initiated" if sc.device is not None
             else f"{sc.firmware} TLS {sc.tls_version} {sc.suite}")
    paths["ladder"].write_text(ladder_svg([(f"{_step_of(result, s)}", s.journal) for s in sessions], title=title))
    result.artifacts = paths
    result.out_dir = out
    _write_atomically(paths["result"], json.dumps(result.to_dict(), indent=1) + "\n")
    return paths


def _write_atomically(path: Path, text: str) -> None:
    """result.json is written last and whole: a reader never sees half a verdict. The temporary
    name is unique to this writer, so two processes given the same directory never share it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _step_of(result: Result, session) -> str:
    for x in result.exchanges:
        if session in x.sessions:
            return x.describe()
    return "?"
