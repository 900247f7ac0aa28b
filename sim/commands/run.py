"""`python -m sim run ...`: one GET or POST scenario end to end (arguments in sim/cli.py).

Everything the user typed is checked, and the artifact directory created, before the firmware
boots. From then on every way the run can end writes the seven artifacts of what ran and prints
the summary: the verdict decides the exit status (0 pass, 1 fail, 2 could not run to its end,
130 interrupted by Ctrl-C).
"""

from __future__ import annotations

import time
from pathlib import Path

from sim.commands import EXIT_INTERRUPTED
from sim.scenario import (ARTIFACT_FILES, BootFailed, BootInterrupted, Result, Scenario, ScenarioRunner, Step,
                          boot, prepare_out_dir, write_artifacts)
from sim.scenario.model import InvalidScenario

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

    def say(text: str) -> None:
        console.print(text, soft_wrap=True, markup=False, highlight=False)

    step = _step(args)
    scenario = Scenario(firmware=args.firmware, steps=(step,), tls_version=args.tls, suite=args.suite,
                        seed=args.seed, repl=args.repl, backend=args.backend,
                        max_virtual_s=args.max_virtual, max_wall_s=args.max_wall)
    out = prepare_out_dir(args.out)
    started = time.monotonic()
    try:
        with console.status(f"booting {args.firmware} on {args.backend}..."):
            booted = boot(args.firmware, repl=args.repl, seed=args.seed, backend=args.backend,
                          max_wall_s=args.max_wall)
    except (BootFailed, BootInterrupted) as exc:
        result = Result(scenario, [], exc.uart, exc.virtual_ns, time.monotonic() - started, 0,
                        error=str(exc) if isinstance(exc, BootFailed) else None,
                        interrupted=isinstance(exc, BootInterrupted))
        write_artifacts(result, out)
        return _report(result, out, say)
    title = f"{step.describe()} over TLS {args.tls} ({args.suite})"
    say(f"run: booted to 'ready' in {booted.boot_wall_s:.2f} s; running {title}")

    debugger = None
    if args.gdb is not None:
        from sim.gdb import attach_debugger
        debugger = attach_debugger(booted.backend, args.gdb, wait=args.wait, log=say, connect_timeout_s=args.max_wall)
    runner = None
    try:
        runner = ScenarioRunner(scenario, out, booted=booted, debugger=debugger)
        with console.status(title + "...") as status:
            runner.progress = lambda text: status.update(f"{title}: {text}")
            result = runner.run()
    except KeyboardInterrupt:
        if runner is not None and runner.result is None:
            raise                           # finish() itself was interrupted: a second Ctrl-C
        result = runner.result if runner is not None else Result(
            scenario, [], booted.boot_transcript, 0, time.monotonic() - started, 0, interrupted=True)
        if runner is None:
            write_artifacts(result, out)
    finally:
        if debugger is not None:
            debugger.close("the scenario is over")
    return _report(result, out, say)


def _report(result: Result, out: Path, say) -> int:
    print(result.summary(), flush=True)
    print(f"artifacts: {out}/ ({' '.join(ARTIFACT_FILES)})", flush=True)
    if result.interrupted:
        say(f"interrupted: the artifacts of what ran are in {out}/")
    return EXIT_STATUS[result.verdict]
