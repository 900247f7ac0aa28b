"""Where a peer on a socket writes its journals: a new run directory under `--journal DIR` per start.

    DIR/run-0001/session-0.journal.json     the record journal (sim/tls/journal.py), JSON
    DIR/run-0001/session-0.journal.txt      the same, one line per record
    DIR/run-0001/keylog.txt                 NSS key log lines of this run's sessions

A start never writes into an earlier run's directory, so a restart neither overwrites journals nor
mixes key logs. Run directories are numbered; creating one is atomic (`mkdir`), so two peers started
on the same DIR get different runs.
"""

from __future__ import annotations

import re
from pathlib import Path

from sim.peer.config import PeerError

_RUN = re.compile(r"^run-(\d+)$")


class JournalDirectory:
    """The run directory of one peer start. `open(root)` checks and creates it, or raises PeerError."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.keylog_path = run_dir / "keylog.txt"

    @classmethod
    def open(cls, root: str | Path) -> "JournalDirectory":
        if str(root) == "":
            raise PeerError("--journal is empty: give a directory (created if missing), e.g. --journal peer-journal")
        root = Path(root)
        if root.exists() and not root.is_dir():
            raise PeerError(f"--journal {root}: is a file, not a directory; give a directory (created if missing; "
                            f"each start writes a new run-NNNN folder in it), e.g. --journal {root}.d")
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise PeerError(f"--journal {root}: cannot create it ({exc.strerror or exc}); "
                            "give a directory you can write to") from None
        number = 1 + max((int(m.group(1)) for p in root.iterdir() if (m := _RUN.match(p.name))), default=0)
        while True:
            run_dir = root / f"run-{number:04d}"
            try:
                run_dir.mkdir()
            except FileExistsError:        # another peer took this number just now
                number += 1
                continue
            except OSError as exc:
                raise PeerError(f"--journal {root}: cannot create {run_dir.name} in it ({exc.strerror or exc}); "
                                "give a directory you can write to") from None
            return cls(run_dir)

    def discard(self) -> None:
        """Remove the run directory if nothing was written to it (the peer did not start)."""
        try:
            self.run_dir.rmdir()
        except OSError:
            pass

    def write(self, session) -> None:
        """Write one finished session's journal and append its key log lines (OSError on failure)."""
        journal = session.journal
        (self.run_dir / f"{session.name}.journal.json").write_text(journal.to_json())
        (self.run_dir / f"{session.name}.journal.txt").write_text(journal.to_text())
        if session.keylog_lines:
            with open(self.keylog_path, "a") as f:
                f.writelines(line + "\n" for line in session.keylog_lines)
