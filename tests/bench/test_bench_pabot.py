"""scripts/bench's pabot runs (sim/bench/parallel.py), on a stand-in suite so no firmware runs:
the verdicts are read from pabot's merged output, and a suite pabot cannot run is an error
that shows pabot's own message, not a time."""

from __future__ import annotations

import pytest

from sim.bench import BenchError
from sim.bench.parallel import SUITE, pabot_run

STAND_IN = """*** Test Cases ***
One
    Log    1
Two
    Log    2
Three
    Should Be Equal    ${3}    ${4}
Four
    Log    4
"""


@pytest.fixture()
def project(tmp_path):
    (tmp_path / SUITE).parent.mkdir(parents=True)
    (tmp_path / SUITE).write_text(STAND_IN)
    return tmp_path


@pytest.mark.parametrize("processes", [1, 2])
def test_pabot_run_counts_the_merged_verdicts(project, processes):
    run = pabot_run(project, processes)
    assert (run["tests"], run["failed"]) == (4, 1)
    assert run["wall_s"] > 0 and run["cpu_s"] > 0          # pabot and its robot processes used CPU


def test_a_suite_pabot_cannot_run_is_an_error_with_pabots_message(project):
    (project / SUITE).write_text("*** Test Cases ***\n")        # no tests
    with pytest.raises(BenchError, match="pabot --processes 2 wrote no output.xml(.|\n)*contains no tests"):
        pabot_run(project, 2)
