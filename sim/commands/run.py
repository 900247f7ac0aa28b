"""`python -m sim run ...`: one scenario end to end - a GET or POST typed into the reference shell,
or (`--device-initiated`) whatever the image does by itself (arguments in sim/cli.py).

Everything the user typed is checked, and the artifact directory created, before the firmware
boots - the server identity included: the user's chain and key are read and checked, or the
image's CA certificates found and their look-alikes made (sim/scenario/identity.py). From then on every way the run can end writes the seven artifacts of what ran and prints
the summary: the verdict decides the exit status (0 pass, 1 fail, 2 could not run to its end,
130 interrupted by Ctrl-C).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from sim.commands import EXIT_INTERRUPTED
from sim.scenario import (ARTIFACT_FILES, CONSOLE_AUTO, CONSOLE_NONE, BootFailed, BootInterrupted, DeviceInitiated,
                          Result, Scenario, ServerIdentitySpec, Step, boot_scenario, platform_uarts, prepare_out_dir,
                          runner_for, write_artifacts)
from sim.scenario.device_runner import require_symbol
from sim.scenario.identity import scenario_identity
from sim.scenario.model import InvalidScenario, default_on_unmapped, identity_lines

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


def _network(args):
    """The virtual network the options describe (checked here, before anything boots)."""
    from sim.net import InternetConfig

    settings = {}
    if args.date is not None:
        settings["date"] = args.date
    if args.dns:
        settings["names"] = {name: list(addresses) for name, addresses in args.dns}
    if args.dns_absent:
        settings["absent_names"] = tuple(args.dns_absent)
    if args.tls_port:
        settings["tls_ports"] = tuple(dict.fromkeys(args.tls_port))
    return InternetConfig(**settings)


def _console(args) -> str:
    """--console, checked against the platform's UARTs."""
    name = args.console or CONSOLE_AUTO
    if name in (CONSOLE_AUTO, CONSOLE_NONE):
        return name
    uarts = platform_uarts(args.repl)
    if name not in uarts:
        raise InvalidScenario(f"--console {name!r} is not a UART of {args.repl}: give one of {', '.join(uarts)}, "
                              f"'{CONSOLE_AUTO}' (the first one the image writes to) or '{CONSOLE_NONE}'")
    return name


def _on_unmapped(args) -> str:
    """--on-unmapped, or its default for the image (sim.scenario.model.default_on_unmapped)."""
    return args.on_unmapped if args.on_unmapped is not None else default_on_unmapped(args.firmware)


def _server_identity(args) -> ServerIdentitySpec:
    """--server-cert/--server-key[/--server-key-password] or --substitute-trust (or neither: the
    test PKI). The files and the image are read later, still before anything boots."""
    cert, key, password = args.server_cert, args.server_key, args.server_key_password
    if args.substitute_trust:
        given = [name for name, value in (("--server-cert", cert), ("--server-key", key),
                                          ("--server-key-password", password)) if value is not None]
        if given:
            raise InvalidScenario(f"--substitute-trust and {', '.join(given)} exclude each other: substitute the "
                                  f"image's own CA certificates, or serve your chain and key, not both")
        return ServerIdentitySpec("substitute-trust")
    if cert is None and key is None:
        if password is not None:
            raise InvalidScenario("--server-key-password without --server-key: give the encrypted key with "
                                  "--server-key and its chain with --server-cert")
        return ServerIdentitySpec()
    if cert is None or key is None:
        given, missing = ("--server-cert", "--server-key") if key is None else ("--server-key", "--server-cert")
        raise InvalidScenario(f"{given} without {missing}: give the chain and its key together")
    return ServerIdentitySpec("user", cert=cert, key=key, password=password)


def _scenario(args) -> Scenario:
    common = dict(firmware=args.firmware, seed=args.seed, repl=args.repl, backend=args.backend,
                  max_virtual_s=args.max_virtual, max_wall_s=args.max_wall, network=_network(args),
                  on_unmapped=_on_unmapped(args), identity=_server_identity(args))
    if args.device_initiated:
        device = DeviceInitiated(requests=args.requests, until_uart=args.until_uart, until_symbol=args.until_symbol,
                                 expect=args.expect, console=_console(args))
        return Scenario(device=device, **common)
    return Scenario(steps=(_step(args),), tls_version=args.tls, suite=args.suite, **common)


def _title(scenario: Scenario) -> str:
    if scenario.device is not None:
        waits = scenario.device.stop_conditions or [f"{scenario.max_virtual_s:g} s of virtual time"]
        return f"device-initiated, until {' or '.join(waits)}"
    return f"{scenario.steps[0].describe()} over TLS {scenario.tls_version} ({scenario.suite})"


def run_command(args) -> int:
    from rich.console import Console

    console = Console(stderr=True)

    def gdb_log(text: str) -> None:           # through rich: it may come while the status line shows
        console.print(text, soft_wrap=True, markup=False, highlight=False)

    scenario = _scenario(args)
    scenario.firmware_path()                  # an image that is not there is refused now
    with console.status("preparing the server identity..."):
        identity = scenario_identity(scenario)     # a bad chain or key, nothing to substitute: refused now
    if scenario.backend == "renode":
        from sim.renode.temp_sweep import refuse_swept

        refuse_swept(args.out, "--out")       # before anything is written into it
    out = prepare_out_dir(args.out)
    started = time.monotonic()
    title = _title(scenario)
    booted = runner = debugger = None
    try:
        with console.status(f"booting {args.firmware} on {args.backend}..."):
            booted = boot_scenario(scenario, identity)
        if scenario.device is not None and scenario.device.until_symbol is not None:
            require_symbol(booted.backend, scenario.device.until_symbol)      # refused before it runs
        say(f"run: identity: {identity.text}")
        for line in identity_lines(identity.report())[1:]:
            say(f"run: {line.strip()}")
        where = "at reset" if booted.at_reset else "to 'ready'"
        say(f"run: booted {where} in {booted.boot_wall_s:.2f} s; running {title}")
        if args.gdb is not None:
            from sim.gdb import attach_debugger
            debugger = attach_debugger(booted.backend, args.gdb, wait=args.wait, log=gdb_log,
                                       connect_timeout_s=args.max_wall)
        runner = runner_for(scenario, out, booted=booted, debugger=debugger)
        with console.status(title + "...") as status:
            runner.progress = ((lambda text: status.update(f"{title}: {text}")) if console.is_terminal
                               else _every(LOG_PROGRESS_EVERY_S, lambda text: say(f"run: {text}")))
            result = runner.run()
    except BootFailed as exc:
        result = _not_started(scenario, identity, out, started, exc.uart, exc.virtual_ns, error=str(exc))
    except KeyboardInterrupt as exc:
        if runner is not None:          # run() wrote the artifacts, unless Ctrl-C came before it began
            result = runner.result or runner.finish([], interrupted=True)
        else:
            uart = exc.uart if isinstance(exc, BootInterrupted) else booted.boot_transcript if booted else b""
            result = _not_started(scenario, identity, out, started, uart, getattr(exc, "virtual_ns", 0),
                                  interrupted=True)
    finally:
        if debugger is not None:
            debugger.close("the scenario is over")
    return _report(result, out)


def _not_started(scenario: Scenario, identity, out: Path, started: float, uart: bytes, virtual_ns: int, *,
                 error: str | None = None, interrupted: bool = False) -> Result:
    """The result of a run that ended before the scenario began (in the boot, or just after it)."""
    result = Result(scenario, [], uart, virtual_ns, time.monotonic() - started, 0, error=error,
                    interrupted=interrupted, identity=identity.report())
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
