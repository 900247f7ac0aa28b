"""`python -m sim gallery [--table] [--variant NAME ...] [--matrix] [--out DIR]`: run the defect
gallery (sim/gallery.py) - each variant under the field condition that exposes its defect, and
`fixed` under the same - and print what the diagnosis named for each run; `--table` prints the
confusion table (variant against diagnosed class) instead.

Exit status: 0 every run was diagnosed as its variant's class (`fixed`: no failure); 1 not;
2 bad input (an unknown variant, an image not built); 130 Ctrl-C.
"""

from __future__ import annotations

import sys

from sim.gallery import confusion_table, gallery_runs, run_gallery
from sim.scenario import prepare_out_dir


def gallery_command(args) -> int:
    runs = gallery_runs(tuple(args.variant or ()), matrix=args.matrix, with_fixed=not args.no_fixed)
    for run in runs:
        run.case()                           # every image is checked before the first run
    if args.out is not None:
        prepare_out_dir(args.out)            # and the artifact directory

    def progress(text: str) -> None:
        print(f"gallery: {text}", file=sys.stderr, flush=True)

    gallery = run_gallery(runs, provenance=args.provenance, out_dir=args.out, progress=progress)
    if args.table:
        print(confusion_table(gallery), end="")
    else:
        for r in gallery.results:
            mark = "ok " if r.correct else "BAD"
            print(f"[{mark}] {r.run.label}: {r.diagnosed.cause.title}")
            if r.diagnosed.cause.key != "none":
                print(f"      {r.diagnosed.cause.key_line}")
        print("diagonal" if gallery.diagonal else "NOT diagonal")
    return 0 if gallery.diagonal else 1
