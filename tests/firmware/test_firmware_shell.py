"""The shell protocol the scenario runner parses, on the booted `fixed` image (built-in machine,
no network peer attached): boot lines, `ready` once, one status line per command, the prompt,
echo and line editing, the TLS settings the report's matrix needs, reboot."""

from __future__ import annotations

import re

import pytest

from sim.platform import DEFAULT_REPL

SLICE_CYCLES = 336_000                  # 2 ms of virtual time at 168 MHz

REPORT_SUITES = [
    "TLS-RSA-WITH-AES-128-CBC-SHA", "TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA",
    "TLS-RSA-WITH-AES-128-GCM-SHA256", "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256",
    "TLS-RSA-WITH-AES-256-CBC-SHA", "TLS-ECDHE-RSA-WITH-AES-256-CBC-SHA",
    "TLS-RSA-WITH-AES-128-CBC-SHA256", "TLS-RSA-WITH-AES-256-CBC-SHA256",
    "TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA256", "TLS-ECDHE-RSA-WITH-AES-256-CBC-SHA384",
    "TLS-RSA-WITH-AES-256-GCM-SHA384", "TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384",
]


class Console:
    def __init__(self, machine):
        self.machine = machine
        self.uart = machine.uart("usart1")
        self.seen = 0

    def wait_for(self, suffix: bytes, max_ms: int = 3000) -> str:
        """Run until the transcript ends with `suffix`; return what arrived since last time."""
        for _ in range(max_ms // 2):
            result = self.machine.run(SLICE_CYCLES)
            assert result.fault is None, result.fault
            if self.uart.transcript.endswith(suffix):
                break
        else:
            pytest.fail(f"no {suffix!r} within {max_ms} ms; transcript tail: {self.uart.transcript[-300:]!r}")
        new = self.uart.transcript[self.seen:].decode("latin-1")
        self.seen = len(self.uart.transcript)
        return new

    def command(self, line: str, end: str = "\r") -> str:
        self.uart.write((line + end).encode())
        return self.wait_for(b"\r\n> ")


@pytest.fixture(scope="module")
def console(firmware_elfs):
    from sim.backends import create_backend

    machine = create_backend("builtin", DEFAULT_REPL, seed=1)
    machine.load_elf(str(firmware_elfs["fixed"]))
    machine.reset()
    con = Console(machine)
    con.boot = con.wait_for(b"ready\r\n> ")
    return con


def test_boot_lines_then_ready_once(console):
    lines = console.boot.split("\r\n")
    assert re.fullmatch(r"boot: tls-client fixed mbedtls 2\.28\.3 lwip 2\.1\.3 sysclk 168000000", lines[0])
    assert re.fullmatch(r"net: phy lan8742a addr 0 id 0x0007c13[01]", next(l for l in lines if "net: phy" in l))
    assert "net: link up 100M full-duplex" in lines
    assert "net: ip 192.0.2.10/24 mac 02:00:00:00:0f:07 server 192.0.2.1:443" in lines
    assert lines.count("ready") == 1 and lines[-1] == "> "
    assert "\n" not in console.boot.replace("\r\n", "")          # every line ends with CRLF


def test_help_lists_commands_and_echoes(console):
    out = console.command("help")
    assert out.startswith("help\r\n")                           # echo
    for name in ("help", "net", "tls", "get", "post", "reboot"):
        assert re.search(rf"^  {name}\b", out, re.M)
    assert out.endswith("help: ok\r\n> ")


def test_crlf_is_one_line_end_and_backspace_edits(console):
    out = console.command("helx\x7fp", end="\r\n")
    assert out.count("help: ok") == 1
    console.machine.run(SLICE_CYCLES * 10)
    assert console.uart.transcript.endswith(b"help: ok\r\n> ")  # no second prompt for the LF


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2", "any"])
def test_tls_version(console, version):
    assert console.command(f"tls version {version}").endswith(f"tls: version {version} ok\r\n> ")


def test_tls_suites_of_the_report_are_compiled_in(console):
    for suite in REPORT_SUITES:
        assert console.command(f"tls suite {suite}").endswith(f"tls: suite {suite} ok\r\n> "), suite
    assert console.command("tls suite any").endswith("tls: suite any ok\r\n> ")


@pytest.mark.parametrize("line,reply", [
    ("tls suite TLS-PSK-WITH-NULL-SHA", "tls: error unknown suite TLS-PSK-WITH-NULL-SHA"),
    ("tls version 1.3", "tls: error unknown version 1.3"),
    ("tls debug 9", "tls: error debug level 9"),
    ("get hello", "get: error usage"),
    ("post /upload many", "post: error usage"),
    ("net ip 300.1.2.3", "net: error invalid address"),
    ("frobnicate now", "frobnicate: error unknown command"),
])
def test_bad_input_gets_an_error_status_line(console, line, reply):
    out = console.command(line)
    status = out.split("\r\n")[-2]
    assert status.startswith(reply), out


def test_tls_debug_and_settings(console):
    assert console.command("tls debug 3").endswith("tls: debug 3 ok\r\n> ")
    assert console.command("tls version 1.2").endswith("tls: version 1.2 ok\r\n> ")
    out = console.command("tls")
    assert "tls: version 1.2 suite any debug 3\r\n" in out and out.endswith("tls: ok\r\n> ")
    console.command("tls debug 1")


def test_net_reports_link_addresses_counters(console):
    assert console.command("net server 192.0.2.1:8443").endswith("net: server 192.0.2.1:8443 ok\r\n> ")
    out = console.command("net")
    assert "net: link up 100M full-duplex\r\n" in out
    assert "server 192.0.2.1:8443" in out
    assert re.search(r"net: eth tx_frames=\d+ ", out)
    assert out.endswith("net: ok\r\n> ")
    console.command("net server 192.0.2.1:443")


def test_reboot_resets_and_boots_again(console):
    console.uart.write(b"reboot\r")
    out = console.wait_for(b"ready\r\n> ")
    assert "reboot: ok\r\nboot: tls-client fixed" in out
    assert out.count("ready") == 1
