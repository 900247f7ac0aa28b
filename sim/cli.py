"""Command line: `python -m sim boot|run|sweep|gallery|peer ...`.

The argument surface lives here, in one place, because users and acceptance checks rely on it,
and so does the one error boundary: every expected error (`sim.errors.SimError`, a usage error)
ends as exit status 2 and one line `error: <what, and how to fix it>` on stderr; Ctrl-C ends as
exit status 130 (128 + SIGINT, the shell convention); only a bug shows a traceback.

Each subcommand's work is done in its own module (`sim/commands/`, imported lazily so that
`python -m sim peer` does not load unicorn, and `boot` does not load the TLS stack).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from sim.commands import EXIT_INTERRUPTED
from sim.errors import SimError
from sim.platform import DEFAULT_REPL


class UsageError(SimError):
    """The command line itself is wrong (an unknown option, a missing or malformed value)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        # argparse prints the whole usage and exits; we want one line through the error boundary
        raise UsageError(f"{message} (see '{self.prog} --help')")


# --- option values: each checked here, so a bad one never reaches a machine ------------------------

def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"give a finite number of seconds above 0, not {text!r}")
    return value


def _seed(text: str) -> int:
    from sim.scenario.model import SEED_RANGE

    try:
        value = int(text, 10)
    except ValueError:
        value = -1
    if value not in SEED_RANGE:
        raise argparse.ArgumentTypeError(f"give a whole number from 0 to {SEED_RANGE.stop - 1}, not {text!r}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        value = None
    if value is None or not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"give a TCP port from 1 to 65535 (or 0 for a free one), not {text!r}")
    return value


def _line_text(text: str) -> str:
    if not text or "\n" in text or "\r" in text:
        raise argparse.ArgumentTypeError(f"give the text of one UART line (not empty), not {text!r}")
    return text


def _count(text: str) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"give a whole number from 1 up, not {text!r}")
    return value


def _tls_port(text: str) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        value = 0
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"give a TCP port from 1 to 65535, not {text!r}")
    return value


def _dns_mapping(text: str) -> tuple[str, tuple[str, ...]]:
    name, sep, addresses = text.partition("=")
    values = tuple(a.strip() for a in addresses.split(",") if a.strip())
    if not sep or not name.strip() or not values:
        raise argparse.ArgumentTypeError(f"write NAME=ADDRESS[,ADDRESS...], e.g. telemetry.example.net=203.0.113.7, "
                                         f"not {text!r}")
    return name.strip(), values


def _date(text: str) -> str:
    from sim.net.calendar_clock import parse_date
    from sim.net.errors import NetworkConfigError

    try:
        parse_date(text, option="the date")
    except NetworkConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _symbol(text: str) -> str:
    from sim.scenario.model import SYMBOL_NAME

    if not SYMBOL_NAME.match(text):
        raise argparse.ArgumentTypeError(f"give the name of a function in the image (e.g. Error_Handler), not {text!r}")
    return text


RUN_EPILOG = """\
exit status: 0 the outcome is what --expect says; 1 it is not; 2 bad input, or the scenario could
not run to its end (the message says why); 130 interrupted (Ctrl-C). The artifacts of what ran are
written into --out in every case but bad input, which is refused before the firmware starts.

--device-initiated: the image is not driven through a shell; it boots from reset, gets its address
by DHCP, its server's address by DNS and its time by SNTP from the virtual network, and makes its
own connections. The run stops at the first of --requests, --until-uart, --until-symbol (without
any of them it lasts --max-virtual); --expect applies to every request that finished.

the server's identity: by default the peer presents a leaf per SNI name under the test roots (what
an image built to trust the test CA, or one that does not verify the server, accepts);
--server-cert/--server-key serve your own chain; --substitute-trust replaces the CA certificates
the image embeds by look-alikes in emulated flash. The summary and result.json say which was used."""

