"""Ethernet PHYs behind the MAC's MDIO bus: `Clause22Phy`, what every IEEE 802.3 clause-22 PHY
does. The parts (LAN8742A, LAN8720A, DP83848, KSZ8081RNA) and `EthernetPhysicalLayer`, the
Renode type that stands for all of them, are in phy_catalogue.py.

Which PHY an entry is follows from the identifier the platform file gives it (`Id1`/`Id2`, the
PHYID1/PHYID2 registers, which is also what Renode's table-only model shows the driver): a
LAN8742A when none is given. The MDIO address is the entry's `@ ethernet <address>`.

Registers 0-15 are the IEEE 802.3 clause 22 management registers (§22.2.4); each catalogue
model adds its vendor registers 16-31. Register values start from the part's reset values,
overridden by what the .repl gives as properties with Renode's names (BasicControl, BasicStatus,
Id1, Id2, AutoNegotiationAdvertisement, ..., VendorSpecific0..15 = registers 16..31). Unlike
Renode's table (writes ignored, renode issue 237), these PHYs act on writes:

- BMCR bit 15 (soft reset) and bit 9 (restart auto-negotiation) self-clear; a reset restores the
  configured register values and restarts auto-negotiation.
- Auto-negotiation takes `autoNegotiationTime` seconds of virtual time, 1.8 s by default: the
  break_link_timer, about 1250 ms (LAN8742A datasheet DS00001989A §3.2.2; IEEE 802.3 §28.3.2
  gives 1200-1500 ms), then about a dozen fast link pulse bursts 16 ms apart for ability
  detect, acknowledge and complete acknowledge (§28.2.1.1), then the link integrity wait of at
  least 330 ms before the link is ready (DS00001989A §3.8.8). The link is down meanwhile and
  comes up with the highest mode both ends advertise (IEEE 802.3 Annex 28B.3). With AN
  disabled, BMCR's speed/duplex bits force the mode and the link comes up after the link
  integrity wait alone (`FORCED_LINK_TIME`).
- BMSR's link bit is latching-low (the first read after a drop returns 0 even if the link is
  back; IEEE 802.3 §22.2.4.2.13), AN complete (bit 5) reflects the negotiation.
- Writable registers keep what is written; read-only ones (BMSR, IDs, ANLPAR) ignore writes.

The cable is `set_link(up, speed, duplex)`: unplugged, or plugged into a partner that
advertises the given speed (10/100) and duplex ("full"/"half"), or everything when they are
None. A link change raises the vendor's interrupt flags and drives the nINT output (default
output of the entry; active low, so the electrical level is what a wired GPIO pin sees).

`autoNegotiationTime` is an attribute of the built-in machine only: Renode 1.16.1's PHY has no
constructor parameters and refuses the platform file that gives one; so does the nINT
connection (`-> gpioPortB@14`), since Renode's PHY has no output.

Not modelled: loopback (frames are not looped back), power-down timing, energy-detect power
down, cable diagnostics, MMD (clause 45) indirect access, MDIO broadcast at address 0.
"""

from __future__ import annotations

from fractions import Fraction
from typing import ClassVar

from sim.errors import SimError
from sim.machine.peripherals.base import Peripheral
from sim.machine.peripherals.registers import RO, RW, Access, Field, Register
from sim.machine.peripherals.timing import Deadlines


class LinkError(SimError, ValueError):
    """A link state the cable cannot be in (a speed other than 10/100, an unknown duplex)."""


# --- IEEE 802.3 clause 22 registers (§22.2.4) ------------------------------------------------
BMCR = Register("BMCR", 0, width=16, on_write="_bmcr_written", fields=[
    Field("COLLISION_TEST", 7), Field("DUPLEX_MODE", 8), Field("RESTART_AN", 9),
    Field("ISOLATE", 10), Field("POWER_DOWN", 11), Field("AN_ENABLE", 12),
    Field("SPEED_SELECT", 13), Field("LOOPBACK", 14), Field("RESET", 15)])
