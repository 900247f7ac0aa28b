"""The MAC's station management interface (SMI, RM0090 §33.4.1): MDIO transactions towards the
PHYs attached at addresses 0..31, and the interface a PHY model implements.

Software writes MACMIIAR with MB = 1 (PHY address PA, register MR, MW = 1 for a write whose
data is in MACMIIDR). The clause-22 management frame is 64 MDC periods (a 32-bit preamble and
the 32-bit frame, IEEE 802.3 §22.2.4.5), at MDC = HCLK / the divider MACMIIAR.CR selects
(RM0090 §33.8.1: 42, 62, 16, 26 or 102), from the live HCLK; MB reads 1 until then (ST's HAL
polls it) and writes to MACMIIAR meanwhile are ignored. A read
of an address no PHY answers returns 0xFFFF: the idle MDIO line is pulled up (IEEE 802.3
§22.2.2, MDIO).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from sim.machine.peripherals.clocks import time_of
from sim.machine.peripherals.ethernet.registers import MACMIIAR, MACMIIDR
from sim.platform import PlatformError

if TYPE_CHECKING:  # pragma: no cover
    from sim.machine.peripherals.ethernet.mac import SynopsysEthernetMAC


@runtime_checkable
class PhyDevice(Protocol):
    """What the MAC needs from a PHY on its MDIO bus."""

    def attached(self, address: int) -> None:
        """The PHY was registered at MDIO `address` (strap pins: it may report it in a register)."""

    def mdio_read(self, register: int) -> int:
        """A clause-22 read of `register` (0..31), with the read's side effects; 16 bits."""

    def mdio_write(self, register: int, value: int) -> None:
        """A clause-22 write of the 16-bit `value`."""

    @property
    def link_up(self) -> bool:
        """True while the link is established (the MAC sends and receives only then)."""


# MACMIIAR.CR -> HCLK divider for MDC (RM0090 §33.8.1); the reserved codes 101-111 are taken as /102
MDC_DIVIDERS = {0: 42, 1: 62, 2: 16, 3: 26, 4: 102}
MDIO_FRAME_BITS = 64


class StationManagement:
    """MDIO transactions of one MAC. State: the PHYs (wiring, fixed after the platform is built)
    and the data latched when a write transaction starts."""

    def __init__(self, mac: "SynopsysEthernetMAC") -> None:
        self.mac = mac
        self.phys: dict[int, PhyDevice] = {}
        self._data = 0

    def reset(self) -> None:
        self._data = 0

    def attach(self, address: int, phy: object) -> None:
        name = self.mac.name
        if not isinstance(phy, PhyDevice):
            raise PlatformError(f"{name}: {getattr(phy, 'name', phy)!r} is registered on the MDIO bus "
                                f"('@ {name} <address>') but is not a PHY (it has no MDIO registers)")
        if not 0 <= address < 32:
            raise PlatformError(f"{name}: PHY address {address} is outside 0..31 ('@ {name} <0-31>')")
        if address in self.phys:
            raise PlatformError(f"{name}: two PHYs at MDIO address {address}")
        self.phys[address] = phy
        phy.attached(address)

    def link_up(self) -> bool:
        if not self.phys:
            return True                 # no PHY model: treat the wire as connected
        return any(phy.link_up for phy in self.phys.values())

    # --- MACMIIAR written ---------------------------------------------------------------------
    def start(self, old: int, new: int) -> None:
        mac = self.mac
        if MACMIIAR.MB.get(old):
            mac[MACMIIAR] = old                   # busy: software must not touch it
            mac.counters["mdio_writes_while_busy"] += 1
            return
        if MACMIIAR.MB.get(new):
            self._data = mac[MACMIIDR.MD]
            mac.arm("mdio", self.frame_cycles(), self._done)

    def frame_cycles(self) -> int:
        """Reference cycles one management frame takes at the live HCLK and MACMIIAR.CR."""
        divider = MDC_DIVIDERS.get(self.mac[MACMIIAR.CR], 102)
        services = self.mac.services
        return time_of(MDIO_FRAME_BITS * divider, services.clocks.rate("HCLK"), services.frequency)

    def _done(self) -> None:
        mac = self.mac
        if not mac.expire("mdio"):
            return
        miiar = mac[MACMIIAR]
        phy = self.phys.get(MACMIIAR.PA.get(miiar))
        register = MACMIIAR.MR.get(miiar)
        if MACMIIAR.MW.get(miiar):
            mac.counters["mdio_writes"] += 1
            if phy is not None:
                phy.mdio_write(register, self._data)
            else:
                mac.counters["mdio_absent"] += 1
        else:
            mac.counters["mdio_reads"] += 1
            if phy is not None:
                value = phy.mdio_read(register) & 0xFFFF
            else:
                value = 0xFFFF          # MDIO pull-up: an absent PHY reads all ones
                mac.counters["mdio_absent"] += 1
            mac[MACMIIDR] = value
        mac[MACMIIAR.MB] = 0