BOOT_EPILOG = """\
exit status: 0 TEXT appeared (or, without --until, the virtual-time limit was reached); 1 a limit
was reached first or the firmware faulted; 2 bad input; 130 interrupted (Ctrl-C)."""


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m sim",
        description="Boot STM32F407 TLS firmware in an emulator and explain its TLS traffic.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    boot = sub.add_parser("boot", help="boot an ELF on the built-in machine and stream its UART",
                          epilog=BOOT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    boot.add_argument("elf", help="firmware ELF (32-bit ARM), or a variant: fixed | seedbug")
    boot.add_argument("--repl", type=Path, default=DEFAULT_REPL, help="platform file (default: %(default)s)")
    boot.add_argument("--until", metavar="TEXT", type=_line_text,
                      help="succeed (exit 0) as soon as the UART prints TEXT")
    boot.add_argument("--max-virtual", type=_seconds, default=10.0, metavar="SECONDS",
                      help="virtual-time limit (default: %(default)s s)")
    boot.add_argument("--max-wall", type=_seconds, default=120.0, metavar="SECONDS",
                      help="wall-time limit (default: %(default)s s)")
    boot.add_argument("--seed", type=_seed, default=1, help="seed for every random source (default: %(default)s)")
    boot.add_argument("--uart", default="usart1", help="UART to stream (default: %(default)s)")

    run = sub.add_parser("run", help="run a GET or POST scenario end to end and write its artifacts",
                         epilog=RUN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("--firmware", default="fixed",
                     help="a reference variant built into build/firmware (fixed, seedbug, autopost-fixed, "
                          "autopost-prod-seedbug, ...: `make -C firmware variants`) or the path of an ELF "
                          "(default: %(default)s)")
    run.add_argument("--backend", choices=("builtin", "renode"), default="builtin")
    run.add_argument("--repl", type=Path, default=DEFAULT_REPL, help="platform file (default: %(default)s)")
    run.add_argument("--tls", choices=("1.0", "1.1", "1.2", "any"), default="any", help="protocol version")
    run.add_argument("--suite", default="any", help="Mbed TLS or IANA suite name, or 'any'")
    action = run.add_mutually_exclusive_group(required=True)
    action.add_argument("--get", metavar="PATH", help="GET PATH")
    action.add_argument("--post", nargs=2, metavar=("PATH", "SIZE"),
                        help="POST SIZE bytes (0-4294967295) to PATH; the peer answers 413 above its 1 MiB upload limit")
    action.add_argument("--device-initiated", action="store_true",
                        help="no shell: boot from reset and wait for the device's own connections and requests")
    run.add_argument("--seed", type=_seed, default=1, help="seed for every random source (default: %(default)s)")
    run.add_argument("--out", required=True, metavar="DIR",
                     help="artifact directory (created; refused before the run if it cannot be written)")
    run.add_argument("--max-virtual", type=_seconds, default=60.0, metavar="SECONDS",
                     help="virtual-time limit (default: %(default)s s)")
    run.add_argument("--max-wall", type=_seconds, default=300.0, metavar="SECONDS",
                     help="wall-time limit (default: %(default)s s)")
    run.add_argument("--gdb", type=_port, metavar="PORT",
                     help="serve the GDB remote protocol on 127.0.0.1:PORT (0: a free port, printed)")
    run.add_argument("--wait", action="store_true", help="with --gdb: start halted until GDB continues")
    run.add_argument("--on-unmapped", choices=("fault", "warn"), default=None,
                     help="an access to hardware the platform does not model: a bus fault, or (warn) reads 0, "
                          "writes are ignored and the report lists every one; default: fault for the reference "
                          "variants (build/firmware), warn for your own ELF")
    run.add_argument("--expect", choices=("ok", "bad_record_mac", "any"), default="ok",
                     help="what counts as success for the exit status (default: %(default)s); with "
                          "--device-initiated, for every request that finished")
    device = run.add_argument_group("device-initiated runs")
    device.add_argument("--requests", type=_count, metavar="N",
                        help="stop once N HTTP requests were answered or failed")
    device.add_argument("--until-uart", metavar="TEXT", type=_line_text,
                        help="stop once the console prints TEXT")
    device.add_argument("--until-symbol", metavar="NAME", type=_symbol,
                        help="stop once the CPU reaches function NAME (e.g. the image's error or success handler)")
    device.add_argument("--console", metavar="UART", default=None,
                        help="the UART that carries the image's log: a USART of the platform (usart1, usart2, ...), "
                             "auto (the first one the image writes to; the default) or none")
    network = run.add_argument_group("the virtual network (both kinds of run)")
    network.add_argument("--date", type=_date, metavar="ISO8601",
                         help="calendar at the start, for SNTP and the RTC, e.g. 2024-05-01T12:00:00Z "
                              "(default: 2024-01-01T00:00:00Z)")
    network.add_argument("--dns", type=_dns_mapping, action="append", default=[], metavar="NAME=ADDR[,ADDR]",
                         help="resolve NAME to these addresses (repeatable); every other name resolves to the peer")
    network.add_argument("--dns-absent", action="append", default=[], metavar="NAME",
                         help="answer NAME with NXDOMAIN (repeatable)")
    network.add_argument("--tls-port", type=_tls_port, action="append", default=[], metavar="PORT",
                         help="TCP port where the TLS peer answers (repeatable; default: 443 and 8443); "
                              "other ports get a sink that records what the device sends")
    identity = run.add_argument_group(
        "the server's identity (both kinds of run; default: a leaf per SNI name under the test roots)")
    identity.add_argument("--server-cert", metavar="CHAIN.pem",
                          help="serve your chain (PEM, leaf first) to every client; needs --server-key; checked "
                               "before the firmware starts (key match, order, validity at --date)")
    identity.add_argument("--server-key", metavar="KEY.pem",
                          help="the private key of --server-cert's leaf (PEM, RSA or ECDSA)")
    identity.add_argument("--server-key-password", metavar="PASSWORD",
                          help="the password of an encrypted --server-key")
    identity.add_argument("--substitute-trust", action="store_true",
                          help="replace every CA certificate the image embeds by a same-length look-alike, in "
                               "emulated flash only (the ELF file is not changed), and serve leaves under them")

    _add_sweep(sub)
    _add_gallery(sub)

    peer = sub.add_parser("peer", help="serve the TLS/HTTP peer on a real socket")
    peer.add_argument("--listen", default="127.0.0.1:8443", metavar="HOST:PORT",
                      help="address to serve, e.g. 0.0.0.0:8443 or [::1]:8443; port 0 picks a free one, "
                           "printed (default: %(default)s)")
    peer.add_argument("--tls", choices=("1.0", "1.1", "1.2", "any"), default="any")
    peer.add_argument("--suite", default="any")
    peer.add_argument("--seed", type=int, default=1)
    peer.add_argument("--journal", metavar="DIR",
                      help="write each connection's journal and key log into a new DIR/run-NNNN per start")
    peer.add_argument("--server-cert", metavar="CHAIN.pem",
                      help="serve this chain (PEM, leaf first) to every client instead of per-name leaves "
                           "under the test roots; needs --server-key")
    peer.add_argument("--server-key", metavar="KEY.pem", help="the private key of --server-cert's leaf (PEM, RSA or ECDSA)")
    peer.add_argument("--server-key-password", metavar="PASSWORD", help="the password of an encrypted --server-key")
    peer.add_argument("--date", metavar="DATE",
                      help="the date certificates are judged at: --server-cert must be valid then, and per-name "
                           "leaves are valid from a week before it (2026-03-01 or 2026-03-01T12:00:00Z; "
                           "default: today, UTC)")
    # the limits' defaults live with PeerLimits (a leaf module: building the parser loads no TLS stack)
    from sim.peer.config import PeerLimits
    peer_limits = PeerLimits()
    peer.add_argument("--max-connections", type=int, default=peer_limits.max_connections, metavar="N",
                      help="connections open at once; more are closed at once and counted (default: %(default)s)")
    peer.add_argument("--handshake-timeout", type=float, default=peer_limits.handshake_timeout, metavar="SECONDS",
                      help="close a connection whose TLS handshake is not done by then (default: %(default)s)")
    peer.add_argument("--idle-timeout", type=float, default=peer_limits.idle_timeout, metavar="SECONDS",
                      help="close a connection that sent and received nothing that long (default: %(default)s)")
    return parser


SWEEP_EPILOG = """\
Each run starts from the same boot snapshot with the same seed, so a size always gives the same
outcome; the bisection assumes the failure is monotonic in the size and checks --checks sizes above
the threshold. exit status: 0 found; 1 no failing size in the range, or a size above the threshold
passes (not monotonic); 2 bad input or a run that could not finish; 130 interrupted."""

GALLERY_EPILOG = """\
exit status: 0 every run diagnosed as its variant's cause class (fixed: no failure); 1 not; 2 bad
input (an unknown variant, an image not built: scripts/build-firmware); 130 interrupted."""


def _size(text: str) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        value = -1
    if not 0 <= value <= 0xFFFF_FFFF:
        raise argparse.ArgumentTypeError(f"give a body size in bytes from 0 to 4294967295, not {text!r}")
    return value


def _window(text: str) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        value = 0
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"give a TCP window from 1 to 65535 bytes (no window scaling), not {text!r}")
    return value


