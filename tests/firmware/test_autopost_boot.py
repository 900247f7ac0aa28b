"""The autopost images on the built-in machine, with a scapy responder standing in for the
network (netresponder.py): they ask for an address by DHCP, set the clock by SNTP, resolve the
server by DNS and open TCP to port 443 of the address DNS gave, logging each step on USART2.
The frames are decoded by scapy, not by our code; the values checked in the log are the ones
the responder handed out."""

from __future__ import annotations

import hashlib
import re

import pytest
from scapy.layers.dhcp import BOOTP
from scapy.layers.dns import DNS
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.layers.ntp import NTPHeader

from fw_testlib import CONSOLE
from netresponder import Network, Responder
from sim.machine import Machine
from sim.platform import DEFAULT_REPL

MAC = "02:00:00:00:0f:07"
SLICE_CYCLES = 168_000              # 1 ms of virtual time at 168 MHz


def boot(elf, network: Network | None = None, *, until, max_ms: int = 20_000):
    """Run in 1 ms slices, answering after each, until `until(responder, log)` holds."""
    m = Machine(DEFAULT_REPL, seed=1)
    m.load_elf(str(elf))
    m.reset()
    responder = Responder(m, network)
    uart = m.uart(CONSOLE["autopost-fixed"])
    for _ in range(max_ms):
        result = m.run(SLICE_CYCLES)
        assert result.fault is None, result.fault
        responder.pump()
        log = uart.transcript.decode("latin-1")
        if until(responder, log):
            return responder, log
    pytest.fail(f"not reached in {max_ms} ms of virtual time; log:\n{uart.transcript.decode('latin-1')}")


def options(frame) -> dict:
    from scapy.layers.dhcp import DHCP
    return dict(o for o in frame[DHCP].options if isinstance(o, tuple) and len(o) == 2)


def connected(responder, log) -> bool:
    """The SYN is on the wire and its log line complete (the 115200-baud UART trails the wire)."""
    return bool(responder.syns()) and re.search(r"^tls: connect .*\r\n", log, re.M) is not None


@pytest.fixture(scope="module", params=["autopost-fixed", "autopost-seedbug"])
def cycle(request, firmware_elfs):
    """One boot to the first TCP SYN towards the telemetry server."""
    return boot(firmware_elfs[request.param], until=connected)


class Silent(Responder):
    """Records, never answers."""

    def _answer(self, f):
        return None


def test_without_a_server_the_dhcp_discover_is_on_the_wire(firmware_elfs):
    """Nobody answers: lwIP's DISCOVER goes out (RFC 2131 section 4.4.1) and the log says so."""
    m = Machine(DEFAULT_REPL, seed=1)
    m.load_elf(str(firmware_elfs["autopost-fixed"]))
    m.reset()
    responder = Silent(m)
    for _ in range(5000):       # 5 s: the link (1.8 s of auto-negotiation), one retransmission (2-2.5 s on)
        assert m.run(SLICE_CYCLES).fault is None
        responder.pump()
    log = m.uart("usart2").transcript.decode("latin-1")
    discovers = responder.dhcp(1)
    assert len(discovers) == 2
    discover = discovers[0]
    assert discover[Ether].dst == "ff:ff:ff:ff:ff:ff" and discover[Ether].src == MAC
    assert discover[IP].src == "0.0.0.0" and discover[IP].dst == "255.255.255.255"
    assert (discover[UDP].sport, discover[UDP].dport) == (68, 67)
    assert discover[BOOTP].op == 1 and discover[BOOTP].chaddr[:6] == bytes.fromhex(MAC.replace(":", ""))
    assert discovers[1][BOOTP].xid == discover[BOOTP].xid              # a retransmission
    assert "dhcp: discover mac 02:00:00:00:0f:07 hostname autopost-device" in log
    assert "dhcp: lease" not in log
    assert m.uart("usart1").transcript == b""                          # the log is on USART2 only


def test_dhcp_discover_then_request(cycle):
    responder, _ = cycle
    (discover, *_), (request, *_) = responder.dhcp(1), responder.dhcp(3)
    prl = options(discover)["param_req_list"]
    for wanted in (1, 3, 6, 42):                        # mask, router, DNS, NTP (RFC 2132)
        assert wanted in prl
    assert "hostname" not in options(discover)          # lwIP names itself in REQUESTs only
    opts = options(request)
    assert opts["requested_addr"] == "192.0.2.10" and opts["server_id"] == "192.0.2.1"
    assert opts["hostname"] == b"autopost-device"
    assert request[BOOTP].xid == discover[BOOTP].xid


def test_the_lease_is_logged(cycle):
    _, log = cycle
    assert "dhcp: lease 192.0.2.10/24 router 192.0.2.1 dns 192.0.2.53 server 192.0.2.1 lease 86400 s" in log


