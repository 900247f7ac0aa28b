"""The reference firmware's UART shell, as a scenario speaks it: the commands we type and the
reading of the status lines the firmware prints (the grammar: firmware/README.md, "The UART shell").

Pure text in, values out: nothing here runs a machine, so a user's adapter for another image can
be checked against these functions alone.
"""

from __future__ import annotations

import re

from .model import Step, StepResult

READY_LINE = "ready"                 # printed once the link is up and the shell waits for commands
READY = re.compile(rf"^{READY_LINE}$")

RESULT_LINE = re.compile(r"^(get|post): (ok|error)\b(.*)$")
TLS_VERSION_REPLY = r"^tls: (version .* ok|error.*)$"
TLS_SUITE_REPLY = r"^tls: (suite .* ok|error.*)$"
SETTING_TIMEOUT_S = 2.0              # virtual seconds for a `tls ...` setting to be acknowledged

_FATAL_ALERT = re.compile(r"is a fatal alert message \(msg (\d+)\)")
_HTTP_STATUS = re.compile(r"^HTTP/1\.[01] \d{3}")
_KV = re.compile(r"(\w+)=(\S+)")


def tls_version_command(version: str) -> str:
    return f"tls version {version}"


def tls_suite_command(suite: str) -> str:
    return f"tls suite {suite}"


def refused(reply: re.Match) -> bool:
    """A `tls ...` reply that says `error ...` (e.g. an unknown suite)."""
    return reply.group(1).startswith("error")


def step_command(step: Step) -> str:
    return f"get {step.path}" if step.kind == "get" else f"post {step.path} {step.size}"


def parse_step(step: Step, lines: list[str], *, finished: bool = True) -> StepResult:
    """Read the firmware's report of one command from the lines it printed."""
    result = StepResult(step=step, uart_lines=lines, finished=finished)
    for line in lines:
        m = _FATAL_ALERT.search(line)
        if m:
            result.fatal_alert = int(m.group(1))
        if line.startswith("tls: handshake ok "):
            parts = line.split()
            if len(parts) >= 5:
                result.tls_version, result.tls_suite = parts[3], parts[4]
        if _HTTP_STATUS.match(line):
            result.status = int(line.split()[1])
        if line.startswith(f"{step.kind}: body ") or line.startswith(f"{step.kind}: ok "):
            fields = dict(_KV.findall(line))
            if "sha256" in fields:
                result.body_sha256 = fields["sha256"]
            if "length" in fields:
                result.body_length = int(fields["length"])
            if "status" in fields:
                result.status = int(fields["status"])
            if "server_sha256" in fields:
                result.server_sha256 = fields["server_sha256"]
            if "server_length" in fields:
                result.server_length = int(fields["server_length"])
            if "match" in fields:
                result.digest_match = fields["match"] == "yes"
        m = RESULT_LINE.match(line)
        if m and m.group(1) == step.kind:
            result.ok = m.group(2) == "ok"
            if not result.ok:
                rest = m.group(3).split()
                if rest:
                    result.error_where = rest[0]
                if len(rest) > 1:
                    result.error_code = rest[1]
    return result
