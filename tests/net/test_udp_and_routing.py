"""HostStack's UDP and its router role, driven by frames scapy builds and checked by scapy's decoding:
datagrams reach bound ports with checksums verified, replies carry checksums scapy agrees with,
and traffic to any off-link address is answered from that address."""

from __future__ import annotations

from netkit import DEV_IP, DEV_MAC, HOST_IP, HOST_MAC, Recorder
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw

from sim.net.hoststack import HostStack
from sim.seed import SeededRandom
from sim.vtime import EventQueue


class Box:
    def __init__(self) -> None:
        self.queue = EventQueue()
        self.sent: list[bytes] = []
        self.stack = HostStack(self.queue, mac=HOST_MAC, ip=HOST_IP, rng=SeededRandom(3, "udp"),
                               transmit=self.sent.append)
        self.got = []

    def inject(self, pkt) -> None:
        self.stack.handle_frame(bytes(pkt))
        self.queue.advance_to(self.queue.now_ns)

    def take(self) -> list:
        out = [Ether(f) for f in self.sent]
        self.sent.clear()
        return out


def _udp(dst=HOST_IP, dport=5000, payload=b"hello", eth_dst=HOST_MAC, src=DEV_IP, **udp_kw):
    return (Ether(src=DEV_MAC, dst=eth_dst) / IP(src=src, dst=dst) / UDP(sport=40000, dport=dport, **udp_kw) /
            Raw(payload))


def _checksum_ok(pkt) -> bool:
    """scapy recomputes the UDP checksum from scratch; it must equal what we sent."""
    sent = pkt[UDP].chksum
    again = Ether(bytes(pkt))
    del again[UDP].chksum
    return Ether(bytes(again))[UDP].chksum == sent


def test_datagram_reaches_its_bound_port_and_reply_checksums_verify():
    box = Box()

    def echo(d):
        box.got.append(d)
        box.stack.send_udp(d.dst_port, d.src, d.src_port, d.payload[::-1], src=d.dst)
    box.stack.bind_udp(5000, echo)
    box.inject(_udp())
    (d,) = box.got
    assert (d.src, d.src_port, d.dst, d.dst_port, d.payload, d.src_mac) == \
        (DEV_IP, 40000, HOST_IP, 5000, b"hello", DEV_MAC)
    (reply,) = box.take()
    assert reply[Ether].dst == DEV_MAC and reply[IP].src == HOST_IP and reply[IP].dst == DEV_IP
    assert (reply[UDP].sport, reply[UDP].dport, reply[UDP].len) == (5000, 40000, 8 + 5)
    assert bytes(reply[UDP].payload)[:5] == b"olleh" and _checksum_ok(reply)


def test_bad_checksum_short_length_and_unbound_port_are_counted_not_delivered():
    box = Box()
    box.stack.bind_udp(5000, box.got.append)
    box.inject(_udp(chksum=0x1234))
    raw = bytearray(bytes(_udp()))
    raw[14 + 20 + 4:14 + 20 + 6] = (100).to_bytes(2, "big")     # UDP length beyond the datagram
    box.inject(bytes(raw))
    box.inject(_udp(dport=5001))
    assert box.got == []
    s = box.stack.stats
    assert (s["bad_checksum_udp"], s["malformed_udp"], s["dropped_udp_no_port"]) == (1, 1, 1)


def test_zero_checksum_means_none_and_is_accepted():
    box = Box()
    box.stack.bind_udp(5000, box.got.append)
    box.inject(_udp(chksum=0))
    assert len(box.got) == 1 and box.got[0].payload == b"hello"


def test_fragments_are_dropped_and_counted():
    box = Box()
    box.stack.bind_udp(5000, box.got.append)
    box.inject(Ether(src=DEV_MAC, dst=HOST_MAC) / IP(src=DEV_IP, dst=HOST_IP, flags="MF") /
               UDP(sport=1, dport=5000) / Raw(b"x" * 16))
    assert box.got == [] and box.stack.stats["dropped_fragment"] == 1


def test_limited_broadcast_is_delivered_and_broadcast_send_needs_no_arp():
    box = Box()
    box.stack.bind_udp(67, box.got.append)
    box.inject(_udp(dst="255.255.255.255", dport=67, eth_dst="ff:ff:ff:ff:ff:ff", src="0.0.0.0"))
    (d,) = box.got
    assert d.broadcast and d.src == "0.0.0.0"
    assert box.stack.neighbor_mac("0.0.0.0") is None                 # 0.0.0.0 is nobody's address
    box.stack.send_udp(67, "255.255.255.255", 68, b"x" * 10)
    box.stack.send_udp(67, "192.0.2.77", 68, b"y" * 10, dst_mac="02:00:00:00:00:77")
    bcast, unicast = box.take()
    assert bcast[Ether].dst == "ff:ff:ff:ff:ff:ff" and bcast[IP].dst == "255.255.255.255"
    assert unicast[Ether].dst == "02:00:00:00:00:77" and unicast[IP].dst == "192.0.2.77"
    assert _checksum_ok(bcast) and _checksum_ok(unicast)


