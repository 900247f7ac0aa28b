"""scripts/check-install, the test scripts/setup uses to decide whether to (re)install the package:
it must pass only when the interpreter imports `sim` from this very checkout - not from another
checkout installed in the same environment, and not merely because the checkout is the current
directory. Fake checkouts stand in for the other cases; nothing is installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "check-install"


def fake_checkout(path: Path) -> Path:
    """A directory shaped like a checkout: scripts/check-install and a `sim` package."""
    (path / "scripts").mkdir(parents=True)
    shutil.copy2(SCRIPT, path / "scripts" / "check-install")
    (path / "sim").mkdir()
    (path / "sim" / "__init__.py").write_text("")
    return path


def check(checkout: Path, *, pythonpath: list[Path] = (), cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the checkout's check-install; with `pythonpath`, empty stand-ins for unicorn and robot
    follow it (the real ones take most of a second to import)."""
    env = dict(os.environ, PYTHON=sys.executable)
    env.pop("PYTHONPATH", None)
    if pythonpath:
        stubs = checkout.parent / "stubs"
        for name in ("unicorn", "robot"):
            (stubs / name).mkdir(parents=True, exist_ok=True)
            (stubs / name / "__init__.py").touch()
        env["PYTHONPATH"] = os.pathsep.join(map(str, [*pythonpath, stubs]))
    return subprocess.run([str(checkout / "scripts" / "check-install")], env=env, cwd=cwd or checkout.parent,
                          capture_output=True, text=True, timeout=60)


def test_this_checkout_as_installed_for_the_tests_passes():
    proc = check(ROOT)
    assert proc.returncode == 0, proc.stderr


def test_the_checkout_that_is_imported_passes(tmp_path):
    mine = fake_checkout(tmp_path / "mine")
    proc = check(mine, pythonpath=[mine])
    assert proc.returncode == 0, proc.stderr


def test_another_checkout_is_refused_and_named(tmp_path):
    mine, other = fake_checkout(tmp_path / "mine"), fake_checkout(tmp_path / "other")
    proc = check(mine, pythonpath=[other])
    assert proc.returncode == 1
    assert f"imports sim from {other / 'sim'}, not from this checkout ({mine})" in proc.stderr


def test_the_current_directory_does_not_count_as_installed(tmp_path):
    # run from inside a checkout that is not installed: python would import its sim from the
    # current directory, but the interpreter's installed sim is another one
    mine = fake_checkout(tmp_path / "mine")
    proc = check(mine, cwd=mine)
    assert proc.returncode == 1
    assert f"not from this checkout ({mine})" in proc.stderr


@pytest.mark.parametrize("through", ["script", "pythonpath"])
def test_a_symlinked_path_to_the_same_checkout_passes(tmp_path, through):
    mine = fake_checkout(tmp_path / "mine")
    link = tmp_path / "link"
    link.symlink_to(mine, target_is_directory=True)
    proc = check(link, pythonpath=[mine]) if through == "script" else check(mine, pythonpath=[link])
    assert proc.returncode == 0, proc.stderr


def test_a_missing_dependency_is_refused(tmp_path):
    mine = fake_checkout(tmp_path / "mine")
    broken = tmp_path / "broken"
    (broken / "robot").mkdir(parents=True)
    (broken / "robot" / "__init__.py").write_text("raise ImportError('robotframework is broken', name='robot')\n")
    proc = check(mine, pythonpath=[mine, broken])
    assert proc.returncode == 1 and "cannot import robot" in proc.stderr
