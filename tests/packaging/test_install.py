"""The package installed non-editable (a wheel built from the sources, installed into a throwaway
virtual environment) works from outside the checkout: the platform file and the small-image
sources are package data, nothing is looked up in the checkout.

The throwaway environment sees this interpreter's site-packages through a .pth file (for the
dependencies: unicorn, cryptography, ...), but not the editable install of this checkout: a .pth
line only adds a directory, it does not run the .pth files (editable finders) inside it."""

from __future__ import annotations

import shutil
import site
import subprocess
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXED_ELF = ROOT / "build" / "firmware" / "fixed.elf"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The python of a fresh venv with this project installed from a copy of its sources."""
    base = tmp_path_factory.mktemp("install")
    src = base / "src"                   # a copy: the build writes build/ and *.egg-info next to it
    src.mkdir()
    shutil.copy2(ROOT / "pyproject.toml", src)
    shutil.copytree(ROOT / "sim", src / "sim", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    env_dir = base / "venv"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    outer = site.getsitepackages() + [site.getusersitepackages()]
    (Path(purelib) / "outer-site-packages.pth").write_text("".join(f"{p}\n" for p in outer))
    proc = subprocess.run([python, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
                           "--disable-pip-version-check", "-q", str(src)],
                          cwd=base, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"pip install failed (setuptools and wheel come with the test extra):\n{proc.stderr}"
    return python


def run(python: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_the_installed_package_is_imported_not_the_checkout(installed, tmp_path):
    proc = run(installed, "-c", "import sim, sim.platform; print(sim.__file__); print(sim.platform.DEFAULT_REPL)",
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    env = installed.parent.parent
    module, repl = map(Path, proc.stdout.split())
    assert module.is_relative_to(env) and repl.is_relative_to(env), proc.stdout
    assert repl.read_text() == (ROOT / "sim" / "platform" / "stm32f407.repl").read_text()
    console = run(installed.parent / "tls-fw-sim", "--help", cwd=tmp_path)
    assert console.returncode == 0 and "boot" in console.stdout, console.stderr


def test_boot_from_outside_the_checkout(installed, tmp_path):
    assert FIXED_ELF.is_file(), "build/firmware/fixed.elf is missing: run scripts/setup"
    proc = run(installed, "-m", "sim", "boot", str(FIXED_ELF), "--until", "ready", "--max-virtual", "5",
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ready" in proc.stdout


def test_small_images_build_from_the_installed_package_data(installed, tmp_path):
    code = ("from importlib.resources import as_file, files\n"
            "from sim.baremetal import build_image\n"
            "with as_file(files('sim.bench') / 'firmware') as src:\n"
            "    print(build_image('core_bench', src, 'out', defines={'ITERATIONS': 10}))\n")
    proc = run(installed, "-c", code, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "core_bench.elf").is_file()
    assert "Reset_Handler" in subprocess.run(["arm-none-eabi-nm", str(tmp_path / "out" / "core_bench.elf")],
                                             capture_output=True, text=True, check=True).stdout


def test_robotframework_is_an_extra(installed, tmp_path):
    proc = run(installed, "-c", "import importlib.metadata as m; print('\\n'.join(m.requires('tls-fw-sim')))",
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    robot = [r for r in proc.stdout.splitlines() if r.startswith("robotframework")]
    assert robot and all('extra == "robot"' in r for r in robot), proc.stdout
