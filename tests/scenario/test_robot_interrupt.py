"""A Robot test stopped with Ctrl-C leaves artifacts whose result.json says `interrupted`, never
`pass`; a test that failed says `fail`.

Robot stops a test on the first Ctrl-C by raising "Execution terminated by signal" in the running
keyword (or before the next one), then runs the teardown, which saves the artifacts. The test
below is inside a 1 MiB POST (seconds of work) when the signal comes; wherever in it the signal
lands, the test cannot have passed.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from robot.api import ExecutionResult

ROOT = Path(__file__).resolve().parents[2]

SUITE = """\
*** Settings ***
Library           sim.keywords.SimKeywords
Test Setup        Reset Emulation
Test Teardown     Save Scenario Artifacts

*** Test Cases ***
Stopped POST
    Start Emulation
    Log To Console    POSTING NOW
    ${result}=    HTTPS POST    /upload    1048576
    Response Should Be OK    ${result}

Failed GET
    Start Emulation
    ${result}=    HTTPS GET    /hello
    Should Be Equal    ${result.status}    ${404}
"""


def _robot(tmp_path: Path, test: str) -> subprocess.Popen:
    suite = tmp_path / "interrupt.robot"
    suite.write_text(SUITE)
    return subprocess.Popen([sys.executable, "-m", "robot", "--outputdir", str(tmp_path / "out"), "--test", test,
                             "--console", "verbose", str(suite)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _result_json(tmp_path: Path, test: str) -> dict:
    [path] = (tmp_path / "out" / "artifacts").glob(f"*/{test.replace(' ', '_')}/result.json")
    return json.loads(path.read_text())


def test_a_robot_test_stopped_by_ctrl_c_is_not_a_pass(tmp_path):
    proc = _robot(tmp_path, "Stopped POST")
    seen = []
    deadline = time.monotonic() + 300
    for line in proc.stdout:                         # until the test reaches its POST
        seen.append(line)
        if "POSTING NOW" in line:
            break
        assert time.monotonic() < deadline, "".join(seen)
    else:
        raise AssertionError("robot ended before the POST:\n" + "".join(seen))
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=300)
    output = "".join(seen) + rest
    assert "Exception ignored" not in output, output

    [test] = ExecutionResult(str(tmp_path / "out" / "output.xml")).suite.tests
    assert test.status == "FAIL" and "Execution terminated by signal" in test.message, output
    result = _result_json(tmp_path, "Stopped POST")
    assert result["verdict"] == "interrupted" and result["passed"] is False, result


def test_a_failed_robot_test_is_a_fail(tmp_path):
    proc = _robot(tmp_path, "Failed GET")
    output, _ = proc.communicate(timeout=300)
    [test] = ExecutionResult(str(tmp_path / "out" / "output.xml")).suite.tests
    assert test.status == "FAIL", output
    result = _result_json(tmp_path, "Failed GET")
    assert result["verdict"] == "fail" and "404" in result["failure"], result
    assert result["steps"][0]["outcome"] == "ok"      # the GET itself worked; the test's check did not
