"""`python -m sim run ...`: one GET or POST scenario end to end (arguments in sim/cli.py).

Everything the user typed is checked, and the artifact directory created, before the firmware
boots. From then on every way the run can end writes the seven artifacts of what ran and prints
the summary: the verdict decides the exit status (0 pass, 1 fail, 2 could not run to its end,
130 interrupted by Ctrl-C).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from sim.commands import EXIT_INTERRUPTED
from sim.scenario import (ARTIFACT_FILES, BootFailed, BootInterrupted, Result, Scenario, ScenarioRunner, Step,
                          boot, prepare_out_dir, write_artifacts)
from sim.scenario.model import InvalidScenario

LOG_PROGRESS_EVERY_S = 10.0         # progress lines when stderr is a log, not a terminal
EXIT_STATUS = {"pass": 0, "fail": 1, "error": 2, "interrupted": EXIT_INTERRUPTED}


def _step(args) -> Step:
    if args.get is not None:
        return Step("get", args.get, expect=args.expect)
    path, size = args.post
    try:
        count = int(size, 10)
    except ValueError:
        raise InvalidScenario(f"--post PATH SIZE needs SIZE as a whole number of bytes, not {size!r}") from None
    return Step("post", path, count, expect=args.expect)


def run_command(args) -> int:
    from rich.console import Console

    console = Console(stderr=True)

    def gdb_log(text: str) -> None:           # through rich: it may come while the status line shows
        console.print(text, soft_wrap=True, markup=False, highlight=False)

    step = _step(args)
    scenario = Scenario(firmware=args.firmware, steps=(step,), tls_version=args.tls, suite=args.suite,
                        seed=args.seed, repl=args.repl, backend=args.backend,
                        max_virtual_s=args.max_virtual, max_wall_s=args.max_wall)
    out = prepare_out_dir(args.out)
    started = time.monotonic()
    title = f"{step.describe()} over TLS {args.tls} ({args.suite})"
    booted = runner = debugger = None
    try:
        with console.status(f"booting {args.firmware} on {args.backend}..."):
            booted = boot(args.firmware, repl=args.repl, seed=args.seed, backend=args.backend,
                          max_wall_s=args.max_wall)
        say(f"run: booted to 'ready' in {booted.boot_wall_s:.2f} s; running {title}")
        if args.gdb is not None:
            from sim.gdb import attach_debugger
            debugger = attach_debugger(booted.backend, args.gdb, wait=args.wait, log=gdb_log,
                                       connect_timeout_s=args.max_wall)
        runner = ScenarioRunner(scenario, out, booted=booted, debugger=debugger)
        with console.status(title + "...") as status:
            runner.progress = ((lambda text: status.update(f"{title}: {text}")) if console.is_terminal
                               else _every(LOG_PROGRESS_EVERY_S, lambda text: say(f"run: {text}")))
            result = runner.run()
    except BootFailed as exc:
        result = _not_started(scenario, out, started, exc.uart, exc.virtual_ns, error=str(exc))
    except KeyboardInterrupt as exc:
        if runner is not None:          # run() wrote the artifacts, unless Ctrl-C came before it began
            result = runner.result or runner.finish([], interrupted=True)
        else:
            uart = exc.uart if isinstance(exc, BootInterrupted) else booted.boot_transcript if booted else b""
            result = _not_started(scenario, out, started, uart, getattr(exc, "virtual_ns", 0), interrupted=True)
    finally:
        if debugger is not None:
            debugger.close("the scenario is over")
    return _report(result, out)


def _not_started(scenario: Scenario, out: Path, started: float, uart: bytes, virtual_ns: int, *,
                 error: str | None = None, interrupted: bool = False) -> Result:
    """The result of a run that ended before the scenario began (in the boot, or just after it)."""
    result = Result(scenario, [], uart, virtual_ns, time.monotonic() - started, 0, error=error,
                    interrupted=interrupted)
    write_artifacts(result, out)
    return result


def _every(seconds: float, report):
    """`report`, at most once per `seconds` of wall time (the first call always)."""
    due = [0.0]

    def throttled(text: str) -> None:
        if time.monotonic() >= due[0]:
            due[0] = time.monotonic() + seconds
            report(text)

    return throttled


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _report(result: Result, out: Path) -> int:
    print(result.summary(), flush=True)
    print(f"artifacts: {out}/ ({' '.join(ARTIFACT_FILES)})", flush=True)
    if result.interrupted:
        say(f"interrupted: the artifacts of what ran are in {out}/")
    return EXIT_STATUS[result.verdict]
