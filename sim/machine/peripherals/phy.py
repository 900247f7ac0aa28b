"""Ethernet PHY behind the MAC's MDIO bus (Renode type `Network.EthernetPhysicalLayer`).

A LAN8742A-like clause-22 PHY (facts §11). Its 32 registers start from the values the .repl
gives as properties with Renode's names (BasicControl, BasicStatus, Id1, Id2,
AutoNegotiationAdvertisement, AutoNegotiationLinkPartnerBasePageAbility, ..., VendorSpecific0..15
= registers 16..31) and otherwise from LAN8742A defaults. Unlike Renode's table (writes ignored,
renode issue 237), this PHY acts on writes:

- BMCR bit 15 (soft reset) and bit 9 (restart auto-negotiation) self-clear after a short virtual
  delay; a reset restores the configured register values and restarts auto-negotiation.
- The link drops while auto-negotiation runs and comes up when it completes; BMSR's link bit is
  latching-low (the first read after a drop returns 0 even if the link is back), AN complete
  (bit 5) reflects the negotiation. With AN disabled, BMCR's speed/duplex bits force the mode.
- Register 18 (SMR) reports the MDIO address the PHY is attached at in bits 4:0 (ST's driver
  scans for it); register 31 (PHYSCSR) reports autodone (bit 12) and speed/duplex in bits 4:2
  (100BASE-TX full duplex = 0b110); register 29 (ISFR) latches AN-complete and link-down events
  and clears on read; register 30 (IMR) is writable.
- Writable registers keep what is written (ANAR, vendor registers); read-only ones (BMSR, IDs,
  ANLPAR) ignore writes, as on the part.

`set_link(up)` is the cable: it drops or restores the link (with a fresh auto-negotiation).
Not modelled: loopback (frames are not looped back), power-down timing, energy detect, the nINT
pin, MMD (clause 45) indirect access.
"""

from __future__ import annotations

from sim.machine.peripherals.base import Peripheral, Register, model
from sim.machine.peripherals.timing import Deadlines

BMCR, BMSR, PHYID1, PHYID2, ANAR, ANLPAR, ANER = 0, 1, 2, 3, 4, 5, 6
SMR, ISFR, IMR, PHYSCSR = 18, 29, 30, 31

BMCR_RESET, BMCR_SPEED100, BMCR_ANENABLE = 1 << 15, 1 << 13, 1 << 12
BMCR_POWERDOWN, BMCR_RESTART_AN, BMCR_FULLDUPLEX = 1 << 11, 1 << 9, 1 << 8
BMSR_LINK, BMSR_AN_COMPLETE = 1 << 2, 1 << 5
PHYSCSR_AUTODONE = 1 << 12
ISFR_LINK_DOWN, ISFR_AN_COMPLETE = 1 << 4, 1 << 6

# Renode property name -> register number
PROPERTY_REGISTERS = {
    "BasicControl": 0, "BasicStatus": 1, "Id1": 2, "Id2": 3, "AutoNegotiationAdvertisement": 4,
    "AutoNegotiationLinkPartnerBasePageAbility": 5, "AutoNegotiationExpansion": 6,
    "AutoNegotiationNextPageTransmit": 7, "AutoNegotiationLinkPartnerReceivedNextPage": 8,
    "MasterSlaveControl": 9, "MasterSlaveStatus": 10, "PowerSourcingEquipmentControl": 11,
    "PowerSourcingEquipmentStatus": 12, "MDIOManageableDeviceAccessControl": 13,
    "MDIOManageableDeviceAcceddAddressData": 14, "MDIOManageableDeviceAccessAddressData": 14,
    "ExtendedStatus": 15, **{f"VendorSpecific{i}": 16 + i for i in range(16)},
}

