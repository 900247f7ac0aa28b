"""`python -m sim.renode status|check|resc`: Renode tooling that works without Renode.

- status: is Renode reachable through pyrenode3, and if not, what to install and set.
- check [REPL]: validate a platform file against Renode 1.16.1 as documented (exit 1 on errors).
- resc --elf ELF [--repl REPL] [--seed N] [--gdb PORT]: print the boot as a Renode script.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim.platform import DEFAULT_REPL


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.renode", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("status", help="say whether Renode can be used here, and how to get it")
    check = sub.add_parser("check", help="validate a platform file against Renode 1.16.1")
    check.add_argument("repl", nargs="?", type=Path, default=DEFAULT_REPL)
    check.add_argument("--strict", action="store_true", help="also fail on undocumented items")
    resc = sub.add_parser("resc", help="print a .resc that boots the platform and ELF like the backend")
    resc.add_argument("--repl", type=Path, default=DEFAULT_REPL)
    resc.add_argument("--elf", type=Path, required=True)
    resc.add_argument("--seed", type=int, default=1)
    resc.add_argument("--quantum-us", type=int, default=100)
    resc.add_argument("--gdb", type=int, metavar="PORT")
    args = parser.parse_args(argv)

    from sim.errors import BackendError

    if args.command == "status":
        from sim.renode.locate import renode_status
        available, reason = renode_status()
        print(reason)
        return 0 if available else 1
    if args.command == "check":
        from sim.renode.repl_check import ERROR, check_repl
        from sim.renode.repl_scan import ReplSyntaxError
        try:
            findings = check_repl(args.repl)
        except ReplSyntaxError as exc:
            print(exc, file=sys.stderr)
            return 1
        for finding in findings:
            print(finding)
        failing = [f for f in findings if args.strict or f.severity == ERROR]
        print(f"{args.repl}: {len(findings)} finding(s), {len(failing)} failing")
        return 1 if failing else 0
    if args.command == "resc":
        from sim.renode.commands import BootPlan, renode_script
        from sim.renode.platform_info import read_platform
        try:
            platform = read_platform(args.repl)
            plan = BootPlan(repl=args.repl, elf=args.elf, seed=args.seed,
                            frequency_hz=platform.frequency, quantum_us=args.quantum_us, cpu=platform.cpu)
            sys.stdout.write(renode_script(plan, gdb_port=args.gdb))
        except BackendError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
