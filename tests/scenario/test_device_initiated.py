"""Device-initiated scenarios: an image that nobody drives boots from reset, gets its address, its
server's address and its time from the virtual network, and makes its own requests; the run
records each of them and stops at the condition the scenario names.

Oracles: what the image itself understood from each answer (it logs the address it was leased,
the address DNS gave, the time SNTP told), tshark's decoding of the capture, Python's datetime for
the calendar, the reference firmware's documented body pattern for the POST digests, and the
shell-driven `seedbug` run for the diagnosis of the same defect."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from sim.http import pattern_bytes
from sim.net import InternetConfig
from sim.scenario import FIRMWARE_DIR, DeviceInitiated, InvalidScenario, Scenario, Step, clear_boot_cache, run_scenario

AUTOPOST_BODY = 1400                        # FW_AUTOPOST_BODY_SIZE of the autopost images (firmware/README.md)
GCM = "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256"


@pytest.fixture(scope="module")
def probe(build_test_firmware):
    return str(build_test_firmware("device_probe"))


@pytest.fixture(scope="module")
def autopost():
    for variant in ("autopost-fixed", "autopost-seedbug"):
        if not (FIRMWARE_DIR / f"{variant}.elf").exists():
            pytest.fail(f"{FIRMWARE_DIR / variant}.elf is missing: run scripts/setup "
                        f"(or scripts/build-firmware {variant})")


def _probe_scenario(probe, **device) -> Scenario:
    network = device.pop("network", None)
    return Scenario(firmware=probe, max_virtual_s=10, network=network,
                    device=DeviceInitiated(**{"until_uart": "probe: done", **device}))


def _tshark(capture, *fields, display=None) -> list[list[str]]:
    assert shutil.which("tshark"), "tshark is missing: run scripts/setup (it installs the Debian package)"
    cmd = ["tshark", "-r", str(capture), "-T", "fields"] + [x for f in fields for x in ("-e", f)]
    if display:
        cmd += ["-Y", display]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [line.split("\t") for line in out.splitlines()]


# --- the network served from the first cycle on ---------------------------------------------------

def test_the_image_gets_the_lease_name_and_time_the_scenario_records(probe, tmp_path):
    network = InternetConfig(names={"telemetry.example.net": ["203.0.113.7"]}, date="2030-05-01T12:00:00Z")
    result = run_scenario(_probe_scenario(probe, network=network), tmp_path)
    assert result.passed, result.summary()
    uart = (tmp_path / "uart.log").read_text()
    report = json.loads((tmp_path / "result.json").read_text())["device"]

    [ack] = [e for e in report["dhcp"] if e["event"] == "ack"]
    assert f"probe: lease {ack['address']} dns 192.0.2.1" in uart
    [answer] = report["dns"]
    assert answer["name"] == "telemetry.example.net" and answer["addresses"] == ["203.0.113.7"]
    assert "probe: dns telemetry.example.net = 203.0.113.7" in uart
    # the calendar the image was told is the date given plus the virtual time of the answer (after
    # its link came up: auto-negotiation takes 1.8 s), and what it read is what the server recorded
    told = int(uart.split("probe: time ")[1].split()[0])
    [sntp] = report["sntp"]
    start = datetime(2030, 5, 1, 12, tzinfo=timezone.utc)
    assert datetime.fromisoformat(sntp["told"].replace("Z", "+00:00")) == \
        start + timedelta(microseconds=sntp["time_ns"] // 1000)
    assert told == int(start.timestamp()) + sntp["time_ns"] // 1_000_000_000

    rows = _tshark(tmp_path / "capture.pcapng", "_ws.col.Protocol", "_ws.col.Info")
    protocols = [r[0] for r in rows]
    assert protocols[:4] == ["DHCP"] * 4 and "Discover" in rows[0][1] and "ACK" in rows[3][1]
    assert "DNS" in protocols and "NTP" in protocols
    dns = _tshark(tmp_path / "capture.pcapng", "dns.a", display="dns.flags.response == 1")
    assert dns == [["203.0.113.7"]]


def test_nothing_the_image_sends_after_reset_is_missed(probe, tmp_path):
    """device_probe sends its DHCP DISCOVER before it prints anything: the run starts at reset."""
    result = run_scenario(_probe_scenario(probe), tmp_path)
    assert result.passed, result.summary()
    first = _tshark(tmp_path / "capture.pcapng", "frame.time_epoch", "dhcp.option.dhcp")[0]   # virtual time
    assert first[1] == "1"                                   # DISCOVER, the first frame of the capture
    [offer] = [e for e in result.device.leases if e["event"] == "offer"]
    discover = round(float(first[0]) * 1e9)                  # the capture's first frame, at its virtual time
    assert 0 <= offer["time_ns"] - discover < 2_000_000      # answered within 2 ms of virtual time


def test_an_absent_name_gets_nxdomain(probe, tmp_path):
    network = InternetConfig(absent_names=["telemetry.example.net"])
    result = run_scenario(_probe_scenario(probe, network=network), tmp_path)
    assert result.passed, result.summary()
    assert "probe: dns telemetry.example.net rcode 3" in result.uart.decode()
    assert result.device.dns_answers[0]["rcode"] == "NXDOMAIN"


# --- stop conditions --------------------------------------------------------------------------------

def test_the_first_of_two_stop_conditions_is_reported(probe):
    # probe_done() is called just before "probe: done" is printed
    result = run_scenario(_probe_scenario(probe, until_symbol="probe_done"))
    report = result.to_dict()["device"]
    assert result.passed and report["stopped_by"] == "until-symbol"
    uart, symbol = report["stop_conditions"]
    assert symbol["reached"] and uart["reached"] and symbol["at_ms"] < uart["at_ms"]
    # and the other way round: a line printed before the function is reached
    result = run_scenario(_probe_scenario(probe, until_uart="probe: lease", until_symbol="probe_done"))
    report = result.to_dict()["device"]
    assert report["stopped_by"] == "until-uart"
    uart, symbol = report["stop_conditions"]
    # the run settles for a second after the stop, so the later condition is met too, later
    assert uart["at_ms"] < symbol["at_ms"]


def test_no_stop_condition_runs_the_whole_virtual_limit(probe):
    # (the probe waits for auto-negotiation, 1.8 s, before its first frame)
    result = run_scenario(Scenario(firmware=probe, max_virtual_s=3.0, device=DeviceInitiated()))
    assert result.verdict == "pass", result.summary()
    assert result.virtual_ns == 3_000_000_000
    assert b"probe: done" in result.uart


def test_a_stop_condition_never_met_ends_at_the_limit_with_the_last_console_lines(probe):
    result = run_scenario(_probe_scenario(probe, until_uart="never printed", settle_s=0.1))
    assert result.verdict == "error"
    assert "virtual-time limit (scenario)" in result.error and "'never printed' on the console" in result.error
    assert "probe: done" in result.error                     # the console's tail


def test_an_unknown_stop_symbol_is_refused_before_the_run(probe):
    with pytest.raises(InvalidScenario, match="no symbol 'Missing_Handler'"):
        run_scenario(_probe_scenario(probe, until_symbol="Missing_Handler"))


# --- the console --------------------------------------------------------------------------------

def test_the_console_is_the_first_usart_written_unless_named(build_test_firmware):
    on_usart1 = str(build_test_firmware("device_probe", defines={"PROBE_CONSOLE_USART1": 1},
                                        variant="console1"))
    auto = run_scenario(Scenario(firmware=on_usart1, max_virtual_s=5,
                                 device=DeviceInitiated(until_uart="probe: done")))
    assert auto.passed and auto.device.console == "usart1" and b"probe: lease" in auto.uart
    named = run_scenario(Scenario(firmware=on_usart1, max_virtual_s=5,
                                  device=DeviceInitiated(until_symbol="probe_done", console="usart2")))
    assert named.passed and named.uart == b""
    assert named.device.other_uarts["usart1"] > 0
    silent = run_scenario(Scenario(firmware=on_usart1, max_virtual_s=5,
                                   device=DeviceInitiated(until_symbol="probe_done", console="none")))
    assert silent.passed and silent.uart == b"" and silent.device.console is None
    with pytest.raises(InvalidScenario, match="'usart7' is not a UART of the platform"):
        run_scenario(Scenario(firmware=on_usart1, device=DeviceInitiated(console="usart7")))


# --- the autopost reference images ----------------------------------------------------------------

def test_autopost_fixed_posts_are_answered_and_their_digests_match(autopost, tmp_path):
    result = run_scenario(Scenario(firmware="autopost-fixed", device=DeviceInitiated(requests=3)), tmp_path)
    assert result.passed, result.summary()
    expected = hashlib.sha256(pattern_bytes(AUTOPOST_BODY)).hexdigest()
    uart = result.uart.decode()
    assert len(result.connections) == 3
    for n, connection in enumerate(result.connections, 1):
        assert (connection.name, connection.port, connection.sni) == ("telemetry.example.net", 443,
                                                                      "telemetry.example.net")
        assert (connection.tls_version, connection.suite) == ("TLS1.2", GCM)
        [request] = connection.requests
        assert (request.method, request.path, request.size, request.status) == ("POST", "/upload", AUTOPOST_BODY, 200)
        assert request.server_sha256 == expected
        logged = f"telemetry: post {n} ok status=200 server_length={AUTOPOST_BODY} server_sha256={expected} match=yes"
        assert logged in uart
        # what the TLS layer handed to TCP is exactly what the peer received
        assert connection.device_sent == bytes(connection.sessions[0].journal.rx_stream)
    saved = json.loads((tmp_path / "result.json").read_text())
    assert [r["status"] for c in saved["connections"] for r in c["requests"]] == [200, 200, 200]


def test_autopost_seedbug_fails_with_bad_record_mac_diagnosed_as_seedbug(autopost, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "sim", "run", "--firmware", "autopost-seedbug", "--device-initiated",
                           "--requests", "2", "--expect", "bad_record_mac", "--out", str(tmp_path / "auto")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    uart = (tmp_path / "auto" / "uart.log").read_text()
    saved = json.loads((tmp_path / "auto" / "result.json").read_text())
    told = saved["device"]["sntp"][0]["told"]                # e.g. 2024-01-01T00:00:02.817776Z
    for line in ("dhcp: lease 192.0.2.", "dns: telemetry.example.net -> 192.0.2.1", f"sntp: time {told[:19]}Z",
                 "is a fatal alert message (msg 20)", "telemetry: post 2 failed read -0x7780"):
        assert line in uart, line
    requests = [r for c in saved["connections"] for r in c["requests"]]
    assert [(r["outcome"], r["alert"], r["alert_from"]) for r in requests] == [("bad_record_mac", "bad_record_mac",
                                                                                "peer")] * 2

    shell = run_scenario(Scenario(firmware="seedbug", tls_version="1.2", suite=GCM,
                                  steps=(Step("post", "/upload", AUTOPOST_BODY, expect="bad_record_mac"),)))
    expected = shell.diagnosis.to_dict()["difference"]
    text = (tmp_path / "auto" / "diagnosis.txt").read_text()
    assert text.count("4 stale/garbage byte(s) inserted, then the intended bytes shifted by +4") == 2
    auto = run_scenario(Scenario(firmware="autopost-seedbug",
                                 device=DeviceInitiated(requests=1, expect="bad_record_mac")))
    got = auto.diagnosis.to_dict()["difference"]
    # the same change (what was inserted, by how much the rest moved, for how long); only where in
    # the stream it sits differs, since the requests are not the same bytes
    for key in ("kind", "shift", "inserted_bytes", "inserted_uniform", "shifted_length", "summary"):
        assert got["pattern"][key] == expected["pattern"][key], key
    assert got["offset_in_record"] == expected["offset_in_record"] and got["record_part"] == expected["record_part"]
    for key in ("frame_offset", "dma_buffer_offset"):
        assert got["location"][key] == expected["location"][key] == 1020
    assert "eth_tx_buffers" in got["location"]["dma_buffer"]


def test_autopost_run_is_byte_identical_for_a_seed_and_tshark_decrypts_it(autopost, tmp_path):
    outs = []
    for n in range(2):
        clear_boot_cache()
        out = tmp_path / f"run{n}"
        result = run_scenario(Scenario(firmware="autopost-fixed", seed=5, device=DeviceInitiated(requests=1)), out)
        assert result.passed, result.summary()
        outs.append(out)
    for name in ("uart.log", "capture.pcapng", "journal.json"):
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
    capture = outs[0] / "capture.pcapng"
    protocols = {row[0] for row in _tshark(capture, "_ws.col.Protocol")}
    assert {"DHCP", "DNS", "NTP"} <= protocols
    http = _tshark(capture, "http.request.method", "http.request.uri", "http.response.code", display="http")
    assert ["POST", "/upload", ""] in http and ["", "", "200"] in http


def test_cli_exit_status_follows_the_expectation_for_every_request(autopost, tmp_path):
    base = [sys.executable, "-m", "sim", "run", "--firmware", "autopost-fixed", "--device-initiated", "--requests", "1"]
    bad = subprocess.run(base + ["--expect", "bad_record_mac", "--out", str(tmp_path / "a")],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "verdict: fail" in bad.stdout and "POST /upload 1400 bytes" in bad.stdout
    assert json.loads((tmp_path / "a" / "result.json").read_text())["verdict"] == "fail"


# --- hardware the platform does not model -----------------------------------------------------------

def test_a_user_image_goes_on_past_unmodelled_hardware_and_the_report_lists_it(build_test_firmware, tmp_path):
    """By default a user's ELF runs on past an unmodelled timer read (0) and a NULL store into
    flash (not performed; FLASH_SR PGSERR|PGPERR, RM0090 §3.6.2), and the report names both the
    register and the function; --on-unmapped fault makes the read a bus fault instead."""
    elf = build_test_firmware("device_probe", defines={"PROBE_TOUCH_UNMODELLED": 1}, variant="touch")
    base = [sys.executable, "-m", "sim", "run", "--firmware", str(elf), "--device-initiated",
            "--until-symbol", "probe_done"]
    warn = subprocess.run(base + ["--out", str(tmp_path / "warn")], capture_output=True, text=True, timeout=300)
    assert warn.returncode == 0, warn.stdout + warn.stderr
    uart = (tmp_path / "warn" / "uart.log").read_text()
    assert "probe: tim1 cnt 0 flash sr 192" in uart and "probe: lease" in uart      # 192 = 0xC0
    assert "0x40010024 (TIM1) read 1x by main" in warn.stdout
    saved = json.loads((tmp_path / "warn" / "result.json").read_text())
    assert saved["scenario"]["on_unmapped"] == "warn"
    assert saved["unmodelled"] == [{"address": "0x40010024", "block": "TIM1", "access": "read", "function": "main",
                                    "count": 1, "first_cycles": saved["unmodelled"][0]["first_cycles"]}]

    fault = subprocess.run(base + ["--on-unmapped", "fault", "--out", str(tmp_path / "fault")],
                           capture_output=True, text=True, timeout=300)
    assert fault.returncode == 2, fault.stdout + fault.stderr
    assert "unmodelled hardware" not in fault.stdout
    assert "probe: lease" not in (tmp_path / "fault" / "uart.log").read_text()


def test_the_rtc_starts_at_the_scenario_date(build_test_firmware):
    """The RTC reads the scenario's calendar from the first instruction on (RM0090 §26: TR/DR)."""
    from sim.scenario import DeviceRunner

    runner = DeviceRunner(Scenario(firmware=str(build_test_firmware("device_probe")), max_virtual_s=0.5,
                                   network=InternetConfig(date="2031-07-04T12:34:56Z"), device=DeviceInitiated()))
    assert runner.run().passed
    rtc = runner.machine.peripherals["rtc"]
    tr, dr = rtc.read(0x00, 4), rtc.read(0x04, 4)         # as firmware reads them: TR, then DR
    # half a second of virtual time after 12:34:56 on Friday 2031-07-04 (WDU 5)
    assert (tr, dr) == (0x12_34_56, 0x31_00_00 | 5 << 13 | 0x07_04)