def test_sntp_asks_the_dhcp_ntp_server_and_sets_the_clock(cycle):
    responder, log = cycle
    (request, *_) = responder.ntp_requests()
    assert request[IP].src == "192.0.2.10" and request[IP].dst == "192.0.2.123"   # option 42
    ntp = NTPHeader(bytes(request[UDP].payload))
    assert (ntp.mode, ntp.version) == (3, 4) and len(request[UDP].payload) == 48
    assert "sntp: server 192.0.2.123 (dhcp)" in log
    assert "sntp: time 2017-10-12T22:16:00Z" in log


def test_dns_query_for_the_server_name(cycle):
    responder, log = cycle
    queries = [q for q in responder.dns_queries() if q[DNS].qd[0].qname == b"telemetry.example.net."]
    assert queries, [q.summary() for q in responder.dns_queries()]
    q = queries[0]
    assert q[IP].dst == "192.0.2.53" and q[DNS].qd[0].qtype == 1 and q[DNS].rd == 1    # A, recursion
    assert "dns: telemetry.example.net -> 198.51.100.7" in log


def test_tcp_syn_to_port_443_of_the_resolved_address_through_the_router(cycle):
    responder, log = cycle
    (syn, *_) = responder.syns()
    assert syn[IP].src == "192.0.2.10" and syn[IP].dst == "198.51.100.7" and syn[TCP].dport == 443
    assert syn[Ether].dst == Network().mac              # off-link: the router's MAC (ARP answered)
    assert "tls: connect 198.51.100.7:443 telemetry.example.net" in log


def test_order_of_a_boot(cycle):
    responder, log = cycle
    lines = [line for line in log.split("\r\n") if line]
    steps = ["net: link up", "dhcp: discover", "dhcp: lease", "sntp: server", "sntp: time",
             "telemetry: post 1 body length=1400 sha256=", "dns: telemetry.example.net", "tls: connect"]
    positions = [next(i for i, line in enumerate(lines) if line.startswith(step)) for step in steps]
    assert positions == sorted(positions), lines
    assert re.search(r"^boot: telemetry-client autopost-(fixed|seedbug) mbedtls 2\.28\.3 lwip 2\.1\.3", log, re.M)


def test_the_defaults_and_the_body_digest(cycle):
    """The documented defaults (autopost_config.h), and the digest of body[i] = i % 251 as
    Python's hashlib computes it."""
    _, log = cycle
    assert "boot: telemetry https://telemetry.example.net:443/upload body 1400 bytes, 3 posts every 5000 ms" in log
    digest = hashlib.sha256(bytes(i % 251 for i in range(1400))).hexdigest()
    assert f"telemetry: post 1 body length=1400 sha256={digest}" in log


def test_without_dhcp_ntp_option_the_ntp_server_is_resolved_by_name(firmware_elfs):
    net = Network(ntp=None, names={"telemetry.example.net": "198.51.100.7", "pool.ntp.org": "192.0.2.124"})
    responder, log = boot(firmware_elfs["autopost-fixed"], net, until=connected)
    names = [q[DNS].qd[0].qname for q in responder.dns_queries()]
    assert b"pool.ntp.org." in names
    (request, *_) = responder.ntp_requests()
    assert request[IP].dst == "192.0.2.124"
    assert "sntp: server pool.ntp.org" in log and "sntp: time 2017-10-12T22:16:00Z" in log


class Refusing(Responder):
    """Answers the TCP SYN with RST: nothing listens on the telemetry port."""

    def _answer(self, f):
        if TCP in f and f[TCP].flags == "S":
            return (Ether(src=self.net.mac, dst=f.src) / IP(src=f[IP].dst, dst=f[IP].src) /
                    TCP(sport=f[TCP].dport, dport=f[TCP].sport, flags="RA", seq=0, ack=f[TCP].seq + 1))
        return super()._answer(f)


def test_a_refused_connection_ends_in_the_failure_handler(firmware_elfs):
    """The error handler is a real function a debugger or scenario can stop at, called with the
    POST number, where it failed and the Mbed TLS code (MBEDTLS_ERR_NET_CONNECT_FAILED)."""
    m = Machine(DEFAULT_REPL, seed=1)
    m.load_elf(str(firmware_elfs["autopost-fixed"]))
    m.reset()
    responder = Refusing(m)
    m.add_breakpoint(m.symbol_address("telemetry_post_failed") & ~1)
    for _ in range(10_000):
        result = m.run(SLICE_CYCLES)
        assert result.fault is None, result.fault
        responder.pump()
        if m.read_register("pc") == m.symbol_address("telemetry_post_failed") & ~1:
            break
    else:
        pytest.fail("telemetry_post_failed was never reached")
    n, where, code = (m.read_register(r) for r in ("r0", "r1", "r2"))
    assert n == 1
    assert m.read_memory(where, 8) == b"connect\0"
    assert code == (-0x44) & 0xFFFFFFFF
    assert len(responder.syns()) == 1                  # refused at once, no retransmission
