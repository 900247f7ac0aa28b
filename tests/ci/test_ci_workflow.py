""".github/workflows/ci.yml: parsed and checked for the structure GitHub Actions needs, and its
shell steps run here as far as they can without a runner - the Robot shards' own command lines
(as --dryrun) must together select every Robot test exactly once, and the report job's merge
must turn the shards' outputs into one suite tree with JUnit XML. actionlint is not used: it is
not available offline."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from robot.api import ExecutionResult

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
ACTIONS = {"actions/checkout", "actions/cache", "actions/upload-artifact", "actions/download-artifact"}


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def _steps(job: dict) -> list[dict]:
    return job["steps"]


def _step(job: dict, name_part: str) -> dict:
    (step,) = [s for s in _steps(job) if name_part in s.get("name", "")]
    return step


def _expand(text: str, **matrix: str) -> str:
    """A step's text with the matrix values put in; any other expression is an error here."""
    def value(m: re.Match) -> str:
        key = m.group(1).strip()
        assert key.startswith("matrix."), f"unexpected expression {m.group(0)}"
        return matrix[key.removeprefix("matrix.")]
    return re.sub(r"\$\{\{(.*?)\}\}", value, text)


def test_triggers_jobs_and_steps_are_well_formed(workflow):
    assert {"push", "pull_request"} <= set(workflow[True])          # YAML 1.1 reads the key `on` as true
    assert workflow["permissions"] == {"contents": "read"}
    jobs = workflow["jobs"]
    assert set(jobs) == {"pytest", "robot", "report"}
    for name, job in jobs.items():
        assert job["runs-on"] == "ubuntu-latest" and 0 < job["timeout-minutes"] <= 45, name
        assert job["container"]["image"] == "debian:12", name      # the supported machine
        for step in _steps(job):
            assert ("uses" in step) != ("run" in step), (name, step)
            if "uses" in step:
                action, _, version = step["uses"].partition("@")
                assert action in ACTIONS and re.fullmatch(r"v\d+", version), step["uses"]
    assert jobs["report"]["needs"] == "robot" and jobs["report"]["if"] == "always()"


def test_the_readme_commands_run_after_setup_and_publish_junit(workflow):
    jobs = workflow["jobs"]
    for name, command in (("pytest", "pytest"), ("robot", "robot")):
        runs = [s.get("run", "") for s in _steps(jobs[name])]
        checkout = [s.get("uses", "").split("@")[0] for s in _steps(jobs[name])].index("actions/checkout")
        setup = runs.index("scripts/setup")
        (test,) = [i for i, r in enumerate(runs) if r.split()[:1] == [command]]
        assert checkout < setup < test, name

    pytest_args = shlex.split(_step(jobs["pytest"], "pytest")["run"])
    junit = next(a.split("=", 1)[1] for a in pytest_args if a.startswith("--junitxml="))
    basetemp = next(a.split("=", 1)[1] for a in pytest_args if a.startswith("--basetemp="))
    assert "tmp_path_retention_policy=failed" in pytest_args
    assert _step(jobs["pytest"], "JUnit")["with"]["path"] == junit
    assert _step(jobs["pytest"], "JUnit")["if"] == "always()"
    failed = _step(jobs["pytest"], "failed tests")
    assert failed["if"] == "failure()" and failed["with"]["path"] == basetemp
    # the TAP test needs a network namespace and /dev/net/tun in the container
    assert "--privileged" in jobs["pytest"]["container"]["options"]

    robot_args = shlex.split(_step(jobs["robot"], "robot")["run"])
    assert robot_args[robot_args.index("--xunit") + 1] == "xunit.xml"
    out = robot_args[robot_args.index("--outputdir") + 1]
    collect = shlex.split(_step(jobs["robot"], "collect")["run"])
    assert collect[:2] == ["scripts/collect-failed-artifacts", out]
    upload = _step(jobs["robot"], "publish")
    assert upload["if"] == "always()"
    assert set(upload["with"]["path"].split()) == {f"{out}/output.xml", f"{out}/xunit.xml", f"{collect[2]}/"}


def test_no_step_fetches_or_builds_renode(workflow):
    for name, job in workflow["jobs"].items():
        for step in _steps(job):
            text = json.dumps(step).lower()
            assert "renode" not in text, (name, step)
        assert "SIM_REQUIRE_RENODE" not in json.dumps(job)


def _run_step(script: str, cwd: Path) -> subprocess.CompletedProcess:
    """A `run:` block as GitHub runs it with `shell: bash`."""
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=cwd,
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"})


