"""DHCP server for the virtual network (RFC 2131, options RFC 2132), sans-IO.

`DhcpServer.handle(payload, now_ns, src=..., dst=...)` takes one message that arrived on UDP 67
and returns the reply to send (a `DhcpReply` with its destination address, port and, where no
ARP may be asked, MAC) or None. Leases expire lazily on the virtual clock; everything that
happened is kept in `events` for the journal. Malformed messages are dropped and counted in
`stats`, never raised.

Addresses come from a pool. A client is known by its client identifier, else by its hardware
address; it gets back the address it holds or last held, else the one it asks for when free,
else a free address drawn from the pool with the seeded generator (so the same seed and traffic
give the same lease). An address a client declines is never offered again.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from dataclasses import dataclass
from typing import Sequence

from sim.net.dhcp_message import (ACK, BOOTREPLY, BOOTREQUEST, BROADCAST_ADDRESS, BROADCAST_FLAG, CLIENT_ID,
                                  CLIENT_PORT, DECLINE, DISCOVER, DNS_SERVERS, DOMAIN_NAME, INFORM, LEASE_TIME,
                                  MESSAGE, MESSAGE_NAMES, MESSAGE_TYPE, NAK, NTP_SERVERS, OFFER, REBINDING_TIME,
                                  RELEASE, RENEWAL_TIME, REQUEST, REQUESTED_IP, ROUTER, SERVER_ID, SERVER_PORT,
                                  SUBNET_MASK, DhcpFormatError, DhcpMessage, encode_message, parse_message)
from sim.net.errors import NetworkConfigError
from sim.seed import SeededRandom
from sim.vtime import NS_PER_S

INFINITE_LEASE = 0xFFFFFFFF                 # RFC 2131 section 3.3
_ZERO = bytes(4)
_BROADCAST_IP = "255.255.255.255"
_BROADCAST_MAC = "ff:ff:ff:ff:ff:ff"
OFFERED, BOUND, RELEASED, EXPIRED = "offered", "bound", "released", "expired"


def _ip(value: str, what: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(value)
    except ValueError:
        raise NetworkConfigError(f"{what}: {value!r} is not an IPv4 address (example: 192.0.2.1)") from None


@dataclass(frozen=True)
class DhcpConfig:
    server: str = "192.0.2.1"                 # server identifier (option 54) and reply source
    subnet: str = "192.0.2.0/24"
    pool: tuple[str, str] = ("192.0.2.10", "192.0.2.99")      # first and last address, inclusive
    routers: Sequence[str] = ("192.0.2.1",)
    dns_servers: Sequence[str] = ("192.0.2.1",)
    ntp_servers: Sequence[str] = ()
    domain_name: str | None = None
    lease_time_s: int = 3600                  # INFINITE_LEASE for a lease that never ends
    offer_hold_s: int = 60                    # an offered address stays reserved this long

    def __post_init__(self) -> None:
        try:
            network = ipaddress.IPv4Network(self.subnet, strict=True)
        except ValueError as exc:
            raise NetworkConfigError(f"DHCP subnet {self.subnet!r}: {exc} (example: 192.0.2.0/24)") from None
        if network.prefixlen > 30:
            raise NetworkConfigError(f"DHCP subnet {self.subnet} has no room for a pool; use /30 or shorter")
        first, last = (_ip(a, "DHCP pool") for a in self.pool)
        server = _ip(self.server, "DHCP server address")
        for address in (first, last, server):
            if address not in network or address in (network.network_address, network.broadcast_address):
                raise NetworkConfigError(f"DHCP address {address} is not a host address of the subnet {network}")
        if first > last:
            raise NetworkConfigError(f"DHCP pool {first}-{last} is empty: the first address is above the last")
        others = {_ip(a, "DHCP router") for a in self.routers} | {_ip(a, "DNS server") for a in self.dns_servers} \
            | {_ip(a, "NTP server") for a in self.ntp_servers}
        clash = sorted(str(a) for a in others | {server} if first <= a <= last)
        if clash:
            raise NetworkConfigError(f"DHCP pool {first}-{last} contains {', '.join(clash)}, an address of the "
                                     f"network's own; move the pool or the server")
        if not 1 <= self.lease_time_s <= INFINITE_LEASE:
            raise NetworkConfigError(f"DHCP lease time {self.lease_time_s} s is not 1..{INFINITE_LEASE} "
                                     f"({INFINITE_LEASE} = infinite)")
        if self.offer_hold_s <= 0:
            raise NetworkConfigError("DHCP offer hold time must be positive")
        object.__setattr__(self, "pool", (str(first), str(last)))

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.subnet)


@dataclass
class Lease:
    address: str
    client_key: bytes
    mac: str
    state: str                    # offered, bound, released or expired
    since_ns: int
    expires_ns: int | None        # None: infinite
    hostname: str | None = None

    def to_dict(self) -> dict:
        return {"address": self.address, "mac": self.mac, "state": self.state, "since_ns": self.since_ns,
                "expires_ns": self.expires_ns, "hostname": self.hostname}


@dataclass(frozen=True)
class DhcpReply:
    src: str
    dst: str
    dst_port: int
    dst_mac: str | None           # None: the stack resolves it (a relay)
    payload: bytes


@dataclass(frozen=True)
class DhcpEvent:
    """One thing the server did: offer, ack, nak, inform (replies) or decline, release, expired."""

    time_ns: int
    event: str
    mac: str
    address: str | None = None
    client_id: str | None = None  # hex of option 61
    xid: int | None = None
    state: str | None = None      # for a REQUEST: selecting, init-reboot, renewing, rebinding
    lease_s: int | None = None
    hostname: str | None = None
    reason: str | None = None     # why a NAK
    sent_to: str | None = None    # "broadcast" or the unicast address

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


class DhcpServer:
    def __init__(self, config: DhcpConfig | None = None, *, rng: SeededRandom, record_limit: int = 10_000) -> None:
        self.config = config or DhcpConfig()
        self._rng = rng
        self.record_limit = record_limit
        network = self.config.network
        self._server = ipaddress.IPv4Address(self.config.server)
        self._mask = network.netmask.packed
        self._broadcast = network.broadcast_address.packed
        self._pool_first = int(ipaddress.IPv4Address(self.config.pool[0]))
        self._pool_last = int(ipaddress.IPv4Address(self.config.pool[1]))
        self._leases: dict[int, Lease] = {}                  # address -> lease
        self._by_client: dict[bytes, int] = {}               # client key -> address held or last held
        self._declined: set[int] = set()
        self.events: list[DhcpEvent] = []
        self.stats: defaultdict[str, int] = defaultdict(int)

    # --- queries ----------------------------------------------------------------------------------

    @property
    def leases(self) -> list[Lease]:
        return [self._leases[a] for a in sorted(self._leases)]

    @property
    def known_clients(self) -> int:
        """Clients the server remembers (at most one per pool address)."""
        return len(self._by_client)

    @property
    def declined(self) -> list[str]:
        return [str(ipaddress.IPv4Address(a)) for a in sorted(self._declined)]

    def bound_address(self, mac: str) -> str | None:
        for lease in self._leases.values():
            if lease.mac == mac and lease.state == BOUND:
                return lease.address
        return None

    # --- input ------------------------------------------------------------------------------------

    def handle(self, payload: bytes, now_ns: int, *, src: str = "0.0.0.0",
               dst: str = _BROADCAST_IP) -> DhcpReply | None:
        """The reply to one message that arrived (from `src`, to `dst`), or None."""
        self.stats["messages"] += 1
        try:
            msg = parse_message(payload)
        except DhcpFormatError as exc:
            self.stats[exc.counter] += 1
            return None
        if msg.op != BOOTREQUEST:
            self.stats["dropped_not_request"] += 1
            return None
        kind = msg.message_type
        if kind is None:
            self.stats["dropped_bootp"] += 1          # plain BOOTP is not served
            return None
        if msg.giaddr != _ZERO and ipaddress.IPv4Address(msg.giaddr) not in self.config.network:
            self.stats["dropped_relay_other_network"] += 1
            return None
        self._expire(now_ns)
        self.stats[f"received_{MESSAGE_NAMES.get(kind, f'type{kind}').lower()}"] += 1
        server_id = msg.options.get(SERVER_ID)
        if server_id is not None and server_id != self._server.packed and kind != REQUEST:
            self.stats["dropped_other_server"] += 1
            return None
        handler = self._HANDLERS.get(kind)
        if handler is None:                           # OFFER, ACK, NAK: another server's, not ours to take
            self.stats["dropped_message_type"] += 1
            return None
        return handler(self, msg, now_ns, dst == _BROADCAST_IP)

    # --- RFC 2131 section 4.3 -------------------------------------------------------------------------

    def _discover(self, msg: DhcpMessage, now_ns: int, broadcast: bool) -> DhcpReply | None:
        address = self._choose(msg)
        if address is None:
            self.stats["pool_exhausted"] += 1
            return None
        self._hold(address, msg, OFFERED, now_ns, self.config.offer_hold_s)
        return self._reply(msg, OFFER, now_ns, yiaddr=address)

    def _request(self, msg: DhcpMessage, now_ns: int, broadcast: bool) -> DhcpReply | None:
        server_id = msg.options.get(SERVER_ID)
        requested = msg.options.get(REQUESTED_IP)
        key = msg.client_key
        if server_id is not None:                                      # SELECTING
            if server_id != self._server.packed:
                self._forget_offer(key)                                # the client chose another server
                self.stats["request_for_other_server"] += 1
                return None
            state, wanted = "selecting", requested or (msg.ciaddr if msg.ciaddr != _ZERO else None)
        elif msg.ciaddr == _ZERO:                                      # INIT-REBOOT
            state, wanted = "init-reboot", requested
        else:                                                          # RENEWING / REBINDING
            state, wanted = ("rebinding" if broadcast else "renewing"), msg.ciaddr
        if wanted is None:
            self.stats["dropped_request_without_address"] += 1
            return None
        address = int(ipaddress.IPv4Address(wanted))
        if ipaddress.IPv4Address(address) not in self.config.network:
            return self._nak(msg, now_ns, state, f"{ipaddress.IPv4Address(address)} is not on {self.config.subnet}")
        mine = self._by_client.get(key)
        if state == "init-reboot" and mine is None:
            self.stats["init_reboot_unknown_client"] += 1              # RFC 2131 4.3.2: remain silent
            return None
        if not self._available(address, key):
            held = "" if mine is None else f"; this client holds {ipaddress.IPv4Address(mine)}"
            return self._nak(msg, now_ns, state, f"{ipaddress.IPv4Address(address)} is not available to this "
                                                 f"client{held}")
        self._hold(address, msg, BOUND, now_ns, self.config.lease_time_s)
        return self._reply(msg, ACK, now_ns, yiaddr=address, state=state)

    def _decline(self, msg: DhcpMessage, now_ns: int, broadcast: bool) -> None:
        requested = msg.options.get(REQUESTED_IP)
        address = int(ipaddress.IPv4Address(requested)) if requested else None
        lease = self._leases.get(address) if address is not None else None
        if lease is None or lease.client_key != msg.client_key:
            self.stats["decline_ignored"] += 1
            return
        # RFC 2131 4.3.3: the address is in use by someone else; never hand it out again
        del self._leases[address]
        self._by_client.pop(msg.client_key, None)
        self._declined.add(address)
        self._event(now_ns, "decline", msg, address=lease.address)

    def _release(self, msg: DhcpMessage, now_ns: int, broadcast: bool) -> None:
        address = int(ipaddress.IPv4Address(msg.ciaddr))
        lease = self._leases.get(address)
        if lease is None or lease.client_key != msg.client_key or lease.state != BOUND:
            self.stats["release_ignored"] += 1
            return
        lease.state, lease.since_ns, lease.expires_ns = RELEASED, now_ns, None   # remembered for reuse
        self._event(now_ns, "release", msg, address=lease.address)

    def _inform(self, msg: DhcpMessage, now_ns: int, broadcast: bool) -> DhcpReply:
        # RFC 2131 4.3.5: configuration only, no lease time, yiaddr left zero, sent to ciaddr
        return self._reply(msg, ACK, now_ns, yiaddr=None, inform=True)

    def _nak(self, msg: DhcpMessage, now_ns: int, state: str, reason: str) -> DhcpReply:
        if state in ("selecting", "renewing", "rebinding"):
            self._forget_offer(msg.client_key)
        return self._reply(msg, NAK, now_ns, yiaddr=None, state=state, reason=reason)

    # what a client may send, and who handles it (RFC 2131 section 4.3); (msg, now_ns, broadcast)
    _HANDLERS = {DISCOVER: _discover, REQUEST: _request, DECLINE: _decline, RELEASE: _release, INFORM: _inform}

    # --- the lease table ------------------------------------------------------------------------------

    def _available(self, address: int, key: bytes) -> bool:
        if not self._pool_first <= address <= self._pool_last or address in self._declined:
            return False
        lease = self._leases.get(address)
        return lease is None or lease.client_key == key or lease.state in (RELEASED, EXPIRED)

    def _choose(self, msg: DhcpMessage) -> int | None:
        """RFC 2131 4.3.1: the client's current or last address, the one it asks for, a new one."""
        key = msg.client_key
        mine = self._by_client.get(key)
        if mine is not None and self._available(mine, key):
            return mine
        requested = msg.options.get(REQUESTED_IP)
        if requested is not None:
            address = int(ipaddress.IPv4Address(requested))
            if self._available(address, key):
                return address
        free = (self._pool_last - self._pool_first + 1) - len(self._declined) - sum(
            1 for a in self._leases if a not in self._declined)
        if free > 0:                                    # a never-used address, drawn by the seed
            k = self._rng.randbelow(free)
            for address in range(self._pool_first, self._pool_last + 1):
                if address in self._leases or address in self._declined:
                    continue
                if k == 0:
                    return address
                k -= 1
        reusable = [lease for lease in self._leases.values() if lease.state in (RELEASED, EXPIRED)]
        if not reusable:
            return None
        oldest = min(reusable, key=lambda lease: (lease.since_ns, lease.address))
        return int(ipaddress.IPv4Address(oldest.address))

    def _hold(self, address: int, msg: DhcpMessage, state: str, now_ns: int, seconds: int) -> None:
        key = msg.client_key
        previous = self._by_client.get(key)
        if previous is not None and previous != address:
            old = self._leases.get(previous)
            if old is not None and old.client_key == key:
                if old.state == OFFERED:
                    del self._leases[previous]
                elif old.state == BOUND:
                    old.state, old.since_ns, old.expires_ns = RELEASED, now_ns, None
        taken = self._leases.get(address)
        if taken is not None and taken.client_key != key:
            self._by_client.pop(taken.client_key, None)
        expires = None if seconds == INFINITE_LEASE else now_ns + seconds * NS_PER_S
        self._leases[address] = Lease(str(ipaddress.IPv4Address(address)), key, _mac(msg), state, now_ns, expires,
                                      msg.hostname)
        self._by_client[key] = address

    def _forget_offer(self, key: bytes) -> None:
        address = self._by_client.get(key)
        lease = self._leases.get(address) if address is not None else None
        if lease is not None and lease.state == OFFERED and lease.client_key == key:
            self._drop(address)

    def _drop(self, address: int) -> None:
        """Forget an address's lease and its client, so the tables stay as small as the pool."""
        lease = self._leases.pop(address)
        if self._by_client.get(lease.client_key) == address:
            del self._by_client[lease.client_key]

    def _expire(self, now_ns: int) -> None:
        for address, lease in list(self._leases.items()):
            if lease.expires_ns is None or lease.expires_ns > now_ns:
                continue
            if lease.state == OFFERED:
                self._drop(address)
            elif lease.state == BOUND:
                lease.state, lease.since_ns = EXPIRED, lease.expires_ns
                lease.expires_ns = None
                self._record(DhcpEvent(lease.since_ns, "expired", lease.mac, address=lease.address))

    # --- output ---------------------------------------------------------------------------------------

    def _reply(self, msg: DhcpMessage, kind: int, now_ns: int, *, yiaddr: int | None, state: str | None = None,
               reason: str | None = None, inform: bool = False) -> DhcpReply:
        cfg = self.config
        options: list[tuple[int, bytes]] = [(MESSAGE_TYPE, bytes((kind,))), (SERVER_ID, self._server.packed)]
        lease_s = None
        if kind == NAK:
            options.append((MESSAGE, reason.encode()))
        else:
            if not inform:
                lease_s = cfg.lease_time_s
                options.append((LEASE_TIME, lease_s.to_bytes(4, "big")))
                if lease_s != INFINITE_LEASE:                          # RFC 2131 4.4.5 defaults
                    options += [(RENEWAL_TIME, (lease_s // 2).to_bytes(4, "big")),
                                (REBINDING_TIME, (lease_s * 7 // 8).to_bytes(4, "big"))]
            options += [(SUBNET_MASK, self._mask), (BROADCAST_ADDRESS, self._broadcast)]
            wanted = msg.parameter_list
            for code, values in ((ROUTER, cfg.routers), (DNS_SERVERS, cfg.dns_servers),
                                 (NTP_SERVERS, cfg.ntp_servers)):
                # router and DNS always (lwIP asks for them); NTP only when asked (RFC 2131 4.3.1)
                if values and (code != NTP_SERVERS or not wanted or code in wanted):
                    options.append((code, b"".join(ipaddress.IPv4Address(v).packed for v in values)))
            if cfg.domain_name and (not wanted or DOMAIN_NAME in wanted):
                options.append((DOMAIN_NAME, cfg.domain_name.encode()))
        if CLIENT_ID in msg.options:                                   # RFC 6842: echo it back
            options.append((CLIENT_ID, msg.options[CLIENT_ID]))
        your = _ZERO if yiaddr is None else ipaddress.IPv4Address(yiaddr).packed
        reply = DhcpMessage(op=BOOTREPLY, xid=msg.xid, chaddr=msg.chaddr, htype=msg.htype, hlen=msg.hlen,
                            flags=msg.flags, ciaddr=msg.ciaddr if kind == ACK else _ZERO, yiaddr=your,
                            giaddr=msg.giaddr)
        if kind == NAK and msg.giaddr != _ZERO:
            reply.flags |= BROADCAST_FLAG                              # RFC 2131 4.3.2, via a relay
        dst, port, mac = self._destination(msg, kind, your)
        address = None if yiaddr is None else str(ipaddress.IPv4Address(yiaddr))
        if inform:
            address = str(ipaddress.IPv4Address(msg.ciaddr))
        self._event(now_ns, {OFFER: "offer", ACK: "inform" if inform else "ack", NAK: "nak"}[kind], msg,
                    address=address, state=state, lease_s=lease_s, reason=reason,
                    sent_to="broadcast" if dst == _BROADCAST_IP else dst)
        self.stats[f"sent_{MESSAGE_NAMES[kind].lower()}"] += 1
        return DhcpReply(str(self._server), dst, port, mac, encode_message(reply, options))

    def _destination(self, msg: DhcpMessage, kind: int, yiaddr: bytes) -> tuple[str, int, str | None]:
        """RFC 2131 section 4.1: to the relay; a NAK broadcast; to ciaddr; broadcast when the client
        set the BROADCAST flag; else unicast to yiaddr at the client's hardware address."""
        if msg.giaddr != _ZERO:
            return str(ipaddress.IPv4Address(msg.giaddr)), SERVER_PORT, None
        ethernet = msg.htype == 1 and msg.hlen == 6
        if kind == NAK:
            return _BROADCAST_IP, CLIENT_PORT, _BROADCAST_MAC
        if msg.ciaddr != _ZERO:
            return str(ipaddress.IPv4Address(msg.ciaddr)), CLIENT_PORT, _mac(msg) if ethernet else None
        if msg.broadcast_flag or yiaddr == _ZERO or not ethernet:
            return _BROADCAST_IP, CLIENT_PORT, _BROADCAST_MAC
        return str(ipaddress.IPv4Address(yiaddr)), CLIENT_PORT, _mac(msg)

    def _event(self, now_ns: int, kind: str, msg: DhcpMessage, **fields) -> None:
        ident = msg.options.get(CLIENT_ID)
        self._record(DhcpEvent(now_ns, kind, _mac(msg), client_id=ident.hex() if ident else None, xid=msg.xid,
                               hostname=msg.hostname, **fields))

    def _record(self, event: DhcpEvent) -> None:
        if len(self.events) < self.record_limit:
            self.events.append(event)
        else:
            self.stats["records_not_kept"] += 1


def _mac(msg: DhcpMessage) -> str:
    return ":".join(f"{b:02x}" for b in msg.hardware_address)