def _add_sweep(sub) -> None:
    sweep = sub.add_parser("sweep", help="bisect the smallest POST body size that fails",
                           epilog=SWEEP_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sweep.add_argument("--firmware", default="fixed", help="a variant (fixed, seedbug) or the path to an ELF")
    sweep.add_argument("--repl", type=Path, default=DEFAULT_REPL, help="platform file (default: %(default)s)")
    sweep.add_argument("--tls", choices=("1.0", "1.1", "1.2", "any"), default="any", help="protocol version")
    sweep.add_argument("--suite", default="any", help="Mbed TLS or IANA suite name, or 'any'")
    sweep.add_argument("--post", required=True, metavar="PATH", help="POST to PATH (e.g. /upload)")
    sweep.add_argument("--from", dest="low", type=_size, default=1, metavar="BYTES",
                       help="smallest body size (default: %(default)s)")
    sweep.add_argument("--to", dest="high", type=_size, default=65536, metavar="BYTES",
                       help="largest body size (default: %(default)s)")
    sweep.add_argument("--checks", type=int, default=2, metavar="N",
                       help="sizes above the threshold run to check monotonicity (default: %(default)s)")
    sweep.add_argument("--host-window", type=_window, metavar="BYTES",
                       help="the TCP receive window the server side advertises (a field condition)")
    sweep.add_argument("--seed", type=_seed, default=1, help="seed for every random source (default: %(default)s)")
    sweep.add_argument("--max-wall", type=_seconds, default=300.0, metavar="SECONDS",
                       help="wall-time limit per run (default: %(default)s s)")
    sweep.add_argument("--json", action="store_true", help="print the result as JSON")


def _add_gallery(sub) -> None:
    gallery = sub.add_parser("gallery", help="run the defect gallery and name each run's cause",
                             epilog=GALLERY_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    gallery.add_argument("--table", action="store_true", help="print the confusion table (variant x diagnosed class)")
    gallery.add_argument("--variant", action="append", metavar="NAME",
                         help="run only this variant (repeatable; default: all)")
    gallery.add_argument("--matrix", action="store_true",
                         help="every TLS version and suite of the report's matrix the condition applies to, "
                              "not one representative suite")
    gallery.add_argument("--no-fixed", action="store_true", help="leave out the runs of fixed under each condition")
    gallery.add_argument("--provenance", choices=("auto", "never"), default="auto",
                         help="auto: replay each failing run with the write trace (default); never: no replay")
    gallery.add_argument("--out", metavar="DIR", help="write each run's artifacts into DIR/NN-IMAGE-...")


def _check_together(args) -> None:
    """Options that are valid alone but not in this combination."""
    if args.command != "run":
        return
    if args.wait and args.gdb is None:
        raise UsageError("--wait halts the firmware for GDB: give --gdb PORT too (see 'python -m sim run --help')")
    if args.device_initiated:
        for option, value in (("--tls", args.tls), ("--suite", args.suite)):
            if value != "any":
                raise UsageError(f"{option} sets the reference firmware's shell; a device-initiated image uses its own "
                                 f"compiled-in TLS settings (leave {option} out)")
    else:
        given = [name for name, value in (("--requests", args.requests), ("--until-uart", args.until_uart),
                                          ("--until-symbol", args.until_symbol), ("--console", args.console))
                 if value is not None]
        if given:
            raise UsageError(f"{', '.join(given)} belong{'s' if len(given) == 1 else ''} to device-initiated runs: "
                             f"add --device-initiated (or leave {'it' if len(given) == 1 else 'them'} out)")


def _dispatch(args) -> int:
    _check_together(args)
    if args.command == "boot":
        from sim.commands.boot import boot_command
        return boot_command(args)
    if args.command == "run":
        from sim.commands.run import run_command
        return run_command(args)
    if args.command == "sweep":
        from sim.commands.sweep import sweep_command
        return sweep_command(args)
    if args.command == "gallery":
        from sim.commands.gallery import gallery_command
        return gallery_command(args)
    if args.command == "peer":
        from sim.peer import peer_command
        return peer_command(args)
    raise AssertionError(args.command)


def main(argv: list[str] | None = None) -> int:
    """Parse, run, and turn every expected way of stopping into its exit status."""
    try:
        return _dispatch(_build_parser().parse_args(argv))
    except SimError as exc:
        sys.stdout.flush()
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        sys.stdout.flush()
        print("interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
