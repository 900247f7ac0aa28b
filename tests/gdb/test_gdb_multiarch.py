"""Debian's gdb-multiarch, in batch mode, against `python -m sim run ... --gdb PORT --wait`: the
user's debugging session on the failing-POST scenario, from Ctrl-C to detach, after which the
scenario must still complete with HTTP 200 (the peer never noticed the firmware was halted)."""

from __future__ import annotations

import json
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

from gdbkit import FIXED_ELF, ROOT

GDB = shutil.which("gdb-multiarch")
SUITE = "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256"

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _gdb_installed():
    if GDB is None:
        pytest.fail("gdb-multiarch is not installed: run scripts/setup")

SESSION = """\
set pagination off
set confirm off
set width 0
target remote :{port}
echo @@ctrlc\\n
set debug remote 1
continue
set debug remote 0
echo @@interrupted\\n
break mbedtls_ssl_write
continue
echo @@bt\\n
bt
printf "len=%d port=%d\\n", len, https_server.port
info registers s0
info registers d0
echo @@time\\n
monitor time
shell sleep 0.5
monitor time
echo @@finish\\n
finish
printf "ret=%d\\n", ret
echo @@next\\n
next
echo @@step\\n
step
echo @@watch\\n
delete
watch eth_stats.tx_frames
continue
delete
echo @@exception\\n
break SysTick_Handler
continue
bt 3
delete
echo @@journal\\n
monitor journal
detach
"""


def _start_run(tmp_path) -> tuple[subprocess.Popen, int]:
    """`python -m sim run ... --gdb 0 --wait` in the background; its GDB port."""
    if not FIXED_ELF.exists():
        pytest.fail(f"{FIXED_ELF} is not built: run scripts/setup")
    err_path = tmp_path / "run.err"
    with open(err_path, "w") as err, open(tmp_path / "run.out", "w") as stdout:
        run = subprocess.Popen([sys.executable, "-m", "sim", "run", "--firmware", "fixed", "--tls", "1.2",
                                "--suite", SUITE, "--post", "/upload", "4096", "--gdb", "0", "--wait",
                                "--max-wall", "120", "--out", str(tmp_path / "out")],
                               cwd=ROOT, stdout=stdout, stderr=err)
    try:
        return run, _port_from(err_path, run, time.monotonic() + 120)
    except BaseException:
        run.kill()
        raise


def _port_from(path, proc, deadline: float) -> int:
    while time.monotonic() < deadline:
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", path.read_text())
        if m:
            return int(m.group(1))
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(f"the scenario never announced its GDB port:\n{path.read_text()}")


