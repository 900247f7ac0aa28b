"""Where tls-fw-sim keeps what it can recompute (the test PKI): one directory per user, never the
package directory (an installed package may be read-only, or shared by several users).

`$TLS_FW_SIM_CACHE` when set; else `$XDG_CACHE_HOME/tls-fw-sim` when that variable holds an
absolute path; else `~/.cache/tls-fw-sim` (the XDG Base Directory Specification: an unset, empty
or relative XDG_CACHE_HOME means `$HOME/.cache`).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

OVERRIDE = "TLS_FW_SIM_CACHE"


def user_cache_dir() -> Path:
    override = os.environ.get(OVERRIDE)
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):
        return Path(xdg) / "tls-fw-sim"
    try:
        return Path.home() / ".cache" / "tls-fw-sim"
    except RuntimeError:               # no HOME and no passwd entry: a per-user temporary place
        return Path(tempfile.gettempdir()) / f"tls-fw-sim-{os.getuid()}"
