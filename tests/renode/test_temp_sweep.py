"""Renode deletes `$TMPDIR/renode-*` directories it takes for other Renode processes' leftovers
when it starts; an output directory named like that would vanish with its log and artifacts. The
prediction is checked against a real Renode (skipped without it), and the command line and the
Robot library refuse such a directory before Renode starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from robot.api import ExecutionResult

from sim.renode import renode_status
from sim.renode.temp_sweep import swept_by_renode

ROOT = Path(__file__).resolve().parents[2]
# names in the temporary directory, from those Renode leaves alone to those it deletes
ENTRIES = ("renode-victim", "renode-123abc", f"renode-{os.getpid()}", "renode-7-crash", "sim-renode-out",
           "renode", "my-renode-run", "renode-2147483646")


def test_which_directories_renode_deletes(tmp_path):
    predicted = {name for name in ENTRIES if swept_by_renode(tmp_path / name, tmp_path)}
    assert predicted == {"renode-victim", "renode-123abc", "renode-2147483646"}
    # a path inside one of them is lost with it; the temporary directory itself is not
    assert swept_by_renode(tmp_path / "renode-victim" / "run" / "out", tmp_path) == tmp_path / "renode-victim"
    assert swept_by_renode(tmp_path, tmp_path) is None
    assert swept_by_renode(ROOT / "renode-out", tmp_path) is None          # not in the temporary directory


def test_run_refuses_an_out_dir_renode_would_delete(tmp_path):
    out = tmp_path / "renode-run"
    proc = subprocess.run([sys.executable, "-m", "sim", "run", "--backend", "renode", "--firmware", "fixed",
                           "--get", "/bytes/10", "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "TMPDIR": str(tmp_path)})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"{tmp_path}/renode-*" in proc.stderr and "choose another name" in proc.stderr, proc.stderr
    assert not out.exists()                                                # nothing was created


def test_the_robot_library_refuses_an_output_dir_renode_would_delete(tmp_path):
    suite = tmp_path / "boot.robot"
    suite.write_text("*** Settings ***\nLibrary    sim.keywords.SimKeywords    backend=renode\n\n"
                     "*** Test Cases ***\nBoot\n    Use Firmware    fixed\n    Start Emulation\n")
    out = tmp_path / "renode-robot"
    proc = subprocess.run([sys.executable, "-m", "robot", "--outputdir", str(out), "--console", "none", str(suite)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TMPDIR": str(tmp_path)})
    assert proc.returncode == 1, proc.stdout + proc.stderr            # the one test failed, with a message
    result = ExecutionResult(str(out / "output.xml"))
    (test,) = result.suite.all_tests
    assert "Renode deletes every directory" in test.message and "choose another name" in test.message, test.message


AVAILABLE, REASON = renode_status()


@pytest.mark.renode
@pytest.mark.skipif(not AVAILABLE and not os.environ.get("SIM_REQUIRE_RENODE"),
                    reason=f"needs Renode 1.16.1 with pyrenode3 - {REASON}")
def test_a_real_renode_deletes_what_the_prediction_says(tmp_path):
    if not AVAILABLE:
        pytest.fail(f"SIM_REQUIRE_RENODE is set but {REASON}")
    temp = tmp_path / "tmp"
    for name in ENTRIES:
        (temp / name).mkdir(parents=True)
        (temp / name / "output.xml").write_text(name)
    predicted = {name for name in ENTRIES if swept_by_renode(temp / name, temp)}
    # a Renode in its own process, whose temporary directory is `temp`; this process stays alive,
    # so its pid's directory is spared as Renode spares those of live processes
    script = ("from sim.renode import RenodeMachine\nfrom sim.platform import DEFAULT_REPL\n"
              "m = RenodeMachine(DEFAULT_REPL, seed=1)\nm.reset()\nm.close()\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "TMPDIR": str(temp)})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    deleted = {name for name in ENTRIES if not (temp / name).exists()}
    assert deleted == predicted and predicted
