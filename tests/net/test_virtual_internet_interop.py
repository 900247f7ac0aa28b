"""Debian's own clients against the virtual internet: busybox udhcpc and ISC dhclient take a lease,
dig resolves names, and NTPsec's SNTP client (Debian package sntp) reads the virtual calendar. They
run in a network namespace of their own behind a TAP device bridged (in real time) to the
VirtualInternet, as the device's firmware would sit behind the emulated MAC."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from sim.net.internet import InternetConfig, VirtualInternet
from sim.net.link import Link
from sim.net.tap import RealtimeBridge, TapDevice
from sim.seed import SeededRandom
from sim.vtime import EventQueue

ROUTER = "192.0.2.1"
STATIC = "192.0.2.150/24"            # outside the pool, for the DNS and SNTP clients
TOOLS = {"ip": "iproute2", "busybox": "busybox", "dhclient": "isc-dhcp-client", "dig": "bind9-dnsutils",
         "sntp": "sntp"}
NAMES = {"telemetry.example.net": ["203.0.113.7"], "dual.example.net": ["203.0.113.8", "2001:db8::8"]}


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return "needs root for a network namespace and a TAP device (CI runs as root)"
    if not os.path.exists("/dev/net/tun"):
        return "no /dev/net/tun (tun module missing)"
    missing = [f"{tool} (Debian package {pkg})" for tool, pkg in TOOLS.items() if not shutil.which(tool)]
    if missing:
        return f"needs {', '.join(missing)}: run scripts/setup"
    return None


@pytest.fixture(autouse=True)
def _prerequisites():
    """Only Renode-only tests may skip: anything else missing is a broken setup, said plainly."""
    reason = _why_not()
    if reason is not None:
        pytest.fail(f"the virtual-internet interop test {reason}")


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)


@pytest.fixture(scope="module")
def namespace():
    ns, ifname = f"simvnet{os.getpid()}", f"simvtap{os.getpid() % 100000}"
    try:
        _ip("netns", "add", ns)
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"cannot create a network namespace: {exc.stderr.strip()}")
    tap = None
    try:
        tap = TapDevice(ifname)
        _ip("link", "set", ifname, "netns", ns)
        for args in (("link", "set", "lo", "up"), ("link", "set", ifname, "up")):
            _ip("netns", "exec", ns, "ip", *args)
        yield ns, ifname, tap
    finally:
        if tap is not None:
            tap.close()
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)


def _address(ns: str, ifname: str, cidr: str | None) -> None:
    _ip("netns", "exec", ns, "ip", "addr", "flush", "dev", ifname)
    if cidr is not None:
        _ip("netns", "exec", ns, "ip", "addr", "add", cidr, "dev", ifname)
        _ip("netns", "exec", ns, "ip", "route", "replace", "default", "via", ROUTER)


class Session:
    """A fresh VirtualInternet bridged to the namespace's TAP."""

    def __init__(self, tap: TapDevice, config: InternetConfig | None = None) -> None:
        while tap.read() is not None:            # frames the kernel sent while nobody listened
            pass
        self.queue = EventQueue()
        self.link = Link(self.queue, rng=SeededRandom(1, "link"))
        self.net = VirtualInternet(self.queue, rng=SeededRandom(1, "host"), transmit=self.link.from_host,
                                   config=config or InternetConfig(names=NAMES, absent_names=("gone.example.net",)))
        self.link.attach_host(self.net.handle_frame)
        self.link.attach_device(tap.write)
        self.bridge = RealtimeBridge(self.queue, tap, self.link.from_device)

    def run(self, ns: str, cmd: list[str], workdir: Path, *, env: dict | None = None,
            watch=None) -> tuple[int, str, str]:
        """Run `cmd` in the namespace until it exits; `watch(proc)` is called while it runs."""
        out, err = workdir / "out", workdir / "err"
        with open(out, "wb") as fo, open(err, "wb") as fe:
            proc = subprocess.Popen(["ip", "netns", "exec", ns, *cmd], stdin=subprocess.DEVNULL, stdout=fo,
                                    stderr=fe, env={**os.environ, **(env or {})})

            def done() -> bool:
                if watch is not None and proc.poll() is None:
                    watch(proc)
                return proc.poll() is not None
            try:
                self.bridge.run(done, wall_timeout_s=120)
            finally:
                if proc.poll() is None:
                    proc.kill()
                proc.wait(timeout=10)
        return proc.returncode, out.read_text(errors="replace"), err.read_text(errors="replace")


