"""The DHCP server against scapy: client messages built by scapy in the shapes lwIP 2.1.3 and other
clients send, replies decoded by scapy and checked against RFC 2131 and lwIP's acceptance rules."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.dhcp import BOOTP
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import ARP, Ether
from vnetkit import (BCAST_IP, BCAST_MAC, MAC, ROUTER, ROUTER_MAC, Lan, decline, discover, dhcp_frame, inform,
                     lwip_accepts, options, rebind, reboot, release, renew, select, _bootp)

from sim.errors import SimError
from sim.net.dhcp import DhcpConfig, DhcpServer
from sim.net.errors import NetworkConfigError
from sim.net.internet import InternetConfig
from sim.seed import SeededRandom

POOL = ("192.0.2.10", "192.0.2.99")


def _in_pool(address: str) -> bool:
    last = int(address.rsplit(".", 1)[1])
    return address.startswith("192.0.2.") and 10 <= last <= 99


def _lease(lan: Lan, mac: str = MAC, xid: int = 0x1234, **kw) -> str:
    (offer,) = lan.ask(discover(mac, xid, **kw))
    (ack,) = lan.ask(select(offer[BOOTP].yiaddr, mac, xid, **kw))
    assert options(ack)["message-type"] == 5
    return ack[BOOTP].yiaddr


# --- lwIP's boot sequence ---------------------------------------------------------------------------

def test_lwip_discover_and_request_get_a_lease_lwip_accepts():
    lan = Lan()
    (offer,) = lan.ask(discover())
    yiaddr = offer[BOOTP].yiaddr
    assert _in_pool(yiaddr)
    # flags=0: RFC 2131 4.1 unicast to yiaddr at chaddr, from the server's port 67 to 68
    assert (offer[Ether].dst, offer[IP].dst, offer[IP].src) == (MAC, yiaddr, ROUTER)
    assert (offer[UDP].sport, offer[UDP].dport) == (67, 68)
    assert lwip_accepts(offer, MAC, 0x1234) == []
    opts = options(offer)
    assert opts["message-type"] == 2 and opts["server_id"] == ROUTER
    assert (opts["subnet_mask"], opts["router"], opts["name_server"], opts["broadcast_address"]) == \
        ("255.255.255.0", ROUTER, ROUTER, "192.0.2.255")
    assert (opts["lease_time"], opts["renewal_time"], opts["rebinding_time"]) == (3600, 1800, 3150)
    assert "NTP_server" not in opts                                      # not in lwIP's request list
    assert len(bytes(offer[UDP].payload)) >= 300                         # RFC 951's minimum message

    (ack,) = lan.ask(select(yiaddr))
    assert options(ack)["message-type"] == 5 and ack[BOOTP].yiaddr == yiaddr
    assert (ack[Ether].dst, ack[IP].dst) == (MAC, yiaddr)
    assert lwip_accepts(ack, MAC, 0x1234) == []
    given = lan.net.lease_given(mac=MAC)
    assert given is not None and (given.address, given.state, given.hostname) == (yiaddr, "selecting", "lwip")
    assert lan.net.dhcp.bound_address(MAC) == yiaddr


def test_lwip_arp_check_of_the_offered_address_is_never_answered():
    lan = Lan(InternetConfig(proxy_arp_subnet=True))
    yiaddr = _lease(lan)
    for _ in range(2):                                    # dhcp_check: two probes, one fine tick apart
        probe = Ether(src=MAC, dst=BCAST_MAC) / ARP(op=1, hwsrc=MAC, psrc="0.0.0.0", pdst=yiaddr)
        assert lan.ask(probe) == []
    # a request for another subnet address from a configured device is proxied (the option is on)
    asked = Ether(src=MAC, dst=BCAST_MAC) / ARP(op=1, hwsrc=MAC, psrc=yiaddr, pdst="192.0.2.200")
    (reply,) = lan.ask(asked)
    assert (reply[ARP].op, reply[ARP].psrc, reply[ARP].hwsrc) == (2, "192.0.2.200", ROUTER_MAC)
    # ... but never for an address of the pool, nor for the device's own address
    for pdst in ("192.0.2.50", yiaddr):
        assert lan.ask(Ether(src=MAC, dst=BCAST_MAC) / ARP(op=1, hwsrc=MAC, psrc=yiaddr, pdst=pdst)) == []


def test_retransmitted_discover_gets_the_same_offer():
    lan = Lan()
    (first,) = lan.ask(discover())
    for wait in (2, 4, 8):                                # lwIP's DISCOVER backoff
        lan.wait_s(wait)
        (again,) = lan.ask(discover())
        assert again[BOOTP].yiaddr == first[BOOTP].yiaddr


def test_ntp_server_option_only_when_the_client_asks_for_it():
    lan = Lan(InternetConfig(ntp_server="192.0.2.123"))
    (offer,) = lan.ask(discover(prl=[1, 3, 28, 6, 42]))        # LWIP_DHCP_GET_NTP_SRV=1
    assert options(offer)["NTP_server"] == "192.0.2.123"
    assert lwip_accepts(offer, MAC, 0x1234) == []
    (plain,) = lan.ask(discover("02:00:00:00:00:0b"))
    assert "NTP_server" not in options(plain)


def test_renew_is_answered_unicast_and_rebind_too():
    lan = Lan()
    leased = _lease(lan)
    lan.wait_s(1800)                                       # T1
    (ack,) = lan.ask(renew(leased))
    assert options(ack)["message-type"] == 5
    assert (ack[Ether].dst, ack[IP].dst, ack[BOOTP].ciaddr, ack[BOOTP].yiaddr) == (MAC, leased, leased, leased)
    assert lwip_accepts(ack, MAC, 0x1234) == []
    lan.wait_s(3000)                                       # past the renewed T2
    (ack2,) = lan.ask(rebind(leased))
    assert options(ack2)["message-type"] == 5 and ack2[BOOTP].yiaddr == leased
    states = [e.state for e in lan.net.leases if e.event == "ack"]
    assert states == ["selecting", "renewing", "rebinding"]


def test_reboot_keeps_the_address_and_unknown_or_foreign_requests_are_refused():
    lan = Lan()
    leased = _lease(lan)
    (ack,) = lan.ask(reboot(leased))
    assert options(ack)["message-type"] == 5 and ack[BOOTP].yiaddr == leased
    # RFC 2131 4.3.2: no record of the client -> silence (lwIP falls back to DISCOVER)
    assert lan.ask(reboot("192.0.2.20", mac="02:00:00:00:00:0c")) == []
    # an address of another network -> NAK, broadcast
    (nak,) = lan.ask(reboot("10.1.2.3"))
    assert options(nak)["message-type"] == 6 and b"not on" in options(nak)["error_message"]
    assert (nak[Ether].dst, nak[IP].dst, nak[BOOTP].yiaddr) == (BCAST_MAC, BCAST_IP, "0.0.0.0")
    assert lwip_accepts(nak, MAC, 0x4321) == []


def test_request_for_an_address_held_by_another_client_gets_a_broadcast_nak():
    lan = Lan()
    other = _lease(lan, mac="02:00:00:00:00:0b")
    (nak,) = lan.ask(select(other))
    assert options(nak)["message-type"] == 6 and nak[IP].dst == BCAST_IP
    assert options(nak)["server_id"] == ROUTER
    assert [e.event for e in lan.net.leases][-1] == "nak"


def test_request_naming_another_server_withdraws_the_offer():
    lan = Lan()
    (offer,) = lan.ask(discover())
    assert lan.ask(select(offer[BOOTP].yiaddr, server="192.0.2.254")) == []
    assert all(lease.state != "offered" for lease in lan.net.dhcp.leases)
    assert lan.net.dhcp.stats["request_for_other_server"] == 1


def test_declined_address_is_never_offered_again():
    lan = Lan(InternetConfig(pool=("192.0.2.10", "192.0.2.12")))
    bad = _lease(lan)
    assert lan.ask(decline(bad)) == []
    assert lan.net.dhcp.declined == [bad]
    offered = set()
    for n in range(3):                                    # the pool has two addresses left
        mac = f"02:00:00:00:01:{n:02x}"
        replies = lan.ask(discover(mac, xid=n))
        if replies:
            offered.add(replies[0][BOOTP].yiaddr)
            lan.ask(select(replies[0][BOOTP].yiaddr, mac, xid=n))
    assert bad not in offered and len(offered) == 2
    assert lan.net.dhcp.stats["pool_exhausted"] == 1


def test_release_then_discover_gets_the_same_address_back():
    lan = Lan()
    leased = _lease(lan)
    assert lan.ask(release(leased)) == []
    assert [e.event for e in lan.net.leases][-1] == "release"
    assert lan.net.dhcp.bound_address(MAC) is None
    (offer,) = lan.ask(discover(xid=0x99))
    assert offer[BOOTP].yiaddr == leased                  # RFC 2131 4.3.1: the previous address


def test_inform_gets_configuration_but_no_lease():
    lan = Lan()
    (ack,) = lan.ask(inform("192.0.2.150"))
    opts = options(ack)
    assert opts["message-type"] == 5 and "lease_time" not in opts and opts["router"] == ROUTER
    assert (ack[IP].dst, ack[BOOTP].ciaddr, ack[BOOTP].yiaddr) == ("192.0.2.150", "192.0.2.150", "0.0.0.0")
    assert [e.event for e in lan.net.leases] == ["inform"]


def test_broadcast_flag_gets_broadcast_replies():
    lan = Lan()
    (offer,) = lan.ask(discover(flags=0x8000))
    assert (offer[Ether].dst, offer[IP].dst, offer[BOOTP].flags) == (BCAST_MAC, BCAST_IP, 0x8000)
    (ack,) = lan.ask(select(offer[BOOTP].yiaddr, flags=0x8000))
    assert (ack[Ether].dst, ack[IP].dst) == (BCAST_MAC, BCAST_IP)


def test_replies_through_a_relay_go_to_its_server_port():
    lan = Lan()
    relay = "192.0.2.250"
    pkt = dhcp_frame(MAC, _bootp(MAC, 5, [("message-type", "discover")], giaddr=relay), src=relay, dst=ROUTER,
                     eth_dst=ROUTER_MAC, sport=67)
    lan.net.stack.add_neighbor(relay, "02:00:00:00:00:fa")
    (offer,) = lan.ask(pkt)
    assert (offer[IP].dst, offer[UDP].dport, offer[Ether].dst) == (relay, 67, "02:00:00:00:00:fa")
    nak_pkt = dhcp_frame(MAC, _bootp(MAC, 6, [("message-type", "request"), ("requested_addr", "10.0.0.1")],
                                     giaddr=relay), src=relay, dst=ROUTER, eth_dst=ROUTER_MAC, sport=67)
    (nak,) = lan.ask(nak_pkt)
    assert options(nak)["message-type"] == 6 and nak[BOOTP].flags & 0x8000 and nak[IP].dst == relay


def test_client_identifier_not_chaddr_names_the_client():
    lan = Lan()
    a = _lease(lan, client_id=b"\x01device-a")
    b = _lease(lan, client_id=b"\x01device-b")               # same MAC, another client
    assert a != b
    (offer,) = lan.ask(discover("02:00:00:00:00:0e", client_id=b"\x01device-a"))   # new NIC, same id
    assert offer[BOOTP].yiaddr == a
    assert options(offer)["client_id"] == b"\x01device-a"                        # RFC 6842


def test_lease_choice_follows_the_seed():
    def first_three(seed):
        lan = Lan(seed=seed)
        return [_lease(lan, mac=f"02:00:00:00:02:{n:02x}", xid=n) for n in range(3)]
    assert first_three(5) == first_three(5)
    firsts = {first_three(seed)[0] for seed in range(8)}
    assert len(firsts) > 1 and all(_in_pool(a) for a in firsts)


def test_requested_address_in_discover_is_honoured_when_free():
    lan = Lan()
    (offer,) = lan.ask(dhcp_frame(MAC, _bootp(MAC, 9, [("message-type", "discover"),
                                                        ("requested_addr", "192.0.2.42")])))
    assert offer[BOOTP].yiaddr == "192.0.2.42"


def test_lease_expires_and_offers_are_held_for_a_while():
    lan = Lan(InternetConfig(pool=("192.0.2.10", "192.0.2.10"), lease_time_s=60))
    leased = _lease(lan)
    assert lan.ask(discover("02:00:00:00:00:0b", xid=2)) == []          # in use
    lan.wait_s(61)
    (offer,) = lan.ask(discover("02:00:00:00:00:0b", xid=2))
    assert offer[BOOTP].yiaddr == leased
    expired = [e for e in lan.net.leases if e.event == "expired"]
    assert len(expired) == 1 and expired[0].time_ns == 60 * 10**9
    assert lan.ask(discover("02:00:00:00:00:0c", xid=3)) == []          # held for the offer
    lan.wait_s(61)
    assert len(lan.ask(discover("02:00:00:00:00:0c", xid=3))) == 1


def test_a_stream_of_clients_leaves_tables_no_bigger_than_the_pool():
    server = DhcpServer(DhcpConfig(pool=("192.0.2.10", "192.0.2.13"), offer_hold_s=1), rng=SeededRandom(1, "d"))
    offers = 0
    for n in range(200):
        mac = f"02:00:00:00:{n >> 8:02x}:{n & 0xff:02x}"
        offers += server.handle(bytes(discover(mac, xid=n)[UDP].payload), n * 10**9 // 2) is not None
    assert server.known_clients <= 4 and len(server.leases) <= 4
    assert offers > 4                                   # addresses came back as offers lapsed


# --- robustness ---------------------------------------------------------------------------------------

def _server() -> DhcpServer:
    return DhcpServer(DhcpConfig(), rng=SeededRandom(1, "dhcp"))


@pytest.mark.parametrize("damage, counter", [
    (lambda m: m[:200], "malformed_short"),
    (lambda m: m[:236] + b"\0\0\0\0" + m[240:], "malformed_cookie"),
    (lambda m: m[:240] + bytes((53, 1, 1, 61, 40, 1)), "malformed_options"),           # runs past the end
    (lambda m: m[:240] + bytes((53, 2, 1, 1, 255)), "malformed_options"),              # type of length 2
    (lambda m: m[:240] + bytes((53, 1, 1, 52, 1, 7, 255)), "malformed_options"),       # overload value 7
    (lambda m: m[:240] + bytes((53, 1, 1, 50, 3, 1, 2, 3, 255)), "malformed_options"), # address of 3 bytes
    (lambda m: m[:2] + b"\x20" + m[3:], "malformed_header"),                           # hlen 32
    (lambda m: m[:240] + bytes((12, 3, 65, 66, 67, 255)), "dropped_bootp"),            # no message type
])
def test_malformed_messages_are_dropped_and_counted(damage, counter):
    server = _server()
    good = bytes(discover()[UDP].payload)
    assert server.handle(good, 0) is not None
    assert server.handle(damage(good), 0) is None
    assert server.stats[counter] == 1


def test_option_overload_into_file_is_read():
    server = _server()
    good = bytearray(bytes(discover()[UDP].payload))
    # move the message type into `file` and point to it with option 52 (RFC 2132 9.3)
    good[108:111] = bytes((53, 1, 1))
    good[111] = 255
    good[240:] = bytes((52, 1, 1, 255)).ljust(len(good) - 240, b"\0")
    reply = server.handle(bytes(good), 0)
    assert reply is not None
    offer = BOOTP(reply.payload)
    assert options(offer)["message-type"] == 2 and offer.yiaddr != "0.0.0.0"


@settings(max_examples=300)
@given(st.binary(max_size=600))
def test_random_bytes_never_raise(data):
    server = _server()
    server.handle(data, 0)
    server.handle(b"\x01\x01\x06\x00" + data[:232].ljust(232, b"\0") + b"\x63\x82\x53\x63" + data, 0)


@settings(max_examples=300)
@given(st.data())
def test_mutated_lwip_messages_never_raise(data):
    server = _server()
    base = bytearray(bytes(select("192.0.2.33")[UDP].payload))
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(0, len(base) - 1))
        base[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(base)))
    server.handle(bytes(base[:cut]), 0)
    server.handle(bytes(base), 0)
    assert sum(server.stats.values()) > 0


# --- configuration ------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, words", [
    ({"pool": ("192.0.2.50", "192.0.2.20")}, "empty"),
    ({"pool": ("192.0.2.10", "192.0.3.10")}, "not a host address"),
    ({"pool": ("192.0.2.1", "192.0.2.20")}, "contains 192.0.2.1"),
    ({"lease_time_s": 0}, "lease time"),
    ({"subnet": "192.0.2.0/33"}, "subnet"),
    ({"router": "192.0.2.300"}, "not an IPv4 address"),
    ({"on_link": ("192.0.2.20",)}, "inside the DHCP pool"),
    ({"tls_ports": (0,)}, "TLS port"),
    ({"router_mac": "01:00:5e:00:00:01"}, "multicast"),
    ({"router_mac": "02:00:00"}, "not a MAC address"),
    ({"names": {"a.example": ["300.1.1.1"]}}, "not an IPv4 or IPv6 address"),
    ({"dns_server": "dns.example"}, "not an IPv4 address"),
])
def test_bad_settings_are_typed_errors_that_name_the_setting(kwargs, words):
    with pytest.raises(NetworkConfigError) as err:
        InternetConfig(**kwargs)
    assert isinstance(err.value, SimError) and words in str(err.value)
