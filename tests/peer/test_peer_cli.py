"""`python -m sim peer` as a user runs it: bad options refused before listening (exit 2, one line,
no traceback), curl served, journals in a new run directory per start, journals of connections still
open written on SIGTERM and SIGINT."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys

import pytest
from peerkit import SERVER_NAME, PeerProcess, client_context, connect, expected_get_body, good_get, read_until_closed

TIMEOUT = 60


def _peer(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim", "peer", *args], capture_output=True, text=True,
                          timeout=TIMEOUT)


def _refused(run: subprocess.CompletedProcess, *words: str) -> None:
    assert run.returncode == 2, (run.returncode, run.stdout, run.stderr)
    assert "listening" not in run.stdout
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


@pytest.fixture
def busy_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


@pytest.mark.parametrize("args,words", [
    (["--listen", "8443"], ["--listen '8443'", "HOST:PORT"]),
    (["--listen", "127.0.0.1:99999"], ["--listen", "HOST:PORT"]),
    (["--listen", "::1:8443"], ["brackets", "[::1]:8443"]),
    (["--listen", "[not-v6]:8443"], ["IPv6"]),
    (["--listen", "no-such-host.invalid:0"], ["cannot resolve", "IP address"]),
    (["--max-connections", "0"], ["--max-connections 0", "at least 1"]),
    (["--max-connections", "-3"], ["--max-connections -3", "at least 1"]),
    (["--handshake-timeout", "nan"], ["--handshake-timeout nan", "finite"]),
    (["--handshake-timeout", "0"], ["--handshake-timeout 0", "above 0"]),
    (["--idle-timeout", "inf"], ["--idle-timeout inf", "finite"]),
    (["--idle-timeout", "-5"], ["--idle-timeout -5", "above 0"]),
    (["--suite", "TLS-NOPE"], ["unknown cipher suite 'TLS-NOPE'", "TLS-RSA-WITH-AES-128-CBC-SHA"]),
    (["--journal", ""], ["--journal", "give a directory"]),
])
def test_bad_option_is_one_line_and_exit_2(args, words):
    _refused(_peer("--listen", "127.0.0.1:0", *args) if "--listen" not in args else _peer(*args), *words)


def test_address_in_use_is_refused(busy_port, tmp_path):
    run = _peer("--listen", f"127.0.0.1:{busy_port}", "--journal", str(tmp_path / "j"))
    _refused(run, f"127.0.0.1:{busy_port}", "cannot listen", "another address or port")
    assert list((tmp_path / "j").iterdir()) == []      # no empty run directory left behind


def test_journal_naming_a_file_is_refused_before_listening(tmp_path):
    existing = tmp_path / "journal.json"
    existing.write_text("keep me\n")
    _refused(_peer("--listen", "127.0.0.1:0", "--journal", str(existing)), str(existing), "directory")
    assert existing.read_text() == "keep me\n"


def test_journal_under_a_file_is_refused_before_listening(tmp_path):
    (tmp_path / "file").write_text("")
    under = tmp_path / "file" / "journal"
    _refused(_peer("--listen", "127.0.0.1:0", "--journal", str(under)), str(under), "cannot create")


def test_curl_is_served_and_journaled(tmp_path, peer_ca):
    curl = shutil.which("curl")
    assert curl, "curl is not installed: run scripts/setup (it installs openssl and curl)"
    journal = tmp_path / "journal"
    with PeerProcess("--tls", "1.2", "--suite", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "--seed", "5",
                     "--journal", str(journal)) as peer:
        run = subprocess.run([curl, "-sS", "--fail", "--cacert", str(peer_ca), "--resolve",
                              f"{SERVER_NAME}:{peer.port}:127.0.0.1", f"https://{SERVER_NAME}:{peer.port}/hello"],
                             capture_output=True, timeout=TIMEOUT)
        assert run.returncode == 0, run.stderr
        assert run.stdout == expected_get_body("/hello")
        peer.wait_for(lambda ln: "session-0: closed" in ln)
        assert peer.stop(signal.SIGINT) == 0
    run_dir = journal / "run-0001"
    data = json.loads((run_dir / "session-0.journal.json").read_text())
    assert data["info"]["suite"] == "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256"
    assert (run_dir / "keylog.txt").read_text().startswith("CLIENT_RANDOM ")
    assert "session-0" in (run_dir / "session-0.journal.txt").read_text()


def test_each_start_writes_a_new_run_directory(tmp_path, peer_ca):
    journal = tmp_path / "journal"
    ctx = client_context(peer_ca)
    keylogs = []
    for start in (1, 2):
        with PeerProcess("--journal", str(journal)) as peer:
            assert f"journal in {journal / f'run-000{start}'}" in peer.lines[0]
            good_get(ctx, "127.0.0.1", peer.port, f"/start-{start}")
            peer.wait_for(lambda ln: "session-0: closed" in ln)
            assert peer.stop() == 0
        keylogs.append((journal / f"run-000{start}" / "keylog.txt").read_text())
        assert len(keylogs[-1].splitlines()) == 1      # this run's one session only
    assert sorted(p.name for p in journal.iterdir()) == ["run-0001", "run-0002"]
    assert keylogs[0] != keylogs[1]
    # each run keeps its own session-0: the second start did not overwrite the first one's
    assert "GET /start-1 " in (journal / "run-0001" / "session-0.journal.txt").read_text()
    assert "GET /start-2 " in (journal / "run-0002" / "session-0.journal.txt").read_text()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stop_signal_journals_open_connections(tmp_path, peer_ca, sig):
    journal = tmp_path / "journal"
    with PeerProcess("--journal", str(journal)) as peer:
        ctx = client_context(peer_ca)
        with connect("127.0.0.1", peer.port) as raw, ctx.wrap_socket(raw, server_hostname=SERVER_NAME) as tls:
            tls.sendall(b"GET /half-sent HTTP/1.1\r\nHost: tls-peer.test\r\n")     # no blank line: stays open
            peer.wait_for(lambda ln: "session-0: connection from" in ln)
            with connect("127.0.0.1", peer.port):                                   # no TLS at all
                peer.wait_for(lambda ln: "session-1: connection from" in ln)
                assert peer.stop(sig) == 0
    name = signal.Signals(sig).name
    assert any(f"stopped ({name})" in ln for ln in peer.lines), peer.lines
    assert "Traceback" not in peer.stderr
    run_dir = journal / "run-0001"
    for session, handshake in (("session-0", True), ("session-1", False)):
        data = json.loads((run_dir / f"{session}.journal.json").read_text())
        events = [e["text"] for e in data["events"]]
        assert f"the peer stopped ({name}) with the connection open" in events, events
        assert ("suite" in data["info"]) is handshake
    assert (run_dir / "keylog.txt").read_text().count("CLIENT_RANDOM ") == 1


def test_limits_on_the_command_line_take_effect():
    with PeerProcess("--max-connections", "1", "--handshake-timeout", "0.5", "--idle-timeout", "1000") as peer:
        with connect("127.0.0.1", peer.port) as silent:          # never starts a handshake
            peer.wait_for(lambda ln: "session-0: connection from" in ln)
            try:
                with connect("127.0.0.1", peer.port) as second:
                    assert read_until_closed(second) == b""
            except ConnectionResetError:
                pass                                             # refused before connect() returned
            peer.wait_for(lambda ln: "(--max-connections 1)" in ln)
            assert read_until_closed(silent) == b""              # closed by the handshake deadline
        peer.wait_for(lambda ln: "session-0: closed" in ln)
        assert peer.stop() == 0
    summary = next(ln for ln in peer.lines if ln.startswith("peer: stopped (SIGTERM)"))
    assert "1 connections, 1 refused over the connection cap, 1 handshake deadlines, 0 idle deadlines" in summary
