"""Which cause: the cause class of a failed run, named from its evidence.

`sim.tls.diagnosis` explains a failed connection at the record level (which record failed, why,
where its bytes changed). This package answers the question after it - which of the known causes
of such a failure this is - from everything the run shows: the peer's journal, the capture, the
firmware's calls (probes.py) and, for a failing run, who wrote the bytes that matter (a replay with
the machine's write trace, provenance_facts.py).

    from sim.diagnosis import Case, run_case
    diagnosed = run_case(Case(Scenario(firmware="seedbug", steps=(Step("post", "/upload", 4096, "any"),))))
    print(diagnosed.cause.title, diagnosed.cause.key_line)

One module per job:

    classes.py           the cause classes (key, title, meaning, where to look)
    causes.py            classify(evidence) -> Cause: the rules, a pure function of the evidence
    collect.py           the evidence of a run (journal, stream, capture, calls)
    stream.py            what the TLS layer produced against what the server received
    capture.py           retransmissions and their payloads
    probes.py            the firmware's calls, with their tasks
    tasks.py, dwarf.py   the RTOS's tasks and the firmware's structs, read as a debugger does
    provenance_facts.py  what a replay traces, and what the trace says
    run.py               run, replay on failure, classify (Case, Diagnosed, run_case)
    report.py, quote.py  the text
"""

from .causes import Cause, classify
from .classes import BY_KEY, CLASSES, CauseClass, cause_class
from .report import cause_text
from .run import Case, Diagnosed, ReplayDiverged, run_case

__all__ = ["BY_KEY", "CLASSES", "Case", "Cause", "CauseClass", "Diagnosed", "ReplayDiverged", "cause_class",
           "cause_text", "classify", "run_case"]
