"""`python -m sim gallery` and `python -m sim sweep`: the confusion table a user reads, and every bad
input refused the way the other commands refuse it (exit status 2, one line `error: ...` naming
the thing and the fix, no traceback, nothing run)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import clikit
import pytest

ROOT = Path(__file__).resolve().parents[2]
GCM = "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256"
# firmware/README.md, "What a diagnosis can tell them apart by"
DOCUMENTED = {"seedbug": "transport_corruption", "bug-tcp-nocopy": "retransmission_mismatch",
              "bug-partial-send": "missing_stream_bytes", "bug-want-write-args": "missing_stream_bytes",
              "bug-two-writers": "concurrent_writers", "bug-stack-overflow": "memory_corruption",
              "bug-trunc-hmac": "truncated_hmac"}


def sim(*args, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim", *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def test_gallery_table_is_diagonal():
    p = sim("gallery", "--table")
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    columns = lines[0].split()[2:]                         # variant, expected, then the classes
    rows = {line.split()[0]: dict(zip(columns, line.split()[2:])) for line in lines[2:] if line.strip()
            and not line.startswith("diagonal")}
    for name, cls in DOCUMENTED.items():
        assert rows[name][cls] == "1", (name, rows[name])
        assert all(cell == "." for column, cell in rows[name].items() if column != cls), (name, rows[name])
    assert rows["fixed"]["none"] == str(len(DOCUMENTED))
    assert all(cell == "." for column, cell in rows["fixed"].items() if column != "none")
    assert lines[-1] == "diagonal: every run diagnosed as its variant's class"


def assert_refused(p: subprocess.CompletedProcess, *names: str) -> str:
    return clikit.assert_refused(p, *names, ran=("gallery: [", "sweep: run"))          # nothing ran


SWEEP = ("sweep", "--firmware", "seedbug", "--tls", "1.2", "--suite", GCM, "--post", "/upload")


@pytest.mark.parametrize("args, names", [
    (("--from", "100", "--to", "100"), ("--from", "--to", "100")),
    (("--from", "200", "--to", "100"), ("--from", "--to")),
    (("--to", "lots"), ("--to", "'lots'")),
    (("--from", "-3"), ("--from", "'-3'")),
    (("--to", "4294967296"), ("--to", "4294967295")),
    (("--host-window", "0"), ("--host-window", "65535")),
    (("--checks", "-1"), ("check runs", "-1")),
    (("--seed", "x"), ("--seed",)),
])
def test_sweep_refuses_bad_numbers(args, names):
    assert_refused(sim(*SWEEP, *args), *names)


def test_sweep_refuses_a_missing_image_and_a_bad_path(tmp_path):
    line = assert_refused(sim("sweep", "--firmware", tmp_path / "nope.elf", "--post", "/upload"), "nope.elf")
    assert "neither a variant" in line
    assert_refused(sim(*SWEEP[:-1], "upload"), "'upload'", "starts with '/'")
    assert_refused(sim("sweep", "--firmware", "seedbug"), "--post")


def test_gallery_refuses_an_unknown_variant_and_an_unusable_out(tmp_path):
    line = assert_refused(sim("gallery", "--variant", "bug-typo"), "bug-typo")
    assert "bug-tcp-nocopy" in line                        # says which variants there are
    file = tmp_path / "a-file"
    file.write_text("x\n")
    assert_refused(sim("gallery", "--variant", "seedbug", "--out", file), "a-file", "existing file")
    assert_refused(sim("gallery", "--provenance", "always"), "--provenance", "'always'")
