"""Robot Framework keywords of the defect gallery (robot/gallery.robot): which cause, and from which
body size. `sim.keywords.SimKeywords` includes them, so a suite imports one library:

    ${diagnosed}=    Diagnose HTTPS POST    /upload    65536    tls=1.2    suite=...    condition=window-2048
    Cause Should Be                 ${diagnosed}    missing_stream_bytes
    Key Evidence Should Contain     ${diagnosed}    never reached the server
    Smallest Failing Size Should Be    812    tls=1.2    suite=TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256

with `Save Diagnosis Verdict` as the test teardown (the run's result.json gets the test's verdict).

The image, seed, platform, backend, peer policy and link faults are the library's (`Use Firmware`,
`Set Peer Policy`, `Inject Link Fault`); the cause classes are `sim.diagnosis.CLASSES`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from robot.api import logger
from robot.api.deco import keyword
from robot.libraries.BuiltIn import RobotNotRunningError

from sim.errors import SimError


class GalleryKeywords:
    """Mixed into SimKeywords: uses its firmware, seed, repl, backend, policy_args, faults,
    on_unmapped and runner."""

    @keyword("Diagnose HTTPS POST")
    def diagnose_https_post(self, path: str, size: int | str, tls: str = "any", suite: str = "any",
                            condition: str = "clean", host_window: int | str | None = None):
        """POST `size` bytes to `path` on the image of `Use Firmware` and name the cause of a failure
        (sim.diagnosis): the run is made with probes on the firmware's calls, and a failing run is
        replayed with the write trace (provenance). `condition` is a field condition of the gallery
        (sim/gallery.py: `clean`, `lost-tail`, `window-2048`, `rfc6066-server`), added to what `Set
        Peer Policy` and `Inject Link Fault` set up; `host_window` overrides the receive window the
        server's TCP advertises. Writes the run's artifacts (diagnosis.txt ends with the cause) and
        returns the diagnosis for `Cause Should Be` and `Key Evidence Should Contain`."""
        from sim.diagnosis import run_case
        from sim.gallery import post_case
        from sim.tls.policy import ServerPolicy

        try:
            case = post_case(self.firmware, tls, suite, int(size), condition, path=path, seed=self.seed, repl=self.repl,
                             backend=self.backend, faults=tuple(self.faults), on_unmapped=self.on_unmapped,
                             policy=ServerPolicy(**self.policy_args) if self.policy_args else None)
            if _given(host_window):
                case = type(case)(case.scenario, int(host_window))
            self.runner = None                   # nothing for the teardown to save: the run saves its own
            out = self._gallery_artifact_folder()
            self.diagnosed_folder = out
            diagnosed = run_case(case, out_dir=out)
        except SimError as exc:
            raise AssertionError(str(exc)) from None
        step = diagnosed.step
        logger.info(f"{case.scenario.steps[0].describe()} ({condition}): {step.outcome if step else 'error'}; "
                    f"{diagnosed.runs} run(s)\n{diagnosed.text()}")
        if out is not None:
            links = " | ".join(f'<a href="{p.relative_to(out.parents[2]).as_posix()}">{p.name}</a>'
                               for p in sorted(out.iterdir()) if p.is_file())
            logger.info(f"artifacts: {links}", html=True)
        return diagnosed

    @keyword("Save Diagnosis Verdict")
    def save_diagnosis_verdict(self) -> None:
        """Meant for the test teardown of `Diagnose HTTPS POST` tests: the diagnosed run's result.json
        gets the test's verdict, as `Save Scenario Artifacts` gives it (a failed test `fail` with its
        message, one stopped by Ctrl-C `interrupted`, never `pass`), so what collects the
        artifacts of failed tests finds them."""
        folder, self.diagnosed_folder = getattr(self, "diagnosed_folder", None), None
        path = folder / "result.json" if folder is not None else None
        if path is None or not path.exists():
            return
        interrupted, failure = self._test_outcome()
        if not interrupted and failure is None:
            return
        saved = json.loads(path.read_text())
        saved.update(interrupted=interrupted or saved.get("interrupted", False), failure=failure,
                     verdict="interrupted" if interrupted else "fail")
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(saved, indent=1) + "\n")
        os.replace(tmp, path)                    # whole, as result.json is always written

    @keyword("Cause Should Be")
    def cause_should_be(self, diagnosed, cause: str) -> None:
        """The diagnosis named cause class `cause` (`none`: the run passed); the classes are listed in
        docs/diagnosis.md."""
        from sim.diagnosis import cause_class

        try:
            cause_class(cause)
        except KeyError as exc:                  # an unknown class name is the test's own mistake
            raise AssertionError(exc.args[0]) from None
        if diagnosed.cause.key != cause:
            raise AssertionError(f"the cause is {diagnosed.cause.key}, not {cause}:\n{diagnosed.text()}")

    @keyword("Key Evidence Should Contain")
    def key_evidence_should_contain(self, diagnosed, text: str) -> None:
        """The cause's key evidence line (its first) contains `text`."""
        if text not in diagnosed.cause.key_line:
            raise AssertionError(f"'{text}' is not in the key evidence line:\n{diagnosed.cause.key_line}")

    @keyword("Evidence Should Contain")
    def evidence_should_contain(self, diagnosed, text: str) -> None:
        """One of the cause's evidence lines (the provenance lines among them) contains `text`."""
        if not any(text in line for line in diagnosed.cause.evidence):
            raise AssertionError(f"'{text}' is in no evidence line:\n{diagnosed.text()}")

    @keyword("Provenance Should Contain")
    def provenance_should_contain(self, diagnosed, text: str) -> None:
        """One of the cause's provenance lines (who last wrote the bytes that matter, from the replay
        with the write trace) contains `text`."""
        lines = [line for line in diagnosed.cause.evidence if line.startswith("provenance: ")]
        if not lines:
            why = (" (provenance comes from the built-in machine's write trace; the Renode backend has none: "
                   "run with BACKEND:builtin)" if self.backend == "renode" else "")
            raise AssertionError(f"the diagnosis quotes no provenance{why}:\n{diagnosed.text()}")
        if not any(text in line for line in lines):
            raise AssertionError(f"'{text}' is in no provenance line:\n" + "\n".join(lines))

    @keyword("Smallest Failing Size Should Be")
    def smallest_failing_size_should_be(self, expected: int | str, path: str = "/upload", tls: str = "any",
                                        suite: str = "any", low: int | str = 1, high: int | str = 65536,
                                        max_runs: int | str = 20, condition: str = "clean"):
        """Bisect the smallest failing POST body size of the image of `Use Firmware` between `low`
        and `high` (sim/sweep.py) and check that it is `expected`, that the sizes checked above it
        fail as well, and that it took at most `max_runs` scenario runs. Returns the sweep."""
        from sim.gallery import post_case
        from sim.sweep import sweep

        try:
            case = post_case(self.firmware, tls, suite, int(low), condition, path=path, seed=self.seed,
                             repl=self.repl, backend=self.backend, on_unmapped=self.on_unmapped)
            self.runner = None
            result = sweep(case.scenario, int(low), int(high), receive_window=case.receive_window)
        except SimError as exc:
            raise AssertionError(str(exc)) from None
        logger.info(f"{result.summary()}\nsizes run (! failed): {result.sizes_text()}")
        if result.smallest_failing != int(expected):
            raise AssertionError(f"the smallest failing size is {result.smallest_failing}, not {expected}: "
                                 f"{result.summary()}")
        if not result.monotonic:
            raise AssertionError(result.summary())
        if len(result.runs) > int(max_runs):
            raise AssertionError(f"the sweep took {len(result.runs)} runs, more than {max_runs}")
        return result

    def _gallery_artifact_folder(self) -> Path | None:
        """This test's artifact folder (SimKeywords._test_folder), created; None outside Robot."""
        try:
            folder = self._test_folder()
        except RobotNotRunningError:
            return None
        folder.mkdir(parents=True, exist_ok=True)
        return folder


def _given(value) -> bool:
    """A keyword argument that was given (Robot passes ${None} or an empty cell for none)."""
    return value is not None and str(value).strip().upper() not in ("", "NONE", "-")