def _sections(transcript: str) -> dict[str, str]:
    """The GDB output between `echo @@name` markers."""
    parts = re.split(r"^@@(\w+)$", transcript, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def _where(text: str) -> tuple[str, int]:
    """(function, line) of the last stop location GDB printed."""
    funcs = re.findall(r"^(?:0x[0-9a-f]+ in )?(\w+) \(.*\) at \S+:(\d+)$", text, flags=re.M)
    lines = re.findall(r"^(\d+)\t", text, flags=re.M)
    return (funcs[-1][0] if funcs else "", int(lines[-1]) if lines else -1)


def _interrupt_the_continue(gdb: subprocess.Popen) -> list[str]:
    """GDB's output lines; Ctrl-C (SIGINT to GDB, as a user at the terminal) once GDB has sent
    the continue after the @@ctrlc marker (`set debug remote 1` shows the packet), and again
    every 5 s until it reports the stop."""
    got: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for text in gdb.stdout:
            got.put(text)
        got.put(None)

    threading.Thread(target=read, daemon=True).start()
    lines: list[str] = []
    marker = interrupting = False
    while True:
        try:
            line = got.get(timeout=5)
        except queue.Empty:
            if interrupting:
                gdb.send_signal(signal.SIGINT)
            continue
        if line is None:
            return lines
        lines.append(line)
        if line.strip() == "@@ctrlc":
            marker = True
        elif marker and ("Sending packet: $vCont;c" in line or "Sending packet: $c#" in line):
            marker, interrupting = False, True
            gdb.send_signal(signal.SIGINT)
        elif interrupting and "Program received signal SIGINT" in line:
            interrupting = False


def test_gdb_session_on_the_large_post_then_the_scenario_completes(tmp_path):
    out, err_path = tmp_path / "out", tmp_path / "run.err"
    run, port = _start_run(tmp_path)
    try:
        commands = tmp_path / "session.gdb"
        commands.write_text(SESSION.format(port=port))
        gdb = subprocess.Popen([GDB, "-q", "-batch", "-nx", "-iex", "set osabi none", str(FIXED_ELF),
                                "-x", str(commands)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        watchdog = threading.Timer(60, gdb.kill)
        watchdog.start()
        lines = _interrupt_the_continue(gdb)
        gdb.wait()
        watchdog.cancel()
        status = run.wait(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    transcript = "".join(lines)
    s = _sections(transcript)
    context = f"\n--- gdb ---\n{transcript}\n--- run ---\n{err_path.read_text()}"

    assert "Program received signal SIGINT, Interrupt." in s["ctrlc"], context
    frames = re.findall(r"^#(\d+)\s+(?:0x[0-9a-f]+ in )?(\w+) \(", s["bt"], flags=re.M)
    names = [name for _, name in frames]
    assert names[:4] == ["mbedtls_ssl_write", "tls_session_write", "https_post", "cmd_post"], context
    assert "len=4096 port=443" in s["bt"], context
    s0 = re.search(r"^s0\s+\S+\s+\(raw (0x[0-9a-f]+)\)", s["bt"], flags=re.M)
    d0 = re.search(r"^d0\s+.*\(raw (0x[0-9a-f]+)\)", s["bt"], flags=re.M)
    assert s0 and d0, context
    assert int(s0.group(1), 16) == int(d0.group(1), 16) & 0xFFFFFFFF      # s0 is d0's low half
    times = re.findall(r"^virtual time .*$", s["time"], flags=re.M)
    assert len(times) == 2 and times[0] == times[1], context              # halted: time stands still
    assert re.search(r"Value returned is \$\d+ = 4096", s["finish"]), context
    assert "ret=4096" in s["finish"], context                            # a local of the caller
    after_finish = _where(s["finish"])
    after_next, after_step = _where(s["next"]), _where(s["step"])
    assert after_finish[0] == "tls_session_write" and after_next[1] > 0, context
    assert after_next != after_finish and after_step != after_next, context
    old = re.search(r"Old value = (\d+)", s["watch"])
    new = re.search(r"New value = (\d+)", s["watch"])
    assert old and new and int(new.group(1)) == int(old.group(1)) + 1, context
    assert re.search(r"\) at \S*eth_mac\.c:\d+", s["watch"]), context    # the driver's TX path
    # unwinding from the handler (MSP) into the interrupted task (PSP) needs msp/psp from m-system
    handler = re.findall(r"^#(\d+)\s+(?:0x[0-9a-f]+ in )?(<signal handler called>|\w+)", s["exception"], flags=re.M)
    assert [n for _, n in handler][:2] == ["SysTick_Handler", "<signal handler called>"], context
    assert len(handler) == 3 and handler[2][1] != "SysTick_Handler", context
    assert "TLS record journal" in s["journal"] and "ClientHello" in s["journal"], context
    assert "[Inferior 1 (Remote target) detached]" in s["journal"], context

    assert status == 0, context
    result = json.loads((out / "result.json").read_text())
    assert result["verdict"] == "pass" and result["steps"][0]["status"] == 200, context
    assert result["steps"][0]["digest_match"] is True


def test_gdb_kill_ends_the_scenario_with_an_error_not_the_process(tmp_path):
    run, port = _start_run(tmp_path)
    try:
        gdb = subprocess.run([GDB, "-q", "-batch", "-nx", str(FIXED_ELF), "-ex", f"target remote :{port}",
                              "-ex", "kill"], capture_output=True, text=True, timeout=60)
        status = run.wait(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    summary = (tmp_path / "run.out").read_text()
    assert "[Inferior 1 (Remote target) killed]" in gdb.stdout, gdb.stdout + gdb.stderr
    assert status == 2 and "error: GDB killed the target" in summary, summary
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["verdict"] == "error" and "GDB killed the target" in result["error"]
