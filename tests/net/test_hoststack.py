"""HostStack driven by frames that scapy builds, its answers decoded by scapy."""

from __future__ import annotations

import pytest
from netkit import DEV_IP, DEV_MAC, HOST_IP, HOST_MAC, PORT, Recorder, ScapyDevice, tcp_payload
from scapy.layers.inet import ICMP, IP, TCP, in4_chksum
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw

from sim.net.hoststack import HostStack
from sim.seed import SeededRandom
from sim.vtime import NS_PER_MS, EventQueue


# --- ARP and ICMP -----------------------------------------------------------------------------------

def test_arp_request_for_host_ip_is_answered_and_device_learned():
    dev = ScapyDevice()
    dev.inject(Ether(src=DEV_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=DEV_MAC, psrc=DEV_IP, pdst=HOST_IP))
    (reply,) = dev.take()
    assert reply[Ether].dst == DEV_MAC and reply[Ether].src == HOST_MAC
    assert reply[ARP].op == 2 and reply[ARP].hwsrc == HOST_MAC and reply[ARP].psrc == HOST_IP
    assert reply[ARP].pdst == DEV_IP and reply[ARP].hwdst == DEV_MAC
    assert len(bytes(reply)) == 60                      # padded to the Ethernet minimum
    assert dev.stack.neighbor_mac(DEV_IP) == bytes.fromhex(DEV_MAC.replace(":", ""))


def test_arp_for_another_address_is_ignored():
    dev = ScapyDevice()
    dev.inject(Ether(src=DEV_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=DEV_MAC, psrc=DEV_IP, pdst="192.0.2.99"))
    assert dev.take() == []
    assert dev.stack.neighbor_mac(DEV_IP) is None
    assert dev.stack.stats["dropped_arp_not_for_us"] == 1


def test_device_ping_gets_echo_reply():
    dev = ScapyDevice()
    dev.inject(Ether(src=DEV_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=DEV_MAC, psrc=DEV_IP, pdst=HOST_IP))
    dev.take()
    dev.inject(Ether(src=DEV_MAC, dst=HOST_MAC) / IP(src=DEV_IP, dst=HOST_IP) /
               ICMP(type=8, id=0x1234, seq=7) / Raw(b"abcdefgh" * 4))
    (reply,) = dev.take()
    assert reply[IP].src == HOST_IP and reply[IP].dst == DEV_IP
    assert reply[ICMP].type == 0 and reply[ICMP].id == 0x1234 and reply[ICMP].seq == 7
    assert bytes(reply[ICMP].payload) == b"abcdefgh" * 4
    chk = reply[ICMP].chksum
    del reply[ICMP].chksum
    assert Ether(bytes(reply))[ICMP].chksum == chk      # scapy recomputes the same checksum


def test_host_pings_device_after_resolving_its_mac():
    dev = ScapyDevice()
    ping = dev.stack.ping(DEV_IP, b"payload!", timeout_ns=500 * NS_PER_MS)
    (who_has,) = dev.take()
    assert who_has[Ether].dst == "ff:ff:ff:ff:ff:ff" and who_has[ARP].op == 1 and who_has[ARP].pdst == DEV_IP
    dev.run_ms(1)
    dev.inject(Ether(src=DEV_MAC, dst=HOST_MAC) / ARP(op=2, hwsrc=DEV_MAC, psrc=DEV_IP, hwdst=HOST_MAC, pdst=HOST_IP))
    (request,) = dev.take()                              # the queued echo request leaves now
    assert request[Ether].dst == DEV_MAC and request[ICMP].type == 8
    dev.run_ms(2)
    dev.inject(Ether(src=DEV_MAC, dst=HOST_MAC) / IP(src=DEV_IP, dst=HOST_IP) /
               ICMP(type=0, id=request[ICMP].id, seq=request[ICMP].seq) / Raw(b"payload!"))
    assert ping.replied and ping.rtt_ns == 3 * NS_PER_MS
    lost = dev.stack.ping(DEV_IP)
    dev.run_ms(1000)
    assert lost.timed_out and not lost.replied


