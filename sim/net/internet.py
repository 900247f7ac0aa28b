"""The virtual internet on the host side of the link: one object a scenario drives.

`VirtualInternet` owns the host stack and makes it the device's whole world: it is the router
(every unicast destination that reaches its MAC is accepted and answered from that very address),
it serves DHCP on UDP 67, DNS on UDP 53 and SNTP on UDP 123 at any address, and it accepts TCP
connections to any address and port, handing the ports in `tls_ports` to the TLS application the
scenario supplies and every other port to a `TcpSink`. Everything it did (leases, queries, time
answers, connections with the name the device resolved) is kept for the journal.

It is sans-IO like the rest of sim.net: frames in through `handle_frame`, frames out through the
`transmit` callable, timers on the scenario's `EventQueue`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from sim.net.calendar_clock import DEFAULT_DATE, CalendarClock
from sim.net.dhcp import DhcpConfig, DhcpEvent, DhcpServer
from sim.net.dhcp_message import SERVER_PORT
from sim.net.dns import DNS_PORT, DnsAnswer, DnsConfig, DnsResolver, normalize_name
from sim.net.errors import NetworkConfigError
from sim.net.frames import IPV4_ANY, ip_str, mac_bytes
from sim.net.hoststack import HostStack, UdpDatagram
from sim.net.sink import TcpSink
from sim.net.sntp import NTP_PORT, SntpServer, TimeAnswer
from sim.net.tcp import StreamHandler, TcpConfig, TcpConnection
from sim.seed import SeededRandom
from sim.vtime import EventQueue

ROUTER_IP = "192.0.2.1"
ROUTER_MAC = "02:00:00:00:00:01"          # locally administered (bit 1 of the first octet), unicast
DEFAULT_TLS_PORTS = (443, 8443)


@dataclass(frozen=True)
class InternetConfig:
    router: str = ROUTER_IP                   # gateway, DHCP server, and where names resolve by default
    router_mac: str = ROUTER_MAC              # the one MAC of everything on the host side
    subnet: str = "192.0.2.0/24"
    pool: tuple[str, str] = ("192.0.2.10", "192.0.2.99")
    lease_time_s: int = 3600
    dns_server: str | None = None             # option 6; default: the router
    ntp_server: str | None = None             # option 42 (sent when asked for); default: the router
    names: Mapping[str, Sequence[str]] = field(default_factory=dict)   # name -> addresses
    absent_names: Sequence[str] = ()          # NXDOMAIN
    resolve_others_to: Sequence[str] | None = None   # every other name; default: (router,); () = NXDOMAIN
    dns_ttl_s: int = 300
    date: str = DEFAULT_DATE                  # the calendar at the scenario's start (SNTP, RTC)
    tls_ports: Sequence[int] = DEFAULT_TLS_PORTS
    on_link: Sequence[str] = ()               # more addresses the host side owns (ARP answered)
    proxy_arp_subnet: bool = False            # also answer ARP for any other address of the subnet
    record_limit: int = 10_000                # per record list; the rest is counted

    def __post_init__(self) -> None:
        network = self.dhcp_config().network          # validates router, subnet and pool
        self.dns_config()                             # validates names and addresses
        try:
            mac = mac_bytes(self.router_mac)
        except ValueError as exc:
            raise NetworkConfigError(f"router MAC: {exc}") from None
        if mac[0] & 1:
            raise NetworkConfigError(f"router MAC {self.router_mac} is a multicast address; the lowest bit of "
                                     f"the first octet must be 0 (e.g. 02:00:00:00:00:01)")
        for port in self.tls_ports:
            if not 0 < port < 65536:
                raise NetworkConfigError(f"TLS port {port} is not 1..65535")
        for address in self.on_link:
            try:
                ip = ipaddress.IPv4Address(address)
            except ValueError:
                raise NetworkConfigError(f"on-link address {address!r} is not an IPv4 address") from None
            if ip not in network:
                raise NetworkConfigError(f"on-link address {address} is not on {network}; an off-link address "
                                         f"needs no ARP (the router answers for it)")
            if self._in_pool(ip):
                raise NetworkConfigError(f"on-link address {address} is inside the DHCP pool "
                                         f"{self.pool[0]}-{self.pool[1]}; the device could be given it")
        if self.record_limit < 1:
            raise NetworkConfigError("record_limit must be at least 1")
        CalendarClock(self.date)                      # validates the date

    def _in_pool(self, ip: ipaddress.IPv4Address) -> bool:
        return ipaddress.IPv4Address(self.pool[0]) <= ip <= ipaddress.IPv4Address(self.pool[1])

    def dhcp_config(self) -> DhcpConfig:
        return DhcpConfig(server=self.router, subnet=self.subnet, pool=tuple(self.pool), routers=(self.router,),
                          dns_servers=(self.dns_server or self.router,),
                          ntp_servers=(self.ntp_server or self.router,), lease_time_s=self.lease_time_s)

    def dns_config(self) -> DnsConfig:
        others = (self.router,) if self.resolve_others_to is None else tuple(self.resolve_others_to)
        return DnsConfig(names=self.names, absent=self.absent_names, default_addresses=others, ttl_s=self.dns_ttl_s)


@dataclass
class ConnectionRecord:
    """One TCP connection the device opened: where to, under which name, to which application."""

    time_ns: int                  # when the handshake completed
    device: str                   # "ip:port" of the device's end
    address: str                  # the destination address the device used
    port: int
    name: str | None              # the name the resolver last answered with that address
    application: str              # "tls" or "tcp-sink"
    handler: StreamHandler
    connection: TcpConnection

    def to_dict(self) -> dict:
        out = {"time_ns": self.time_ns, "device": self.device, "address": self.address, "port": self.port,
               "name": self.name, "application": self.application, "state": self.connection.state}
        if isinstance(self.handler, TcpSink):
            out["sink"] = self.handler.to_dict()
        return out


class VirtualInternet:
    def __init__(self, queue: EventQueue, *, rng: SeededRandom, transmit: Callable[[bytes], int | None],
                 config: InternetConfig | None = None, tls_application: Callable[[], StreamHandler] | None = None,
                 origin_ns: int | None = None, tcp: TcpConfig | None = None) -> None:
        """`rng` feeds the host stack (TCP ISNs, IP ids) as it would feed a bare HostStack, and
        its child "dhcp" draws leases. `tls_application()` makes the application for a
        connection to a TLS port (without one, those ports get a sink too). The calendar reads
        `config.date` at virtual time `origin_ns` (default: now)."""
        self.config = cfg = config or InternetConfig()
        self.queue = queue
        self.stack = HostStack(queue, mac=cfg.router_mac, ip=cfg.router, rng=rng, transmit=transmit, tcp=tcp)
        self.stack.route_all()
        for address in cfg.on_link:
            self.stack.add_address(address)
        self._network = ipaddress.IPv4Network(cfg.subnet)
        if cfg.proxy_arp_subnet:
            self.stack.set_proxy_arp(self._proxy_arp)
        self.clock = CalendarClock(cfg.date, queue.now_ns if origin_ns is None else origin_ns)
        self.dhcp = DhcpServer(cfg.dhcp_config(), rng=rng.child("dhcp"), record_limit=cfg.record_limit)
        self.dns = DnsResolver(cfg.dns_config(), record_limit=cfg.record_limit)
        self.sntp = SntpServer(self.clock, record_limit=cfg.record_limit)
        self._tls_application = tls_application
        self._tls_ports = frozenset(cfg.tls_ports)
        self.connections: list[ConnectionRecord] = []
        self.stats: dict[str, int] = {"connections_not_recorded": 0}
        self.stack.bind_udp(SERVER_PORT, self._dhcp_in)
        self.stack.bind_udp(DNS_PORT, self._dns_in)
        self.stack.bind_udp(NTP_PORT, self._sntp_in)
        self.stack.listen_default(self._application_for)

    # --- the link -----------------------------------------------------------------------------------

    def handle_frame(self, frame: bytes, frame_id: int | None = None) -> None:
        """A frame from the device (give this to `Link.attach_host`); never raises on bad input."""
        self.stack.handle_frame(frame, frame_id)

    # --- what happened --------------------------------------------------------------------------------

    @property
    def leases(self) -> list[DhcpEvent]:
        return self.dhcp.events

    @property
    def dns_answers(self) -> list[DnsAnswer]:
        return self.dns.answers

    @property
    def time_answers(self) -> list[TimeAnswer]:
        return self.sntp.answers

    def lease_given(self, *, mac: str | None = None, address: str | None = None) -> DhcpEvent | None:
        """The first DHCPACK that gave a lease (to `mac`, of `address`), or None."""
        for event in self.dhcp.events:
            if event.event == "ack" and (mac is None or event.mac == mac.lower()) \
                    and (address is None or event.address == address):
                return event
        return None

    def dns_answered(self, name: str, qtype: str | None = None) -> list[DnsAnswer]:
        """Every answer given for `name` (and `qtype`, e.g. "A"), oldest first."""
        key = normalize_name(name)
        return [a for a in self.dns.answers if a.name == key and (qtype is None or a.qtype == qtype.upper())]

    def journal(self) -> list[dict]:
        """Every lease event, DNS answer, time answer and connection, in virtual-time order."""
        entries = [{"kind": "dhcp", **e.to_dict()} for e in self.dhcp.events]
        entries += [{"kind": "dns", **a.to_dict()} for a in self.dns.answers]
        entries += [{"kind": "sntp", **a.to_dict()} for a in self.sntp.answers]
        entries += [{"kind": "connection", **c.to_dict()} for c in self.connections]
        return sorted(entries, key=lambda e: e["time_ns"])       # stable: same-time entries keep their order

    def all_stats(self) -> dict[str, int]:
        out = {f"dhcp_{k}": v for k, v in sorted(self.dhcp.stats.items())}
        out.update({f"dns_{k}": v for k, v in sorted(self.dns.stats.items())})
        out.update({f"sntp_{k}": v for k, v in sorted(self.sntp.stats.items())})
        out.update(self.stats)
        return out

    # --- UDP services ---------------------------------------------------------------------------------

    def _dhcp_in(self, d: UdpDatagram) -> None:
        reply = self.dhcp.handle(d.payload, d.time_ns, src=d.src, dst=d.dst)
        if reply is not None:
            self.stack.send_udp(SERVER_PORT, reply.dst, reply.dst_port, reply.payload, src=reply.src,
                                dst_mac=reply.dst_mac)

    def _dns_in(self, d: UdpDatagram) -> None:
        reply = self.dns.handle(d.payload, d.time_ns, client=f"{d.src}:{d.src_port}", server=d.dst)
        self._answer(d, reply, DNS_PORT)

    def _sntp_in(self, d: UdpDatagram) -> None:
        reply = self.sntp.handle(d.payload, d.time_ns, client=f"{d.src}:{d.src_port}", server=d.dst)
        self._answer(d, reply, NTP_PORT)

    def _answer(self, d: UdpDatagram, reply: bytes | None, port: int) -> None:
        if reply is None or d.src == ip_str(IPV4_ANY) or d.src_port == 0:
            return
        # from the address asked (lwIP checks a DNS reply's source, RFC 5452 section 9.1)
        self.stack.send_udp(port, d.src, d.src_port, reply, src=self.config.router if d.broadcast else d.dst)

    # --- addresses and TCP --------------------------------------------------------------------------

    def _proxy_arp(self, target: bytes, sender: bytes) -> bool:
        """Any host address of the subnet that is not the pool's nor the device's; never for an
        ARP probe (sender 0.0.0.0, RFC 5227 2.1.1), which is how a device checks its own address."""
        ip = ipaddress.IPv4Address(target)
        return (sender != IPV4_ANY and ip in self._network
                and ip not in (self._network.network_address, self._network.broadcast_address)
                and not self.config._in_pool(ip) and self.stack.neighbor_mac(target) is None)

    def _application_for(self, conn: TcpConnection) -> StreamHandler:
        address, port = conn.local_address
        if port in self._tls_ports and self._tls_application is not None:
            handler, kind = self._tls_application(), "tls"
        else:
            handler, kind = TcpSink(), "tcp-sink"
        device_ip, device_port = conn.remote_address
        if len(self.connections) < self.config.record_limit:
            self.connections.append(ConnectionRecord(self.queue.now_ns, f"{device_ip}:{device_port}", address, port,
                                                     self.dns.name_for(address), kind, handler, conn))
        else:
            self.stats["connections_not_recorded"] += 1
        return handler


__all__ = ["ConnectionRecord", "InternetConfig", "ROUTER_IP", "ROUTER_MAC", "VirtualInternet"]
