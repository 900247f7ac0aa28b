"""Directories Renode deletes when it starts.

Renode clears what it takes for the leftovers of other Renode processes: at start-up its
TemporaryFilesManager.Cleanup (renode-infrastructure, src/Emulator/Main/Utilities/
TemporaryFilesManager.cs) deletes, with everything in it, every directory of the system's
temporary directory whose name starts with `renode-`, unless the rest of the name is the pid of a
live process or ends in `-crash`. An output directory such as /tmp/renode-run is therefore gone
when the run ends, with the log and artifacts that were written into it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from sim.errors import BackendError

PREFIX = "renode-"
CRASH_SUFFIX = "-crash"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def swept_by_renode(path: str | Path, temp_dir: str | Path | None = None) -> Path | None:
    """The directory Renode would delete that holds `path` (or is it), or None."""
    temp = Path(temp_dir or tempfile.gettempdir()).resolve()
    target = Path(path).resolve()
    if target.parent != temp and temp not in target.parents:
        return None
    top = temp / target.relative_to(temp).parts[0] if target != temp else None
    if top is None or not top.name.startswith(PREFIX) or top.name.endswith(CRASH_SUFFIX):
        return None
    rest = top.name[len(PREFIX):]
    if rest.isdigit() and _alive(int(rest)):
        return None
    return top


def refuse_swept(path: str | Path, what: str) -> None:
    """A BackendError when Renode would delete `path` at start (`what` names the option)."""
    top = swept_by_renode(path)
    if top is not None:
        raise BackendError(f"{what} {str(path)!r} lies in {str(top)!r}, and Renode deletes every directory "
                           f"named {top.parent}/{PREFIX}* when it starts (its temporary-file clean-up): "
                           f"choose another name, e.g. {str(top.parent / ('sim-' + top.name))!r}")


__all__ = ["refuse_swept", "swept_by_renode"]
