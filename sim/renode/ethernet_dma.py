"""What the Renode backend adds to Renode 1.16.1's SynopsysEthernetMAC (pure functions).

Two things the model does not do, which the backend supplies from the register writes it sees and
the descriptors in guest memory:

- DMAOMR.FTF (flush transmit FIFO, bit 20) is cleared by hardware once the flush is done
  (RM0090, ETH_DMAOMR register description). The 1.16.1 model stores the written value and
  never clears it, so a driver that waits for the flush (as ST's and ours do) times out. The model has no TX FIFO, so
  the flush is complete the moment it is asked for: the backend clears the bit on its way in.
- The model reports a transmitted frame (FrameReady) without saying which descriptors and
  buffers it gathered it from. The DMA reads a frame from the descriptors starting at its
  current position, buffer 1 of each (and buffer 2 when TDES0.TCH is clear), up to the one with
  TDES0.LS (RM0090, Ethernet chapter, "TxDMA descriptors"). The backend follows the same walk: it
  starts at the list address the firmware writes to DMATDLAR and continues where the previous
  frame ended, reading the descriptors back from guest memory when the frame appears (the model
  has cleared OWN by then but leaves FS, LS, the buffer sizes and addresses in place).
"""

from __future__ import annotations

from typing import Callable

from sim.frame_types import DmaSegment

DMATDLAR = 0x1010          # DMA transmit descriptor list address (RM0090, ETH_DMATDLAR)
DMAOMR = 0x1018            # DMA operation mode
DMAOMR_FTF = 1 << 20       # flush transmit FIFO

TDES0_OWN = 1 << 31
TDES0_LS = 1 << 29
TDES0_FS = 1 << 28
TDES0_TER = 1 << 21
TDES0_TCH = 1 << 20
TDES0_CIC_SHIFT = 22
TDES1_TBS1 = 0x1FFF
TDES1_TBS2_SHIFT = 16
DESCRIPTOR_BYTES = 16
MAX_DESCRIPTORS_PER_FRAME = 64     # a bound for the walk; a frame of 1518 bytes never needs more


def write_seen_by_model(offset: int, value: int) -> int:
    """The value the model should get for a firmware write to the MAC at `offset`.

    DMAOMR loses FTF: the flush it asks for is complete at once (see the module docstring).
    """
    if offset == DMAOMR:
        return value & ~DMAOMR_FTF
    return value


def list_address(value: int) -> int:
    """DMATDLAR as the DMA uses it: word aligned (bits 1:0 are ignored, RM0090 ETH_DMATDLAR)."""
    return value & ~3


ReadWords = Callable[[int], tuple[int, int, int, int]]


def gather_list(read_descriptor: ReadWords, start: int,
                frame_length: int) -> tuple[tuple[DmaSegment, ...], int, int] | None:
    """The DMA segments of the frame whose first descriptor is at `start`.

    Returns (segments, address of the descriptor after the frame's last one, TDES0.CIC of the
    first descriptor), or None when the walk does not account for exactly `frame_length` bytes
    (a descriptor list this walk does not follow, such as ring mode wrapping with TER).
    """
    segments: list[DmaSegment] = []
    offset = 0
    address = start
    first_control = None
    for _ in range(MAX_DESCRIPTORS_PER_FRAME):
        tdes0, tdes1, tdes2, tdes3 = read_descriptor(address)
        if first_control is None:
            if not tdes0 & TDES0_FS:
                return None
            first_control = tdes0
        chained = bool(tdes0 & TDES0_TCH)
        buffers = [(tdes2, tdes1 & TDES1_TBS1)]
        if not chained:
            buffers.append((tdes3, (tdes1 >> TDES1_TBS2_SHIFT) & TDES1_TBS1))
        for buffer, length in buffers:
            if length:
                segments.append(DmaSegment(address, buffer, offset, length))
                offset += length
        if chained:
            following = list_address(tdes3)
        elif tdes0 & TDES0_TER:
            return None            # wraps to the list base; this walk does not track it
        else:
            following = address + DESCRIPTOR_BYTES
        if tdes0 & TDES0_LS:
            if offset != frame_length:
                return None
            return tuple(segments), following, (first_control >> TDES0_CIC_SHIFT) & 3
        address = following
    return None
