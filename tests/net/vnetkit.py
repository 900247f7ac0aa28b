"""Test kit for the virtual internet: a VirtualInternet driven by frames scapy builds, whose answers
scapy decodes, and DHCP client messages shaped as lwIP 2.1.3 sends them (src/core/ipv4/dhcp.c:
dhcp_create_msg, dhcp_discover, dhcp_select, dhcp_renew, dhcp_rebind, dhcp_reboot, dhcp_decline,
dhcp_release_and_stop)."""

from __future__ import annotations

import logging

logging.getLogger("scapy").setLevel(logging.ERROR)

from scapy.layers.dhcp import BOOTP, DHCP  # noqa: E402
from scapy.layers.inet import IP, UDP  # noqa: E402
from scapy.layers.l2 import Ether  # noqa: E402
from scapy.packet import Raw  # noqa: E402

from sim.net.internet import InternetConfig, VirtualInternet  # noqa: E402
from sim.seed import SeededRandom  # noqa: E402
from sim.vtime import NS_PER_S, EventQueue  # noqa: E402

ROUTER, ROUTER_MAC = "192.0.2.1", "02:00:00:00:00:01"
MAC = "02:00:00:00:00:0a"
BCAST_MAC, BCAST_IP = "ff:ff:ff:ff:ff:ff", "255.255.255.255"
LWIP_PRL = [1, 3, 28, 6]                 # dhcp.c: subnet mask, router, broadcast, DNS (LWIP_DNS on)


