"""What the capture shows about one TCP connection from the device: every data segment it put on
the link with its stream offset and time, which ones went out more than once, whether a
retransmission carried the same bytes as the first transmission, and when the host acknowledged
each. Read from the link's own record of frames (`sim.net.link.Link.frames`: a frame a fault
dropped or changed is there "as sent", before the fault; its roles say which).
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.net.frames import ACK, SYN, decode_tcp_frame


@dataclass(frozen=True)
class Transmission:
    frame: int                  # capture frame number
    time_ns: int
    stream_offset: int          # of its first payload byte, from 0 after the SYN
    payload: bytes
    role: str                   # "wire" | "sent" (a fault dropped or changed it on the link)
    header_length: int          # Ethernet + IPv4 + TCP header bytes before the payload
    dma: tuple = ()             # the machine's DMA gather list (sim.frame_types.DmaSegment)
    cycles: int | None = None   # virtual time (reference cycles) the MAC sent it


def device_transmissions(link, device_port: int, peer_port: int) -> list[Transmission]:
    """The data segments the device sent on the connection (device_port -> peer_port), in order."""
    out: list[Transmission] = []
    isn = None
    for info in link.frames:
        if info.direction != "device->host" or info.role == "arrived":
            continue
        view = decode_tcp_frame(info.data)
        if view is None or view.tcp.src_port != device_port or view.tcp.dst_port != peer_port:
            continue
        if view.tcp.has(SYN):
            isn = view.tcp.seq
            out.clear()                          # a new connection on the same ports starts over
            continue
        if isn is None or not view.tcp.payload:
            continue
        offset = (view.tcp.seq - isn - 1) & 0xFFFF_FFFF
        tx = info.tx
        out.append(Transmission(info.frame_id, info.time_ns, offset, bytes(view.tcp.payload), info.role,
                                view.payload_offset, tx.segments if tx is not None else (),
                                tx.cycles if tx is not None else None))
    return out


def host_acks(link, device_port: int, peer_port: int) -> list[tuple[int, int]]:
    """(time sent by the host, acknowledged stream offset) of every ACK to the device."""
    out, isn = [], None
    for info in link.frames:
        view = decode_tcp_frame(info.data)
        if view is None:
            continue
        tcp = view.tcp
        if info.direction == "device->host" and tcp.src_port == device_port and tcp.dst_port == peer_port \
                and tcp.has(SYN) and info.role != "arrived":
            isn, out = tcp.seq, []
        elif info.direction == "host->device" and info.role != "arrived" and isn is not None \
                and tcp.src_port == peer_port and tcp.dst_port == device_port and tcp.has(ACK):
            out.append((info.time_ns, (tcp.ack - isn - 1) & 0xFFFF_FFFF))
    return out


def capture_facts(link, device_port: int, peer_port: int, handed: bytes | None = None) -> dict:
    """The JSON-shaped facts the cause diagnosis reads: segments sent more than once, and those
    whose retransmission differs from the first transmission. With `handed` (what the TLS layer
    handed to TCP) each differing pair also says whether the original carried the handed bytes
    and where in the handed stream the retransmitted bytes come from."""
    sent = device_transmissions(link, device_port, peer_port)
    acks = host_acks(link, device_port, peer_port)
    first: dict[int, Transmission] = {}
    repeats: list[dict] = []
    for t in sent:
        original = first.get(t.stream_offset)
        if original is None:
            first[t.stream_offset] = t
            continue
        n = min(len(original.payload), len(t.payload))
        differing = [i for i in range(n) if original.payload[i] != t.payload[i]]
        acked = next((time for time, offset in acks if offset >= t.stream_offset + len(t.payload)), None)
        repeats.append({
            "stream_offset": t.stream_offset, "length": len(t.payload),
            "original_frame": original.frame, "original_time_ns": original.time_ns,
            "original_role": original.role, "retransmission_frame": t.frame, "retransmission_time_ns": t.time_ns,
            "differing_bytes": len(differing), "first_differing": differing[0] if differing else None,
            "last_differing": differing[-1] if differing else None,
            "same_length": len(original.payload) == len(t.payload), "acked_ns": acked,
        })
        if handed is not None and differing:
            at = t.stream_offset
            repeats[-1]["original_as_handed"] = handed[at:at + len(original.payload)] == original.payload
            found = handed.find(t.payload)
            repeats[-1]["retransmitted_bytes_handed_at"] = found if found >= 0 else None
    faults = [r.to_dict() for r in getattr(link, "fault_log", [])]
    return {"data_segments": len(sent), "first_transmissions": len(first),
            "largest_frame": max((t.header_length + len(t.payload) for t in sent), default=0),
            "largest_payload": max((len(t.payload) for t in sent), default=0),
            "retransmissions": repeats, "faults": faults}
