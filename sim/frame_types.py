"""What a transmitted Ethernet frame carries across layers: its bytes, its virtual time and the
DMA gather list it was read from. Shared by the machine (which produces frames), the link (which
records them) and the diagnosis (which maps a stream offset back to a DMA buffer: `StreamLocation`,
produced by the scenario's locator and read by `sim.tls.diagnosis`)."""

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


@dataclass(frozen=True)
class DmaLocation:
    """Where a byte of a transmitted frame was read from: one buffer of the TX DMA gather list."""

    descriptor: int             # address of the TX descriptor that pointed at the buffer
    buffer_index: int           # position of the buffer in the frame's gather list (0: first)
    buffer: int                 # address of the buffer
    buffer_symbol: str | None   # the firmware symbol the buffer lies in, e.g. "eth_tx_buffers+0x400"
    offset: int                 # the byte's offset in the buffer
    segment_length: int         # bytes the DMA read from this buffer for the frame

    @property
    def buffer_text(self) -> str:
        return f"0x{self.buffer:08x}" + (f" ({self.buffer_symbol})" if self.buffer_symbol else "")


@dataclass(frozen=True)
class StreamLocation:
    """Where one byte of the device's TCP stream travelled: the TCP segment that carried it, the
    Ethernet frame of that segment and, when the machine reported the frame's DMA gather list,
    the TX buffer it was read from."""

    segment: int                    # 1-based index of the segment among the connection's received ones
    tcp_seq: int                    # TCP sequence number of the segment's first byte
    frame: int | None = None        # capture frame number (None: the segment's frame is unknown)
    frame_offset: int | None = None # the byte's offset in that frame
    dma: DmaLocation | None = None

    def to_dict(self) -> dict:
        """The JSON form (keys as in a diagnosis' `difference.location`)."""
        out: dict = {"segment": self.segment, "tcp_seq": self.tcp_seq}
        if self.frame is None:
            return out
        out.update(frame=self.frame, frame_offset=self.frame_offset)
        if self.dma is not None:
            out.update(dma_descriptor=f"0x{self.dma.descriptor:08x}", dma_buffer_index=self.dma.buffer_index,
                       dma_buffer_offset=self.dma.offset, dma_buffer=self.dma.buffer_text,
                       dma_segment_length=self.dma.segment_length)
        return out
