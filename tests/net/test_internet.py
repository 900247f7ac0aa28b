"""The virtual internet end to end, in virtual time through Link and the pcapng capture: a device
takes a DHCP lease, resolves its server's name, asks for the time and opens HTTPS (Python's ssl as
the TLS application) and plain TCP to an off-link address. tshark, reading the capture on its own,
sees DHCP, DNS, NTP and the decrypted HTTP at the addresses the device really used."""

from __future__ import annotations

import hashlib
import shutil
import subprocess

import pytest
from netkit import MiniClient, Recorder
from scapy.layers.dhcp import BOOTP
from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import ARP, Ether
from sslapp import HttpsClient, HttpsHandler, client_context, pki_files, server_context
from vnetkit import BCAST_MAC, MAC, ROUTER, ROUTER_MAC, discover, select

from sim.net import frames as F
from sim.net.hoststack import HostStack
from sim.net.internet import InternetConfig, VirtualInternet
from sim.net.link import Link
from sim.net.pcapng import PcapngWriter
from sim.net.sink import TcpSink
from sim.seed import SeededRandom
from sim.vtime import NS_PER_S, EventQueue

SERVER_NAME, SERVER_IP = "telemetry.example.net", "203.0.113.7"
LWIP_SNTP_REQUEST = bytes([0x23]) + bytes(47)


class Device:
    """A scripted device on the far end of the Link: scapy frames for DHCP/ARP/DNS/SNTP, a MiniClient
    for the TCP connection in progress."""

    def __init__(self, config: InternetConfig, tls_application, capture_path=None, seed: int = 1) -> None:
        self.queue = EventQueue()
        self.capture = PcapngWriter(capture_path)
        self.link = Link(self.queue, rng=SeededRandom(seed, "link"), capture=self.capture)
        self.net = VirtualInternet(self.queue, rng=SeededRandom(seed, "host"), transmit=self.link.from_host,
                                   config=config, tls_application=tls_application)
        self.link.attach_host(self.net.handle_frame)
        self.link.attach_device(self._receive)
        self.inbox: list = []
        self.client: MiniClient | None = None

    def _receive(self, frame: bytes) -> None:
        if self.client is not None and F.decode_tcp_frame(frame) is not None:
            self.client.receive(frame)
        else:
            self.inbox.append(Ether(frame))

    def exchange(self, pkt):
        self.inbox.clear()
        self.link.from_device(bytes(pkt))
        self.run_until(lambda: self.inbox)
        (reply,) = self.inbox
        return reply

    def run_until(self, done, limit_s: int = 60) -> None:
        while not done():
            nxt = self.queue.next_time_ns()
            assert nxt is not None and nxt <= limit_s * NS_PER_S, "the exchange stalled"
            self.queue.advance_to(nxt)

    def boot(self) -> tuple[str, str]:
        """DHCP, ARP for the router, DNS for the server, SNTP: returns (address, resolved address)."""
        offer = self.exchange(discover())
        ack = self.exchange(select(offer[BOOTP].yiaddr))
        me = ack[BOOTP].yiaddr
        self.queue.advance_to(self.queue.now_ns + NS_PER_S)        # lwIP's ARP check finds nobody
        arp = self.exchange(Ether(src=MAC, dst=BCAST_MAC) / ARP(op=1, hwsrc=MAC, psrc=me, pdst=ROUTER))
        assert arp[ARP].hwsrc == ROUTER_MAC
        answer = self.exchange(Ether(src=MAC, dst=ROUTER_MAC) / IP(src=me, dst=ROUTER) / UDP(sport=49999, dport=53) /
                               DNS(id=1, rd=1, qd=DNSQR(qname=SERVER_NAME)))
        self.exchange(Ether(src=MAC, dst=ROUTER_MAC) / IP(src=me, dst=ROUTER) / UDP(sport=50000, dport=123) /
                      LWIP_SNTP_REQUEST)
        return me, answer[DNS].an[0].rdata

    def connect(self, me: str, server: str, port: int, sport: int) -> MiniClient:
        self.client = MiniClient(self.queue, self.link.from_device, mac=F.mac_bytes(MAC), ip=F.ip_bytes(me),
                                 server_ip=F.ip_bytes(server), server_mac=F.mac_bytes(ROUTER_MAC), dport=port,
                                 sport=sport)
        return self.client


def _session(tmp_path, seed: int = 1):
    files = pki_files(tmp_path / "pki")
    keylog = tmp_path / "keys.log"
    handlers = []

    def tls():
        handlers.append(HttpsHandler(server_context(files, keylog)))
        return handlers[-1]
    dev = Device(InternetConfig(names={SERVER_NAME: [SERVER_IP]}), tls, tmp_path / "capture.pcapng", seed)
    me, server = dev.boot()
    client = dev.connect(me, server, 443, 40001)
    https = HttpsClient(client_context(files), client.send,
                        b"GET /telemetry HTTP/1.1\r\nHost: telemetry.example.net\r\nConnection: close\r\n\r\n")
    client.on_data, client.on_established = https.on_data, https.start
    client.connect()
    dev.run_until(lambda: client.eof)
    sink_client = dev.connect(me, server, 8080, 40002)
    sink_client.on_established = lambda: (sink_client.send(b"plain bytes for a sink"), sink_client.close())
    sink_client.connect()
    dev.run_until(lambda: sink_client.eof)
    dev.queue.advance_to(dev.queue.now_ns + 2 * NS_PER_S)
    dev.capture.add_secrets(keylog.read_text())
    dev.capture.close()
    return dev, me, https, handlers


