"""The STM32F407 Ethernet MAC (Renode type `Network.SynopsysEthernetMAC`), one room per job:

    registers.py    the register map (MAC, MMC, PTP, DMA), field by field
    mac.py          the model: register callbacks, resets, interrupts, MMC, the network port
    mdio.py         station management (MDIO) and `PhyDevice`, what a PHY model implements
    descriptors.py  DMA descriptor layouts and the DMA's accesses to them
    tx.py           the transmit DMA
    rx.py           address filter, RX FIFO and the receive DMA
"""

from sim.machine.peripherals.ethernet.mac import SynopsysEthernetMAC
from sim.machine.peripherals.ethernet.mdio import PhyDevice

__all__ = ["SynopsysEthernetMAC", "PhyDevice"]
