"""Robot: `--variable GDB_PORT:N` and `Wait For Gdb Connection` halt a test's firmware until a
debugger has attached and continued; monitor commands see the test's peer journal."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from gdbkit import FIXED_ELF, ROOT, RspClient, stop_fields
from sim.machine.elf import read_elf

SUITE = """\
*** Settings ***
Library    sim.keywords.SimKeywords

*** Test Cases ***
Large POST Under GDB
    Wait For Gdb Connection    timeout=60
    Configure Firmware TLS    1.2    TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256
    ${result}=    HTTPS POST    /upload    4096
    Response Should Be OK    ${result}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _connect(port: int, proc, deadline: float) -> RspClient:
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            return RspClient(port)
        except ConnectionRefusedError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listened on the GDB port {port} (robot exit status {proc.poll()})")


@pytest.mark.slow
def test_wait_for_gdb_connection_in_a_robot_suite(tmp_path):
    if not FIXED_ELF.exists():
        pytest.fail(f"{FIXED_ELF} is not built: run scripts/setup")
    suite = tmp_path / "gdb.robot"
    suite.write_text(SUITE)
    port = _free_port()
    robot = subprocess.Popen([sys.executable, "-m", "robot", "--variable", f"GDB_PORT:{port}",
                              "--outputdir", str(tmp_path), "--log", "NONE", "--report", "NONE", str(suite)],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        client = _connect(port, robot, time.monotonic() + 60)
        client.request("qSupported:swbreak+")
        assert stop_fields(client.request("?"))["signal"] == "05"
        write = read_elf(FIXED_ELF).symbols.address("mbedtls_ssl_write")
        assert client.request(f"Z0,{write:x},2") == b"OK"
        client.send("vCont;c")
        stop = stop_fields(client.read_packet())
        assert int.from_bytes(bytes.fromhex(stop["0f"]), "little") == write and "swbreak" in stop
        text, _ = client.monitor("journal")
        assert "ClientHello" in text and "Finished" in text            # this test's handshake
        assert client.request(f"z0,{write:x},2") == b"OK"
        assert client.request("D") == b"OK"
        client.close()
        output, _ = robot.communicate(timeout=120)
    finally:
        if robot.poll() is None:
            robot.kill()
    assert robot.returncode == 0, output
    assert "1 test, 1 passed, 0 failed" in output
