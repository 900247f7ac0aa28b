"""Fault rules for one direction of the link, and the injector that applies them.

A rule says WHAT to do to a frame (drop, corrupt bits, duplicate, reorder, truncate) and WHICH
frames it hits: by index in that direction (0-based, counting every frame that entered the link
in that direction), by a predicate on the frame bytes, by probability (drawn from the seeded
stream of that direction), or any conjunction of these; `limit` caps how often it fires. The
injector is pure bookkeeping: the `Link` owns timing, delivery and capture.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

from sim.net.frames import SYN, decode_tcp_frame, describe_frame
from sim.seed import SeededRandom

DROP, CORRUPT, DUPLICATE, REORDER, TRUNCATE = "drop", "corrupt", "duplicate", "reorder", "truncate"
KINDS = (DROP, CORRUPT, DUPLICATE, REORDER, TRUNCATE)
PAST_TENSE = {DROP: "dropped", CORRUPT: "corrupted", DUPLICATE: "duplicated", REORDER: "reordered",
              TRUNCATE: "truncated"}

Predicate = Callable[[bytes], bool]
OffsetFn = Callable[[bytes], int]


@dataclass
class FaultRule:
    kind: str
    at: frozenset[int] | None = None            # frame indices in this direction
    when: Predicate | None = None               # predicate on the frame as sent
    probability: float | None = None
    limit: int | None = None                    # fire at most this many times
    # parameters of the kinds
    offset: int | OffsetFn | None = None        # corrupt: byte offset in the frame (None = random)
    mask: int | None = None                     # corrupt: bits to flip (None = one random bit)
    length: int = 0                             # truncate: bytes kept
    copies: int = 1                             # duplicate: extra copies
    distance: int = 1                           # reorder: later frames that overtake this one
    max_hold_ns: int = 50_000_000               # reorder: deliver anyway after this long
    fired: int = 0

    def __post_init__(self) -> None:
        self.at = _indices(self.at)           # accept one index or any iterable of them
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; use one of {', '.join(KINDS)}")
        if self.at is None and self.when is None and self.probability is None:
            raise ValueError(f"a {self.kind} rule needs a selector: at=frame index(es), "
                             "when=predicate(frame) or probability=p")
        if self.probability is not None and not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"probability must be within [0, 1], got {self.probability}")
        if self.mask is not None and not 0 < self.mask <= 0xFF:
            raise ValueError(f"corrupt mask must be a non-zero byte (0x01..0xff), got {self.mask:#x}")
        if isinstance(self.offset, int) and self.offset < 0:
            raise ValueError(f"corrupt offset must be >= 0 (a byte offset in the frame), got {self.offset}")
        if self.kind == TRUNCATE and self.length < 0:
            raise ValueError(f"truncate length must be >= 0, got {self.length}")
        if self.copies < 1 or self.distance < 1:
            raise ValueError("duplicate copies and reorder distance must be >= 1")


def _indices(at: int | Iterable[int] | None) -> frozenset[int] | None:
    if at is None or isinstance(at, frozenset):
        return at
    if isinstance(at, int):
        return frozenset((at,))
    try:
        return frozenset(int(i) for i in at)
    except (TypeError, ValueError):
        raise ValueError(f"at= takes a frame index or a list of them, got {at!r}") from None


def drop(*, at=None, when=None, probability=None, limit=None) -> FaultRule:
    return FaultRule(DROP, _indices(at), when, probability, limit)


def corrupt(offset: int | OffsetFn | None = None, mask: int | None = None, *, at=None, when=None,
            probability=None, limit=None) -> FaultRule:
    """Flip the bits `mask` in the byte at `offset` of the frame (random bit/offset if None)."""
    return FaultRule(CORRUPT, _indices(at), when, probability, limit, offset=offset, mask=mask)


def duplicate(copies: int = 1, *, at=None, when=None, probability=None, limit=None) -> FaultRule:
    return FaultRule(DUPLICATE, _indices(at), when, probability, limit, copies=copies)


def reorder(distance: int = 1, *, max_hold_ns: int = 50_000_000, at=None, when=None,
            probability=None, limit=None) -> FaultRule:
    """Hold the frame until `distance` later frames of the same direction were delivered."""
    return FaultRule(REORDER, _indices(at), when, probability, limit, distance=distance,
                     max_hold_ns=max_hold_ns)


def truncate(length: int, *, at=None, when=None, probability=None, limit=None) -> FaultRule:
    """Keep only the first `length` bytes of the frame."""
    return FaultRule(TRUNCATE, _indices(at), when, probability, limit, length=length)


class StreamByte:
    """Selects the TCP segment that carries byte `stream_offset` of one direction's stream.

    `stream_offset` counts payload bytes from 0 after the SYN (as `RxSegment.stream_offset`
    does). The first SYN seen towards/from `port` fixes the initial sequence number. Use
    `corrupt(offset=sb.frame_offset, when=sb, limit=1)`, or `corrupt_stream_byte(...)`.
    """

    def __init__(self, stream_offset: int, *, dst_port: int | None = None, src_port: int | None = None) -> None:
        self.stream_offset = stream_offset
        self.dst_port = dst_port
        self.src_port = src_port
        self._isn: int | None = None

    def _locate(self, frame: bytes) -> int | None:
        view = decode_tcp_frame(frame)
        if view is None:
            return None
        tcp = view.tcp
        if self.dst_port is not None and tcp.dst_port != self.dst_port:
            return None
        if self.src_port is not None and tcp.src_port != self.src_port:
            return None
        if tcp.has(SYN):
            self._isn = tcp.seq
            return None
        if self._isn is None or not tcp.payload:
            return None
        start = (tcp.seq - self._isn - 1) & 0xFFFFFFFF
        if start <= self.stream_offset < start + len(tcp.payload):
            return view.payload_offset + self.stream_offset - start
        return None

    def __call__(self, frame: bytes) -> bool:
        return self._locate(frame) is not None

    def frame_offset(self, frame: bytes) -> int:
        offset = self._locate(frame)
        if offset is None:
            raise ValueError("frame does not carry the selected stream byte")
        return offset


def corrupt_stream_byte(stream_offset: int, mask: int = 0x01, *, dst_port: int | None = None,
                        src_port: int | None = None) -> FaultRule:
    """Flip `mask` in TCP stream byte `stream_offset` (first transmission only)."""
    selector = StreamByte(stream_offset, dst_port=dst_port, src_port=src_port)
    return corrupt(selector.frame_offset, mask, when=selector, limit=1)


@dataclass
class FaultRecord:
    """One injected fault, as reported in `Link.fault_log`."""

    direction: str                  # "device->host" | "host->device"
    frame_index: int                # index of the frame in that direction
    kind: str
    details: str                    # e.g. "flipped bits 0x04 at offset 1021"
    time_ns: int
    rule: int                       # index of the rule in that direction's list
    frame: str = ""                             # one-line description of the frame as sent
    packet_before: int | None = None            # capture number of the frame as sent
    packets_after: list[int] = field(default_factory=list)   # capture numbers of what arrived

    def to_dict(self) -> dict:
        return {"direction": self.direction, "frame_index": self.frame_index, "kind": self.kind,
                "details": self.details, "time_ns": self.time_ns, "rule": self.rule, "frame": self.frame,
                "packet_before": self.packet_before, "packets_after": list(self.packets_after)}


@dataclass
class FaultOutcome:
    frame: bytes | None                    # what goes on to the receiver (None: dropped)
    copies: int = 0                        # extra copies delivered after it
    hold: FaultRule | None = None          # a reorder rule holding the frame back
    records: list[FaultRecord] = field(default_factory=list)

    @property
    def touched(self) -> bool:
        return bool(self.records)

    @property
    def summary(self) -> str:
        """E.g. 'corrupted: flipped bits 0x04 at offset 1021' (used as the capture comment)."""
        return "; ".join(f"{PAST_TENSE[r.kind]}: {r.details}" for r in self.records)


class FaultInjector:
    """Applies a direction's rules, in the order they were added, to each frame."""

    def __init__(self, direction: str, rng: SeededRandom) -> None:
        self.direction = direction
        self.rules: list[FaultRule] = []
        self._rng = rng
        self.skipped = 0          # rules that matched but could not apply (offset past the end)

    def add(self, rule: FaultRule) -> FaultRule:
        if not isinstance(rule, FaultRule):
            raise TypeError("add a FaultRule (build one with faults.drop/corrupt/duplicate/reorder/truncate)")
        self.rules.append(rule)
        return rule

    def _selects(self, rule: FaultRule, frame: bytes, index: int) -> bool:
        if rule.limit is not None and rule.fired >= rule.limit:
            return False
        if rule.at is not None and index not in rule.at:
            return False
        if rule.when is not None and not rule.when(frame):
            return False
        if rule.probability is not None and self._rng.random() >= rule.probability:
            return False
        return True

    def apply(self, frame: bytes, index: int, now_ns: int) -> FaultOutcome:
        outcome = FaultOutcome(frame)
        if not self.rules:
            return outcome
        original = frame
        for number, rule in enumerate(self.rules):
            if outcome.frame is None:
                break
            if not self._selects(rule, original, index):
                continue
            details = self._apply_one(rule, outcome, original)
            if details is None:
                self.skipped += 1
                continue
            rule.fired += 1
            outcome.records.append(FaultRecord(self.direction, index, rule.kind, details, now_ns, number,
                                               describe_frame(original)))
        return outcome

    def _apply_one(self, rule: FaultRule, outcome: FaultOutcome, original: bytes) -> str | None:
        frame = outcome.frame
        assert frame is not None
        if rule.kind == DROP:
            outcome.frame = None
            return f"frame of {len(frame)} bytes"
        if rule.kind == CORRUPT:
            if callable(rule.offset):
                offset = rule.offset(original)
            elif rule.offset is None:
                offset = self._rng.randbelow(len(frame)) if frame else 0
            else:
                offset = rule.offset
            if offset >= len(frame):
                return None
            mask = rule.mask if rule.mask is not None else 1 << self._rng.randbelow(8)
            data = bytearray(frame)
            data[offset] ^= mask
            outcome.frame = bytes(data)
            return f"flipped bits 0x{mask:02x} at offset {offset}"
        if rule.kind == TRUNCATE:
            if rule.length >= len(frame):
                return None
            outcome.frame = frame[:rule.length]
            return f"truncated from {len(frame)} to {rule.length} bytes"
        if rule.kind == DUPLICATE:
            outcome.copies += rule.copies
            return f"{rule.copies} extra cop{'y' if rule.copies == 1 else 'ies'}"
        if rule.kind == REORDER:
            outcome.hold = rule
            return (f"held back until {rule.distance} later frame{'s' if rule.distance > 1 else ''} "
                    f"passed (at most {rule.max_hold_ns} ns)")
        raise AssertionError(rule.kind)
