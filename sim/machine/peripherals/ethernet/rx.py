"""The receive path: address filter, the 2 KiB RX FIFO, and the receive DMA (RM0090 §33.5.5 for
the filter, §33.6.8 for the DMA).

`receive(frame)` takes a frame without FCS from the wire, appends the FCS (CRC-32), applies the
MAC address filter (perfect MACA0-3 with AE/SA/MBC, hash table for HU/HM, HPF, DAIF, broadcast
unless BFD, PAM, promiscuous PM, receive-all RA with AFM status), optionally the checksum engine
(MACCR.IPCO), and queues it in the RX FIFO. The RX DMA (DMAOMR.SR) writes FIFO frames into
descriptors with OWN = 1, spanning as many as needed (FS/LS, FL counting the 4 FCS bytes unless
CSTF/APCS strip them, FT, checksum status in RDES0 and, for enhanced descriptors, RDES4), sets RS
unless the LS descriptor has DIC, and after each frame looks at the next descriptor: OWN = 0
sets RBUS and suspends (RPS = 100). A suspended RX DMA re-fetches the descriptor on a DMARPDR
write and when the next frame arrives. While descriptors are DMA-owned no frame is lost; what
happens while none is, is DMAOMR.DFRF's choice (docs/peripherals.md, "Receive without
descriptors").
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

from sim.machine.peripherals.base import DmaError
from sim.machine.peripherals.eth_checksum import check_rx_checksums
from sim.machine.peripherals.ethernet.descriptors import (
    RDES0,
    RDES1,
    RDES4,
    DescriptorBusFault,
    next_descriptor,
    read_descriptor,
    write_word,
)
from sim.machine.peripherals.ethernet.registers import (
    DMABMR,
    DMACHRBAR,
    DMACHRDR,
    DMAMFBOCR,
    DMAOMR,
    DMARDLAR,
    DMASR,
    EXTRA_ADDRESSES,
    MACA0HR,
    MACA0LR,
    MACCR,
    MACFFR,
    MACHTHR,
    MACHTLR,
    RPS_SUSPENDED,
    RPS_WAITING,
)

if TYPE_CHECKING:  # pragma: no cover
    from sim.machine.peripherals.ethernet.mac import SynopsysEthernetMAC

RX_FIFO_BYTES = 2048                 # the F407's MTL receive FIFO
MAX_DESCRIPTORS_PER_FRAME = 256      # guards against descriptor lists without buffer space
BROADCAST = b"\xff" * 6
OWN = RDES0.OWN.mask


class AddressFilter:
    """Destination and source address filtering (MACFFR, MACA0-3, the hash table). The station
    address, the perfect-filter entries and the hash table are kept decoded, refreshed on every
    write to those registers."""

    def __init__(self) -> None:
        self.station_address = bytes(6)
        self.perfect: list[tuple[bytes, int, bool]] = []     # (address, byte mask, source?)
        self.hash_table = 0

    def refresh(self, mac: "SynopsysEthernetMAC") -> None:
        self.station_address = (mac[MACA0LR].to_bytes(4, "little")
                                + mac[MACA0HR.MACA0H].to_bytes(2, "little"))
        perfect = [(self.station_address, 0, False)]
        for high, address_high, low in EXTRA_ADDRESSES:
            if mac[high.AE]:
                address = mac[low].to_bytes(4, "little") + mac[address_high].to_bytes(2, "little")
                perfect.append((address, mac[high.MBC], bool(mac[high.SA])))
        self.perfect = perfect
        self.hash_table = (mac[MACHTHR] << 32) | mac[MACHTLR]

    @staticmethod
    def _masked_equal(a: bytes, b: bytes, byte_mask: int) -> bool:
        return all(a[i] == b[i] for i in range(6) if not byte_mask & (1 << i))

    def _hash_hit(self, address: bytes) -> bool:
        # upper 6 bits of the bit-reversed Ethernet CRC of the address index the 64-bit table
        crc = zlib.crc32(address) & 0xFFFF_FFFF
        index = int(f"{crc:032b}"[::-1], 2) >> 26
        return bool(self.hash_table >> index & 1)

    def passes(self, ffr: int, frame: bytes) -> bool:
        """True if the destination (and source) address filters pass the frame (MACFFR = `ffr`)."""
        if MACFFR.PM.get(ffr):
            return True
        da, sa = frame[0:6], frame[6:12]
        if da == BROADCAST:
            passed = not MACFFR.BFD.get(ffr)
        else:
            multicast = bool(da[0] & 1)
            perfect = any(not source and self._masked_equal(da, address, mask)
                          for address, mask, source in self.perfect)
            use_hash = MACFFR.HM.get(ffr) if multicast else MACFFR.HU.get(ffr)
            pass_all_multicast = multicast and MACFFR.PAM.get(ffr)
            if pass_all_multicast:
                passed = True
            elif use_hash:
                passed = self._hash_hit(da) or bool(MACFFR.HPF.get(ffr) and perfect)
            else:
                passed = perfect
            if MACFFR.DAIF.get(ffr) and not pass_all_multicast:
                passed = not passed
        if passed and MACFFR.SAF.get(ffr):
            match = any(source and self._masked_equal(sa, address, mask)
                        for address, mask, source in self.perfect)
            passed = match != bool(MACFFR.SAIF.get(ffr))
        return passed


class RxPath:
    """Address filter, RX FIFO and RX DMA of one MAC."""

    def __init__(self, mac: "SynopsysEthernetMAC") -> None:
        self.mac = mac
        self.filter = AddressFilter()
        self.reset()

    def reset(self) -> None:
        self.current = 0                                     # the descriptor the DMA is at
        self.fatal = False
        self.suspended = False
        self.fifo: list[tuple[bytes, int, int]] = []         # (frame + FCS, RDES0 bits, RDES4)
        self.fifo_bytes = 0
        self.partial = 0                                     # bytes of the head frame written

    def list_written(self, address: int) -> None:
        """DMARDLAR written: the engine starts from the list base."""
        self.current = address
        self.partial = 0
        self.mac[DMACHRDR] = address

    # --- the wire side ----------------------------------------------------------------------------
    def receive(self, frame: bytes, fcs: bytes | None = None) -> bool:
        mac = self.mac
        if not mac.smi.link_up():
            return self._drop("rx_link_down")
        if not mac[MACCR.RE]:
            return self._drop("rx_mac_disabled")
        if len(frame) < 14:
            return self._drop("rx_runts")
        if len(frame) < 60:
            frame = bytes(frame) + bytes(60 - len(frame))   # what the sender's MAC put on the wire
        good_fcs = zlib.crc32(frame).to_bytes(4, "little")
        if fcs is not None and bytes(fcs) != good_fcs:
            mac.mmc_count("MMCRFCECR")
            mac.counters["rx_crc_errors"] += 1
            if not mac[DMAOMR.FEF]:
                return self._drop("rx_dropped")
            return self.accept(bytes(frame), bytes(fcs), crc_error=True)
        return self.accept(bytes(frame), good_fcs)

    def _drop(self, reason: str) -> bool:
        counters = self.mac.counters
        counters[reason] += 1
        if reason != "rx_dropped":
            counters["rx_dropped"] += 1
        return False

    def accept(self, frame: bytes, fcs: bytes | None = None, crc_error: bool = False) -> bool:
        """A frame the MAC receives (from the wire, or looped back): filter, status, FIFO."""
        mac = self.mac
        if fcs is None:
            fcs = zlib.crc32(frame).to_bytes(4, "little")
        ffr = mac[MACFFR]
        status = 0
        if not self.filter.passes(ffr, frame):
            if not MACFFR.RA.get(ffr):
                return self._drop("rx_filtered")
            status |= RDES0.AFM.mask
        ethertype = int.from_bytes(frame[12:14], "big")
        stored = frame + fcs
        if ethertype >= 0x600:
            status |= RDES0.FT.mask
            if mac[MACCR.CSTF]:
                stored = frame
        elif mac[MACCR.APCS]:
            stored = frame[:14 + ethertype] if 14 + ethertype <= len(frame) else frame
        if ethertype == 0x8100:
            status |= RDES0.VLAN.mask
        if crc_error:
            status |= RDES0.CE.mask | RDES0.ES.mask
        rdes4 = 0
        if mac[MACCR.IPCO]:
            check = check_rx_checksums(frame)
            enhanced = bool(mac[DMABMR.EDFE])
            if check.header_error:
                status |= RDES0.IPHCE.mask | RDES0.ES.mask
            if check.payload_error and not enhanced:
                status |= RDES0.PCE_ESA.mask
            if enhanced and check.ip:
                status |= RDES0.PCE_ESA.mask          # extended status available in RDES4
                rdes4 = (RDES4.IPV4PR.encode(check.ipv4) | RDES4.IPV6PR.encode(check.ipv6)
                         | RDES4.IPCB.encode(check.bypassed) | RDES4.IPPE.encode(check.payload_error)
                         | RDES4.IPHE.encode(check.header_error) | check.payload_type)
            if (check.header_error or check.payload_error) and not (mac[DMAOMR.DTCEFD] or mac[DMAOMR.FEF]):
                return self._drop("rx_checksum_dropped")
        if self.fifo_bytes + len(stored) > RX_FIFO_BYTES:
            mac.counters["rx_fifo_overflow"] += 1
            if self.suspended:
                self._count_missed(by_controller=True)
            else:
                self._count_missed(by_controller=False)
                mac.raise_status(DMASR.ROS.mask)
            return self._drop("rx_dropped")
        self.fifo.append((stored, status, rdes4))
        self.fifo_bytes += len(stored)
        flushed = mac.counters["rx_flushed"]
        self.process("frame")
        return mac.counters["rx_flushed"] == flushed       # False: flushed for lack of descriptors

    def _count_missed(self, by_controller: bool) -> None:
        """DMAMFBOCR: MFC (no descriptor) or MFA (FIFO overflow), each with its overflow bit."""
        mac = self.mac
        if by_controller:
            count = mac[DMAMFBOCR.MFC]
            mac[DMAMFBOCR.MFC] = count + 1
            if count == DMAMFBOCR.MFC.bits:
                mac[DMAMFBOCR.OMFC] = 1
        else:
            count = mac[DMAMFBOCR.MFA]
            mac[DMAMFBOCR.MFA] = count + 1
            if count == DMAMFBOCR.MFA.bits:
                mac[DMAMFBOCR.OFOC] = 1

    # --- the DMA side -------------------------------------------------------------------------------
    def process(self, reason: str) -> None:
        """Move FIFO frames into descriptors. `reason`: "frame", "poll" or "start"."""
        mac = self.mac
        if self.fatal or not mac[DMAOMR.SR]:
            return
        try:
            if self.suspended or reason == "start":
                # (re-)fetch the current descriptor: on start, on a poll demand, on a new frame
                words = read_descriptor(mac, self.current, tx=False)
                if not words[0] & OWN:
                    if reason == "frame" and not mac[DMAOMR.DFRF]:
                        self._flush_fifo()
                    self._suspend()
                    return
                self.suspended = False
                mac[DMASR.RPS] = RPS_WAITING
            while self.fifo and not self.suspended:
                self._deliver_head_frame()
        except DescriptorBusFault as fault:
            mac.bus_fault(fault)

    def _flush_fifo(self) -> None:
        """Flushing enabled and still no descriptor: discard every waiting frame (MFC)."""
        counters = self.mac.counters
        for _ in self.fifo:
            self._count_missed(by_controller=True)
            counters["rx_flushed"] += 1
            counters["rx_dropped"] += 1
        self.fifo.clear()
        self.fifo_bytes = 0
        self.partial = 0

    def _suspend(self) -> None:
        self.suspended = True
        self.mac[DMASR.RPS] = RPS_SUSPENDED
        self.mac.raise_status(DMASR.RBUS.mask)

    def _deliver_head_frame(self) -> None:
        mac = self.mac
        stored, status, rdes4 = self.fifo[0]
        base = mac[DMARDLAR] & ~3
        enhanced = bool(mac[DMABMR.EDFE])
        offset = self.partial
        address = self.current
        words = read_descriptor(mac, address, tx=False)
        if not words[0] & OWN:
            self._suspend()
            return
        for _ in range(MAX_DESCRIPTORS_PER_FRAME):
            mac[DMACHRDR] = address
            rdes1 = words[1]
            chained = bool(RDES1.RCH.get(rdes1))
            # buffer sizes are multiples of 4: the DMA ignores the low bits
            buffers = [(words[2], RDES1.RBS1.get(rdes1) & ~3)]
            if not chained:
                buffers.append((words[3], RDES1.RBS2.get(rdes1) & ~3))
            first_in_frame = offset == 0
            for buffer, size in buffers:
                if not size or offset >= len(stored):
                    continue
                chunk = stored[offset:offset + size]
                try:
                    mac.services.dma_write(buffer, chunk)
                except DmaError as error:
                    raise DescriptorBusFault(False, False, False, error) from None
                mac[DMACHRBAR] = buffer
                offset += len(chunk)
            next_address = next_descriptor(mac, address, words[3], chained, bool(RDES1.RER.get(rdes1)), base)
            rdes0 = RDES0.FS.mask if first_in_frame else 0
            if offset >= len(stored):
                # last descriptor of the frame
                rdes0 |= RDES0.LS.mask | status | RDES0.FL.encode(len(stored))
                self._close_descriptor(address, rdes0, rdes4 if enhanced else None)
                self.current = next_address
                self._frame_delivered(stored, status, rdes1)
                break
            next_words = read_descriptor(mac, next_address, tx=False)
            if next_words[0] & OWN:
                self._close_descriptor(address, rdes0, None)
                address, words = next_address, next_words
                continue
            # the frame does not fit the descriptors the DMA owns
            if mac[DMAOMR.DFRF]:
                self._close_descriptor(address, rdes0, None)    # intermediate; resume later
                self.current = next_address
                self.partial = offset
                self._suspend()
                return
            rdes0 |= (RDES0.LS.mask | RDES0.DE.mask | RDES0.ES.mask | RDES0.FL.encode(offset)
                      | (status & RDES0.AFM.mask))
            self._close_descriptor(address, rdes0, None)
            self.current = next_address
            mac.counters["rx_truncated"] += 1
            self._pop_fifo()
            mac.raise_status(DMASR.RS.mask)
            self._suspend()
            return
        else:
            mac.warn(f"RX descriptors from 0x{self.current:08x} hold no buffer space "
                     f"(RBS1/RBS2 = 0?); frame dropped")
            self.current = address
            self._pop_fifo()
            mac.counters["rx_dropped"] += 1
            return
        # after each frame the DMA looks at the next descriptor (RM0090 §33.6.8, Rx DMA steps)
        if not read_descriptor(mac, self.current, tx=False)[0] & OWN:
            self._suspend()

    def _close_descriptor(self, address: int, rdes0: int, rdes4: int | None) -> None:
        if rdes4 is not None:
            write_word(self.mac, address + RDES4.offset, rdes4, tx=False)
        write_word(self.mac, address, rdes0 & ~OWN, tx=False)

    def _pop_fifo(self) -> None:
        stored = self.fifo.pop(0)[0]
        self.fifo_bytes -= len(stored)
        self.partial = 0

    def _frame_delivered(self, stored: bytes, status: int, rdes1_last: int) -> None:
        mac = self.mac
        self._pop_fifo()
        mac[DMACHRDR] = self.current
        mac.counters["frames_rx"] += 1
        if not status & RDES0.ES.mask and not stored[0] & 1:
            mac.mmc_count("MMCRGUFCR")
        if not RDES1.DIC.get(rdes1_last):
            mac.raise_status(DMASR.RS.mask)
