"""Server-side TCP connections of the host stack (RFC 9293), on the virtual clock.

One `TcpConnection` per accepted connection, from the SYN it answered to CLOSED. What it does:
three-way handshake with MSS; in-order delivery with out-of-order segments held; ACKs immediate
(out-of-order data, a filled gap, FIN, every second full-sized segment) or delayed; the device's
receive window respected, with zero-window probes (persist timer); retransmission on an RFC 6298
RTO with Karn's rule and exponential backoff; fast retransmit on three duplicate ACKs with
NewReno-style recovery (RFC 5681/6582 congestion window); FIN and RST both ways; TIME_WAIT.
Window scaling, SACK and timestamps are parsed by the codec and declined (never echoed), as
lwIP's defaults leave them off.

The connection emits segments through `emit(...)` supplied by the host stack and never raises on
bad input. Sends from the application are flushed by an event at the same virtual instant, so
everything an application writes while handling one segment leaves in as few segments as the
window allows, carrying the ACK.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

from sim.net.frames import (ACK, ETH_HEADER_LEN, FIN, IPV4_HEADER_LEN, PSH, RST, SYN, TCP_HEADER_LEN,
                            Tcp, TcpOptions, encode_tcp_options, ip_str)
from sim.vtime import NS_PER_MS, NS_PER_S, EventQueue, Timer

MASK32 = 0xFFFFFFFF
MAX_WINDOW = 0xFFFF               # without window scaling
DEFAULT_PEER_MSS = 536            # RFC 9293 3.7.1: when the SYN carries no MSS option

SYN_RCVD, ESTABLISHED, CLOSE_WAIT, LAST_ACK = "SYN_RCVD", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK"
FIN_WAIT_1, FIN_WAIT_2, CLOSING, TIME_WAIT, CLOSED = "FIN_WAIT_1", "FIN_WAIT_2", "CLOSING", "TIME_WAIT", "CLOSED"


def seq_lt(a: int, b: int) -> bool:
    return a != b and ((b - a) & MASK32) < 0x80000000


def seq_le(a: int, b: int) -> bool:
    return a == b or seq_lt(a, b)


def seq_sub(a: int, b: int) -> int:
    """a - b in sequence space, for a at or after b."""
    return (a - b) & MASK32


class StreamHandler(Protocol):
    """What an application on a host-stack connection implements (asyncio-like)."""

    def connection_made(self, conn: "TcpConnection") -> None: ...

    def data_received(self, data: bytes) -> None: ...

    def eof_received(self) -> None:
        """The device sent FIN (no more data will arrive)."""

    def connection_lost(self, reason: str | None) -> None:
        """Closed (None), reset, aborted or timed out (a reason in words)."""


@dataclass(frozen=True)
class TcpConfig:
    mss: int = 1460                          # advertised; also caps what we send
    receive_buffer: int = 65535              # bytes; the window we advertise (no scaling)
    delayed_ack_ns: int = 40 * NS_PER_MS     # 0: acknowledge every segment at once
    rto_initial_ns: int = NS_PER_S           # RFC 6298 2.1
    rto_min_ns: int = 200 * NS_PER_MS        # RFC says 1 s; lwIP's coarse timers make 200 ms fine
    rto_max_ns: int = 60 * NS_PER_S
    clock_granularity_ns: int = NS_PER_MS    # G in RFC 6298
    max_retransmissions: int = 12            # then the connection is aborted
    max_syn_retransmissions: int = 5
    persist_max_ns: int = 60 * NS_PER_S
    time_wait_ns: int = 60 * NS_PER_S        # 2 MSL
    fin_wait2_timeout_ns: int = 60 * NS_PER_S
    initial_window_segments: int = 10        # RFC 6928 (capped at 14600 bytes)

    def __post_init__(self) -> None:
        if not 88 <= self.mss <= 65495:
            raise ValueError(f"TcpConfig.mss must be within 88..65495 bytes, got {self.mss}")
        if not 1 <= self.receive_buffer <= MAX_WINDOW:
            raise ValueError(f"TcpConfig.receive_buffer must be 1..65535 (no window scaling), "
                             f"got {self.receive_buffer}")
        if self.delayed_ack_ns < 0 or self.delayed_ack_ns >= 500 * NS_PER_MS:
            raise ValueError(f"TcpConfig.delayed_ack_ns must be 0..<500 ms (RFC 1122), got {self.delayed_ack_ns}")
        if not 0 < self.rto_min_ns <= self.rto_initial_ns <= self.rto_max_ns:
            raise ValueError("TcpConfig needs 0 < rto_min_ns <= rto_initial_ns <= rto_max_ns")
        for name in ("time_wait_ns", "fin_wait2_timeout_ns", "persist_max_ns"):
            if getattr(self, name) <= 0:
                raise ValueError(f"TcpConfig.{name} must be positive")


@dataclass(frozen=True)
class RxSegment:
    """A piece of stream payload and where it travelled (see TcpConnection.rx_log / tx_log)."""

    stream_offset: int        # payload bytes from 0 (after the SYN)
    length: int
    seq: int                  # TCP sequence number of the first byte
    frame_id: int | None      # capture packet number of the frame that carried it
    payload_offset: int       # offset of the first byte in that Ethernet frame


# emit(conn, seq, ack, flags, window, payload, options) -> frame id (or None)
Emit = Callable[["TcpConnection", int, int, int, int, bytes, bytes], "int | None"]


class TcpConnection:
    def __init__(self, *, queue: EventQueue, config: TcpConfig, local: tuple[bytes, int],
                 remote: tuple[bytes, int], iss: int, syn: Tcp, factory: Callable[[], StreamHandler],
                 emit: Emit, on_closed: Callable[["TcpConnection"], None]) -> None:
        self.queue = queue
        self.config = config
        self._local = local
        self._remote = remote
        self._factory = factory
        self._emit = emit
        self._on_closed = on_closed
        self.handler: StreamHandler | None = None
        self.state = SYN_RCVD
        self.close_reason: str | None = None
        self.peer_options: TcpOptions = syn.options
        self.rx_log: list[RxSegment] = []
        self.tx_log: list[RxSegment] = []
        self.counters: dict[str, int] = dict.fromkeys((
            "segments_in", "segments_out", "bytes_in", "bytes_out", "retransmitted_segments",
            "retransmitted_bytes", "rto_timeouts", "fast_retransmits", "dup_acks_in",
            "out_of_order_segments", "duplicate_segments", "unacceptable_segments",
            "window_probes_sent", "zero_window_seen", "challenge_acks", "window_updates_sent",
            "delayed_acks", "writes_after_close"), 0)

        # send side (RFC 9293 names); the buffer holds stream bytes from _sndbuf_off onwards
        self.iss = iss
        self.snd_una = iss
        self.snd_nxt = iss
        self.snd_max = iss                  # highest sequence number sent so far
        self.snd_wnd = syn.window
        self.snd_wl1 = syn.seq
        self.snd_wl2 = iss
        self.max_snd_wnd = syn.window
        self.send_mss = min(syn.options.mss or DEFAULT_PEER_MSS, config.mss)
        self._sndbuf = bytearray()
        self._sndbuf_off = 0
        self._fin_queued = False
        self._probe_end: int | None = None  # one byte past a zero-window probe in flight
        self.cwnd = min(config.initial_window_segments * self.send_mss, max(2 * self.send_mss, 14600))
        self.ssthresh = MAX_WINDOW
        self._dupacks = 0
        self._recover: int | None = None    # snd_max when fast recovery began

        # receive side
        self.irs = syn.seq
        self.rcv_nxt = (syn.seq + 1) & MASK32
        self._rcv_adv = self.rcv_nxt        # right edge of the window we last advertised
        self._rcv_off = 0                   # stream offset of rcv_nxt
        self._ooo: dict[int, tuple[bytes, bool, int | None, int]] = {}
        self._paused = False
        self._pending_read = bytearray()
        self._unacked_bytes = 0
        self._ack_now = False
        self._fin_received = False
        self._eof_pending = False           # FIN arrived while reading was paused
        self._lost_sent = False

        # RFC 6298 state
        self.srtt: int | None = None
        self.rttvar = 0
        self.rto = config.rto_initial_ns
        self._rtt_seq: int | None = None    # timed segment: ACK at/after this seq gives a sample
        self._rtt_start = 0
        self._retries = 0
        self._syn_retransmitted = False
        self._persist_backoff = 0

        self._rtx_timer: Timer | None = None
        self._persist_timer: Timer | None = None
        self._delack_timer: Timer | None = None
        self._state_timer: Timer | None = None     # TIME_WAIT / FIN_WAIT_2
        self._flush_scheduled = False

        self._send_syn_ack()

    # --- application API ------------------------------------------------------------------------

    @property
    def local_address(self) -> tuple[str, int]:
        return ip_str(self._local[0]), self._local[1]

    @property
    def remote_address(self) -> tuple[str, int]:
        return ip_str(self._remote[0]), self._remote[1]

    @property
    def key(self) -> tuple[bytes, int, bytes, int]:
        """(remote ip, remote port, local ip, local port): the local address is part of it, since
        a host stack that routes for the device owns many."""
        return self._remote[0], self._remote[1], self._local[0], self._local[1]

    @property
    def closed(self) -> bool:
        return self.state == CLOSED

    @property
    def send_buffer_size(self) -> int:
        """Bytes written by the application and not yet acknowledged by the device."""
        return len(self._sndbuf)

    def send(self, data: bytes) -> None:
        """Queue `data`; it leaves as the device's window allows."""
        if not data:
            return
        if self._fin_queued or self.state not in (ESTABLISHED, CLOSE_WAIT):
            self.counters["writes_after_close"] += 1
            return
        self._sndbuf += data
        self._schedule_flush()

    def close(self) -> None:
        """Send FIN after the queued data (half-close: data from the device is still delivered)."""
        if self._fin_queued or self.state not in (ESTABLISHED, CLOSE_WAIT):
            return
        self._fin_queued = True
        self.state = FIN_WAIT_1 if self.state == ESTABLISHED else LAST_ACK
        self._schedule_flush()

    def abort(self) -> None:
        """Send RST and forget the connection."""
        if self.state == CLOSED:
            return
        if self.state != TIME_WAIT:
            self._transmit_raw(self.snd_nxt, RST | ACK, b"")
        self._close("aborted by the host application")

    def end_time_wait(self) -> None:
        """Leave TIME_WAIT early (the device opened a new incarnation of this connection)."""
        if self.state == TIME_WAIT:
            self._close(None, notify=False)

    def pause_reading(self) -> None:
        """Stop delivering data: it stays buffered and the advertised window shrinks (to zero)."""
        self._paused = True

    def resume_reading(self) -> None:
        if not self._paused:
            return
        self._paused = False
        before = self._advertised_window()
        if self._pending_read:
            data = bytes(self._pending_read)
            self._pending_read.clear()
            if self.handler is not None:
                self.handler.data_received(data)
        if self.state == CLOSED:
            return
        if self._eof_pending:
            self._eof_pending = False
            if self.handler is not None:
                self.handler.eof_received()
            if self.state == TIME_WAIT:
                self._notify_lost(None)
            if self.state in (CLOSED, TIME_WAIT):
                return
        after = self._window_to_offer()
        if after - before >= min(self.config.receive_buffer // 2, self.config.mss) or (before == 0 and after):
            self.counters["window_updates_sent"] += 1
            self._ack_now = True
            self._schedule_flush()

    def to_dict(self) -> dict:
        """A JSON-ready summary for reports."""
        return {"local": "%s:%d" % self.local_address, "remote": "%s:%d" % self.remote_address,
                "state": self.state, "close_reason": self.close_reason, "send_mss": self.send_mss,
                "srtt_ns": self.srtt, "rto_ns": self.rto, "counters": dict(self.counters),
                "peer_options": {"mss": self.peer_options.mss, "window_scale": self.peer_options.window_scale,
                                 "sack_permitted": self.peer_options.sack_permitted,
                                 "timestamps": self.peer_options.timestamp is not None}}

    def __repr__(self) -> str:
        (lip, lport), (rip, rport) = self.local_address, self.remote_address
        return f"<TcpConnection {lip}:{lport} <- {rip}:{rport} {self.state}>"

    # --- segment arrival (RFC 9293 3.10.7.4) ----------------------------------------------------

    def segment_arrived(self, seg: Tcp, frame_id: int | None, payload_offset: int) -> None:
        if self.state == CLOSED:
            return
        self.counters["segments_in"] += 1
        if seg.has(SYN) and not seg.has(RST) and self.state == SYN_RCVD and seg.seq == self.irs:
            self._send_syn_ack()                       # our SYN-ACK was lost: answer again
            return
        if not self._acceptable(seg):
            self.counters["unacceptable_segments"] += 1
            if not seg.has(RST):
                self._ack_now = True
                self._flush()
            return
        if seg.has(RST):
            self._reset_arrived(seg)
            return
        if seg.has(SYN):                               # RFC 5961 4.2: challenge ACK
            self.counters["challenge_acks"] += 1
            self._ack_now = True
            self._flush()
            return
        if not seg.has(ACK):
            return
        if self.state == SYN_RCVD:
            if not (seq_lt(self.snd_una, seg.ack) and seq_le(seg.ack, self.snd_max)):
                self._transmit_raw(seg.ack, RST, b"", ack=0)
                return
            self._established(seg)
            if self.state == CLOSED:
                return
        if self.state == TIME_WAIT:
            if seg.has(FIN):                           # the device's FIN again: our ACK got lost
                self._ack_now = True
                self._flush()
                self._start_state_timer(self.config.time_wait_ns, "TIME_WAIT")
            return
        if not self._process_ack(seg):
            return
        if self.state == CLOSED:
            return
        if seg.payload or seg.has(FIN):
            self._receive(seg, frame_id, payload_offset)
        if self.state != CLOSED:
            self._flush()

    def _acceptable(self, seg: Tcp) -> bool:
        wnd = seq_sub(self._rcv_adv, self.rcv_nxt) if seq_lt(self.rcv_nxt, self._rcv_adv) else 0
        length = seg.seq_length
        if wnd == 0:
            # RFC 9293 accepts only empty segments here; like Linux we also take a segment at
            # RCV.NXT (its ACK and FIN count, its data is dropped and acknowledged)
            return seg.seq == self.rcv_nxt
        if length == 0:
            return seq_le(self.rcv_nxt, seg.seq) and seq_lt(seg.seq, (self.rcv_nxt + wnd) & MASK32)
        end = (seg.seq + length - 1) & MASK32
        right = (self.rcv_nxt + wnd) & MASK32
        return ((seq_le(self.rcv_nxt, seg.seq) and seq_lt(seg.seq, right))
                or (seq_le(self.rcv_nxt, end) and seq_lt(end, right)))

    def _reset_arrived(self, seg: Tcp) -> None:
        if seg.seq != self.rcv_nxt:                    # RFC 5961 3.2: in window but not exact
            self.counters["challenge_acks"] += 1
            self._ack_now = True
            self._flush()
            return
        if self.state == SYN_RCVD:
            self._close("reset by the device during the handshake", notify=False)
        elif self.state in (CLOSING, LAST_ACK, TIME_WAIT):
            self._close(None)
        else:
            self._close("connection reset by the device")

    def _established(self, seg: Tcp) -> None:
        self._cancel_rtx()
        if self._rtt_seq is not None and not self._syn_retransmitted:
            self._rtt_sample(self.queue.now_ns - self._rtt_start)
        elif self._syn_retransmitted and self.rto < 3 * NS_PER_S:
            self.rto = min(3 * NS_PER_S, self.config.rto_max_ns)   # RFC 6298 5.7
        self._rtt_seq = None
        self._retries = 0
        self.snd_una = seg.ack
        self.snd_wnd = seg.window
        self.max_snd_wnd = max(self.max_snd_wnd, seg.window)
        self.snd_wl1, self.snd_wl2 = seg.seq, seg.ack
        self.state = ESTABLISHED
        self.handler = self._factory()
        self.handler.connection_made(self)

    # --- ACK processing -------------------------------------------------------------------------

    def _process_ack(self, seg: Tcp) -> bool:
        """Returns False when the segment must be dropped here."""
        ack = seg.ack
        highest = self.snd_max
        if self._probe_end is not None and seq_lt(highest, self._probe_end):
            highest = self._probe_end
        if seq_lt(highest, ack):                       # acknowledges something never sent
            self._ack_now = True
            self._flush()
            return False
        if seq_lt(self.snd_una, ack):
            self._new_ack(seg)
            if self.state == CLOSED:
                return False
        elif ack == self.snd_una:
            if (not seg.payload and not seg.has(FIN) and seg.window == self.snd_wnd
                    and self.snd_max != self.snd_una):
                self._duplicate_ack()
            elif seg.payload:
                self._dupacks = 0
        # window update (RFC 9293: newer segment, or same segment with a newer ack)
        if seq_lt(self.snd_wl1, seg.seq) or (self.snd_wl1 == seg.seq and seq_le(self.snd_wl2, ack)):
            was_zero = self.snd_wnd == 0
            self.snd_wnd = seg.window
            self.snd_wl1, self.snd_wl2 = seg.seq, ack
            self.max_snd_wnd = max(self.max_snd_wnd, seg.window)
            if seg.window == 0 and not was_zero:
                self.counters["zero_window_seen"] += 1
            if seg.window and self._persist_timer is not None:
                self._cancel_persist()
        return True

    def _new_ack(self, seg: Tcp) -> None:
        ack = seg.ack
        acked = seq_sub(ack, self.snd_una)
        data_end = self._data_end_seq()
        data_acked = min(acked, seq_sub(data_end, self.snd_una)) if seq_le(self.snd_una, data_end) else 0
        if data_acked:
            del self._sndbuf[:data_acked]
            self._sndbuf_off += data_acked
        self.snd_una = ack
        if seq_lt(self.snd_nxt, ack):
            self.snd_nxt = ack
        if seq_lt(self.snd_max, ack):
            self.snd_max = ack
        self._probe_end = None
        self._retries = 0
        self._persist_backoff = 0
        if self._rtt_seq is not None and seq_le(self._rtt_seq, ack):
            self._rtt_sample(self.queue.now_ns - self._rtt_start)
            self._rtt_seq = None
        self._grow_cwnd(acked)
        if self.snd_una == self.snd_max:
            self._cancel_rtx()
        else:
            self._restart_rtx()                        # RFC 6298 5.3
        if self._fin_queued and ack == (data_end + 1) & MASK32 and self.snd_max == ack:
            self._our_fin_acked()

    def _grow_cwnd(self, acked: int) -> None:
        mss = self.send_mss
        if self._recover is not None:
            if seq_le(self._recover, self.snd_una):    # full ACK: recovery over (RFC 6582 3.2.3)
                self.cwnd = min(self.ssthresh, self._flight() + mss)
                self._recover = None
            else:                                      # partial ACK: next hole (RFC 6582 3.2.4)
                self._retransmit_first()
                self.cwnd = max(self.cwnd - acked + mss, mss)
            self._dupacks = 0
            return
        self._dupacks = 0
        if self.cwnd < self.ssthresh:
            self.cwnd += min(acked, mss)
        else:
            self.cwnd += max(1, mss * mss // self.cwnd)

    def _duplicate_ack(self) -> None:
        self.counters["dup_acks_in"] += 1
        self._dupacks += 1
        mss = self.send_mss
        if self._recover is not None:
            self.cwnd += mss                           # inflate during recovery
            self._schedule_flush()
        elif self._dupacks == 3:
            self.counters["fast_retransmits"] += 1
            self.ssthresh = max(self._flight() // 2, 2 * mss)
            self._recover = self.snd_max
            self._retransmit_first()
            self.cwnd = self.ssthresh + 3 * mss

    def _our_fin_acked(self) -> None:
        if self.state == FIN_WAIT_1:
            self.state = FIN_WAIT_2
            self._start_state_timer(self.config.fin_wait2_timeout_ns, "FIN_WAIT_2")
        elif self.state == CLOSING:
            self._enter_time_wait()
        elif self.state == LAST_ACK:
            self._close(None)

    # --- receive path ---------------------------------------------------------------------------

    def _receive(self, seg: Tcp, frame_id: int | None, payload_offset: int) -> None:
        if self.state not in (ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2):
            return                                     # after the device's FIN: nothing more
        seq, data, fin = seg.seq, seg.payload, seg.has(FIN)
        if seq_lt(seq, self.rcv_nxt):                  # overlap with what we already have
            skip = seq_sub(self.rcv_nxt, seq)
            if skip >= len(data) + (1 if fin else 0):
                self.counters["duplicate_segments"] += 1
                self._ack_now = True
                return
            data, payload_offset, seq = data[skip:], payload_offset + skip, self.rcv_nxt
        window = seq_sub(self._rcv_adv, self.rcv_nxt) if seq_lt(self.rcv_nxt, self._rcv_adv) else 0
        room = window - seq_sub(seq, self.rcv_nxt)
        if len(data) > room:                           # beyond the window we offered
            data, fin = data[:max(room, 0)], False
            self._ack_now = True
        if seq != self.rcv_nxt:
            self.counters["out_of_order_segments"] += 1
            if data or fin:
                self._ooo.setdefault(seq, (bytes(data), fin, frame_id, payload_offset))
            self._ack_now = True                       # duplicate ACK tells the device at once
            return
        filled_gap = bool(self._ooo)
        self._accept(data, fin, frame_id, payload_offset)
        while self._ooo and self.state != CLOSED and not self._fin_received:
            # every piece starting at or before RCV.NXT is ready; RCV.NXT only grows, so the
            # overlap `skip` stays non-negative whichever ready piece goes first
            ready = sorted((s for s in self._ooo if seq_le(s, self.rcv_nxt)),
                           key=lambda s: seq_sub(self.rcv_nxt, s), reverse=True)
            if not ready:
                break
            for s in ready:
                piece, pfin, pid, poff = self._ooo.pop(s)
                skip = seq_sub(self.rcv_nxt, s)
                if skip < len(piece) or (pfin and skip == len(piece)):
                    self._accept(piece[skip:], pfin, pid, poff + skip)
                if self.state == CLOSED or self._fin_received:
                    break
        if self.state == CLOSED:
            return
        if filled_gap or fin or self._fin_received:
            self._ack_now = True
        elif data:
            self._unacked_bytes += len(data)
            if self.config.delayed_ack_ns == 0 or self._unacked_bytes >= 2 * self.config.mss:
                self._ack_now = True
            elif self._delack_timer is None:
                self._delack_timer = self.queue.call_later(self.config.delayed_ack_ns, self._delayed_ack)

    def _accept(self, data: bytes, fin: bool, frame_id: int | None, payload_offset: int) -> None:
        if data:
            self.rx_log.append(RxSegment(self._rcv_off, len(data), self.rcv_nxt, frame_id, payload_offset))
            self.rcv_nxt = (self.rcv_nxt + len(data)) & MASK32
            self._rcv_off += len(data)
            self.counters["bytes_in"] += len(data)
            if self._paused or self._pending_read:
                self._pending_read += data
            elif self.handler is not None:
                self.handler.data_received(data)
            if self.state == CLOSED:
                return
        if fin and not self._fin_received:
            self._fin_received = True
            self.rcv_nxt = (self.rcv_nxt + 1) & MASK32
            self._ooo.clear()
            if self.state == ESTABLISHED:
                self.state = CLOSE_WAIT
            elif self.state == FIN_WAIT_1:
                self.state = CLOSING
            both_closed = self.state == FIN_WAIT_2
            if self._pending_read:
                self._eof_pending = True
            elif self.handler is not None:
                self.handler.eof_received()          # before connection_lost, as asyncio does
            if both_closed and self.state == FIN_WAIT_2:
                self._enter_time_wait()

    def _delayed_ack(self) -> None:
        self._delack_timer = None
        if self.state == CLOSED:
            return
        self.counters["delayed_acks"] += 1
        self._ack_now = True
        self._flush()

    def _advertised_window(self) -> int:
        return seq_sub(self._rcv_adv, self.rcv_nxt) if seq_lt(self.rcv_nxt, self._rcv_adv) else 0

    def _window_to_offer(self) -> int:
        free = self.config.receive_buffer - len(self._pending_read)
        if free < min(self.config.receive_buffer // 2, self.config.mss):
            free = 0                                   # receiver-side SWS avoidance (RFC 9293 3.8.6.2.2)
        return min(max(free, self._advertised_window()), MAX_WINDOW)   # never shrink the window

    # --- send path ------------------------------------------------------------------------------

    def _data_end_seq(self) -> int:
        return (self.iss + 1 + self._sndbuf_off + len(self._sndbuf)) & MASK32

    def _flight(self) -> int:
        return seq_sub(self.snd_max, self.snd_una)

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.queue.call_later(0, self._flush_event)

    def _flush_event(self) -> None:
        self._flush_scheduled = False
        if self.state != CLOSED:
            self._flush()

    def _flush(self) -> None:
        """Send what the windows allow, then a pure ACK if one is still owed."""
        if self.state in (ESTABLISHED, CLOSE_WAIT, FIN_WAIT_1, CLOSING, LAST_ACK):
            self._output()
        if self._ack_now and self.state != CLOSED:
            self._transmit(self.snd_nxt, b"", False)

    def _output(self) -> None:
        mss = self.send_mss
        while True:
            data_end = self._data_end_seq()
            unsent = seq_sub(data_end, self.snd_nxt) if seq_le(self.snd_nxt, data_end) else 0
            fin_due = self._fin_queued and unsent <= mss and self.snd_nxt != (data_end + 1) & MASK32
            if not unsent and not fin_due:
                break
            in_flight = seq_sub(self.snd_nxt, self.snd_una)
            usable = min(self.snd_wnd, self.cwnd) - in_flight
            n = max(0, min(unsent, mss, usable))
            if n < unsent:
                fin_due = False
            if n == 0 and not fin_due:
                if unsent and self.snd_wnd == 0 and self.snd_una == self.snd_max:
                    self._start_persist()
                break
            # sender-side SWS avoidance (RFC 9293 3.8.6.2.1) without Nagle
            if n < mss and n < unsent and in_flight and n < self.max_snd_wnd // 2:
                break
            offset = seq_sub(self.snd_nxt, (self.iss + 1 + self._sndbuf_off) & MASK32)
            self._transmit(self.snd_nxt, bytes(self._sndbuf[offset:offset + n]), fin_due)

    def _transmit(self, seq: int, payload: bytes, fin: bool) -> None:
        """Send a data/FIN/ACK segment at `seq` and account for it."""
        flags = ACK | (FIN if fin else 0)
        end = (seq + len(payload) + (1 if fin else 0)) & MASK32
        if payload and seq_le(self._data_end_seq(), (seq + len(payload)) & MASK32):
            flags |= PSH
        retransmission = seq_lt(seq, self.snd_max) and (payload or fin)
        frame_id = self._transmit_raw(seq, flags, payload)
        if payload:
            stream_offset = self._sndbuf_off + seq_sub(seq, (self.iss + 1 + self._sndbuf_off) & MASK32)
            self.tx_log.append(RxSegment(stream_offset, len(payload), seq, frame_id,
                                         ETH_HEADER_LEN + IPV4_HEADER_LEN + TCP_HEADER_LEN))
        if retransmission:
            self.counters["retransmitted_segments"] += 1
            self.counters["retransmitted_bytes"] += len(payload)
        elif payload:
            self.counters["bytes_out"] += len(payload)
        if payload or fin:
            if seq_lt(self.snd_nxt, end) and seq == self.snd_nxt:
                self.snd_nxt = end
            if seq_lt(self.snd_max, end):
                if not retransmission and self._rtt_seq is None:
                    self._rtt_seq, self._rtt_start = end, self.queue.now_ns
                self.snd_max = end
            if self._rtx_timer is None:
                self._restart_rtx()

    def _transmit_raw(self, seq: int, flags: int, payload: bytes, options: bytes = b"",
                      ack: int | None = None) -> int | None:
        window = 0
        if flags & ACK:
            window = self._window_to_offer()
            self._rcv_adv = (self.rcv_nxt + window) & MASK32
            self._ack_now = False
            self._unacked_bytes = 0
            if self._delack_timer is not None:
                self._delack_timer.cancel()
                self._delack_timer = None
        self.counters["segments_out"] += 1
        return self._emit(self, seq, self.rcv_nxt if ack is None else ack, flags, window, payload, options)

    def _send_syn_ack(self) -> None:
        self._transmit_raw(self.iss, SYN | ACK, b"", encode_tcp_options(mss=self.config.mss))
        if self.snd_max == self.iss:
            self.snd_nxt = self.snd_max = (self.iss + 1) & MASK32
            self._rtt_seq, self._rtt_start = self.snd_max, self.queue.now_ns
        if self._rtx_timer is None:
            self._restart_rtx()

    # --- timers ---------------------------------------------------------------------------------

    def _rtt_sample(self, r: int) -> None:
        """RFC 6298 section 2 (integer nanoseconds)."""
        if self.srtt is None:
            self.srtt, self.rttvar = r, r // 2
        else:
            self.rttvar = (3 * self.rttvar + abs(self.srtt - r)) // 4
            self.srtt = (7 * self.srtt + r) // 8
        rto = self.srtt + max(self.config.clock_granularity_ns, 4 * self.rttvar)
        self.rto = min(max(rto, self.config.rto_min_ns), self.config.rto_max_ns)

    def _restart_rtx(self) -> None:
        if self._rtx_timer is not None:
            self._rtx_timer.cancel()
        self._rtx_timer = self.queue.call_later(self.rto, self._rtx_timeout)

    def _cancel_rtx(self) -> None:
        if self._rtx_timer is not None:
            self._rtx_timer.cancel()
            self._rtx_timer = None

    def _rtx_timeout(self) -> None:
        self._rtx_timer = None
        if self.state == CLOSED or self.snd_una == self.snd_max:
            return
        self._retries += 1
        self.counters["rto_timeouts"] += 1
        self.rto = min(self.rto * 2, self.config.rto_max_ns)      # RFC 6298 5.5
        self._rtt_seq = None                                       # Karn
        if self.state == SYN_RCVD:
            if self._retries > self.config.max_syn_retransmissions:
                self._close(f"handshake timed out after {self._retries - 1} SYN-ACK retransmissions",
                            notify=False)
                return
            self._syn_retransmitted = True
            self.counters["retransmitted_segments"] += 1
            self._send_syn_ack()
            return
        if self._retries > self.config.max_retransmissions:
            self._transmit_raw(self.snd_nxt, RST | ACK, b"")
            self._close(f"retransmission timeout: no ACK after {self._retries - 1} retransmissions")
            return
        mss = self.send_mss
        self.ssthresh = max(self._flight() // 2, 2 * mss)           # RFC 5681 (4)
        self.cwnd = mss
        self._recover = None
        self._dupacks = 0
        self.snd_nxt = self.snd_una                                 # go back: resend from the hole
        self._retransmit_first()

    def _retransmit_first(self) -> None:
        """Resend the first unacknowledged segment, whatever the windows say."""
        data_end = self._data_end_seq()
        unacked_data = seq_sub(data_end, self.snd_una) if seq_le(self.snd_una, data_end) else 0
        n = min(unacked_data, self.send_mss)
        fin = self._fin_queued and n == unacked_data and seq_lt(data_end, self.snd_max)
        if n == 0 and not fin:
            return
        offset = seq_sub(self.snd_una, (self.iss + 1 + self._sndbuf_off) & MASK32)
        self._transmit(self.snd_una, bytes(self._sndbuf[offset:offset + n]), fin)
        self._restart_rtx()

    def _start_persist(self) -> None:
        if self._persist_timer is not None or self._rtx_timer is not None:
            return
        delay = min(max(self.rto, self.config.rto_min_ns) << self._persist_backoff, self.config.persist_max_ns)
        self._persist_timer = self.queue.call_later(delay, self._persist_timeout)

    def _cancel_persist(self) -> None:
        if self._persist_timer is not None:
            self._persist_timer.cancel()
            self._persist_timer = None
        self._persist_backoff = 0
        self._schedule_flush()

    def _persist_timeout(self) -> None:
        self._persist_timer = None
        if self.state == CLOSED or self.snd_wnd != 0 or not self._sndbuf:
            return
        offset = seq_sub(self.snd_nxt, (self.iss + 1 + self._sndbuf_off) & MASK32)
        probe = bytes(self._sndbuf[offset:offset + 1])
        if not probe:
            return
        self.counters["window_probes_sent"] += 1
        self._persist_backoff = min(self._persist_backoff + 1, 16)
        self._probe_end = (self.snd_nxt + 1) & MASK32
        frame_id = self._transmit_raw(self.snd_nxt, ACK, probe)
        self.tx_log.append(RxSegment(self._sndbuf_off + offset, 1, self.snd_nxt, frame_id,
                                     ETH_HEADER_LEN + IPV4_HEADER_LEN + TCP_HEADER_LEN))
        self._start_persist()

    def _start_state_timer(self, delay_ns: int, name: str) -> None:
        if self._state_timer is not None:
            self._state_timer.cancel()

        def expire() -> None:
            self._state_timer = None
            if name == "TIME_WAIT":
                self._close(None, notify=False)
            else:
                self._transmit_raw(self.snd_nxt, RST | ACK, b"")
                self._close("FIN_WAIT_2 timeout: the device never closed its side")

        self._state_timer = self.queue.call_later(delay_ns, expire)

    def _enter_time_wait(self) -> None:
        self.state = TIME_WAIT
        self._cancel_rtx()
        if self._persist_timer is not None:
            self._persist_timer.cancel()
            self._persist_timer = None
        self._start_state_timer(self.config.time_wait_ns, "TIME_WAIT")
        if not self._eof_pending:
            self._notify_lost(None)

    def _close(self, reason: str | None, *, notify: bool = True) -> None:
        if self.state == CLOSED:
            return
        self.state = CLOSED
        for timer in (self._rtx_timer, self._persist_timer, self._delack_timer, self._state_timer):
            if timer is not None:
                timer.cancel()
        self._rtx_timer = self._persist_timer = self._delack_timer = self._state_timer = None
        if reason is not None:
            self.close_reason = reason
        if notify:
            self._notify_lost(reason)
        self._on_closed(self)

    def _notify_lost(self, reason: str | None) -> None:
        if self.handler is not None and not self._lost_sent:
            self._lost_sent = True
            self.handler.connection_lost(reason)
