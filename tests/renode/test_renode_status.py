"""Lazy import, and the clear error when Renode is absent."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sim.errors import BackendError
from sim.platform import DEFAULT_REPL
from sim.renode import INSTALL_HINT, RenodeMachine, renode_status
from sim.renode.locate import renode_problems

ROOT = Path(__file__).resolve().parents[2]
REPL = Path(__file__).resolve().parent / "data" / "documented.repl"

# Pretends pyrenode3 and pythonnet are installed and records every module of theirs that is
# actually imported (executed); looking them up (importlib.util.find_spec) does not count.
IMPORT_SPY = """
import sys, importlib.machinery
attempts = []
class Spy:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('pyrenode3', 'clr', 'pythonnet', 'System', 'Antmicro'):
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None
    def create_module(self, spec):
        return None
    def exec_module(self, module):
        attempts.append(module.__name__)
        raise ImportError('spy: ' + module.__name__ + ' is not really here')
sys.meta_path.insert(0, Spy())
"""


def _run(code: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    import os
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYRENODE_")}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-c", IMPORT_SPY + code], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_importing_the_backend_and_its_tools_does_not_import_pyrenode3():
    result = _run(
        "import sim.renode, sim.renode.machine, sim.renode.commands, sim.renode.repl_check\n"
        "import sim.renode.__main__\n"
        "sim.renode.renode_status()\n"
        "print('attempts', attempts)\n"
        "try:\n    import pyrenode3\nexcept ImportError:\n    pass\n"
        "print('control', attempts)")
    assert result.returncode == 0, result.stderr
    assert "attempts []" in result.stdout
    assert "control ['pyrenode3']" in result.stdout     # the spy does see a real import


def test_without_renode_the_constructor_fails_at_once_naming_what_to_install():
    result = _run(
        "from sim.renode import RenodeMachine\n"
        "from sim.errors import BackendError\n"
        f"try:\n    RenodeMachine({str(REPL)!r}, seed=1)\n"
        "except BackendError as exc:\n    print('ERROR', exc)\n"
        "print('attempts', attempts)")
    assert result.returncode == 0, result.stderr
    message = result.stdout
    assert "ERROR Renode is not available" in message
    for needed in ("pip install pythonnet", "git+https://github.com/antmicro/pyrenode3",
                   "Renode 1.16.1", "PYRENODE_BIN", "PYRENODE_PKG", "PYRENODE_BUILD_DIR",
                   "PYRENODE_RUNTIME=coreclr"):
        assert needed in message, needed
    # the constructor gave up (no Renode location) before trying to import pyrenode3
    assert "no Renode location" in message
    assert "attempts []" in message


def test_status_names_each_misconfiguration(tmp_path, monkeypatch):
    real = tmp_path / "renode"
    real.write_text("")
    base = {"PATH": ""}
    monkeypatch.setattr("sim.renode.locate._module_present", lambda name: False)
    absent = renode_problems(base)
    assert "pyrenode3 is not installed" in absent
    assert any(p.startswith("pythonnet") for p in absent)
    monkeypatch.setattr("sim.renode.locate._module_present", lambda name: True)
    assert any("no Renode location" in p for p in renode_problems(base))
    both = renode_problems({**base, "PYRENODE_PKG": str(real), "PYRENODE_BIN": str(real)})
    assert any("PYRENODE_PKG and PYRENODE_BIN" in p for p in both)
    missing = renode_problems({**base, "PYRENODE_BUILD_DIR": str(tmp_path / "nowhere")})
    assert any("does not exist" in p for p in missing)
    mono_bin = renode_problems({**base, "PYRENODE_BIN": str(real)})
    assert any("PYRENODE_RUNTIME=coreclr" in p for p in mono_bin)
    bad_runtime = renode_problems({**base, "PYRENODE_RUNTIME": "jvm", "PYRENODE_BIN": str(real)})
    assert any("'jvm'" in p for p in bad_runtime)
    skipped = renode_problems({**base, "PYRENODE_SKIP_LOAD": "1"})
    assert any("PYRENODE_SKIP_LOAD" in p for p in skipped)


def test_status_is_available_when_pyrenode3_and_a_location_are_there(fake_renode, renode_env):
    available, reason = renode_status()
    assert available, reason
    assert f"PYRENODE_BIN={renode_env}" in reason and "coreclr" in reason


def test_a_pyrenode3_that_cannot_load_renode_gives_the_install_hint(monkeypatch, renode_env):
    import importlib.machinery
    import types
    broken = types.ModuleType("pyrenode3")
    broken.__spec__ = importlib.machinery.ModuleSpec("pyrenode3", None)
    monkeypatch.setitem(sys.modules, "pyrenode3", broken)
    monkeypatch.setitem(sys.modules, "pythonnet", broken)
    monkeypatch.setitem(sys.modules, "pyrenode3.wrappers", None)   # import of it raises ImportError
    with pytest.raises(BackendError) as info:
        RenodeMachine(REPL, seed=1)
    assert "pyrenode3 could not load Renode" in str(info.value)
    assert INSTALL_HINT in str(info.value)


def test_the_status_command_exits_non_zero_with_the_reason():
    import os
    # no location variable and no `renode` on PATH: unavailable whatever is installed
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYRENODE_")}
    env["PATH"] = ""
    result = subprocess.run([sys.executable, "-m", "sim.renode", "status"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "Renode is not available" in result.stdout


def test_selecting_renode_by_name_takes_the_same_path(fake_renode, monkeypatch):
    # what `--backend renode` and `--variable BACKEND:renode` go through (sim.backend.create_backend)
    from sim.backends import create_backend
    machine = create_backend("renode", DEFAULT_REPL, seed=9)
    assert isinstance(machine, RenodeMachine)
    machine.reset()
    assert fake_renode.seed == 9
    monkeypatch.delenv("PYRENODE_BIN")
    monkeypatch.setenv("PATH", "")
    with pytest.raises(BackendError, match="Renode is not available.*PYRENODE_RUNTIME=coreclr"):
        create_backend("renode", DEFAULT_REPL, seed=9)