BMSR = Register("BMSR", 1, width=16, on_read="_bmsr_read", fields=[
    Field("EXTENDED_CAPABILITY", 0, access=RO), Field("JABBER_DETECT", 1, access=RO),
    Field("LINK_STATUS", 2, access=RO, value="_link_status"), Field("AN_ABILITY", 3, access=RO),
    Field("REMOTE_FAULT", 4, access=RO), Field("AN_COMPLETE", 5, access=RO, value="_an_status"),
    Field("MF_PREAMBLE_SUPPRESSION", 6, access=RO), Field("EXTENDED_STATUS", 8, access=RO),
    Field("T2_HD", 9, access=RO), Field("T2_FD", 10, access=RO),
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


def reserved(*numbers: int) -> tuple[Register, ...]:
    """Vendor register numbers a part leaves reserved (they read 0)."""
    return tuple(Register(f"R{n}", n, width=16) for n in numbers)


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
# attributes of the built-in machine only (Renode's PHY takes none)
BUILTIN_ATTRIBUTES = ("autoNegotiationTime",)

# the four 10/100 modes: ANAR/ANLPAR bit and (Mb/s, full duplex), in the priority order of
# IEEE 802.3 Annex 28B.3
MODES = ((ANAR.TX_FD.mask, (100, True)), (ANAR.TX.mask, (100, False)),
         (ANAR.T10_FD.mask, (10, True)), (ANAR.T10.mask, (10, False)))
ALL_MODES = sum(bits for bits, _ in MODES)
PARTNER_BASE_PAGE = 0x0001 | ANLPAR.ACK.mask      # selector IEEE 802.3, acknowledge


class Clause22Phy(Deadlines, Peripheral):
    """A PHY on MDIO (implements `sim.machine.peripherals.ethernet.mdio.PhyDevice`): reset,
    power-down, auto-negotiation, the cable and the interrupt pin, over the clause-22 registers.
    A vendor model adds its registers 16-31 (`REGISTERS`), its reset values (`DEFAULTS`) and its
    reactions to events (the `_vendor_*` hooks)."""

    SIZE = 0
    REGISTER_ADDRESSING = "index"          # offsets are MDIO register numbers, not bus bytes
    REGISTERS = CLAUSE22 + reserved(*range(16, 32))
    DEFAULTS: ClassVar[dict[int, int]] = {}
    PART = "clause-22 PHY"
    PHY_ID: ClassVar[tuple[int, int]] = (0, 0)     # PHYID1, PHYID2 with revision 0

    # Virtual durations (seconds).
    AUTONEGOTIATION_TIME = Fraction(9, 5)
    FORCED_LINK_TIME = Fraction(33, 100)           # the link integrity wait alone
    RESET_TIME = Fraction(1, 100_000)              # soft reset (10 us; IEEE allows up to 0.5 s)

    def __init__(self, services, name, params=None, irqs=None, **kwargs) -> None:
        self.address: int | None = None
        self._configured = dict(self.DEFAULTS)
        self.autoneg_time = self.AUTONEGOTIATION_TIME
        for prop, value in (params or {}).items():
            if prop in PROPERTY_REGISTERS:
                if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFFFF:
                    raise ValueError(f"{prop} must be a 16-bit register value, got {value!r}")
                self._configured[PROPERTY_REGISTERS[prop]] = value
            elif prop == "autoNegotiationTime":
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 60:
                    raise ValueError(f"autoNegotiationTime is in seconds, 0..60 (e.g. "
                                     f"autoNegotiationTime: 1.5), not {value!r}")
                self.autoneg_time = Fraction(str(value))
            elif prop[:1].isupper():              # a property Renode would reject as well
                raise ValueError(f"unknown property {prop!r}; {type(self).__name__} has "
                                 f"{', '.join(PROPERTY_REGISTERS)}")
            else:
                raise ValueError(f"unknown attribute {prop!r}; a PHY takes the properties "
                                 f"{', '.join(PROPERTY_REGISTERS)} and (built-in machine only) "
                                 f"{', '.join(BUILTIN_ATTRIBUTES)}")
        self._cable = True
        # what the link partner advertises: the .repl's ANLPAR (Renode shows it as the register;
        # here the register reads it once auto-negotiation has received it), or all four modes
        self._partner_page = self._configured.pop(ANLPAR.offset, PARTNER_BASE_PAGE | ALL_MODES)
        self._partner = self._partner_page & ALL_MODES
        self.counters = {"reads": 0, "writes": 0, "resets": 0, "autonegotiations": 0,
                         "interrupts": 0}
        super().__init__(services, name, params, irqs, **kwargs)

    def _cycles(self, seconds: Fraction) -> int:
        return -(-seconds.numerator * self.services.frequency // seconds.denominator)

    @property
    def autoneg_cycles(self) -> int:
        """Reference cycles one auto-negotiation takes."""
        return self._cycles(self.autoneg_time)

    def reset(self) -> None:
        super().reset()
        self.clear_deadlines()
        by_number = self.layout.by_offset
        for number, value in self._configured.items():
            self.values[by_number[number].name] = value
        self._link = False
        self._mode: tuple[int, bool] | None = None
        self._an_complete = False
        self._link_latched_low = True
        self._nint_asserted = False
        self[BMSR.LINK_STATUS] = self[BMSR.AN_COMPLETE] = 0
        self._vendor_reset()
        self._start_link()
        if self.wires:
            self.drive_irq(self.output_level(""))   # the pin back to its idle level

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

    def _vendor_link_up(self) -> None:
        """The link came up (after auto-negotiation, or forced)."""

    def _vendor_an_complete(self) -> None:
        """Auto-negotiation completed (before `_vendor_link_up`)."""

    def _vendor_bmsr_read(self) -> None:
        """BMSR was read (some parts clear an interrupt flag on it)."""

    def _interrupt_asserted(self) -> bool:
        """True while the part asserts its interrupt pin."""
        return False

    INTERRUPT_ACTIVE_HIGH = False

    # --- MDIO (PhyDevice) ------------------------------------------------------------------
    def mdio_read(self, register: int) -> int:
        self.counters["reads"] += 1
        value = self.layout.by_offset[register & 0x1F].load(self)
        self._update_interrupt()                   # reads clear flags on most parts
        return value

    def mdio_write(self, register: int, value: int) -> None:
        self.counters["writes"] += 1
        self.layout.by_offset[register & 0x1F].store(self, value & 0xFFFF, 0xFFFF)
        self._update_interrupt()

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
        self._vendor_bmsr_read()
        return value

    def _bmcr_written(self, old: int, value: int) -> None:
        if BMCR.RESET.get(value):
            self.counters["resets"] += 1
            self[BMCR.RESET] = 1
            self._drop_link()
            self.arm("reset", self._cycles(self.RESET_TIME), self._reset_done)
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
        self._update_interrupt()

    # --- link and auto-negotiation -------------------------------------------------------
    def set_link(self, up: bool, speed: int | None = None, duplex: str | bool | None = None) -> None:
        """Plug the cable into a partner that advertises `speed` Mb/s (10 or 100) and `duplex`
        ("full" or "half"), each None for all it can (True), or unplug it (False)."""
        if speed not in (None, 10, 100):
            raise LinkError(f"{self.name}: link speed {speed!r} Mb/s: a 10/100 PHY links at 10 or 100")
        if duplex in ("full", "half"):
            duplex = duplex == "full"
        elif duplex is not None and not isinstance(duplex, bool):
            raise LinkError(f"{self.name}: duplex {duplex!r}: say 'full' or 'half'")
        partner = 0
        for bits, (mode_speed, mode_full) in MODES:
            if (speed is None or speed == mode_speed) and (duplex is None or duplex == mode_full):
                partner |= bits
        self._cable = bool(up)
        self._partner = partner
        if up:
            self._start_link()
        else:
            self._drop_link()
        self._update_interrupt()

    def _drop_link(self) -> None:
        if self._link:
            self._link = False
            self._vendor_link_down()
        self._link = False
        self._mode = None
        self._an_complete = False
        self._link_latched_low = True
        self.disarm("autoneg")

    def _start_link(self) -> None:
        self._drop_link()
        if not self._cable or self[BMCR.POWER_DOWN] or self[BMCR.RESET]:
            return
        if self[BMCR.AN_ENABLE]:
            self.counters["autonegotiations"] += 1
            self.arm("autoneg", self.autoneg_cycles, self._link_established)
        else:
            self.arm("autoneg", self._cycles(self.FORCED_LINK_TIME), self._link_established)

    def _link_established(self) -> None:
        if not self.expire("autoneg"):
            return
        self[BMCR.RESTART_AN] = 0
        if self[BMCR.AN_ENABLE]:
            self[ANLPAR] = (self._partner_page & ~ALL_MODES) | self._partner
            self[ANER.LP_AN_ABLE] = 1
            common = self[ANAR] & self._partner
            mode = next((m for bits, m in MODES if common & bits), None)
            self._an_complete = True
            self._vendor_an_complete()
            if mode is None:                           # nothing in common: no link
                self._update_interrupt()
                return
        else:
            mode = (100 if self[BMCR.SPEED_SELECT] else 10, bool(self[BMCR.DUPLEX_MODE]))
        self._mode = mode
        self._link = True
        self._vendor_link_up()
        self._update_interrupt()

    def speed_duplex(self) -> tuple[int, bool]:
        """(Mb/s, full duplex) the link runs at: negotiated, or forced by BMCR."""
        if self._mode is not None:
            return self._mode
        if self[BMCR.AN_ENABLE]:
            common = self[ANAR] & self[ANLPAR]
            return next((m for bits, m in MODES if common & bits), (10, False))
        return (100 if self[BMCR.SPEED_SELECT] else 10, bool(self[BMCR.DUPLEX_MODE]))

    # --- the interrupt pin -----------------------------------------------------------------
    def _update_interrupt(self) -> None:
        asserted = self._interrupt_asserted()
        if asserted != self._nint_asserted:
            self._nint_asserted = asserted
            if asserted:
                self.counters["interrupts"] += 1
            self.drive_irq(self.output_level(""))

    def output_level(self, output: str) -> bool | None:
        """The electrical level of the interrupt pin (high while idle: it is active low unless
        the part is configured otherwise)."""
        if output != "":
            return None
        return self._nint_asserted == self.interrupt_active_high()

    def interrupt_active_high(self) -> bool:
        return self.INTERRUPT_ACTIVE_HIGH

    # --- bus access is not possible: the PHY sits on MDIO, not on the system bus ------------
    def read(self, offset: int, size: int) -> int:
        raise TypeError(f"{self.name} is an MDIO device: register it with '@ ethernet <address>'")

    def write(self, offset: int, size: int, value: int) -> None:
        raise TypeError(f"{self.name} is an MDIO device: register it with '@ ethernet <address>'")

    def register(self, number: int) -> int:
        """Peek at a register without read side effects (for tests and reports)."""
        return self.values[self.layout.by_offset[number & 0x1F].name]


__all__ = ["Clause22Phy", "LinkError", "CLAUSE22", "PROPERTY_REGISTERS",
           "BMCR", "BMSR", "ANAR", "ANLPAR", "ANER", "PHYID1", "PHYID2", "reserved"]