def test_arp_resolution_gives_up_after_max_tries():
    dev = ScapyDevice()
    dev.stack.ping(DEV_IP)
    dev.run_ms(10_000)
    requests = [p for p in dev.take() if ARP in p]
    assert len(requests) == dev.stack.arp_max_tries
    assert dev.stack.stats["dropped_arp_unresolved"] == 1


# --- TCP handshake ----------------------------------------------------------------------------------

def test_handshake_offers_mss_and_declines_window_scale_sack_timestamps():
    dev = ScapyDevice()
    synack = dev.handshake(options=[("MSS", 1200), ("SAckOK", b""), ("Timestamp", (1, 0)), ("NOP", None),
                                    ("WScale", 7)])
    opts = dict(synack[TCP].options)
    assert opts == {"MSS": 1460}
    assert synack[TCP].ack == 1001 and synack[TCP].window == 65535
    conn = dev.stack.connections[0]
    assert conn.state == "ESTABLISHED" and dev.handlers[0].events == ["made"]
    assert conn.send_mss == 1200
    assert conn.peer_options.window_scale == 7 and conn.peer_options.sack_permitted
    assert conn.peer_options.timestamp == (1, 0)
    assert conn.remote_address == (DEV_IP, dev.sport) and conn.local_address == (HOST_IP, PORT)
    summary = conn.to_dict()
    assert summary["remote"] == f"{DEV_IP}:{dev.sport}" and summary["state"] == "ESTABLISHED"
    assert summary["peer_options"] == {"mss": 1200, "window_scale": 7, "sack_permitted": True, "timestamps": True}


def test_initial_sequence_numbers_come_from_the_seed():
    def isn(seed):
        dev = ScapyDevice(seed=seed)
        return dev.handshake()[TCP].seq
    assert isn(1) == isn(1)
    assert isn(1) != isn(2)


