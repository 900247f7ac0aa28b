"""Ethernet FCS handling at the boundary between our link (frames without FCS) and Renode.

Renode's SynopsysEthernetMAC hands out transmitted frames with the 4-byte FCS still attached, and
its RX path sets RDES0.FL to the length of the frame it was given, FCS included, as the silicon
does (the driver subtracts 4). The 1.16.1 model also drops every received frame whose FCS is
missing or wrong (renode-infrastructure
src/Emulator/Peripherals/Peripherals/Network/SynopsysEthernetMAC.cs at Renode 1.16.1). So frames
going in get an FCS, frames coming out lose it.
"""

from __future__ import annotations

import zlib

FCS_LEN = 4
MIN_HEADER = 14   # the 1.16.1 model drops anything shorter than an Ethernet header


def fcs(frame: bytes) -> bytes:
    """IEEE 802.3 frame check sequence of `frame`, in wire order (CRC-32, little-endian)."""
    return zlib.crc32(frame).to_bytes(4, "little")


def with_fcs(frame: bytes) -> bytes:
    """The frame as it must be handed to Renode's MAC: data followed by its FCS."""
    if len(frame) < MIN_HEADER:
        raise ValueError(
            f"an Ethernet frame needs at least {MIN_HEADER} bytes (destination, source, EtherType); "
            f"got {len(frame)}")
    return bytes(frame) + fcs(frame)


def split_fcs(frame_with_fcs: bytes) -> tuple[bytes, bool]:
    """Strip the trailing FCS Renode attached to a transmitted frame; also say whether it was valid."""
    if len(frame_with_fcs) < FCS_LEN:
        return bytes(frame_with_fcs), False
    data, trailer = bytes(frame_with_fcs[:-FCS_LEN]), bytes(frame_with_fcs[-FCS_LEN:])
    return data, fcs(data) == trailer