def _script(path: Path, log: Path) -> Path:
    """A client hook script: writes down what it was told and configures the address as a distribution's
    script would (the clients send RELEASE and RENEW through the kernel, from that address)."""
    wanted = "^(reason|ip|subnet|router|dns|serverid|lease|ntpsrv|broadcast|new_[a-z_]+)="
    path.write_text(f"""#!/bin/sh
{{ echo "event=$1"; env | grep -E '{wanted}' | sort; echo ---; }} >> {log}
case "$1$reason" in
  bound|renew|BOUND|RENEW|REBIND|REBOOT)
    ip addr flush dev "$interface"
    ip addr add "${{ip:-$new_ip_address}}/${{subnet:-$new_subnet_mask}}" dev "$interface";;
  deconfig|RELEASE|EXPIRE|STOP) ip addr flush dev "$interface";;
esac
exit 0
""")
    path.chmod(0o755)
    return path


def _env_blocks(log: Path) -> list[dict[str, str]]:
    blocks = []
    for block in log.read_text().split("---\n"):
        values = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if values:
            blocks.append(values)
    return blocks


def _in_pool(address: str) -> bool:
    return address.startswith("192.0.2.") and 10 <= int(address.rsplit(".", 1)[1]) <= 99


def test_busybox_udhcpc_gets_a_lease_with_broadcast_replies_and_releases_it(namespace, tmp_path):
    ns, ifname, tap = namespace
    _address(ns, ifname, None)
    session = Session(tap, InternetConfig(proxy_arp_subnet=True, ntp_server="192.0.2.123"))
    log = tmp_path / "udhcpc.log"
    log.write_text("")

    stopped: list[bool] = []

    def stop_once_bound(proc):
        if not stopped and "event=bound" in log.read_text():
            proc.send_signal(signal.SIGTERM)
            stopped.append(True)
    # -B broadcast flag, -a ARP-check the offered address (nobody may answer), -O ntpsrv asks for
    # option 42, -R release when stopped (SIGTERM once bound)
    rc, out, err = session.run(ns, ["busybox", "udhcpc", "-i", ifname, "-f", "-n", "-R", "-B", "-a", "-t", "5",
                                    "-T", "3", "-O", "ntpsrv", "-s", str(_script(tmp_path / "hook", log))],
                               tmp_path, watch=stop_once_bound)
    assert rc == 0, out + err
    bound = [b for b in _env_blocks(log) if b.get("event") in ("bound", "renew")]
    assert len(bound) == 1, f"{log.read_text()}\n{err}\nserver: {session.net.leases} {dict(session.net.dhcp.stats)}"
    lease = bound[0]
    assert _in_pool(lease["ip"])
    assert (lease["subnet"], lease["router"], lease["dns"], lease["serverid"], lease["lease"]) == \
        ("255.255.255.0", ROUTER, ROUTER, ROUTER, "3600")
    assert lease["ntpsrv"] == "192.0.2.123" and lease["broadcast"] == "192.0.2.255"
    events = session.net.leases
    assert [e.event for e in events] == ["offer", "ack", "release"], err
    assert all(e.sent_to == "broadcast" for e in events[:2])                 # the BROADCAST flag
    assert events[1].client_id is not None and events[1].address == lease["ip"]
    assert session.net.dhcp.bound_address(events[1].mac) is None


