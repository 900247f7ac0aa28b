"""Command line: `python -m sim boot|run|peer ...`.

The argument surface lives here, in one place, because users and acceptance checks rely on it;
each subcommand's work is done by the module that owns the concept (imported lazily so that
`python -m sim peer` does not load unicorn, and `boot` does not load the TLS stack).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim.platform import DEFAULT_REPL


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sim",
        description="Boot STM32F407 TLS firmware in an emulator and explain its TLS traffic.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    boot = sub.add_parser("boot", help="boot an ELF on the built-in machine and stream its UART")
    boot.add_argument("elf", type=Path, help="firmware ELF (32-bit ARM)")
    boot.add_argument("--repl", type=Path, default=DEFAULT_REPL, help="platform file (default: %(default)s)")
    boot.add_argument("--until", metavar="TEXT", help="succeed (exit 0) as soon as the UART prints TEXT")
    boot.add_argument("--max-virtual", type=float, default=10.0, metavar="SECONDS",
                      help="virtual-time limit (default: %(default)s s)")
    boot.add_argument("--max-wall", type=float, default=120.0, metavar="SECONDS",
                      help="wall-time limit (default: %(default)s s)")
    boot.add_argument("--seed", type=int, default=1, help="seed for every random source (default: %(default)s)")
    boot.add_argument("--uart", default="usart1", help="UART to stream (default: %(default)s)")

    run = sub.add_parser("run", help="run a GET or POST scenario end to end and write its artifacts")
    run.add_argument("--firmware", default="fixed", help="fixed | seedbug | path to an ELF (default: %(default)s)")
    run.add_argument("--backend", choices=("builtin", "renode"), default="builtin")
    run.add_argument("--repl", type=Path, default=DEFAULT_REPL)
    run.add_argument("--tls", choices=("1.0", "1.1", "1.2", "any"), default="any", help="protocol version")
    run.add_argument("--suite", default="any", help="Mbed TLS or IANA suite name, or 'any'")
    action = run.add_mutually_exclusive_group(required=True)
    action.add_argument("--get", metavar="PATH", help="GET PATH")
    action.add_argument("--post", nargs=2, metavar=("PATH", "SIZE"), help="POST SIZE bytes to PATH")
    run.add_argument("--seed", type=int, default=1)
    run.add_argument("--out", type=Path, required=True, metavar="DIR", help="artifact directory")
    run.add_argument("--max-virtual", type=float, default=60.0, metavar="SECONDS")
    run.add_argument("--max-wall", type=float, default=300.0, metavar="SECONDS")
    run.add_argument("--gdb", type=int, metavar="PORT", help="serve the GDB remote protocol on 127.0.0.1:PORT (0: a free port, printed)")
    run.add_argument("--wait", action="store_true", help="with --gdb: start halted until GDB continues")
    run.add_argument("--expect", choices=("ok", "bad_record_mac", "any"), default="ok",
                     help="what counts as success for the exit status (default: %(default)s)")

    peer = sub.add_parser("peer", help="serve the TLS/HTTP peer on a real socket")
    peer.add_argument("--listen", default="127.0.0.1:8443", metavar="HOST:PORT",
                      help="address to serve, e.g. 0.0.0.0:8443 or [::1]:8443; port 0 picks a free one, "
                           "printed (default: %(default)s)")
    peer.add_argument("--tls", choices=("1.0", "1.1", "1.2", "any"), default="any")
    peer.add_argument("--suite", default="any")
    peer.add_argument("--seed", type=int, default=1)
    peer.add_argument("--journal", metavar="DIR",
                      help="write each connection's journal and key log into a new DIR/run-NNNN per start")
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


def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    if args.command == "boot":
        from sim.machine.boot import boot_command
        return boot_command(args)
    if args.command == "run":
        from sim.scenario import run_command
        return run_command(args)
    if args.command == "peer":
        from sim.peer import peer_command
        return peer_command(args)
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
