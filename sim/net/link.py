"""The Ethernet cable between the machine and the host stack, in virtual time.

Each direction is a lane: frames serialize one after another at the bit rate (preamble + SFD,
frame padded to 60 bytes, FCS and inter-frame gap all count), then take the propagation delay to
arrive. A lane has its own fault injector. Every frame gets a frame id = its packet number in the
capture (1-based, Wireshark's numbering), also when no capture is written.

Capture timing: a frame is captured when its sender hands it to the link. When a fault changed
or dropped it, that capture carries the comment "as sent by the device/host, before fault
injection (...)", and each copy that actually arrives is captured again at its arrival time with
the fault as comment (e.g. "corrupted: flipped bits 0x04 at offset 1021"). The receiver is told
the id of the copy it got, so `frame_info(id)` leads back to the transmission and its DMA list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from sim.frame_types import TxFrame
from sim.net.faults import FaultInjector, FaultOutcome, FaultRecord, FaultRule
from sim.net.frames import ETH_MIN_FRAME_LEN
from sim.net.pcapng import Direction, PcapngWriter
from sim.seed import SeededRandom
from sim.vtime import NS_PER_S, EventQueue, Timer

DEVICE_TO_HOST = "device->host"
HOST_TO_DEVICE = "host->device"
DIRECTIONS = (DEVICE_TO_HOST, HOST_TO_DEVICE)

WIRE_OVERHEAD_BYTES = 8 + 4 + 12          # preamble+SFD, FCS, inter-frame gap


@dataclass(frozen=True)
class FrameInfo:
    """What is known about one captured frame."""

    frame_id: int
    direction: str
    time_ns: int
    data: bytes
    role: str                       # "wire": arrived as sent | "sent": a fault changed or dropped it
                                    # | "arrived": the copy that reached the receiver after a fault
    tx: TxFrame | None = None       # the machine's report of the transmission (device frames)
    sent_as: int | None = None      # for "arrived": the id of the frame as sent
    comment: str | None = None


@dataclass
class _Held:
    frame: bytes
    outcome: FaultOutcome
    sent_id: int
    tx: TxFrame | None
    remaining: int
    timer: Timer | None = None


@dataclass
class _Lane:
    name: str
    injector: FaultInjector
    capture_direction: Direction
    deliver: Callable | None = None
    busy_until_ns: int = 0
    count: int = 0
    held: list[_Held] = field(default_factory=list)


class Link:
    def __init__(self, queue: EventQueue, *, bitrate_bps: int = 100_000_000, propagation_ns: int = 500,
                 rng: SeededRandom, capture: PcapngWriter | None = None) -> None:
        if bitrate_bps <= 0:
            raise ValueError(f"bitrate_bps must be positive, got {bitrate_bps}")
        if propagation_ns < 0:
            raise ValueError(f"propagation_ns must be >= 0, got {propagation_ns}")
        self.queue = queue
        self.bitrate_bps = bitrate_bps
        self.propagation_ns = propagation_ns
        self.capture = capture
        self._lanes = {
            DEVICE_TO_HOST: _Lane(DEVICE_TO_HOST, FaultInjector(DEVICE_TO_HOST, rng.child("faults/device->host")),
                                  Direction.INBOUND),
            HOST_TO_DEVICE: _Lane(HOST_TO_DEVICE, FaultInjector(HOST_TO_DEVICE, rng.child("faults/host->device")),
                                  Direction.OUTBOUND),
        }
        self.fault_log: list[FaultRecord] = []
        self._frames: dict[int, FrameInfo] = {}
        self._next_id = 1
        self._in_flight = 0
        self.stats: dict[str, int] = {
            "frames_device_to_host": 0, "frames_host_to_device": 0,
            "bytes_device_to_host": 0, "bytes_host_to_device": 0,
            "delivered_device_to_host": 0, "delivered_host_to_device": 0,
            "faults_injected": 0, "faults_skipped": 0, "undeliverable": 0, "device_rejected": 0,
        }

    # --- wiring ---------------------------------------------------------------------------------

    def attach_device(self, deliver: Callable[[bytes], object]) -> None:
        """`deliver(frame)` hands a frame to the machine (e.g. machine.ethernet.receive); a False
        return value (the MAC dropped it) is counted as device_rejected."""
        self._lanes[HOST_TO_DEVICE].deliver = deliver

    def attach_host(self, deliver: Callable[[bytes, int], None]) -> None:
        """`deliver(frame, frame_id)`, e.g. HostStack.handle_frame."""
        self._lanes[DEVICE_TO_HOST].deliver = deliver

    def add_fault(self, direction: str, rule: FaultRule) -> FaultRule:
        return self._lane(direction).injector.add(rule)

    def faults(self, direction: str) -> list[FaultRule]:
        return self._lane(direction).injector.rules

    def _lane(self, direction: str) -> _Lane:
        try:
            return self._lanes[direction]
        except KeyError:
            raise ValueError(f"unknown link direction {direction!r}; use {DEVICE_TO_HOST!r} or "
                             f"{HOST_TO_DEVICE!r}") from None

    # --- traffic --------------------------------------------------------------------------------

    def serialization_ns(self, length: int) -> int:
        wire_bytes = max(length, ETH_MIN_FRAME_LEN) + WIRE_OVERHEAD_BYTES
        return -(-wire_bytes * 8 * NS_PER_S // self.bitrate_bps)

    def from_device(self, frame: bytes, info: TxFrame | None = None) -> int:
        """The machine transmitted `frame` at queue.now_ns; returns its frame id."""
        return self._send(self._lanes[DEVICE_TO_HOST], bytes(frame), info)

    def from_host(self, frame: bytes) -> int:
        """The host stack transmits `frame` now; returns its frame id."""
        return self._send(self._lanes[HOST_TO_DEVICE], bytes(frame), None)

    @property
    def in_flight(self) -> int:
        """Frames on the wire or held back by a reorder fault."""
        return self._in_flight

    def frame_info(self, frame_id: int) -> FrameInfo:
        try:
            return self._frames[frame_id]
        except KeyError:
            raise KeyError(f"no frame {frame_id} on this link (ids run from 1 to {self._next_id - 1})") from None

    @property
    def frames(self) -> list[FrameInfo]:
        return [self._frames[i] for i in sorted(self._frames)]

    # --- internals ------------------------------------------------------------------------------

    def _record(self, lane: _Lane, data: bytes, role: str, tx: TxFrame | None, comment: str | None,
                sent_as: int | None = None) -> int:
        now = self.queue.now_ns
        if self.capture is not None:
            frame_id = self.capture.add_packet(now, data, lane.capture_direction, comment)
        else:
            frame_id = self._next_id
        self._next_id = frame_id + 1
        self._frames[frame_id] = FrameInfo(frame_id, lane.name, now, data, role, tx, sent_as, comment)
        return frame_id

    def _send(self, lane: _Lane, frame: bytes, tx: TxFrame | None) -> int:
        now = self.queue.now_ns
        index = lane.count
        lane.count += 1
        key = "device_to_host" if lane.name == DEVICE_TO_HOST else "host_to_device"
        self.stats[f"frames_{key}"] += 1
        self.stats[f"bytes_{key}"] += len(frame)

        outcome = lane.injector.apply(frame, index, now)
        self.stats["faults_skipped"] = sum(l.injector.skipped for l in self._lanes.values())
        start = max(now, lane.busy_until_ns)
        lane.busy_until_ns = start + self.serialization_ns(len(frame))
        arrival = lane.busy_until_ns + self.propagation_ns

        if not outcome.touched:
            frame_id = self._record(lane, frame, "wire", tx, None)
            self._schedule(arrival, lambda: self._arrive(lane, frame, frame_id))
            return frame_id

        sender = "device" if lane.name == DEVICE_TO_HOST else "host"
        frame_id = self._record(lane, frame, "sent", tx,
                                f"as sent by the {sender}, before fault injection ({outcome.summary})")
        for record in outcome.records:
            record.packet_before = frame_id
            self.fault_log.append(record)
        self.stats["faults_injected"] += len(outcome.records)
        if outcome.frame is None:
            return frame_id
        if outcome.hold is not None:
            held = _Held(outcome.frame, outcome, frame_id, tx, outcome.hold.distance)
            lane.held.append(held)
            self._in_flight += 1
            held.timer = self.queue.call_at(arrival + outcome.hold.max_hold_ns,
                                            lambda: self._release(lane, held))
            return frame_id
        self._schedule(arrival, lambda: self._arrive_faulted(lane, outcome.frame, outcome, frame_id, tx))
        for _ in range(outcome.copies):
            lane.busy_until_ns += self.serialization_ns(len(outcome.frame))
            self._schedule(lane.busy_until_ns + self.propagation_ns,
                           lambda: self._arrive_faulted(lane, outcome.frame, outcome, frame_id, tx))
        return frame_id

    def _schedule(self, time_ns: int, callback: Callable[[], None]) -> None:
        self._in_flight += 1
        self.queue.call_at(time_ns, callback)

    def _arrive_faulted(self, lane: _Lane, frame: bytes, outcome: FaultOutcome, sent_id: int,
                        tx: TxFrame | None) -> None:
        frame_id = self._record(lane, frame, "arrived", tx, outcome.summary, sent_as=sent_id)
        for record in outcome.records:
            record.packets_after.append(frame_id)
        self._arrive(lane, frame, frame_id)

    def _arrive(self, lane: _Lane, frame: bytes, frame_id: int) -> None:
        self._in_flight -= 1
        self._hand_over(lane, frame, frame_id)
        if lane.held:
            for held in list(lane.held):
                held.remaining -= 1
                if held.remaining <= 0:
                    self._release(lane, held)

    def _release(self, lane: _Lane, held: _Held) -> None:
        if held not in lane.held:
            return
        lane.held.remove(held)
        if held.timer is not None:
            held.timer.cancel()
        self._in_flight -= 1
        for _ in range(1 + held.outcome.copies):
            frame_id = self._record(lane, held.frame, "arrived", held.tx, held.outcome.summary,
                                    sent_as=held.sent_id)
            for record in held.outcome.records:
                record.packets_after.append(frame_id)
            self._hand_over(lane, held.frame, frame_id)

    def _hand_over(self, lane: _Lane, frame: bytes, frame_id: int) -> None:
        if lane.deliver is None:
            self.stats["undeliverable"] += 1
            return
        if lane.name == DEVICE_TO_HOST:
            self.stats["delivered_device_to_host"] += 1
            lane.deliver(frame, frame_id)
        else:
            self.stats["delivered_host_to_device"] += 1
            if lane.deliver(frame) is False:
                self.stats["device_rejected"] += 1