def mac_bytes(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", ""))


class Lan:
    """One VirtualInternet on a virtual clock; frames in with `inject`, frames out with `take`."""

    def __init__(self, config: InternetConfig | None = None, *, seed: int = 1, tls_application=None) -> None:
        self.queue = EventQueue()
        self.sent: list[bytes] = []
        self.net = VirtualInternet(self.queue, rng=SeededRandom(seed, "vnet"), transmit=self.sent.append,
                                   config=config, tls_application=tls_application)

    def inject(self, pkt) -> None:
        self.net.handle_frame(bytes(pkt))
        self.queue.advance_to(self.queue.now_ns)

    def take(self) -> list:
        out = [Ether(f) for f in self.sent]
        self.sent.clear()
        return out

    def ask(self, pkt) -> list:
        self.inject(pkt)
        return self.take()

    def wait_s(self, seconds: float) -> None:
        self.queue.advance_to(self.queue.now_ns + int(seconds * NS_PER_S))


# --- DHCP messages as lwIP 2.1.3 builds them -----------------------------------------------------------

def _bootp(mac: str, xid: int, options: list, *, ciaddr: str = "0.0.0.0", flags: int = 0, giaddr: str = "0.0.0.0",
           client_id: bytes | None = None):
    if client_id is not None:
        options = options + [("client_id", client_id)]
    msg = BOOTP(op=1, htype=1, hlen=6, xid=xid, secs=0, flags=flags, ciaddr=ciaddr, giaddr=giaddr,
                chaddr=mac_bytes(mac) + bytes(10)) / DHCP(options=options + ["end"])
    raw = bytes(msg)
    # dhcp_option_trailer: the options area is zero-padded to at least 68 bytes, a multiple of 4
    options_len = len(raw) - 240
    target = max(68, (options_len + 3) // 4 * 4)
    return Raw(raw + bytes(target - options_len))


def dhcp_frame(mac: str, bootp, *, src: str = "0.0.0.0", dst: str = BCAST_IP, eth_dst: str = BCAST_MAC,
               sport: int = 68, dport: int = 67):
    return Ether(src=mac, dst=eth_dst) / IP(src=src, dst=dst, ttl=255) / UDP(sport=sport, dport=dport) / bootp


def discover(mac: str = MAC, xid: int = 0x1234, prl=LWIP_PRL, **kw):
    return dhcp_frame(mac, _bootp(mac, xid, [("message-type", "discover"), ("max_dhcp_size", 1500),
                                             ("param_req_list", list(prl))], **kw))


def select(offered: str, mac: str = MAC, xid: int = 0x1234, server: str = ROUTER, prl=LWIP_PRL,
           hostname: bytes | None = b"lwip", **kw):
    opts = [("message-type", "request"), ("max_dhcp_size", 1500), ("requested_addr", offered),
            ("server_id", server), ("param_req_list", list(prl))]
    if hostname:
        opts.append(("hostname", hostname))
    return dhcp_frame(mac, _bootp(mac, xid, opts, **kw))


def renew(leased: str, mac: str = MAC, xid: int = 0x1234, server: str = ROUTER, **kw):
    opts = [("message-type", "request"), ("max_dhcp_size", 1500), ("param_req_list", LWIP_PRL)]
    return dhcp_frame(mac, _bootp(mac, xid, opts, ciaddr=leased, **kw), src=leased, dst=server, eth_dst=ROUTER_MAC)


def rebind(leased: str, mac: str = MAC, xid: int = 0x1234, **kw):
    opts = [("message-type", "request"), ("max_dhcp_size", 1500), ("param_req_list", LWIP_PRL)]
    return dhcp_frame(mac, _bootp(mac, xid, opts, ciaddr=leased, **kw), src=leased)


def reboot(previous: str, mac: str = MAC, xid: int = 0x4321, **kw):
    opts = [("message-type", "request"), ("max_dhcp_size", 576), ("requested_addr", previous),
            ("param_req_list", LWIP_PRL)]
    return dhcp_frame(mac, _bootp(mac, xid, opts, **kw))


def decline(address: str, mac: str = MAC, xid: int = 0x1234, **kw):
    return dhcp_frame(mac, _bootp(mac, xid, [("message-type", "decline"), ("requested_addr", address)], **kw))


def release(leased: str, mac: str = MAC, xid: int = 0x1234, server: str = ROUTER, **kw):
    return dhcp_frame(mac, _bootp(mac, xid, [("message-type", "release"), ("server_id", server)], ciaddr=leased,
                                  **kw), src=leased, dst=server, eth_dst=ROUTER_MAC)


def inform(ciaddr: str, mac: str = MAC, xid: int = 0x77, **kw):
    opts = [("message-type", "inform"), ("param_req_list", LWIP_PRL)]
    return dhcp_frame(mac, _bootp(mac, xid, opts, ciaddr=ciaddr, **kw), src=ciaddr)


def options(pkt) -> dict:
    """The DHCP options of a reply as scapy decodes them, by name."""
    return {o[0]: (o[1] if len(o) == 2 else o[1:]) for o in pkt[DHCP].options if isinstance(o, tuple)}


def lwip_accepts(pkt, mac: str, xid: int) -> list[str]:
    """Why lwIP 2.1.3 would drop this reply (empty: it would take it), after dhcp_recv and
    dhcp_parse_reply in src/core/ipv4/dhcp.c, read independently of the server under test."""
    why = []
    payload = bytes(pkt[UDP].payload)[:pkt[UDP].len - 8]
    if pkt[UDP].dport != 68:
        why.append(f"UDP port {pkt[UDP].dport}, the client listens on 68")
    if len(payload) < 44:
        why.append("shorter than 44 bytes")
        return why
    if payload[0] != 2:
        why.append("op is not BOOTREPLY")
    if payload[28:34] != mac_bytes(mac):
        why.append("chaddr is not our MAC")
    if int.from_bytes(payload[4:8], "big") != xid:
        why.append("xid differs")
    exact = {1: 4, 51: 4, 54: 4, 58: 4, 59: 4, 52: 1, 53: 1}
    i, seen, ended = 240, {}, False
    while i < len(payload):
        code = payload[i]
        if code == 255:
            ended = True
            break
        if code == 0:
            i += 1
            continue
        if i + 1 >= len(payload):
            break
        length = payload[i + 1]
        if code in exact and length != exact[code]:
            why.append(f"option {code} length {length}")
        if code == 3 and length < 4:
            why.append("router option shorter than 4")
        if code in (6, 42) and length % 4:
            why.append(f"option {code} length {length} is not a multiple of 4")
        seen.setdefault(code, payload[i + 2:i + 2 + length])
        i += 2 + length
    if not ended:
        why.append("no End option: the parser runs off the end (ERR_BUF)")
    if 53 not in seen:
        why.append("no message type")
    elif seen[53] == b"\x02" and 54 not in seen:
        why.append("an OFFER without a server identifier is ignored")
    return why