@pytest.mark.slow
def test_shards_cover_every_robot_test_once_and_the_report_merges_them(workflow, tmp_path):
    jobs = workflow["jobs"]
    assert workflow["defaults"]["run"]["shell"] == "bash"
    shards = jobs["robot"]["strategy"]["matrix"]["include"]
    upload = _step(jobs["robot"], "publish")["with"]["path"].split()
    checkout = tmp_path / "checkout"
    (checkout / "results").mkdir(parents=True)
    (checkout / "robot").symlink_to(ROOT / "robot")
    selected: list[str] = []
    for entry in shards:
        shard = entry["shard"]
        # the shard's own command line, as a dry run (the keywords resolve, nothing boots)
        args = shlex.split(_expand(_step(jobs["robot"], "robot")["run"], **entry))
        proc = _run_step(shlex.join([args[0], "--dryrun", *args[1:]]), checkout)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        out = checkout / args[args.index("--outputdir") + 1]
        assert (out / "xunit.xml").is_file()
        selected += [t.longname for t in ExecutionResult(str(out / "output.xml")).suite.all_tests]
        # a test that did not pass leaves its folder for the collect step (here: made up)
        collect = shlex.split(_step(jobs["robot"], "collect")["run"])
        failed = checkout / collect[2] / "artifacts" / "Post_Large" / f"{shard}_test"
        failed.mkdir(parents=True)
        (failed / "uart.log").write_text(shard)
        # what upload-artifact stores (paths relative to the paths' common parent) and
        # download-artifact puts into shards/<artifact name>/
        files = [checkout / p.rstrip("/") for p in upload]
        common = Path(os.path.commonpath(files))
        dest = tmp_path / "runner" / "shards" / _expand(_step(jobs["robot"], "publish")["with"]["name"], **entry)
        for f in files:
            if f.is_file():
                (dest / f.relative_to(common)).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(f, dest / f.relative_to(common))
            else:
                shutil.copytree(f, dest / f.relative_to(common))
        shutil.rmtree(checkout / "results")
        (checkout / "results").mkdir()
    everything = subprocess.run([sys.executable, "-m", "robot", "--dryrun", "--output", str(tmp_path / "all.xml"),
                                 "--log", "NONE", "--report", "NONE", "--console", "none",
                                 "robot/"], cwd=ROOT, capture_output=True)
    assert everything.returncode == 0
    all_tests = [t.longname for t in ExecutionResult(str(tmp_path / "all.xml")).suite.all_tests]
    suites = sorted(p.stem for p in (ROOT / "robot").glob("*.robot"))
    assert {t.split(".")[1].lower().replace(" ", "_") for t in all_tests} == set(suites)   # every suite file
    assert sorted(selected) == sorted(all_tests)                 # every test, none twice

    assert _step(jobs["report"], "download")["uses"].startswith("actions/download-artifact@")
    download = _step(jobs["report"], "download")["with"]
    assert download["path"] == "shards" and re.fullmatch(download["pattern"].replace("*", ".*"),
                                                          f"robot-{shards[0]['shard']}")
    proc = _run_step(_step(jobs["report"], "rebot --merge")["run"], tmp_path / "runner")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    merged = ExecutionResult(str(tmp_path / "runner" / "report" / "output.xml"))
    assert sorted(t.longname for t in merged.suite.all_tests) == sorted(all_tests)
    assert merged.suite.name == "Robot"                                         # one tree, as one run
    assert sorted(s.name.lower().replace(" ", "_") for s in merged.suite.suites) == suites
    assert (tmp_path / "runner" / "report" / "xunit.xml").is_file()
    # the failed tests' artifacts sit beside the merged log, where its links point
    for shard in (entry["shard"] for entry in shards):
        assert (tmp_path / "runner" / "report" / "artifacts" / "Post_Large" / f"{shard}_test" / "uart.log").read_text() \
            == shard
    assert _step(jobs["report"], "publish")["with"]["path"] == "report/"


def _fake_test(out: Path, name: str, verdict: str | None) -> None:
    folder = out / "artifacts" / "Post_Large" / name
    folder.mkdir(parents=True)
    (folder / "uart.log").write_text(f"{name}\n")
    if verdict is not None:
        (folder / "result.json").write_text(json.dumps({"verdict": verdict}))


def test_collect_failed_artifacts_copies_the_tests_that_did_not_pass(tmp_path):
    out, dest = tmp_path / "out", tmp_path / "dest"
    _fake_test(out, "passed", "pass")
    _fake_test(out, "failed", "fail")
    _fake_test(out, "error", "error")
    _fake_test(out, "died", None)                 # no result.json: the run ended before writing it
    script = ROOT / "scripts" / "collect-failed-artifacts"
    proc = subprocess.run([sys.executable, str(script), str(out), str(dest)], capture_output=True, text=True)
    assert proc.returncode == 0 and "3 test(s) did not pass" in proc.stdout, proc.stdout + proc.stderr
    copied = sorted(p.name for p in (dest / "artifacts" / "Post_Large").iterdir())
    assert copied == ["died", "error", "failed"]
    assert (dest / "artifacts" / "Post_Large" / "failed" / "uart.log").read_text() == "failed\n"

    missing = subprocess.run([sys.executable, str(script), str(tmp_path / "nowhere"), str(dest)],
                             capture_output=True, text=True)
    assert missing.returncode == 2 and "is not a directory" in missing.stderr
