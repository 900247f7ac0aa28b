"""The DNS resolver against scapy: queries built by scapy (lwIP's shape and others), replies decoded by
scapy and checked against RFC 1035; malformed messages dropped and counted."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from vnetkit import MAC, ROUTER, ROUTER_MAC, Lan

from sim.net.dns import DnsConfig, DnsResolver
from sim.net.errors import NetworkConfigError
from sim.net.internet import InternetConfig

DEVICE = "192.0.2.57"
MAPPED = {"telemetry.example.net": ["203.0.113.7", "203.0.113.8"], "v6.example.net": ["2001:db8::5"],
          "both.example.net": ["203.0.113.9", "2001:db8::9"]}


def _query(name, qtype="A", *, server=ROUTER, sport=49153, ident=0x2a2a, **dns_kw):
    # lwIP's query (src/core/dns.c dns_send): RD set, one question, no EDNS
    return (Ether(src=MAC, dst=ROUTER_MAC) / IP(src=DEVICE, dst=server) / UDP(sport=sport, dport=53) /
            DNS(id=ident, rd=1, qd=DNSQR(qname=name, qtype=qtype), **dns_kw))


def _lan(**kw) -> Lan:
    return Lan(InternetConfig(names=MAPPED, absent_names=("gone.example.net",), **kw))


def _answer(lan, *args, **kw):
    (reply,) = lan.ask(_query(*args, **kw))
    return reply


def _rdata(reply) -> list[str]:
    return [rr.rdata for rr in reply[DNS].an] if reply[DNS].an else []


def test_every_name_resolves_to_the_peer_by_default():
    lan = _lan()
    reply = _answer(lan, "pool.ntp.org")
    dns = reply[DNS]
    assert (reply[IP].src, reply[IP].dst, reply[UDP].sport, reply[UDP].dport) == (ROUTER, DEVICE, 53, 49153)
    assert (dns.id, dns.qr, dns.opcode, dns.rd, dns.ra, dns.rcode) == (0x2a2a, 1, 0, 1, 1, 0)
    assert dns.qdcount == 1 and dns.qd[0].qname == b"pool.ntp.org." and dns.qd[0].qtype == 1
    assert _rdata(reply) == [ROUTER] and dns.an[0].ttl == 300 and dns.an[0].rrname == b"pool.ntp.org."


def test_mapped_name_gets_its_addresses_with_a_compressed_owner_name():
    lan = _lan()
    reply = _answer(lan, "Telemetry.Example.NET")
    assert _rdata(reply) == ["203.0.113.7", "203.0.113.8"]
    assert reply[DNS].qd[0].qname == b"Telemetry.Example.NET."           # the question echoed as asked
    raw = bytes(reply[UDP].payload)[:reply[UDP].len - 8]
    question_end = 12 + len(b"Telemetry.Example.NET") + 2 + 4
    assert raw[question_end:question_end + 2] == b"\xc0\x0c"              # RFC 1035 4.1.4 pointer
    (record,) = lan.net.dns_answered("telemetry.example.net", "A")
    assert (record.addresses, record.rcode, record.client, record.server) == \
        (("203.0.113.7", "203.0.113.8"), "NOERROR", f"{DEVICE}:49153", ROUTER)


def test_aaaa_answers_and_nodata():
    lan = _lan()
    assert _rdata(_answer(lan, "v6.example.net", "AAAA")) == ["2001:db8::5"]
    assert _rdata(_answer(lan, "both.example.net", "AAAA")) == ["2001:db8::9"]
    assert _rdata(_answer(lan, "both.example.net", "A")) == ["203.0.113.9"]
    nodata = _answer(lan, "telemetry.example.net", "AAAA")               # only A: NOERROR, no answers
    assert nodata[DNS].rcode == 0 and nodata[DNS].ancount == 0
    assert _answer(lan, "v6.example.net", "A")[DNS].ancount == 0
    assert _answer(lan, "pool.ntp.org", "AAAA")[DNS].ancount == 0
    mx = _answer(lan, "telemetry.example.net", "MX")
    assert mx[DNS].rcode == 0 and mx[DNS].ancount == 0


def test_absent_name_is_nxdomain_and_recorded():
    lan = _lan()
    reply = _answer(lan, "gone.example.net.")
    assert reply[DNS].rcode == 3 and reply[DNS].ancount == 0 and reply[DNS].aa == 1
    assert _answer(lan, "gone.example.net", "AAAA")[DNS].rcode == 3
    (record, _) = lan.net.dns_answered("gone.example.net")
    assert record.rcode == "NXDOMAIN" and record.addresses == ()


def test_no_default_makes_unmapped_names_nxdomain():
    lan = Lan(InternetConfig(names=MAPPED, resolve_others_to=()))
    assert _answer(lan, "anything.example")[DNS].rcode == 3
    assert _rdata(_answer(lan, "telemetry.example.net")) == ["203.0.113.7", "203.0.113.8"]


def test_the_reply_comes_from_the_address_queried():
    lan = _lan()
    reply = _answer(lan, "x.example", server="8.8.8.8", sport=40000)      # a firmware's hard-coded resolver
    assert (reply[IP].src, reply[UDP].dport) == ("8.8.8.8", 40000) and _rdata(reply) == [ROUTER]


def test_ttl_is_configurable():
    lan = Lan(InternetConfig(dns_ttl_s=5))
    assert _answer(lan, "a.example")[DNS].an[0].ttl == 5


def test_opcode_class_and_question_count_errors():
    lan = _lan()
    assert _answer(lan, "a.example", opcode=2)[DNS].rcode == 4            # STATUS: NOTIMP
    q = _query("version.bind", "TXT")
    q[DNSQR].qclass = 3                                                   # CHAOS
    (refused,) = lan.ask(q)
    assert refused[DNS].rcode == 5
    two = (Ether(src=MAC, dst=ROUTER_MAC) / IP(src=DEVICE, dst=ROUTER) / UDP(sport=1000, dport=53) /
           DNS(id=9, rd=1, qd=[DNSQR(qname="a.example"), DNSQR(qname="b.example")]))
    (formerr,) = lan.ask(two)
    assert formerr[DNS].rcode == 1 and formerr[DNS].qdcount == 0 and formerr[DNS].id == 9


def test_many_addresses_are_truncated_to_512_bytes_with_tc():
    many = {"big.example": [f"198.51.100.{i}" for i in range(1, 60)]}
    lan = Lan(InternetConfig(names=many))
    reply = _answer(lan, "big.example")
    assert reply[DNS].tc == 1 and 0 < reply[DNS].ancount < 59 and reply[UDP].len - 8 <= 512
    assert lan.net.dns_answered("big.example")[0].truncated


def test_connections_learn_the_name_their_address_was_given_for():
    lan = _lan()
    _answer(lan, "telemetry.example.net")
    assert lan.net.dns.name_for("203.0.113.8") == "telemetry.example.net"
    assert lan.net.dns.name_for("203.0.113.99") is None


# --- robustness ---------------------------------------------------------------------------------------

def _header(ident=1, flags=0x0100, qd=1):
    return struct.pack("!HHHHHH", ident, flags, qd, 0, 0, 0)


@pytest.mark.parametrize("message, counter", [
    (b"\x00\x01\x01", "malformed_short"),
    (_header() + b"\x05abc", "malformed_name"),                                     # label runs off
    (_header() + b"\xc0\x0c\x00\x01\x00\x01", "compression_loop"),                   # points at itself
    (_header() + b"\x01a\xc0\x20\x00\x01\x00\x01", "compression_loop"),              # points forward
    (_header() + b"\x01a\x00\x00", "malformed_question"),                            # type/class cut
    (_header() + b"\x41abc\x00\x00\x01\x00\x01", "malformed_name"),                   # label type 01
    (_header() + (b"\x3f" + b"a" * 63) * 5 + b"\x00\x00\x01\x00\x01", "malformed_name"),   # > 255 octets
    (_header(flags=0x8180) + b"\x01a\x00\x00\x01\x00\x01", "dropped_response"),     # an answer, not a query
])
def test_malformed_messages_are_dropped_and_counted(message, counter):
    resolver = DnsResolver()
    assert resolver.handle(message, 0) is None
    assert resolver.stats[counter] == 1 and resolver.answers == []


@settings(max_examples=400)
@given(st.binary(max_size=300))
def test_random_bytes_never_raise(data):
    resolver = DnsResolver()
    resolver.handle(data, 0)
    resolver.handle(_header() + data, 0)


@settings(max_examples=300)
@given(st.data())
def test_mutated_queries_never_raise_and_answers_stay_parseable(data):
    resolver = DnsResolver(DnsConfig(names=MAPPED))
    base = bytearray(bytes(DNS(id=7, rd=1, qd=DNSQR(qname="telemetry.example.net"))))
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(base) - 1))
        base[i] = data.draw(st.integers(0, 255))
    reply = resolver.handle(bytes(base), 0)
    if reply is not None:
        parsed = DNS(reply)                         # scapy reads every reply we make
        assert parsed.qr == 1 and parsed.id == int.from_bytes(base[:2], "big")


def test_bad_settings_are_typed_errors():
    with pytest.raises(NetworkConfigError, match="not an IPv4 or IPv6 address"):
        DnsConfig(names={"a.example": ["not-an-address"]})
    with pytest.raises(NetworkConfigError, match="both mapped"):
        DnsConfig(names={"a.example": ["192.0.2.1"]}, absent=("A.example.",))
    with pytest.raises(NetworkConfigError, match="TTL"):
        DnsConfig(ttl_s=-1)
