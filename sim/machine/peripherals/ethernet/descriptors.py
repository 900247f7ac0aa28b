"""DMA descriptors in RAM: their word layouts (RM0090 §33.6.7 TX, §33.6.8 RX) declared like
registers, and the bus-master accesses both DMA engines make to fetch, close and follow them.

A descriptor is 4 words (normal) or 8 words (enhanced, DMABMR.EDFE = 1). It is chained through
DES3 (TCH/RCH) or follows the previous one in a ring, DSL words further on; TER/RER wrap to the
list base. A descriptor or buffer the DMA cannot reach raises `DescriptorBusFault`, which stops
that engine (FBES) in mac.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.machine.peripherals.base import DmaError
from sim.machine.peripherals.ethernet.registers import DMABMR
from sim.machine.peripherals.registers import Field, Register, flags

if TYPE_CHECKING:  # pragma: no cover
    from sim.machine.peripherals.ethernet.mac import SynopsysEthernetMAC

# --- TX descriptor words ------------------------------------------------------------------------
TDES0 = Register("TDES0", 0x0, fields=[
    *flags(DB=0, UF=1, ED=2), Field("CC", 3, 4),
    *flags(VF=7, EC=8, LCO=9, NC=10, LCA=11, IPE=12, FF=13, JT=14, ES=15, IHE=16, TTSS=17, TCH=20,
           TER=21),
    Field("CIC", 22, 2), *flags(TTSE=25, DP=26, DC=27, FS=28, LS=29, IC=30, OWN=31)])
TDES1 = Register("TDES1", 0x4, [Field("TBS1", 0, 13), Field("TBS2", 16, 13)])
TDES0_STATUS = 0x0003_FFFF                 # bits 17:0: written back by the DMA on the LS descriptor

# --- RX descriptor words ------------------------------------------------------------------------
RDES0 = Register("RDES0", 0x0, fields=[
    *flags(PCE_ESA=0, CE=1, DBE=2, RE=3, RWT=4, FT=5, LCO=6, IPHCE=7, LS=8, FS=9, VLAN=10, OE=11,
           LE=12, SAF=13, DE=14, ES=15),
    Field("FL", 16, 14), *flags(AFM=30, OWN=31)])
RDES1 = Register("RDES1", 0x4, [Field("RBS1", 0, 13), Field("RCH", 14), Field("RER", 15),
                                Field("RBS2", 16, 13), Field("DIC", 31)])
RDES4 = Register("RDES4", 0x10, [Field("IPPT", 0, 3), *flags(IPHE=3, IPPE=4, IPCB=5, IPV4PR=6, IPV6PR=7),
                                 Field("PMT", 8, 4), Field("PTPFT", 12), Field("PTPV", 13)])


class DescriptorBusFault(Exception):
    """A DMA engine hit an address it cannot reach (DMASR.EBS says which access it was)."""

    def __init__(self, tx: bool, read: bool, descriptor: bool, error: DmaError) -> None:
        super().__init__(str(error))
        self.tx, self.read, self.descriptor, self.error = tx, read, descriptor, error


def read_descriptor(mac: "SynopsysEthernetMAC", address: int, tx: bool) -> list[int]:
    words = 8 if mac[DMABMR.EDFE] else 4
    try:
        raw = mac.services.dma_read(address, 4 * words)
    except DmaError as error:
        raise DescriptorBusFault(tx, True, True, error) from None
    return [int.from_bytes(raw[i:i + 4], "little") for i in range(0, 4 * words, 4)]


def write_word(mac: "SynopsysEthernetMAC", address: int, value: int, tx: bool) -> None:
    try:
        mac.services.dma_write(address, (value & 0xFFFF_FFFF).to_bytes(4, "little"))
    except DmaError as error:
        raise DescriptorBusFault(tx, False, True, error) from None


def descriptor_address(mac: "SynopsysEthernetMAC", value: int, what: str) -> int:
    if value & 3:
        mac.warn(f"{what} = 0x{value:08x} is not word-aligned; the DMA ignores bits 1:0")
    return value & ~3


def next_descriptor(mac: "SynopsysEthernetMAC", address: int, des3: int, chained: bool,
                    end_of_ring: bool, base: int) -> int:
    if end_of_ring:
        return base
    if chained:
        return descriptor_address(mac, des3, "next-descriptor address (DES3)")
    size = 32 if mac[DMABMR.EDFE] else 16
    return address + size + 4 * mac[DMABMR.DSL]
