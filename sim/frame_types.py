"""What a transmitted Ethernet frame carries across layers: its bytes, its virtual time and the
DMA gather list it was read from. Shared by the machine (which produces frames), the link (which
records them) and the diagnosis (which maps a stream offset back to a DMA buffer)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DmaSegment:
    """One piece of a transmitted frame as the Ethernet DMA gathered it from memory."""

    descriptor: int        # address of the TX descriptor
    buffer: int            # address of the data buffer read
    frame_offset: int      # where these bytes start in the frame
    length: int


@dataclass(frozen=True)
class TxFrame:
    """A frame the firmware transmitted, as it goes on the wire (without FCS)."""

    data: bytes
    cycles: int                                   # virtual time when the MAC sent it
    segments: tuple[DmaSegment, ...] = ()         # DMA gather list (empty if unknown)
    checksum_insertion: int = 0                   # TDES0.CIC of the first descriptor