# LAN8742A defaults: AN on, 100 Mb/s full duplex advertised, 10/100 capable, ID 0x0007C131.
LAN8742A_DEFAULTS = {
    BMCR: BMCR_SPEED100 | BMCR_ANENABLE | BMCR_FULLDUPLEX,      # 0x3100
    BMSR: 0x7809,                 # 100FD/100HD/10FD/10HD, AN ability, extended capability
    PHYID1: 0x0007, PHYID2: 0xC131,
    ANAR: 0x01E1,                 # 100FD, 100HD, 10FD, 10HD, selector 802.3
    ANLPAR: 0x45E1,               # partner: same abilities + ACK, next page off
    ANER: 0x0001,                 # partner AN able
    16: 0x0040, 17: 0x0002, SMR: 0x00E0, 27: 0x000A, PHYSCSR: 0x0040,
}
# registers software can change (bit masks); the rest are read-only
WRITABLE = {BMCR: 0xFF80, ANAR: 0x2FFF, 16: 0xFFFF, 17: 0xFFFF, SMR: 0x40FF, 27: 0xFFFF, IMR: 0x00FE}
REGISTER_NAMES = (
    "BMCR", "BMSR", "PHYID1", "PHYID2", "ANAR", "ANLPAR", "ANER", "ANNPTR", "ANNPRR", "MSCR",
    "MSSR", "PSECR", "PSESR", "MMDACR", "MMDAADR", "ESR", "ENCTR", "MCSR", "SMR", "R19", "R20",
    "R21", "R22", "R23", "TPDCR", "TCSR", "SECR", "SCSIR", "CLR", "ISFR", "IMR", "PHYSCSR")


