"""The transmit DMA: from descriptors in RAM to a frame on the wire (RM0090 §33.6.7).

It runs while DMAOMR.ST and MACCR.TE are set, on DMATPDR writes and when ST or TE rise. From the
current descriptor it gathers the FS..LS buffers byte-exactly as TBS1/TBS2 say, pads to 60 bytes
unless DP, applies CIC checksum insertion (only with DMAOMR.TSF = 1) over the bytes read, clears
OWN on every descriptor and writes IHE/IPE/ES status into the LS one, raises TS if the LS
descriptor has IC, then hands the frame (without FCS) to the MAC's `on_transmit` listeners as a
`TxFrame` and asks the machine to end the run slice. Meeting OWN = 0 sets TBUS and suspends
(TPS = 110); a partly owned frame is retried from its first descriptor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.frame_types import DmaSegment, TxFrame
from sim.machine.peripherals.base import DmaError
from sim.machine.peripherals.eth_checksum import insert_tx_checksums
from sim.machine.peripherals.ethernet.descriptors import (
    TDES0,
    TDES0_STATUS,
    TDES1,
    DescriptorBusFault,
    next_descriptor,
    read_descriptor,
    write_word,
)
from sim.machine.peripherals.ethernet.registers import (
    DMACHTBAR,
    DMACHTDR,
    DMAOMR,
    DMASR,
    DMATDLAR,
    MACCR,
    TPS_SUSPENDED,
)

if TYPE_CHECKING:  # pragma: no cover
    from sim.machine.peripherals.ethernet.mac import SynopsysEthernetMAC

MAX_FRAME_GATHER = 16384             # TX frames longer than this are aborted (jabber/runaway)
MAX_DESCRIPTORS_PER_FRAME = 256      # guards against descriptor chains without LS
OWN, LS, TCH, TER, IC, DP = TDES0.OWN.mask, TDES0.LS.mask, TDES0.TCH.mask, TDES0.TER.mask, TDES0.IC.mask, TDES0.DP.mask


class TxDma:
    """The TX DMA engine of one MAC. State: the current descriptor and whether a bus error
    stopped the engine (until the next software reset)."""

    def __init__(self, mac: "SynopsysEthernetMAC") -> None:
        self.mac = mac
        self.reset()

    def reset(self) -> None:
        self.current = 0
        self.fatal = False

    def list_written(self, address: int) -> None:
        """DMATDLAR written: the engine starts from the list base."""
        self.current = address
        self.mac[DMACHTDR] = address

    def process(self) -> None:
        mac = self.mac
        if self.fatal or not mac[DMAOMR.ST] or not mac[MACCR.TE]:
            return
        try:
            while self._transmit_one():
                pass
        except DescriptorBusFault as fault:
            mac.bus_fault(fault)

    def _transmit_one(self) -> bool:
        """Send the frame at the current descriptor; False when the DMA suspends."""
        mac = self.mac
        first = self.current
        address = first
        base = mac[DMATDLAR] & ~3
        data = bytearray()
        segments: list[DmaSegment] = []
        descriptors: list[tuple[int, int]] = []
        fs_control = None
        for _ in range(MAX_DESCRIPTORS_PER_FRAME):
            words = read_descriptor(mac, address, tx=True)
            tdes0 = words[0]
            mac[DMACHTDR] = address
            if not tdes0 & OWN:
                # nothing (more) to send: suspend; a partly owned frame is retried from its FS
                self.current = first
                mac[DMACHTDR] = first
                mac[DMASR.TPS] = TPS_SUSPENDED
                mac.raise_status(DMASR.TBUS.mask)
                return False
            if fs_control is None:
                fs_control = tdes0
            descriptors.append((address, tdes0))
            chained = bool(tdes0 & TCH)
            buffers = [(words[2], TDES1.TBS1.get(words[1]))]
            if not chained:
                buffers.append((words[3], TDES1.TBS2.get(words[1])))
            for buffer, length in buffers:
                if not length:
                    continue
                try:
                    chunk = mac.services.dma_read(buffer, length)
                except DmaError as error:
                    raise DescriptorBusFault(True, True, False, error) from None
                mac[DMACHTBAR] = buffer
                segments.append(DmaSegment(address, buffer, len(data), length))
                data += chunk
            address = next_descriptor(mac, address, words[3], chained, bool(tdes0 & TER), base)
            if tdes0 & LS or len(data) > MAX_FRAME_GATHER:
                break
        else:
            mac.warn(f"TX descriptors from 0x{first:08x} never set LS; frame aborted")
        self.current = address
        mac[DMACHTDR] = address
        self._finish(bytes(data), tuple(segments), descriptors, fs_control or 0)
        return True

    def _finish(self, raw: bytes, segments: tuple[DmaSegment, ...],
                descriptors: list[tuple[int, int]], control: int) -> None:
        mac = self.mac
        status = 0
        frame = bytearray(raw)
        limit = 16384 if mac[MACCR.JD] else 2048
        last_address, last_tdes0 = descriptors[-1]
        jabber = len(frame) > limit or not last_tdes0 & LS
        cic = TDES0.CIC.get(control)
        if jabber:
            status |= TDES0.JT.mask | TDES0.ES.mask
            mac.counters["tx_jabber"] += 1
        else:
            if len(frame) < 60 and not control & DP:
                frame += bytes(60 - len(frame))
            if cic and mac[DMAOMR.TSF]:
                result = insert_tx_checksums(frame, cic)
                if result.header_error:
                    status |= TDES0.IHE.mask | TDES0.ES.mask
                if result.payload_error:
                    status |= TDES0.IPE.mask | TDES0.ES.mask
        for address, tdes0 in descriptors:
            closed = tdes0 & ~OWN
            if address == last_address:
                closed = (closed & ~TDES0_STATUS) | status
            write_word(mac, address, closed, tx=True)
        if last_tdes0 & IC:
            mac.raise_status(DMASR.TS.mask)
        if jabber:
            mac.raise_status(DMASR.TJTS.mask)
            return
        mac.mmc_count("MMCTGFCR")
        mac.counters["frames_tx"] += 1
        tx = TxFrame(bytes(frame), mac.services.now(), segments, cic)
        if mac[MACCR.LM]:
            mac.rx.accept(bytes(frame))                 # loopback: the frame comes straight back
            return
        if not mac.smi.link_up():
            mac.counters["tx_link_down"] += 1
            return
        for callback in mac.tx_listeners:
            callback(tx)
        mac.services.request_stop()
