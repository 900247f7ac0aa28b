"""pabot runs a Robot suite in parallel processes (README: `pabot --processes 2 --testlevelsplit
--chunk robot/post_large.robot`). A serial `robot` run of the same tests is the oracle: pabot
must give the same verdicts and byte-identical deterministic artifacts, in the same places, with
the merged log linking them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from robot.api import ExecutionResult, ResultVisitor

from sim.keywords import _report_dir

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "robot" / "post_large.robot"
# 8 tests, passing and failing POSTs on both images: fixed and seedbug x ECDHE and RSA at 903
# bytes on TLS 1.2 (seedbug: bad_record_mac) and at 1 byte on TLS 1.0 (both images pass)
SUBSET = ("--include", "tls1.2ANDsize-903", "--include", "tls1.0ANDsize-1")
DETERMINISTIC = ("uart.log", "capture.pcapng", "journal.json")


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _verdicts(output_xml: Path) -> dict[str, str]:
    result = ExecutionResult(str(output_xml))
    tests = {}

    def visit(suite):
        for test in suite.tests:
            tests[test.name] = test.status
        for child in suite.suites:
            visit(child)

    visit(result.suite)
    return tests


class _Links(ResultVisitor):
    def __init__(self) -> None:
        self.hrefs: list[str] = []

    def visit_message(self, msg) -> None:
        if msg.html:
            self.hrefs += [part.split('"', 1)[0] for part in msg.message.split('href="')[1:]]


@pytest.mark.slow
def test_pabot_gives_the_verdicts_and_artifacts_of_a_serial_run(tmp_path):
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    # cwd: pabot keeps its .pabotsuitenames in the working directory
    _run([sys.executable, "-m", "robot", "--outputdir", str(serial), "--console", "none", *SUBSET, str(SUITE)],
         cwd=tmp_path)
    _run([sys.executable, "-m", "pabot.pabot", "--processes", "2", "--testlevelsplit", "--chunk", "--no-pabotlib",
          "--pabotconsole", "quiet", "--outputdir", str(parallel), *SUBSET, str(SUITE)], cwd=tmp_path)

    expected = _verdicts(serial / "output.xml")
    assert len(expected) == 8 and set(expected.values()) == {"PASS"}, expected
    assert _verdicts(parallel / "output.xml") == expected

    # two processes ran, each a share of the tests
    shares = [_verdicts(p) for p in sorted((parallel / "pabot_results").glob("*/output.xml"))]
    assert len(shares) == 2 and all(shares), shares
    assert sorted(name for share in shares for name in share) == sorted(expected)

    # artifacts where a serial run puts them, none left in pabot's per-process folders
    assert not list((parallel / "pabot_results").glob("**/uart.log"))
    folders = sorted(p.name for p in (serial / "artifacts" / "Post_Large").iterdir())
    assert len(folders) == 8
    assert sorted(p.name for p in (parallel / "artifacts" / "Post_Large").iterdir()) == folders
    for folder in folders:
        here, there = serial / "artifacts" / "Post_Large" / folder, parallel / "artifacts" / "Post_Large" / folder
        for name in DETERMINISTIC:
            assert (there / name).read_bytes() == (here / name).read_bytes(), f"{folder}/{name}"
        assert json.loads((there / "result.json").read_text())["verdict"] == \
            json.loads((here / "result.json").read_text())["verdict"]

    # the merged log links each test's artifacts, relative to the log's own directory
    links = _Links()
    ExecutionResult(str(parallel / "output.xml")).visit(links)
    captures = [h for h in links.hrefs if h.endswith("capture.pcapng")]
    assert len(captures) == 8
    missing = [h for h in links.hrefs if not (parallel / h).is_file()]
    assert not missing, missing


def test_artifacts_go_to_pabots_output_directory(tmp_path):
    out = tmp_path / "out"
    assert _report_dir(out / "pabot_results" / "1", under_pabot=True) == out.resolve()
    assert _report_dir(out / "pabot_results" / "2" / "0", under_pabot=True) == out.resolve()   # --argumentfileN
    assert _report_dir(out, under_pabot=False) == out
    # a plain robot run whose output directory happens to be called pabot_results/N keeps it
    assert _report_dir(out / "pabot_results" / "1", under_pabot=False) == out / "pabot_results" / "1"