def test_syn_ack_is_retransmitted_with_backoff_then_given_up():
    dev = ScapyDevice(max_syn_retransmissions=2)
    dev.send("S", options=[("MSS", 1460)])
    dev.run_ms(20_000)
    times = [t for t, p in dev.take_timed() if p[TCP].flags == "SA"]
    assert [t // NS_PER_MS for t in times] == [0, 1000, 3000]
    assert dev.stack.connections[0].state == "CLOSED" and dev.handlers == []


def test_syn_to_a_closed_port_and_stray_ack_get_reset():
    dev = ScapyDevice()
    dev.send("S", dport=8080, seq=77)
    (rst,) = dev.take()
    assert rst[TCP].flags == "RA" and rst[TCP].seq == 0 and rst[TCP].ack == 78
    dev.send("A", seq=5, ack=12345)
    (rst,) = dev.take()
    assert rst[TCP].flags == "R" and rst[TCP].seq == 12345


# --- data both ways ---------------------------------------------------------------------------------

def test_data_both_ways_with_delayed_ack_and_segmentation():
    def reply(rec, data):
        if rec.data.endswith(b"\r\n\r\n"):
            rec.conn.send(b"R" * 2500)
    dev = ScapyDevice(handler_factory=lambda: Recorder(on_data=reply), delayed_ack_ns=40 * NS_PER_MS)
    dev.handshake(mss=1000)
    dev.send("PA", b"GET / HTTP/1.1\r\n")
    assert dev.take() == []                             # ACK is delayed
    dev.run_ms(39)
    assert dev.take() == []
    dev.run_ms(1)
    (ack,) = dev.take()
    assert ack[TCP].flags == "A" and ack[TCP].ack == dev.seq
    dev.send("PA", b"\r\n")                             # the response carries the ACK
    segs = dev.take()
    assert [len(tcp_payload(p)) for p in segs] == [1000, 1000, 500]
    assert all(p[TCP].ack == dev.seq for p in segs)
    assert segs[-1][TCP].flags == "PA"
    assert dev.consume(segs) == b"R" * 2500
    assert bytes(dev.handlers[0].data) == b"GET / HTTP/1.1\r\n\r\n"
    conn = dev.stack.connections[0]
    assert [(s.stream_offset, s.length) for s in conn.rx_log] == [(0, 16), (16, 2)]
    assert [(s.stream_offset, s.length) for s in conn.tx_log] == [(0, 1000), (1000, 1000), (2000, 500)]
    dev.ack()
    assert conn.send_buffer_size == 0


def test_every_second_full_segment_is_acked_at_once():
    dev = ScapyDevice()
    dev.handshake()
    dev.send("A", b"x" * 1460)
    assert dev.take() == []
    dev.send("A", b"y" * 1460)
    (ack,) = dev.take()
    assert ack[TCP].ack == dev.seq


def test_rx_log_names_frames_and_payload_offsets():
    dev = ScapyDevice()
    dev.handshake()
    frame = bytes(dev.tcp("PA", b"0123456789"))
    dev.stack.handle_frame(frame, frame_id=42)
    dev.seq += 10
    (seg,) = dev.stack.connections[0].rx_log
    assert (seg.stream_offset, seg.length, seg.frame_id) == (0, 10, 42)
    assert frame[seg.payload_offset:seg.payload_offset + 10] == b"0123456789"


# --- loss, retransmission, reordering --------------------------------------------------------------

def test_lost_segment_is_retransmitted_on_rto_with_backoff():
    dev = ScapyDevice(rto_min_ns=200 * NS_PER_MS)
    dev.handshake()
    dev.handlers[0].conn.send(b"hello")
    first = dev.take_timed()
    dev.run_ms(10_000)
    retrans = dev.take_timed()
    times = [t // NS_PER_MS for t, _ in first + retrans]
    # the handshake gave an RTT sample of 0 ns, so RTO = max(min, G + 4*0) = 200 ms, doubling
    assert times[:5] == [0, 200, 600, 1400, 3000]
    assert all(tcp_payload(p) == b"hello" for _, p in first + retrans)
    dev.consume([first[0][1]])
    dev.ack()
    dev.run_ms(60_000)
    assert dev.take() == []
    conn = dev.stack.connections[0]
    assert conn.counters["rto_timeouts"] >= 4 and conn.state == "ESTABLISHED"


def test_rto_follows_rfc6298_from_the_measured_rtt():
    dev = ScapyDevice()
    dev.send("S", options=[("MSS", 1460)])
    dev.rcv = dev.take()[0][TCP].seq + 1
    dev.run_ms(100)                                     # RTT of the SYN-ACK: 100 ms
    dev.ack()
    conn = dev.stack.connections[0]
    assert (conn.srtt, conn.rttvar, conn.rto) == (100 * NS_PER_MS, 50 * NS_PER_MS, 300 * NS_PER_MS)
    conn.send(b"data")
    sent = dev.take_timed()
    dev.run_ms(1000)
    again = dev.take_timed()
    assert again[0][0] - sent[0][0] == 300 * NS_PER_MS    # SRTT + 4 * RTTVAR


def test_rto_is_three_seconds_after_a_retransmitted_syn_ack():
    dev = ScapyDevice()
    dev.send("S", options=[("MSS", 1460)])
    dev.rcv = dev.take()[0][TCP].seq + 1
    dev.run_ms(1500)                                    # the SYN-ACK was retransmitted at 1 s
    dev.ack()
    assert dev.stack.connections[0].rto == 3000 * NS_PER_MS   # RFC 6298 5.7, no sample (Karn)


def test_retransmission_gives_up_and_resets():
    dev = ScapyDevice(max_retransmissions=3, rto_max_ns=2000 * NS_PER_MS)
    dev.handshake()
    dev.handlers[0].conn.send(b"hello")
    dev.run_ms(60_000)
    pkts = dev.take()
    assert sum(1 for p in pkts if tcp_payload(p) == b"hello") == 4
    assert pkts[-1][TCP].flags == "RA"
    lost = dev.handlers[0].events[-1]
    assert lost[0] == "lost" and "retransmission timeout" in lost[1]


def test_fast_retransmit_on_three_duplicate_acks():
    dev = ScapyDevice()
    dev.handshake(mss=500, window=8000)
    dev.handlers[0].conn.send(bytes(range(256)) * 12)    # 3072 bytes: 7 segments
    segs = dev.take()
    assert len(segs) == 7
    base = dev.rcv
    dev.run_ms(5)
    for _ in range(3):                                  # segment 1 "lost": 3 duplicate ACKs
        dev.ack(window=8000, ack=base)
    (again,) = dev.take()
    assert again[TCP].seq == base and len(tcp_payload(again)) == 500
    assert dev.stack.connections[0].counters["fast_retransmits"] == 1
    dev.ack(window=8000, ack=base + 3072)
    assert dev.stack.connections[0].send_buffer_size == 0


def test_out_of_order_segments_are_held_and_delivered_in_order():
    dev = ScapyDevice()
    dev.handshake()
    first, second, third = b"A" * 100, b"B" * 100, b"C" * 50
    dev.inject(dev.tcp("PA", third, seq=dev.seq + 200))
    (dup1,) = dev.take()                                # immediate duplicate ACK
    dev.inject(dev.tcp("PA", second, seq=dev.seq + 100))
    (dup2,) = dev.take()
    assert dup1[TCP].ack == dup2[TCP].ack == dev.seq
    assert dev.handlers[0].data == b""
    dev.send("PA", first)
    (ack,) = dev.take()                                 # gap filled: immediate ACK of all
    assert ack[TCP].ack == dev.seq + 150
    assert bytes(dev.handlers[0].data) == first + second + third
    log = dev.stack.connections[0].rx_log
    assert [(s.stream_offset, s.length) for s in log] == [(0, 100), (100, 100), (200, 50)]
    assert dev.stack.connections[0].counters["out_of_order_segments"] == 2


def test_overlapping_retransmission_delivers_only_new_bytes():
    dev = ScapyDevice()
    dev.handshake()
    dev.send("PA", b"abcdef")
    dev.inject(dev.tcp("PA", b"cdefgh", seq=dev.seq - 4))
    dev.seq += 2
    assert bytes(dev.handlers[0].data) == b"abcdefgh"
    log = dev.stack.connections[0].rx_log
    assert [(s.stream_offset, s.length, s.payload_offset) for s in log] == [(0, 6, 54), (6, 2, 58)]


# --- windows ----------------------------------------------------------------------------------------

def test_zero_window_is_respected_and_probed_with_backoff():
    dev = ScapyDevice(rto_min_ns=200 * NS_PER_MS)
    dev.handshake(window=0)
    dev.handlers[0].conn.send(b"payload")
    assert dev.take() == []                             # nothing may go out into a zero window
    dev.run_ms(5000)
    probes = dev.take_timed()
    assert probes and all(len(tcp_payload(p)) == 1 and p[TCP].seq == dev.rcv for _, p in probes)
    gaps = [b - a for (a, _), (b, _) in zip(probes, probes[1:])]
    assert all(later == 2 * earlier for earlier, later in zip(gaps, gaps[1:]))   # exponential backoff
    dev.ack(window=0)                                   # still closed: the probe byte is refused
    dev.ack(window=4096)                                # window opens: the data flows
    data = dev.consume(dev.take())
    assert data == b"payload"
    assert dev.stack.connections[0].counters["window_probes_sent"] == len(probes)


def test_small_window_limits_bytes_in_flight():
    dev = ScapyDevice()
    dev.handshake(mss=1000, window=1500)
    dev.handlers[0].conn.send(b"z" * 5000)
    segs = dev.take()
    assert sum(len(tcp_payload(p)) for p in segs) <= 1500
    dev.consume(segs)
    dev.ack(window=1500)
    assert sum(len(tcp_payload(p)) for p in dev.take()) <= 1500


def test_paused_reader_shrinks_window_to_zero_and_updates_it_on_resume():
    dev = ScapyDevice(receive_buffer=4000, delayed_ack_ns=0)
    dev.handshake()
    conn = dev.stack.connections[0]
    conn.pause_reading()
    windows = []
    for _ in range(4):
        dev.send("A", b"q" * 1000)
        windows.append(dev.take()[-1][TCP].window)
    assert windows == [3000, 2000, 1000, 0]             # shrinks with the buffer, never retracted
    dev.send("A", b"r" * 10)                            # beyond the window: dropped and re-ACKed
    (ack,) = dev.take()
    assert ack[TCP].ack == dev.seq - 10 and ack[TCP].window == 0
    assert dev.handlers[0].data == b""
    conn.resume_reading()
    (update,) = dev.take()
    assert update[TCP].window == 4000
    assert bytes(dev.handlers[0].data) == b"q" * 4000


# --- closing ----------------------------------------------------------------------------------------

def test_device_closes_first():
    dev = ScapyDevice(handler_factory=lambda: Recorder(on_eof=lambda r: r.conn.close()))
    dev.handshake()
    dev.send("FA")
    (fin,) = dev.take()                                 # ACK of the FIN and our FIN together
    assert fin[TCP].flags == "FA" and fin[TCP].ack == dev.seq
    conn = dev.stack.connections[0]
    assert conn.state == "LAST_ACK"
    dev.rcv += 1
    dev.ack()
    assert conn.state == "CLOSED"
    assert dev.handlers[0].events == ["made", "eof", ("lost", None)]


def test_host_closes_first_then_time_wait():
    dev = ScapyDevice(time_wait_ns=2000 * NS_PER_MS)
    dev.handshake()
    conn = dev.stack.connections[0]
    conn.send(b"bye")
    conn.close()
    (seg,) = dev.take()
    assert seg[TCP].flags == "FPA" and tcp_payload(seg) == b"bye"
    dev.rcv += 3 + 1
    dev.ack()
    assert conn.state == "FIN_WAIT_2"
    dev.send("PA", b"late data")                        # half-close: still delivered
    dev.send("FA")
    assert conn.state == "TIME_WAIT"
    assert dev.take()[-1][TCP].ack == dev.seq
    assert dev.handlers[0].events[-2:] == ["eof", ("lost", None)]
    assert bytes(dev.handlers[0].data) == b"late data"
    dev.inject(dev.tcp("FA", seq=dev.seq - 1))          # retransmitted FIN is acknowledged again
    assert dev.take()[0][TCP].ack == dev.seq
    dev.run_ms(2001)
    assert conn.state == "CLOSED"


def test_simultaneous_close_goes_through_closing():
    dev = ScapyDevice(time_wait_ns=100 * NS_PER_MS)
    dev.handshake()
    conn = dev.stack.connections[0]
    conn.close()
    dev.take()
    dev.send("FA", ack=dev.rcv)                         # the device's FIN does not ack ours yet
    assert conn.state == "CLOSING"
    dev.ack(ack=dev.rcv + 1)
    assert conn.state == "TIME_WAIT"


def test_new_syn_reuses_a_connection_in_time_wait():
    dev = ScapyDevice()
    dev.handshake()
    conn = dev.stack.connections[0]
    conn.close()
    dev.take()
    dev.rcv += 1
    dev.send("FA")
    assert conn.state == "TIME_WAIT"
    dev.take()
    dev.seq += 100000
    dev.handshake()
    assert conn.state == "CLOSED" and dev.stack.connections[1].state == "ESTABLISHED"


def test_reset_from_device_and_challenge_ack_for_inexact_reset():
    dev = ScapyDevice()
    dev.handshake()
    dev.inject(dev.tcp("R", seq=dev.seq + 10))
    (challenge,) = dev.take()
    assert challenge[TCP].flags == "A" and dev.stack.connections[0].state == "ESTABLISHED"
    dev.inject(dev.tcp("R"))
    assert dev.take() == []
    assert dev.handlers[0].events[-1] == ("lost", "connection reset by the device")


def test_abort_sends_reset():
    dev = ScapyDevice()
    dev.handshake()
    dev.handlers[0].conn.abort()
    (rst,) = dev.take()
    assert rst[TCP].flags == "RA" and rst[TCP].seq == dev.rcv
    dev.send("PA", b"after")                            # the connection is gone: RST again
    assert dev.take()[0][TCP].flags == "R"


# --- bad input --------------------------------------------------------------------------------------

@pytest.mark.parametrize("mangle, counter", [
    (lambda f: f[:10], "malformed_ethernet"),
    (lambda f: f[:30], "malformed_ipv4"),                        # IPv4 header cut
    (lambda f: f[:60], "malformed_ipv4"),                        # total length beyond the frame
    (lambda f: f[:14] + b"\x46" + f[15:], "bad_checksum_ipv4"),  # IHL changed, checksum stale
    (lambda f: f[:24] + bytes([f[24] ^ 1]) + f[25:], "bad_checksum_ipv4"),
    (lambda f: f[:-1] + bytes([f[-1] ^ 0x80]), "bad_checksum_tcp"),
])
def test_malformed_and_truncated_frames_are_counted_and_dropped(mangle, counter):
    dev = ScapyDevice()
    dev.handshake()
    frame = bytes(dev.tcp("PA", b"x" * 40))
    dev.stack.handle_frame(mangle(frame))
    assert dev.stack.stats[counter] == 1
    assert dev.handlers[0].data == b""
    assert dev.take() == []


def test_bad_tcp_option_and_bad_icmp_checksum_are_counted():
    dev = ScapyDevice()
    bad_opt = dev.tcp("S", options=[("MSS", 1460)])
    raw = bytearray(bytes(bad_opt))
    raw[14 + 20 + 21] = 9                                        # MSS option length 9
    raw[14 + 20 + 16:14 + 20 + 18] = b"\0\0"
    csum = in4_chksum(6, Ether(bytes(raw))[IP], bytes(raw[34:]))  # scapy's own checksum
    raw[14 + 20 + 16:14 + 20 + 18] = csum.to_bytes(2, "big")
    dev.stack.handle_frame(bytes(raw))
    assert dev.stack.stats["malformed_tcp"] == 1
    icmp = Ether(src=DEV_MAC, dst=HOST_MAC) / IP(src=DEV_IP, dst=HOST_IP) / ICMP(type=8, chksum=0x1234)
    dev.inject(icmp)
    assert dev.stack.stats["bad_checksum_icmp"] == 1
    assert dev.take() == []


def test_frames_for_other_hosts_and_protocols_are_ignored():
    dev = ScapyDevice()
    dev.inject(Ether(src=DEV_MAC, dst="02:00:00:00:00:99") / IP(src=DEV_IP, dst=HOST_IP) / ICMP())
    dev.inject(Ether(src=DEV_MAC, dst=HOST_MAC) / IP(src=DEV_IP, dst="192.0.2.77") / ICMP())
    dev.inject(Ether(src=DEV_MAC, dst=HOST_MAC, type=0x86DD) / Raw(b"\x60" + bytes(60)))
    dev.inject(Ether(src=DEV_MAC, dst=HOST_MAC) / IP(src=DEV_IP, dst=HOST_IP, flags="MF") / ICMP())
    s = dev.stack.stats
    assert (s["dropped_not_our_mac"], s["dropped_ip_not_for_us"], s["dropped_ethertype"],
            s["dropped_fragment"]) == (1, 1, 1, 1)
    assert dev.take() == []


def test_random_corruption_never_raises():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    dev = ScapyDevice()
    dev.handshake()
    bases = [bytes(dev.tcp("PA", b"payload bytes here", options=[("MSS", 1460), ("SAckOK", b""),
                                                                 ("Timestamp", (5, 6)), ("WScale", 2)])),
             bytes(Ether(src=DEV_MAC, dst=HOST_MAC) / ARP(op=1, hwsrc=DEV_MAC, psrc=DEV_IP, pdst=HOST_IP)),
             bytes(Ether(src=DEV_MAC, dst=HOST_MAC) / IP(src=DEV_IP, dst=HOST_IP) / ICMP(type=8) / Raw(b"ping"))]

    @settings(max_examples=400, deadline=None, derandomize=True)
    @given(st.sampled_from(bases), st.data())
    def check(base, data):
        frame = bytearray(base)
        for _ in range(data.draw(st.integers(1, 3))):
            frame[data.draw(st.integers(0, len(base) - 1))] ^= data.draw(st.integers(1, 255))
        dev.stack.handle_frame(bytes(frame[:data.draw(st.integers(0, len(base)))]))

    check()
    assert dev.stack.stats["frames_in"] >= 400


def test_unknown_tcp_option_names_the_fields():
    with pytest.raises(TypeError, match="unknown TCP option.*delayed_ack_ns"):
        HostStack(EventQueue(), mac=HOST_MAC, ip=HOST_IP, rng=SeededRandom(1), transmit=lambda f: None,
                  delayed_ack_ms=5)
    with pytest.raises(ValueError, match="dotted-quad"):
        HostStack(EventQueue(), mac=HOST_MAC, ip="192.0.2", rng=SeededRandom(1), transmit=lambda f: None)
