"""`python -m sim sweep --firmware ELF --tls V --suite S --post PATH --from A --to B`: the smallest
POST body size that fails, by bisection over deterministic runs (sim/sweep.py), with what the
threshold means.

Exit status: 0 the smallest failing size was found (and the checks above it held); 1 no size in
the range fails, or a size above the threshold passes (the failure is not monotonic in the size:
the boundary found is printed as such); 2 bad input or a run that could not finish; 130 Ctrl-C.
"""

from __future__ import annotations

import json
import sys

from sim.scenario import Scenario, Step
from sim.scenario.model import default_on_unmapped
from sim.sweep import sweep


def sweep_command(args) -> int:
    scenario = Scenario(firmware=args.firmware, steps=(Step("post", args.post, args.low, expect="any"),),
                        tls_version=args.tls, suite=args.suite, seed=args.seed, repl=args.repl,
                        max_wall_s=args.max_wall, on_unmapped=default_on_unmapped(args.firmware))
    scenario.firmware_path()                 # an image that is not there is refused before anything boots

    def progress(text: str) -> None:
        print(f"sweep: {text}", file=sys.stderr, flush=True)

    result = sweep(scenario, args.low, args.high, receive_window=args.host_window, checks=args.checks,
                   progress=progress)
    if args.json:
        print(json.dumps(result.to_dict(), indent=1))
    else:
        print(result.summary())
        if result.cause is not None and result.found:
            print(f"cause at {result.smallest_failing} bytes: {result.cause.title}: {result.cause.key_line}")
        print(f"runs ({len(result.runs)}, ! = failed): {result.sizes_text()}")
    return 0 if result.found and result.monotonic else 1
