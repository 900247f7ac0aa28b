"""Is a Renode reachable through pyrenode3 here, and if not, what exactly is missing?

pyrenode3 loads Renode when it is imported, guided by its own variables (pyrenode3's src/pyrenode3/env.py):
exactly one of PYRENODE_PKG (a package tarball), PYRENODE_BUILD_DIR (a source tree with
output/bin/Release) or PYRENODE_BIN (a portable single-file binary), and PYRENODE_RUNTIME
(mono, the default, or coreclr, which current dotnet packages need). With none set it runs
`renode --version` and assumes /opt/renode with Mono.

This module answers without importing pyrenode3 (that import starts Renode), so asking is cheap
and `import sim.renode` stays light.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Mapping

RENODE_VERSION = "1.16.1"
LOCATION_VARIABLES = ("PYRENODE_PKG", "PYRENODE_BUILD_DIR", "PYRENODE_BIN")
RUNTIMES = ("mono", "coreclr")

INSTALL_HINT = (
    f"To use the Renode backend: (1) install Renode {RENODE_VERSION}, e.g. the portable dotnet "
    f"package renode-{RENODE_VERSION}.linux-portable-dotnet.tar.gz from Renode's GitHub releases "
    f"(no package registry carries it); (2) pip install pythonnet "
    f"'pyrenode3 @ git+https://github.com/antmicro/pyrenode3.git'; (3) set exactly one of "
    f"PYRENODE_BIN=<the portable renode binary>, PYRENODE_PKG=<renode-*.linux-dotnet.tar.gz> or "
    f"PYRENODE_BUILD_DIR=<a built Renode source tree>, and PYRENODE_RUNTIME=coreclr for the "
    f"dotnet builds (mono only for Mono builds). See the 'Renode backend' section of README.md.")


def _module_present(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def renode_problems(env: Mapping[str, str] | None = None) -> list[str]:
    """Everything that keeps pyrenode3 from loading Renode, as sentences; empty when all is set."""
    env = os.environ if env is None else env
    problems: list[str] = []
    if not _module_present("pyrenode3"):
        problems.append("pyrenode3 is not installed")
    if not _module_present("pythonnet") and not _module_present("clr"):
        problems.append("pythonnet (the .NET bridge pyrenode3 needs) is not installed")
    if env.get("PYRENODE_SKIP_LOAD"):
        problems.append("PYRENODE_SKIP_LOAD is set, so pyrenode3 would not load Renode; unset it")
    runtime = env.get("PYRENODE_RUNTIME", "mono")
    if runtime not in RUNTIMES:
        problems.append(f"PYRENODE_RUNTIME={runtime!r} is not one of {', '.join(RUNTIMES)}")
    chosen = [name for name in LOCATION_VARIABLES if env.get(name)]
    if len(chosen) > 1:
        problems.append(f"{' and '.join(chosen)} are all set; pyrenode3 accepts only one of them")
    elif chosen:
        name = chosen[0]
        path = env[name]
        if not os.path.exists(path):
            problems.append(f"{name}={path} does not exist")
        elif name == "PYRENODE_BIN" and runtime != "coreclr":
            problems.append("PYRENODE_BIN (a portable dotnet binary) needs PYRENODE_RUNTIME=coreclr")
    elif shutil.which("renode", path=env.get("PATH")) is None:
        problems.append("no Renode location: none of " + ", ".join(LOCATION_VARIABLES)
                        + " is set and there is no `renode` on PATH")
    return problems


def renode_status(env: Mapping[str, str] | None = None) -> tuple[bool, str]:
    """(available, reason). The reason says what is missing and how to install it, or where
    Renode will be loaded from."""
    env = os.environ if env is None else env
    problems = renode_problems(env)
    if problems:
        return False, "Renode is not available: " + "; ".join(problems) + ". " + INSTALL_HINT
    chosen = [f"{name}={env[name]}" for name in LOCATION_VARIABLES if env.get(name)]
    where = chosen[0] if chosen else "`renode` on PATH (/opt/renode)"
    return True, f"Renode via pyrenode3 from {where}, runtime {env.get('PYRENODE_RUNTIME', 'mono')}"
