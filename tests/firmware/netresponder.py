"""A test-only stand-in for the network a device boots into: ARP, DHCP (RFC 2131/2132), DNS
(RFC 1035) and NTP (RFC 4330) answers built with scapy, on the built-in machine's Ethernet.

It records every frame the firmware sends (decoded by scapy, with its virtual time) and answers
after each run slice, so a test drives the machine in small steps and looks at the wire. It is
deliberately minimal and knows nothing of the emulator's own host stack: it is the independent
side of the conversation.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field

logging.getLogger("scapy").setLevel(logging.ERROR)

from scapy.layers.dhcp import BOOTP, DHCP  # noqa: E402
from scapy.layers.dns import DNS, DNSRR  # noqa: E402
from scapy.layers.inet import IP, TCP, UDP  # noqa: E402
from scapy.layers.l2 import ARP, Ether  # noqa: E402
from scapy.layers.ntp import NTPHeader  # noqa: E402

NTP_EPOCH = datetime.datetime(1900, 1, 1, tzinfo=datetime.timezone.utc)


@dataclass
class Network:
    """What the responder hands out. Every address below is answered for by `mac`."""

    mac: str = "02:00:00:00:00:01"
    server: str = "192.0.2.1"            # DHCP server identifier (option 54)
    offer: str = "192.0.2.10"
    mask: str = "255.255.255.0"
    router: str = "192.0.2.1"
    dns: str = "192.0.2.53"
    ntp: str | None = "192.0.2.123"      # option 42; None: not offered
    lease: int = 86400
    names: dict[str, str] = field(default_factory=lambda: {"telemetry.example.net": "198.51.100.7"})
    time: datetime.datetime = datetime.datetime(2017, 10, 12, 22, 16, 0, tzinfo=datetime.timezone.utc)


@dataclass
class Sent:
    cycles: int
    frame: Ether


class Responder:
    def __init__(self, machine, network: Network | None = None) -> None:
        self.machine = machine
        self.net = network or Network()
        self.sent: list[Sent] = []
        self._pending: list = []
        self._answered = 0
        machine.ethernet.on_transmit(self._on_transmit)

    def _on_transmit(self, frame) -> None:
        self._pending.append(Sent(frame.cycles, Ether(frame.data)))

    def pump(self) -> None:
        """Record what the firmware sent since the last call and answer it."""
        pending, self._pending = self._pending, []
        for item in pending:
            self.sent.append(item)
            reply = self._answer(item.frame)
            if reply is not None:
                self._answered += 1
                self.machine.ethernet.receive(bytes(reply))

    # --- the conversation --------------------------------------------------------------------------
    def _answer(self, f: Ether):
        if ARP in f and f[ARP].op == 1:
            return self._arp(f)
        if DHCP in f:
            return self._dhcp(f)
        if UDP in f and f[UDP].dport == 53 and DNS in f:
            return self._dns(f)
        if UDP in f and f[UDP].dport == 123:
            return self._ntp(f)
        return None

    def _ours(self) -> set[str]:
        hosts = {self.net.server, self.net.router, self.net.dns, self.net.ntp, *self.net.names.values()}
        return {a for a in hosts if a}

    def _arp(self, f: Ether):
        # never for the address being leased: that would be a conflict (lwIP's ARP check)
        if f[ARP].pdst not in self._ours():
            return None
        return (Ether(src=self.net.mac, dst=f.src) /
                ARP(op=2, hwsrc=self.net.mac, psrc=f[ARP].pdst, hwdst=f[ARP].hwsrc, pdst=f[ARP].psrc))

    def _dhcp(self, f: Ether):
        options = dict(o for o in f[DHCP].options if isinstance(o, tuple) and len(o) == 2)
        kind = {1: "offer", 3: "ack"}.get(options.get("message-type"))
        if kind is None:
            return None
        reply_options = [("message-type", kind), ("server_id", self.net.server), ("lease_time", self.net.lease),
                         ("subnet_mask", self.net.mask), ("router", self.net.router), ("name_server", self.net.dns)]
        if self.net.ntp:
            reply_options.append(("NTP_server", self.net.ntp))
        reply_options.append("end")
        return (Ether(src=self.net.mac, dst="ff:ff:ff:ff:ff:ff") /
                IP(src=self.net.server, dst="255.255.255.255") / UDP(sport=67, dport=68) /
                BOOTP(op=2, xid=f[BOOTP].xid, yiaddr=self.net.offer, siaddr=self.net.server,
                      chaddr=f[BOOTP].chaddr) /
                DHCP(options=reply_options))

    def _dns(self, f: Ether):
        q = f[DNS].qd[0]
        name = q.qname.decode().rstrip(".")
        address = self.net.names.get(name)
        answer = DNSRR(rrname=q.qname, type="A", ttl=300, rdata=address) if address and q.qtype == 1 else None
        return (Ether(src=self.net.mac, dst=f.src) / IP(src=f[IP].dst, dst=f[IP].src) /
                UDP(sport=53, dport=f[UDP].sport) /
                DNS(id=f[DNS].id, qr=1, rd=1, ra=1, rcode=0 if address else 3, qd=q, an=answer))

    def _ntp(self, f: Ether):
        stamp = (self.net.time - NTP_EPOCH).total_seconds()
        return (Ether(src=self.net.mac, dst=f.src) / IP(src=f[IP].dst, dst=f[IP].src) /
                UDP(sport=123, dport=f[UDP].sport) /
                # originate = the client's transmit timestamp, echoed (RFC 4330 section 5)
                NTPHeader(leap=0, version=4, mode=4, stratum=2, ref=stamp, orig=self._client_transmit(f),
                          recv=stamp, sent=stamp))

    @staticmethod
    def _client_transmit(f: Ether) -> float:
        payload = bytes(f[UDP].payload)
        return NTPHeader(payload).sent if len(payload) >= 48 else 0

    # --- what was sent ----------------------------------------------------------------------------
    def dhcp(self, message_type: int) -> list[Ether]:
        out = []
        for s in self.sent:
            if DHCP in s.frame:
                options = dict(o for o in s.frame[DHCP].options if isinstance(o, tuple) and len(o) == 2)
                if options.get("message-type") == message_type:
                    out.append(s.frame)
        return out

    def dns_queries(self) -> list[Ether]:
        return [s.frame for s in self.sent if UDP in s.frame and s.frame[UDP].dport == 53 and DNS in s.frame]

    def ntp_requests(self) -> list[Ether]:
        return [s.frame for s in self.sent if UDP in s.frame and s.frame[UDP].dport == 123]

    def syns(self) -> list[Ether]:
        return [s.frame for s in self.sent if TCP in s.frame and s.frame[TCP].flags == "S"]
