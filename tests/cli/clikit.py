"""What every refused command line looks like: exit status 2, one `error:` line naming the thing
and the fix, no traceback, and nothing run."""

from __future__ import annotations

import subprocess


def assert_refused(p: subprocess.CompletedProcess, *names: str, ran: tuple[str, ...] = ()) -> str:
    """Exit 2, one `error:` line naming each of `names`, no traceback; none of `ran` (what the
    command prints once it starts working) in the output. Returns the line."""
    output = p.stdout + p.stderr
    assert "Traceback" not in output, output
    assert p.returncode == 2, output
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), p.stderr
    for name in names:
        assert name in lines[0], f"{name!r} not named in: {lines[0]}"
    for marker in ran:
        assert marker not in output, f"{marker!r} printed: the command ran before refusing\n{output}"
    return lines[0]