def test_tcp_or_ping_to_broadcast_is_not_answered():
    box = Box()
    box.inject(Ether(src=DEV_MAC, dst="ff:ff:ff:ff:ff:ff") / IP(src=DEV_IP, dst="255.255.255.255") / ICMP())
    assert box.take() == [] and box.stack.stats["dropped_broadcast_not_udp"] == 1


# --- the router role ----------------------------------------------------------------------------------

def test_without_routing_off_link_traffic_is_not_ours():
    box = Box()
    box.stack.listen(443, Recorder)
    box.inject(Ether(src=DEV_MAC, dst=HOST_MAC) / IP(src=DEV_IP, dst="203.0.113.7") / TCP(dport=443, flags="S"))
    assert box.take() == [] and box.stack.stats["dropped_ip_not_for_us"] == 1


def test_router_accepts_any_destination_and_answers_from_it():
    box = Box()
    box.stack.route_all()
    apps = []

    def app_for(conn):
        apps.append(conn.local_address)
        return Recorder()
    box.stack.listen_default(app_for)
    syn = Ether(src=DEV_MAC, dst=HOST_MAC) / IP(src=DEV_IP, dst="203.0.113.7") / \
        TCP(sport=50000, dport=8883, flags="S", seq=100, options=[("MSS", 1460)])
    box.inject(syn)
    (synack,) = box.take()
    assert synack[IP].src == "203.0.113.7" and synack[IP].dst == DEV_IP and synack[Ether].src == HOST_MAC
    assert synack[TCP].sport == 8883 and synack[TCP].flags == "SA" and synack[TCP].ack == 101
    box.inject(Ether(src=DEV_MAC, dst=HOST_MAC) / IP(src=DEV_IP, dst="203.0.113.7") /
               TCP(sport=50000, dport=8883, flags="A", seq=101, ack=synack[TCP].seq + 1))
    assert apps == [("203.0.113.7", 8883)]
    assert box.stack.connections[0].local_address == ("203.0.113.7", 8883)

    box.inject(Ether(src=DEV_MAC, dst=HOST_MAC) / IP(src=DEV_IP, dst="198.51.100.9") / ICMP(id=7, seq=1))
    (pong,) = box.take()
    assert pong[IP].src == "198.51.100.9" and pong[ICMP].type == 0


def test_same_device_port_to_two_destinations_is_two_connections():
    box = Box()
    box.stack.route_all()
    box.stack.listen_default(lambda conn: Recorder())
    for dst in ("203.0.113.7", "203.0.113.8"):
        box.inject(Ether(src=DEV_MAC, dst=HOST_MAC) / IP(src=DEV_IP, dst=dst) /
                   TCP(sport=50000, dport=443, flags="S", seq=1))
    answers = box.take()
    assert [p[IP].src for p in answers] == ["203.0.113.7", "203.0.113.8"]
    assert all(p[TCP].flags == "SA" for p in answers)


def test_routing_ignores_frames_not_sent_to_our_mac():
    box = Box()
    box.stack.route_all()
    box.stack.listen_default(lambda conn: Recorder())
    box.inject(Ether(src=DEV_MAC, dst="02:00:00:00:00:99") / IP(src=DEV_IP, dst="203.0.113.7") /
               TCP(dport=443, flags="S"))
    assert box.take() == []


def test_added_address_answers_arp_and_proxy_arp_follows_its_predicate():
    box = Box()
    box.stack.add_address("192.0.2.5")
    asked = []

    def proxy(target, sender):
        asked.append((target, sender))
        return target == bytes([192, 0, 2, 6])
    box.stack.set_proxy_arp(proxy)
    for target in ("192.0.2.5", "192.0.2.6", "192.0.2.7"):
        box.inject(Ether(src=DEV_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=DEV_MAC, psrc=DEV_IP, pdst=target))
    replies = box.take()
    assert [(r[ARP].psrc, r[ARP].hwsrc, r[ARP].pdst) for r in replies] == \
        [("192.0.2.5", HOST_MAC, DEV_IP), ("192.0.2.6", HOST_MAC, DEV_IP)]
    assert [t for t, _ in asked] == [bytes([192, 0, 2, 6]), bytes([192, 0, 2, 7])]
    # a gratuitous ARP (sender == target) is an announcement, never proxied
    box.inject(Ether(src=DEV_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=DEV_MAC, psrc="192.0.2.6",
                                                                 pdst="192.0.2.6"))
    assert box.take() == []
