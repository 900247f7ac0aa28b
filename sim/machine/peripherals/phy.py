"""Ethernet PHYs behind the MAC's MDIO bus: `Clause22Phy`, what every IEEE 802.3 clause-22 PHY
does, and the LAN8742A-like model of Renode type `Network.EthernetPhysicalLayer`.

Registers 0-15 are the IEEE 802.3 clause 22 management registers (§22.2.4), 16-31 the LAN8742A's
vendor registers (LAN8742A/LAN8742Ai datasheet, "Register Descriptions"). Their values start from
what the .repl gives as properties with Renode's names (BasicControl, BasicStatus, Id1, Id2,
AutoNegotiationAdvertisement, ..., VendorSpecific0..15 = registers 16..31) and otherwise from
LAN8742A defaults. Unlike Renode's table (writes ignored, renode issue 237), this PHY acts on
writes:

- BMCR bit 15 (soft reset) and bit 9 (restart auto-negotiation) self-clear after a short virtual
  delay; a reset restores the configured register values and restarts auto-negotiation.
- The link drops while auto-negotiation runs and comes up when it completes; BMSR's link bit is
  latching-low (the first read after a drop returns 0 even if the link is back; IEEE 802.3
  §22.2.4.2, Link Status), AN complete (bit 5) reflects the negotiation. With AN disabled, BMCR's
  speed/duplex bits force the mode.
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

from sim.machine.peripherals.base import Peripheral, model
from sim.machine.peripherals.registers import RC, RO, RW, Access, Field, Register
from sim.machine.peripherals.timing import Deadlines

# --- IEEE 802.3 clause 22 registers (§22.2.4) ------------------------------------------------
BMCR = Register("BMCR", 0, width=16, on_write="_bmcr_written", fields=[
    Field("COLLISION_TEST", 7), Field("DUPLEX_MODE", 8), Field("RESTART_AN", 9),
    Field("ISOLATE", 10), Field("POWER_DOWN", 11), Field("AN_ENABLE", 12),
    Field("SPEED_SELECT", 13), Field("LOOPBACK", 14), Field("RESET", 15)])
BMSR = Register("BMSR", 1, width=16, on_read="_bmsr_read", fields=[
    Field("EXTENDED_CAPABILITY", 0, access=RO), Field("JABBER_DETECT", 1, access=RO),
    Field("LINK_STATUS", 2, access=RO, value="_link_status"), Field("AN_ABILITY", 3, access=RO),
    Field("REMOTE_FAULT", 4, access=RO), Field("AN_COMPLETE", 5, access=RO, value="_an_status"),
    Field("EXTENDED_STATUS", 8, access=RO), Field("T2_HD", 9, access=RO), Field("T2_FD", 10, access=RO),
    Field("T10_HD", 11, access=RO), Field("T10_FD", 12, access=RO), Field("TX_HD", 13, access=RO),
    Field("TX_FD", 14, access=RO), Field("T4", 15, access=RO)])
PHYID1 = Register("PHYID1", 2, [Field("OUI_MSB", 0, 16, RO)], width=16)
PHYID2 = Register("PHYID2", 3, [Field("REVISION", 0, 4, RO), Field("MODEL", 4, 6, RO),
                                Field("OUI_LSB", 10, 6, RO)], width=16)


def _abilities(access: Access) -> list[Field]:
    """The base-page layout of ANAR and ANLPAR (IEEE 802.3 clause 28, base link code word)."""
    return [Field("SELECTOR", 0, 5, access), Field("T10", 5, 1, access), Field("T10_FD", 6, 1, access),
            Field("TX", 7, 1, access), Field("TX_FD", 8, 1, access), Field("T4", 9, 1, access),
            Field("PAUSE", 10, 2, access), Field("REMOTE_FAULT", 13, 1, access)]


ANAR = Register("ANAR", 4, [*_abilities(RW), Field("NEXT_PAGE", 15, access=RO)], width=16)
ANLPAR = Register("ANLPAR", 5, [*_abilities(RO), Field("ACK", 14, access=RO), Field("NEXT_PAGE", 15, access=RO)],
                  width=16)
ANER = Register("ANER", 6, width=16, fields=[
    Field("LP_AN_ABLE", 0, access=RO), Field("PAGE_RECEIVED", 1, access=RO),
    Field("NP_ABLE", 2, access=RO), Field("LP_NP_ABLE", 3, access=RO),
    Field("PARALLEL_DETECTION_FAULT", 4, access=RO)])
# registers 7-15: read as configured, writes ignored (next pages, 1000BASE-T, PSE, MMD, ESR)
_UNMODELLED = ("ANNPTR", "ANNPRR", "MSCR", "MSSR", "PSECR", "PSESR", "MMDACR", "MMDAADR", "ESR")
CLAUSE22 = (BMCR, BMSR, PHYID1, PHYID2, ANAR, ANLPAR, ANER,
            *(Register(name, 7 + i, width=16) for i, name in enumerate(_UNMODELLED)))

# --- LAN8742A vendor registers 16-31 ----------------------------------------------------------
LAN8742A_VENDOR = (
    Register("ENCTR", 16, [Field("ENCTR", 0, 16)], width=16),        # EDPD NLP / crossover time
    Register("MCSR", 17, [Field("MCSR", 0, 16)], width=16),          # mode control/status
    Register("SMR", 18, [Field("PHYAD", 0, 5), Field("MODE", 5, 3), Field("R14", 14)], width=16),
    *(Register(f"R{n}", n, width=16) for n in range(19, 24)),
    Register("TPDCR", 24, width=16), Register("TCSR", 25, width=16), Register("SECR", 26, width=16),
    Register("SCSIR", 27, [Field("SCSIR", 0, 16)], width=16),        # special control/status
    Register("CLR", 28, width=16),
    Register("ISFR", 29, [Field(f"INT{n}", n, access=RC) for n in range(1, 8)], width=16),
    Register("IMR", 30, [Field(f"INT{n}", n) for n in range(1, 8)], width=16),
    Register("PHYSCSR", 31, width=16, fields=[
        Field("SPEED", 2, 3, RO, value="_speed_indication"),
        Field("AUTODONE", 12, access=RO, value="_an_status")]),
)
SMR, ISFR, PHYSCSR = LAN8742A_VENDOR[2], LAN8742A_VENDOR[13], LAN8742A_VENDOR[15]

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
    0: 0x3100,                    # BMCR: speed 100, AN enable, full duplex
    1: 0x7809,                    # BMSR: 100FD/100HD/10FD/10HD, AN ability, extended capability
    2: 0x0007, 3: 0xC131,
    4: 0x01E1,                    # ANAR: 100FD, 100HD, 10FD, 10HD, selector 802.3
    5: 0x45E1,                    # ANLPAR: partner has the same abilities + ACK, next page off
    6: 0x0001,                    # ANER: partner AN able
    16: 0x0040, 17: 0x0002, 18: 0x00E0, 27: 0x000A, 31: 0x0040,
}
# (ability bits, mode) in the priority resolution order of IEEE 802.3 Annex 28B
_PRIORITY = ((ANAR.TX_FD.mask, (100, True)), (ANAR.TX.mask, (100, False)),
             (ANAR.T10_FD.mask, (10, True)), (ANAR.T10.mask, (10, False)))


class Clause22Phy(Deadlines, Peripheral):
    """A PHY on MDIO (implements `sim.machine.peripherals.ethernet.mdio.PhyDevice`): reset,
    power-down, auto-negotiation and the cable, over the clause-22 registers. A vendor model
    adds its registers 16-31 (`REGISTERS`), its strap values (`DEFAULTS`) and its reactions to
    events (the `_vendor_*` hooks)."""

    SIZE = 0
    REGISTER_ADDRESSING = "index"          # offsets are MDIO register numbers, not bus bytes
    REGISTERS = CLAUSE22 + tuple(Register(f"R{n}", n, width=16) for n in range(16, 32))
    DEFAULTS: dict[int, int] = {}

    # Virtual durations in CPU cycles (short: drivers poll over MDIO).
    reset_cycles = 1_680              # 10 us
    autoneg_cycles = 8_400            # 50 us

    def __init__(self, services, name, params=None, irqs=None) -> None:
        self.address: int | None = None
        self._configured = dict(self.DEFAULTS)
        for prop, value in (params or {}).items():
            if prop in PROPERTY_REGISTERS:
                if not isinstance(value, int) or not 0 <= value <= 0xFFFF:
                    raise ValueError(f"{prop} must be a 16-bit register value, got {value!r}")
                self._configured[PROPERTY_REGISTERS[prop]] = value
            elif prop[:1].isupper():              # a property Renode would reject as well
                raise ValueError(f"unknown property {prop!r}; {type(self).__name__} has "
                                 f"{', '.join(PROPERTY_REGISTERS)}")
        self._cable = True
        self.counters = {"reads": 0, "writes": 0, "resets": 0, "autonegotiations": 0}
        super().__init__(services, name, params, irqs)

    def reset(self) -> None:
        super().reset()
        self.clear_deadlines()
        by_number = self.layout.by_offset
        for number, value in self._configured.items():
            self.values[by_number[number].name] = value
        self._link = False
        self._an_complete = False
        self._link_latched_low = True
        self[BMSR.LINK_STATUS] = self[BMSR.AN_COMPLETE] = 0
        self._vendor_reset()
        self._start_link()

    def attached(self, address: int) -> None:
        """Called by the MAC when the PHY is registered at an MDIO address."""
        self.address = address
        self._vendor_attached(address)

    # --- what a vendor model adds ------------------------------------------------------------
    def _vendor_reset(self) -> None:
        """After the registers took their configured values."""

    def _vendor_attached(self, address: int) -> None:
        """The MDIO address is known (strap pins; some PHYs report it in a register)."""

    def _vendor_link_down(self) -> None:
        """An established link dropped."""

    def _vendor_an_complete(self) -> None:
        """Auto-negotiation completed."""

    # --- MDIO (PhyDevice) ------------------------------------------------------------------
    def mdio_read(self, register: int) -> int:
        self.counters["reads"] += 1
        return self.layout.by_offset[register & 0x1F].load(self)

    def mdio_write(self, register: int, value: int) -> None:
        self.counters["writes"] += 1
        self.layout.by_offset[register & 0x1F].store(self, value & 0xFFFF, 0xFFFF)

    @property
    def link_up(self) -> bool:
        return self._link

    # --- register callbacks ------------------------------------------------------------------
    def _link_status(self) -> int:
        return int(self._link and not self._link_latched_low)

    def _an_status(self) -> int:
        return int(self._an_complete)

    def _bmsr_read(self, value: int) -> int:
        self._link_latched_low = False          # latching-low: the read releases the latch
        return value

    def _bmcr_written(self, old: int, value: int) -> None:
        if BMCR.RESET.get(value):
            self.counters["resets"] += 1
            self[BMCR.RESET] = 1
            self._drop_link()
            self.arm("reset", self.reset_cycles, self._reset_done)
            return
        if BMCR.POWER_DOWN.get(value):
            self._drop_link()
            return
        an_enabled = BMCR.AN_ENABLE.get(value)
        forced_mode = BMCR.mask_of("SPEED_SELECT", "DUPLEX_MODE")
        if BMCR.RESTART_AN.get(value) and an_enabled:
            self[BMCR.RESTART_AN] = 1
            self._start_link()
        elif an_enabled != BMCR.AN_ENABLE.get(old) or (not an_enabled and (old ^ value) & forced_mode):
            self._start_link()
        elif BMCR.POWER_DOWN.get(old):
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

    def _drop_link(self) -> None:
        if self._link:
            self._vendor_link_down()
        self._link = False
        self._an_complete = False
        self._link_latched_low = True
        self.disarm("autoneg")

    def _start_link(self) -> None:
        self._drop_link()
        if not self._cable or self[BMCR.POWER_DOWN] or self[BMCR.RESET]:
            return
        self.counters["autonegotiations"] += 1 if self[BMCR.AN_ENABLE] else 0
        self.arm("autoneg", self.autoneg_cycles, self._link_established)

    def _link_established(self) -> None:
        if not self.expire("autoneg"):
            return
        self[BMCR.RESTART_AN] = 0
        self._link = True
        if self[BMCR.AN_ENABLE]:
            self._an_complete = True
            self._vendor_an_complete()

    def speed_duplex(self) -> tuple[int, bool]:
        """(Mb/s, full duplex) the link runs at: negotiated, or forced by BMCR."""
        if self[BMCR.AN_ENABLE]:
            common = self[ANAR] & self[ANLPAR]
            for bits, mode in _PRIORITY:
                if common & bits:
                    return mode
            return (10, False)
        return (100 if self[BMCR.SPEED_SELECT] else 10, bool(self[BMCR.DUPLEX_MODE]))

    # --- bus access is not possible: the PHY sits on MDIO, not on the system bus ------------
    def read(self, offset: int, size: int) -> int:
        raise TypeError(f"{self.name} is an MDIO device: register it with '@ ethernet <address>'")

    def write(self, offset: int, size: int, value: int) -> None:
        raise TypeError(f"{self.name} is an MDIO device: register it with '@ ethernet <address>'")

    def register(self, number: int) -> int:
        """Peek at a register without read side effects (for tests and reports)."""
        return self.values[self.layout.by_offset[number & 0x1F].name]


@model("Network.EthernetPhysicalLayer")
class EthernetPhysicalLayer(Clause22Phy):
    """The LAN8742A: SMR reports the MDIO address, PHYSCSR the negotiated mode, ISFR latches
    link-down (INT4) and auto-negotiation complete (INT6) until read."""

    REGISTERS = CLAUSE22 + LAN8742A_VENDOR
    DEFAULTS = LAN8742A_DEFAULTS

    def _vendor_reset(self) -> None:
        self[PHYSCSR.AUTODONE] = 0

    def _vendor_attached(self, address: int) -> None:
        self._configured[SMR.offset] = SMR.PHYAD.put(self._configured.get(SMR.offset, 0), address)
        self[SMR.PHYAD] = address

    def _vendor_link_down(self) -> None:
        self[ISFR.INT4] = 1

    def _vendor_an_complete(self) -> None:
        self[ISFR.INT6] = 1

    def _speed_indication(self) -> int:
        speed, full = self.speed_duplex()
        return (0b010 if speed == 100 else 0b001) | (0b100 if full else 0)