def test_a_device_session_is_journalled_with_the_names_it_used(tmp_path):
    dev, me, https, handlers = _session(tmp_path)
    assert https.response.startswith(b"HTTP/1.1 200 OK")
    assert handlers[0].requests == [b"GET /telemetry HTTP/1.1"]
    tls, sink = dev.net.connections
    assert (tls.address, tls.port, tls.name, tls.application, tls.device) == \
        (SERVER_IP, 443, SERVER_NAME, "tls", f"{me}:40001")
    assert (sink.address, sink.port, sink.name, sink.application) == (SERVER_IP, 8080, SERVER_NAME, "tcp-sink")
    assert isinstance(sink.handler, TcpSink) and bytes(sink.handler.head) == b"plain bytes for a sink"
    assert sink.handler.sha256 == hashlib.sha256(b"plain bytes for a sink").hexdigest() and sink.handler.eof

    kinds = [(e["kind"], e.get("event")) for e in dev.net.journal()]
    assert kinds == [("dhcp", "offer"), ("dhcp", "ack"), ("dns", None), ("sntp", None), ("connection", None),
                     ("connection", None)]
    times = [e["time_ns"] for e in dev.net.journal()]
    assert times == sorted(times)
    assert dev.net.lease_given(mac=MAC).address == me
    assert dev.net.dns_answered(SERVER_NAME, "A")[0].addresses == (SERVER_IP,)


def test_tshark_reads_dhcp_dns_ntp_and_decrypted_http_at_the_real_destination(tmp_path):
    if not shutil.which("tshark"):
        pytest.fail("tshark missing: install the Debian package tshark (scripts/setup does)")
    _session(tmp_path)

    def fields(display_filter, *names):
        out = subprocess.run(["tshark", "-n", "-r", str(tmp_path / "capture.pcapng"), "-Y", display_filter,
                              "-T", "fields", *[a for n in names for a in ("-e", n)]],
                             capture_output=True, text=True, timeout=120, check=True).stdout
        return [tuple(line.split("\t")) for line in out.splitlines() if line.strip()]

    assert [t for (t,) in fields("dhcp", "dhcp.option.dhcp")] == ["1", "2", "3", "5"]
    assert fields("dns.flags.response == 1", "dns.qry.name", "dns.a") == [(SERVER_NAME, SERVER_IP)]
    assert fields("ntp", "ntp.flags.mode") == [("3",), ("4",)]
    assert fields("http.request", "ip.dst", "tcp.dstport", "http.request.uri") == [(SERVER_IP, "443", "/telemetry")]
    synacks = fields("tcp.flags.syn == 1 && tcp.flags.ack == 1", "ip.src", "tcp.srcport")
    assert synacks == [(SERVER_IP, "443"), (SERVER_IP, "8080")]


def test_the_same_seed_gives_the_same_frames(tmp_path):
    first, *_ = _session(tmp_path / "a", seed=3)
    second, *_ = _session(tmp_path / "b", seed=3)
    # the TLS randoms come from Python's ssl, not from the seed: compare every frame before them
    n = _first_tls_frame(first)
    assert n == _first_tls_frame(second) and n > 10
    assert [(f.time_ns, f.data) for f in first.link.frames[:n]] == [(f.time_ns, f.data) for f in second.link.frames[:n]]
    other, *_ = _session(tmp_path / "c", seed=4)
    assert [f.data for f in other.link.frames[:n]] != [f.data for f in first.link.frames[:n]]


def _first_tls_frame(dev) -> int:
    for index, info in enumerate(dev.link.frames):
        view = F.decode_tcp_frame(info.data)
        if view is not None and view.tcp.payload:
            return index
    raise AssertionError("no TCP payload in the capture")


def test_tls_ports_without_an_application_get_a_sink_and_other_ports_too():
    dev = Device(InternetConfig(), tls_application=None)
    me, server = dev.boot()
    client = dev.connect(me, server, 8443, 40003)
    client.on_established = lambda: (client.send(b"hello"), client.close())
    client.connect()
    dev.run_until(lambda: client.eof)
    (conn,) = dev.net.connections
    assert (conn.address, conn.port, conn.application, conn.name) == (ROUTER, 8443, "tcp-sink", SERVER_NAME)


def test_a_static_device_sees_the_same_bytes_as_with_a_bare_host_stack():
    """The reference exchange (static 192.0.2.10 talking to 192.0.2.1:443) must not change when the
    virtual internet replaces the bare host stack."""
    def run(make_host):
        queue = EventQueue()
        capture = PcapngWriter()
        link = Link(queue, rng=SeededRandom(9, "link"), capture=capture)
        host = make_host(queue, link.from_host)
        link.attach_host(host.handle_frame)
        client = MiniClient(queue, link.from_device)
        link.attach_device(client.receive)
        client.on_established = lambda: client.send(b"x" * 5000)
        client.connect()
        while queue.next_time_ns() is not None and queue.now_ns < 5 * NS_PER_S:
            queue.advance_to(queue.next_time_ns())
        return capture.to_bytes()

    def bare(queue, transmit):
        stack = HostStack(queue, mac=ROUTER_MAC, ip=ROUTER, rng=SeededRandom(9, "host"), transmit=transmit)
        stack.listen(443, Recorder)
        return stack

    def virtual(queue, transmit):
        return VirtualInternet(queue, rng=SeededRandom(9, "host"), transmit=transmit, tls_application=Recorder)

    assert run(bare) == run(virtual)
