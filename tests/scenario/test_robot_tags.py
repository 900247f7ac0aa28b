"""Every Robot test carries tags for what it runs (image, TLS version, key exchange, cipher,
method, body size, expected outcome), so a user selects and shards with `--include`. The oracle
is each test's own template arguments: a tag that disagrees with them would select the wrong tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from robot.api import ExecutionResult
from robot.api import TestSuite as RobotSuite

ROOT = Path(__file__).resolve().parents[2]
IMAGES = {"${FIXED}": "fixed", "${SEEDBUG}": "seedbug"}


def _expected_tags(method: str, args: tuple[str, ...]) -> set[str]:
    """Tags from a test's template arguments: GET (firmware, version, suite, path), POST
    (firmware, version, suite, size, expect)."""
    firmware, version, suite = args[:3]
    if method == "get":
        size, expect = args[3].rsplit("/", 1)[1], "ok"          # GET /bytes/N serves N bytes
    else:
        size, expect = args[3], args[4]
    parts = suite.split("-")                                    # TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256
    kx = "ecdhe" if parts[1] == "ECDHE" else "rsa"
    cipher = {"GCM": "gcm", "CBC": "cbc"}[parts[parts.index("WITH") + 3]]
    return {IMAGES[firmware], f"tls{version}", kx, cipher, method, f"size-{size}", f"expect-{expect}"}


@pytest.mark.parametrize("name, method, count", [("get", "get", 12), ("post_large", "post", 84)])
def test_every_test_is_tagged_with_what_it_runs(name, method, count):
    suite = RobotSuite.from_file_system(str(ROOT / "robot" / f"{name}.robot"))
    assert len(suite.tests) == count
    for test in suite.tests:
        (call,) = test.body                                      # one template call per test
        assert set(test.tags) == _expected_tags(method, tuple(call.args)), test.name


def _selected(tmp_path: Path, *args: str) -> list[str]:
    """The tests `robot --dryrun` selects (nothing runs: the keywords are only resolved)."""
    out = tmp_path / f"dryrun-{len(list(tmp_path.iterdir()))}.xml"
    proc = subprocess.run([sys.executable, "-m", "robot", "--dryrun", "--output", str(out), "--report", "NONE",
                           "--log", "NONE", "--console", "none", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return [test.name for test in ExecutionResult(str(out)).suite.all_tests]


def test_tags_select_and_shard_as_the_readme_shows(tmp_path):
    post = str(ROOT / "robot" / "post_large.robot")
    chosen = _selected(tmp_path, "--include", "tls1.2ANDseedbug", post)
    assert len(chosen) == 14 and all(t.startswith("seedbug TLS 1.2 ") for t in chosen), chosen
    assert _selected(tmp_path, "--include", "size-903ANDexpect-bad_record_mac", post) == \
        [f"seedbug TLS {v} {s} POST 903" for v in ("1.0", "1.1") for s in ("ECDHE-CBC", "RSA-CBC")] + \
        [f"seedbug TLS 1.2 {s} POST 903" for s in ("ECDHE-GCM", "RSA-GCM")]
    # shards by image cover the suite exactly once
    fixed, seedbug = _selected(tmp_path, "--include", "fixed", post), _selected(tmp_path, "--include", "seedbug", post)
    assert len(fixed) == len(seedbug) == 42 and not set(fixed) & set(seedbug)


def test_every_test_of_every_suite_names_its_image(tmp_path):
    """Selecting by image (`--include autopost-fixed`) reaches every suite: each test carries the
    tag of an image scripts/build-firmware makes (the Makefile's variants are the oracle)."""
    variants = subprocess.run(["make", "-s", "-C", str(ROOT / "firmware"), "variants"], capture_output=True,
                              text=True, timeout=60)
    assert variants.returncode == 0, variants.stderr
    images = set(variants.stdout.split())
    assert {"fixed", "seedbug", "autopost-fixed"} <= images
    for path in sorted((ROOT / "robot").glob("*.robot")):
        for test in RobotSuite.from_file_system(str(path)).tests:
            assert set(test.tags) & images, f"{path.name}: {test.name} has no image tag ({list(test.tags)})"
