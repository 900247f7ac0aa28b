"""The SNTP server against scapy and against calendar arithmetic done here with datetime: the reply
fields RFC 4330 section 5 asks for, the virtual calendar, NTP eras; malformed requests dropped."""

from __future__ import annotations

import struct
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.layers.ntp import NTPHeader
from vnetkit import MAC, ROUTER, ROUTER_MAC, Lan

from sim.errors import SimError
from sim.net.calendar_clock import CalendarClock, parse_date
from sim.net.errors import NetworkConfigError
from sim.net.internet import InternetConfig
from sim.net.sntp import SntpServer
from sim.vtime import NS_PER_MS, NS_PER_S

DEVICE = "192.0.2.57"
NTP_EPOCH = datetime(1900, 1, 1, tzinfo=timezone.utc)
LWIP_REQUEST = bytes([0x23]) + bytes(47)          # src/apps/sntp/sntp.c sntp_send_request: LI 0, VN 4, mode 3


def _expected(moment: datetime) -> tuple[int, int]:
    """(seconds mod 2**32, fraction) of an NTP timestamp, by plain calendar arithmetic."""
    delta = moment - NTP_EPOCH
    seconds = delta.days * 86400 + delta.seconds
    return seconds % 2**32, (delta.microseconds * 2**32) // 10**6


def _stamp(reply: bytes, offset: int) -> tuple[int, int]:
    return struct.unpack_from("!II", reply, offset)


def _ask(lan: Lan, payload: bytes, *, server: str = ROUTER, sport: int = 50123):
    (reply,) = lan.ask(Ether(src=MAC, dst=ROUTER_MAC) / IP(src=DEVICE, dst=server) / UDP(sport=sport, dport=123) /
                       payload)
    return reply, bytes(reply[UDP].payload)[:reply[UDP].len - 8]


def test_lwip_request_gets_the_virtual_calendar_time():
    lan = Lan(InternetConfig(date="2017-10-12T22:16:00Z"))
    lan.wait_s(2.5)
    reply, raw = _ask(lan, LWIP_REQUEST)
    assert len(raw) == 48                                        # lwIP ignores anything else
    assert (reply[IP].src, reply[UDP].sport, reply[UDP].dport) == (ROUTER, 123, 50123)
    ntp = NTPHeader(raw)
    assert (ntp.leap, ntp.version, ntp.mode, ntp.stratum, ntp.poll) == (0, 4, 4, 1, 0)
    assert ntp.ref_id == b"XSIM"
    now = datetime(2017, 10, 12, 22, 16, 2, 500000, tzinfo=timezone.utc)
    assert _stamp(raw, 40) == _expected(now) == _stamp(raw, 32)      # transmit, receive
    assert _stamp(raw, 24) == (0, 0)                                  # originate: the request's (zero)
    assert _stamp(raw, 16) == _expected(datetime(2017, 10, 12, 22, 16, tzinfo=timezone.utc))
    # lwIP sets the clock from the transmit timestamp: Unix = NTP seconds + 2085978496 (mod 2**32)
    unix = (_stamp(raw, 40)[0] + 2085978496) % 2**32
    assert datetime.fromtimestamp(unix, timezone.utc) == now.replace(microsecond=0)
    (told,) = lan.net.time_answers
    assert told.told == "2017-10-12T22:16:02.500000Z" and told.client == f"{DEVICE}:50123"


def test_originate_echoes_the_clients_transmit_and_version_and_poll_are_copied():
    lan = Lan()
    request = NTPHeader(version=3, mode=3, poll=6, sent=3913056000.25)
    reply, raw = _ask(lan, bytes(request))
    assert raw[24:32] == bytes(request)[40:48]
    ntp = NTPHeader(raw)
    assert (ntp.version, ntp.mode, ntp.poll) == (3, 4, 6)
    assert NTPHeader(raw).orig == pytest.approx(3913056000.25)


def test_symmetric_active_gets_symmetric_passive():
    lan = Lan()
    _, raw = _ask(lan, bytes(NTPHeader(version=4, mode=1)))
    assert raw[0] & 7 == 2


def test_extension_fields_are_ignored_and_the_reply_stays_48_bytes():
    lan = Lan()
    _, raw = _ask(lan, LWIP_REQUEST + bytes(20))
    assert len(raw) == 48


def test_reply_comes_from_whatever_server_address_the_device_used():
    lan = Lan()
    reply, _ = _ask(lan, LWIP_REQUEST, server="162.159.200.1", sport=123)
    assert (reply[IP].src, reply[UDP].dport) == ("162.159.200.1", 123)
    assert lan.net.time_answers[0].server == "162.159.200.1"


@pytest.mark.parametrize("date, era_top_bit", [("2035-06-01T00:00:00Z", 1), ("2040-06-01T12:00:00Z", 0),
                                               ("1970-01-01T00:00:00Z", 1)])
def test_ntp_eras(date, era_top_bit):
    clock = CalendarClock(date, origin_ns=5 * NS_PER_S)
    server = SntpServer(clock)
    raw = server.handle(LWIP_REQUEST, 5 * NS_PER_S + 250 * NS_PER_MS)
    seconds, fraction = _stamp(raw, 40)
    moment = parse_date(date) + timedelta(milliseconds=250)
    assert (seconds, fraction) == _expected(moment)
    assert seconds >> 31 == era_top_bit                           # RFC 4330 section 3's era rule


@pytest.mark.parametrize("payload, counter", [
    (LWIP_REQUEST[:47], "malformed_short"),
    (bytes([0x03]) + bytes(47), "malformed_version"),             # VN 0
    (bytes([0x3b]) + bytes(47), "malformed_version"),             # VN 7
    (bytes([0x24]) + bytes(47), "dropped_mode"),                  # a server's reply
    (bytes([0x26]) + bytes(47), "dropped_mode"),                  # control message
    (bytes([0x27]) + bytes(47), "dropped_mode"),                  # private (monlist)
    (bytes([0x25]) + bytes(47), "dropped_mode"),                  # broadcast
])
def test_bad_requests_are_dropped_and_counted(payload, counter):
    server = SntpServer(CalendarClock())
    assert server.handle(payload, 0) is None
    assert server.stats[counter] == 1 and server.answers == []


@settings(max_examples=300)
@given(st.binary(max_size=120))
def test_random_bytes_never_raise(data):
    server = SntpServer(CalendarClock())
    reply = server.handle(data, 0)
    assert reply is None or len(reply) == 48


def test_dates_parse_from_iso_8601_and_bad_ones_say_how_to_write_them():
    assert parse_date("2017-10-12T22:16:00Z") == datetime(2017, 10, 12, 22, 16, tzinfo=timezone.utc)
    assert parse_date("2017-10-13T00:16:00+02:00") == datetime(2017, 10, 12, 22, 16, tzinfo=timezone.utc)
    for bad, words in (("yesterday", "write it like 2017-10-12T22:16:00Z"), ("2017-10-12T22:16:00", "add Z"),
                       ("1900-01-01T00:00:00Z", "from 1968-01-20 to 2104-02-26"),
                       ("2200-01-01T00:00:00Z", "from 1968-01-20 to 2104-02-26")):
        with pytest.raises(NetworkConfigError, match=words) as err:
            InternetConfig(date=bad)
        assert isinstance(err.value, SimError)