@model("Network.EthernetPhysicalLayer")
class EthernetPhysicalLayer(Deadlines, Peripheral):
    SIZE = 0
    REGISTERS = tuple(
        Register(name, number, LAN8742A_DEFAULTS.get(number, 0), write_mask=WRITABLE.get(number, 0))
        for number, name in enumerate(REGISTER_NAMES))

    # Virtual durations in CPU cycles (short: drivers poll over MDIO; see the report).
    reset_cycles = 1_680              # 10 us
    autoneg_cycles = 8_400            # 50 us

    def __init__(self, services, name, params=None, irqs=None) -> None:
        self.address: int | None = None
        self._configured = dict(LAN8742A_DEFAULTS)
        for prop, value in (params or {}).items():
            if prop in PROPERTY_REGISTERS:
                if not isinstance(value, int) or not 0 <= value <= 0xFFFF:
                    raise ValueError(f"{prop} must be a 16-bit register value, got {value!r}")
                self._configured[PROPERTY_REGISTERS[prop]] = value
            elif prop[:1].isupper():              # a property Renode would reject as well
                raise ValueError(f"unknown property {prop!r}; EthernetPhysicalLayer has "
                                 f"{', '.join(PROPERTY_REGISTERS)}")
        self._cable = True
        self.counters = {"reads": 0, "writes": 0, "resets": 0, "autonegotiations": 0}
        super().__init__(services, name, params, irqs)

    def reset(self) -> None:
        super().reset()
        self.clear_deadlines()
        for number, value in self._configured.items():
            self.values[REGISTER_NAMES[number]] = value
        self._link = False
        self._an_complete = False
        self._link_latched_low = True
        self.values["BMSR"] &= ~(BMSR_LINK | BMSR_AN_COMPLETE)
        self.values["PHYSCSR"] &= ~PHYSCSR_AUTODONE
        self._start_link()

    def attached(self, address: int) -> None:
        """Called by the MAC when the PHY is registered at an MDIO address."""
        self.address = address
        self._configured[SMR] = (self._configured.get(SMR, 0) & ~0x1F) | (address & 0x1F)
        self.values["SMR"] = (self.values["SMR"] & ~0x1F) | (address & 0x1F)

    # --- MDIO ----------------------------------------------------------------------------
    def mdio_read(self, register: int) -> int:
        self.counters["reads"] += 1
        register &= 0x1F
        value = self.values[REGISTER_NAMES[register]]
        if register == BMSR:
            value &= ~(BMSR_LINK | BMSR_AN_COMPLETE)
            if self._link and not self._link_latched_low:
                value |= BMSR_LINK
            if self._an_complete:
                value |= BMSR_AN_COMPLETE
            self._link_latched_low = False          # latching-low: the read releases the latch
        elif register == PHYSCSR:
            value = self._physcsr(value)
        elif register == ISFR:
            self.values["ISFR"] = 0             # interrupt sources clear on read
        return value

    def mdio_write(self, register: int, value: int) -> None:
        self.counters["writes"] += 1
        register &= 0x1F
        mask = self._by_offset[register].write_mask
        old = self.values[REGISTER_NAMES[register]]
        self.values[REGISTER_NAMES[register]] = (old & ~mask) | (value & mask)
        if register == BMCR:
            self._bmcr_written(old, value & 0xFFFF)

    def _bmcr_written(self, old: int, value: int) -> None:
        if value & BMCR_RESET:
            self.counters["resets"] += 1
            self.values["BMCR"] |= BMCR_RESET
            self._drop_link()
            self.arm("reset", self.reset_cycles, self._reset_done)
            return
        if value & BMCR_POWERDOWN:
            self._drop_link()
            return
        an_enabled = bool(value & BMCR_ANENABLE)
        if value & BMCR_RESTART_AN and an_enabled:
            self.values["BMCR"] |= BMCR_RESTART_AN
            self._start_link()
        elif an_enabled != bool(old & BMCR_ANENABLE) or (
                not an_enabled and (old ^ value) & (BMCR_SPEED100 | BMCR_FULLDUPLEX)):
            self._start_link()
        elif old & BMCR_POWERDOWN:
            self._start_link()

    def _reset_done(self) -> None:
        if not self.expire("reset"):
            return
        address = self.address
        self.reset()                                # restores the configured values
        if address is not None:
            self.attached(address)

    # --- link and auto-negotiation -------------------------------------------------------
    def set_link(self, up: bool) -> None:
        """Connect (True) or unplug (False) the cable."""
        self._cable = bool(up)
        if up:
            self._start_link()
        else:
            self._drop_link()

    @property
    def link_up(self) -> bool:
        return self._link

    def _drop_link(self) -> None:
        if self._link:
            self.values["ISFR"] |= ISFR_LINK_DOWN
        self._link = False
        self._an_complete = False
        self._link_latched_low = True
        self.disarm("autoneg")

    def _start_link(self) -> None:
        self._drop_link()
        bmcr = self.values["BMCR"]
        if not self._cable or bmcr & (BMCR_POWERDOWN | BMCR_RESET):
            return
        self.counters["autonegotiations"] += 1 if bmcr & BMCR_ANENABLE else 0
        self.arm("autoneg", self.autoneg_cycles, self._link_established)

    def _link_established(self) -> None:
        if not self.expire("autoneg"):
            return
        bmcr = self.values["BMCR"]
        self.values["BMCR"] = bmcr & ~BMCR_RESTART_AN
        self._link = True
        if bmcr & BMCR_ANENABLE:
            self._an_complete = True
            self.values["ISFR"] |= ISFR_AN_COMPLETE

    def speed_duplex(self) -> tuple[int, bool]:
        """(Mb/s, full duplex) the link runs at: negotiated, or forced by BMCR."""
        bmcr = self.values["BMCR"]
        if bmcr & BMCR_ANENABLE:
            common = self.values["ANAR"] & self.values["ANLPAR"]
            for bit, mode in ((8, (100, True)), (7, (100, False)), (6, (10, True)), (5, (10, False))):
                if common & (1 << bit):
                    return mode
            return (10, False)
        return (100 if bmcr & BMCR_SPEED100 else 10, bool(bmcr & BMCR_FULLDUPLEX))

    def _physcsr(self, value: int) -> int:
        value &= ~(PHYSCSR_AUTODONE | 0x1C)
        speed, full = self.speed_duplex()
        value |= (0b010 if speed == 100 else 0b001) << 2
        if full:
            value |= 0b100 << 2
        if self._an_complete:
            value |= PHYSCSR_AUTODONE
        return value

    # --- bus access is not possible: the PHY sits on MDIO, not on the system bus ------------
    def read(self, offset: int, size: int) -> int:
        raise TypeError(f"{self.name} is an MDIO device: register it with '@ ethernet <address>'")

    def write(self, offset: int, size: int, value: int) -> None:
        raise TypeError(f"{self.name} is an MDIO device: register it with '@ ethernet <address>'")

    def register(self, number: int) -> int:
        """Peek at a register without read side effects (for tests and reports)."""
        return self.values[REGISTER_NAMES[number & 0x1F]]