def test_isc_dhclient_gets_a_unicast_lease_and_releases_it(namespace, tmp_path):
    ns, ifname, tap = namespace
    _address(ns, ifname, None)
    session = Session(tap)
    log, leases, pid = tmp_path / "dhclient.log", tmp_path / "dhclient.leases", tmp_path / "dhclient.pid"
    common = ["dhclient", "-v", "-sf", str(_script(tmp_path / "hook", log)), "-lf", str(leases), "-pf", str(pid)]
    try:
        rc, out, err = session.run(ns, common + ["-1", ifname], tmp_path)   # forks to the background once bound
        assert rc == 0, out + err
        bound = [b for b in _env_blocks(log) if b.get("reason") == "BOUND"]
        assert len(bound) == 1, log.read_text()
        lease = bound[0]
        assert _in_pool(lease["new_ip_address"])
        assert (lease["new_subnet_mask"], lease["new_routers"], lease["new_domain_name_servers"],
                lease["new_dhcp_server_identifier"], lease["new_dhcp_lease_time"]) == \
            ("255.255.255.0", ROUTER, ROUTER, ROUTER, "3600")
        assert lease["new_ntp_servers"] == ROUTER                          # Debian's dhclient.conf asks for it
        offer, ack = session.net.leases
        assert (offer.event, ack.event, ack.address) == ("offer", "ack", lease["new_ip_address"])
        assert ack.sent_to == lease["new_ip_address"]                      # RFC 2131 4.1: unicast, no flag

        rc, out, err = session.run(ns, common + ["-r", ifname], tmp_path)   # stop the daemon, send RELEASE
        assert rc == 0, out + err
        assert session.net.leases[-1].event == "release"
        assert session.net.dhcp.bound_address(ack.mac) is None
    finally:
        if pid.exists() and pid.read_text().strip().isdigit():
            subprocess.run(["kill", pid.read_text().strip()], capture_output=True)


def _dig(session, ns, tmp_path, *args) -> tuple[str, list[str]]:
    rc, out, err = session.run(ns, ["dig", "+tries=1", "+time=15", "+noall", "+comments", "+answer", *args],
                               tmp_path)
    assert rc == 0, out + err
    status = out.split("status: ", 1)[1].split(",", 1)[0]
    answers = [line.split()[-1] for line in out.splitlines() if line and not line.startswith(";")]
    return status, answers


def test_dig_resolves_mapped_default_and_absent_names(namespace, tmp_path):
    ns, ifname, tap = namespace
    _address(ns, ifname, STATIC)
    session = Session(tap)
    assert _dig(session, ns, tmp_path, f"@{ROUTER}", "telemetry.example.net", "A") == ("NOERROR", ["203.0.113.7"])
    assert _dig(session, ns, tmp_path, f"@{ROUTER}", "telemetry.example.net", "AAAA") == ("NOERROR", [])
    assert _dig(session, ns, tmp_path, f"@{ROUTER}", "dual.example.net", "AAAA") == ("NOERROR", ["2001:db8::8"])
    assert _dig(session, ns, tmp_path, f"@{ROUTER}", "gone.example.net", "A") == ("NXDOMAIN", [])
    # any other name resolves to the peer, from whatever resolver address the client was given
    assert _dig(session, ns, tmp_path, "@9.9.9.9", "Anything.Example.COM", "A") == ("NOERROR", [ROUTER])
    assert _dig(session, ns, tmp_path, "@9.9.9.9", "+noedns", "anything.example.com") == ("NOERROR", [ROUTER])
    answered = session.net.dns_answered("anything.example.com", "A")
    assert len(answered) >= 2 and {a.server for a in answered} == {"9.9.9.9"}


def test_sntp_client_reads_the_virtual_calendar(namespace, tmp_path):
    ns, ifname, tap = namespace
    _address(ns, ifname, STATIC)
    session = Session(tap, InternetConfig(date="2017-10-12T22:16:00Z"))
    rc, out, err = session.run(ns, ["sntp", "-j", "-t", "15", "162.159.200.1"], tmp_path, env={"TZ": "UTC"})
    assert rc == 0, out + err
    report = json.loads(out.strip().splitlines()[-1])
    told = datetime.fromisoformat(report["time"])
    base = datetime(2017, 10, 12, 22, 16, tzinfo=timezone.utc)
    # the base date plus the (real) seconds the bridge ran, and nothing of the host's own date
    assert base <= told < base + timedelta(seconds=120), out
    assert report["stratum"] == 1 and report["ip"] == "162.159.200.1", out
    answers = session.net.time_answers
    assert answers and all(a.server == "162.159.200.1" and a.told.startswith("2017-10-12T22:1") for a in answers)
