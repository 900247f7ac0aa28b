"""From an offset in the device's TCP stream to where that byte travelled: the TCP segment that
carried it, the Ethernet frame of the segment, and the TX DMA buffer the MAC read it from.

The host stack logs each received segment with its stream offset and frame (`TcpConnection.rx_log`);
the link keeps each frame's `TxFrame` with the DMA gather list the machine reported. A frame a
link fault changed arrives as a new frame that names the one sent (`FrameInfo.sent_as`); its DMA
list is the sent frame's.
"""

from __future__ import annotations

from typing import Callable

from sim.frame_types import DmaLocation, StreamLocation


class StreamLocator:
    def __init__(self, link, symbolize: Callable[[int], str | None]) -> None:
        self.link = link                 # sim.net.link.Link
        self.symbolize = symbolize       # address -> "symbol+offset" (or None)

    def for_connection(self, conn) -> Callable[[int], StreamLocation | None]:
        """`locate(offset)` for the client->server stream of one TCP connection (a snapshot of the
        segments received so far)."""
        rx_log = list(getattr(conn, "rx_log", []) or [])

        def locate(offset: int) -> StreamLocation | None:
            for index, seg in enumerate(rx_log):
                if seg.stream_offset <= offset < seg.stream_offset + seg.length:
                    if seg.frame_id is None:
                        return StreamLocation(segment=index + 1, tcp_seq=seg.seq)
                    frame_offset = seg.payload_offset + (offset - seg.stream_offset)
                    return StreamLocation(segment=index + 1, tcp_seq=seg.seq, frame=seg.frame_id,
                                          frame_offset=frame_offset, dma=self._dma(seg.frame_id, frame_offset))
            return None

        return locate

    def _dma(self, frame_id: int, frame_offset: int) -> DmaLocation | None:
        info = self.link.frame_info(frame_id)
        tx = info.tx
        if tx is None and info.sent_as is not None:
            tx = self.link.frame_info(info.sent_as).tx
        if tx is None:
            return None
        for n, dma in enumerate(tx.segments):
            if dma.frame_offset <= frame_offset < dma.frame_offset + dma.length:
                return DmaLocation(descriptor=dma.descriptor, buffer_index=n, buffer=dma.buffer,
                                   buffer_symbol=self.symbolize(dma.buffer), offset=frame_offset - dma.frame_offset,
                                   segment_length=dma.length)
        return None
