"""The PHYs found on STM32F4 boards: their identifiers, vendor registers 16-31, reset values and
interrupt logic, on the clause-22 behaviour of `Clause22Phy` (phy.py).

| part       | PHYID1/PHYID2     | boards                         | status the drivers read       |
|------------|-------------------|--------------------------------|-------------------------------|
| LAN8742A   | 0x0007 / 0xC13x   | NUCLEO-F429ZI/F746ZG/H743ZI    | 31 PHYSCSR, 18 SMR            |
| LAN8720A   | 0x0007 / 0xC0Fx   | many STM32F407 boards          | 31 PHYSCSR, 18 SMR            |
| DP83848    | 0x2000 / 0x5C9x   | STM324xG-EVAL (MDIO address 1) | 0x10 PHYSTS, 0x19 PHYCR       |
| KSZ8081RNA | 0x0022 / 0x156x   | STM32F4 boards with a Micrel   | 0x1E PHY Control 1, 0x1B INTCS|

The platform file picks one by its `Id1`/`Id2` (the revision nibble is free); none given means
a LAN8742A. Sources, per part: Microchip LAN8742A/LAN8742Ai datasheet DS00001989A ch. 4 and
§3.6 (interrupts); Microchip LAN8720A/LAN8720Ai datasheet DS00002165 ch. 4; TI DP83848C/I/VYB
datasheet SNLS266, "Register Block" (PHYSTS, MICR, MISR, PHYCR); Microchip KSZ8081RNA/RND
datasheet DS00002199, "Register Descriptions" (OMSS, INTCS, PHY Control 1/2). Register 0 and 1
reset values are those of the parts strapped for auto-negotiation with all four modes, as the
boards ship.

Interrupts: each part latches its events in a flag register that a read clears (LAN87xx ISFR
29, DP83848 MISR 0x12 bits 15:8, KSZ8081 INTCS 0x1B bits 7:0) and asserts its interrupt pin
while a flag is set whose enable is set (LAN87xx IMR 30; DP83848 MISR bits 7:0 with MICR INTEN
and INT_OE; KSZ8081 INTCS bits 15:8). The pin is active low (the KSZ8081 can be set active high
with PHY Control 2 bit 9). Only the primary interrupt mode of the LAN87xx is modelled (MCSR
ALTINT is storage).
"""

from __future__ import annotations

from typing import Any

from sim.machine.peripherals.base import Peripheral, model
from sim.machine.peripherals.phy import BMCR, CLAUSE22, Clause22Phy, reserved
from sim.machine.peripherals.registers import RC, RO, Field, Register
from sim.platform import PlatformError

# --- LAN87xx (SMSC/Microchip) --------------------------------------------------------------------
_LAN_MCSR = Register("MCSR", 17, width=16, fields=[
    Field("ENERGYON", 1, access=RO, value="_energy_on"), Field("ALTINT", 6),
    Field("FARLOOPBACK", 9), Field("EDPWRDOWN", 13)])
_LAN_SMR = Register("SMR", 18, [Field("PHYAD", 0, 5), Field("MODE", 5, 3)], width=16)
_LAN_PHYSCSR = Register("PHYSCSR", 31, width=16, fields=[
    Field("SPEED", 2, 3, RO, value="_speed_indication"),
    Field("AUTODONE", 12, access=RO, value="_an_status")])


def _lan_interrupt_registers(last: int) -> tuple[Register, Register]:
    flags = [Field(f"INT{n}", n, access=RC) for n in range(1, last + 1)]
    masks = [Field(f"INT{n}", n) for n in range(1, last + 1)]
    return (Register("ISFR", 29, flags, width=16), Register("IMR", 30, masks, width=16))


LAN8742A_VENDOR = (
    Register("ENCTR", 16, [Field("ENCTR", 0, 16)], width=16),        # EDPD NLP / crossover time
    _LAN_MCSR, _LAN_SMR, *reserved(19, 20, 21, 22, 23),
    Register("TPDCR", 24, [Field("TPDCR", 0, 16)], width=16),        # TDR patterns/delay
    Register("TCSR", 25, [Field("TCSR", 0, 16)], width=16),          # TDR control/status
    Register("SECR", 26, [Field("SECR", 0, 16, RO)], width=16),      # symbol error counter
    Register("SCSIR", 27, [Field("SCSIR", 0, 16)], width=16),        # special control/status
    Register("CLR", 28, [Field("CLR", 0, 16, RO)], width=16),        # cable length
    *_lan_interrupt_registers(8), _LAN_PHYSCSR)
LAN8720A_VENDOR = (
    *reserved(16), _LAN_MCSR, _LAN_SMR, *reserved(19, 20, 21, 22, 23, 24, 25),
    Register("SECR", 26, [Field("SECR", 0, 16, RO)], width=16),
    Register("CSIR", 27, [Field("CSIR", 0, 16)], width=16),          # control/status indications
    *reserved(28), *_lan_interrupt_registers(7), _LAN_PHYSCSR)

# ISFR flag numbers (DS00001989A Table 3-2)
LAN_LINK_DOWN, LAN_AN_COMPLETE, LAN_ENERGYON = 4, 6, 7


class LAN8742A(Clause22Phy):
    """SMSC/Microchip LAN8742A: SMR reports the MDIO address (ST's driver scans for it),
    PHYSCSR the negotiated mode, ISFR latches link-down (INT4), AN complete (INT6) and ENERGYON
    (INT7) until read; reading BMSR also clears a pending link-down (DS00001989A Table 3-2)."""

    PART = "LAN8742A"
    PHY_ID = (0x0007, 0xC130)
    REGISTERS = CLAUSE22 + LAN8742A_VENDOR
    DEFAULTS = {
        0: 0x3100,                # BMCR: speed 100, AN enable, full duplex (MODE = 111)
        1: 0x7809,                # BMSR: 100FD/100HD/10FD/10HD, AN ability, extended capability
        2: 0x0007, 3: 0xC131,
        4: 0x01E1,                # ANAR: 100FD, 100HD, 10FD, 10HD, selector 802.3
        16: 0x0000, 18: 0x00E0, 27: 0x000A, 31: 0x0040,
    }

    def _vendor_reset(self) -> None:
        if self._cable:
            self._flag(LAN_ENERGYON)              # energy on the line from power-up

    def _vendor_attached(self, address: int) -> None:
        self._configured[_LAN_SMR.offset] = _LAN_SMR.PHYAD.put(self._configured.get(_LAN_SMR.offset, 0),
                                                                 address)
        self[_LAN_SMR.PHYAD] = address

    def _vendor_link_down(self) -> None:
        self._flag(LAN_LINK_DOWN)

    def _vendor_an_complete(self) -> None:
        self._flag(LAN_AN_COMPLETE)

    def _vendor_bmsr_read(self) -> None:
        self.values["ISFR"] &= ~(1 << LAN_LINK_DOWN)

    def set_link(self, up: bool, speed: int | None = None, duplex: str | bool | None = None) -> None:
        was = self._cable
        super().set_link(up, speed, duplex)
        if up and not was:
            self._flag(LAN_ENERGYON)
            self._update_interrupt()

    def _flag(self, number: int) -> None:
        self.values["ISFR"] |= 1 << number

    def _interrupt_asserted(self) -> bool:
        return bool(self.values["ISFR"] & self.values["IMR"])

    def _energy_on(self) -> int:
        return int(self._cable and not self[BMCR.POWER_DOWN])

    def _speed_indication(self) -> int:
        speed, full = self.speed_duplex()
        return (0b010 if speed == 100 else 0b001) | (0b100 if full else 0)


class LAN8720A(LAN8742A):
    """SMSC/Microchip LAN8720A: the LAN8742A's register model without its WoL, TDR and cable
    length registers (DS00002165 ch. 4)."""

    PART = "LAN8720A"
    PHY_ID = (0x0007, 0xC0F0)
    REGISTERS = CLAUSE22 + LAN8720A_VENDOR
    DEFAULTS = {0: 0x3100, 1: 0x7809, 2: 0x0007, 3: 0xC0F1, 4: 0x01E1, 18: 0x00E0, 27: 0x000A,
                31: 0x0040}


# --- DP83848 (National/TI) -------------------------------------------------------------------
_DP_MISR_EVENTS = ("RHF", "FHF", "ANC", "DUP", "SPD", "LINK", "ED", "LQ")
DP83848_VENDOR = (
    Register("PHYSTS", 0x10, width=16, value="_physts"),            # every bit is live status
    Register("MICR", 0x11, [Field("INT_OE", 0), Field("INTEN", 1), Field("TINT", 2)], width=16),
    Register("MISR", 0x12, width=16, fields=[
        *(Field(f"{name}_INT_EN", n) for n, name in enumerate(_DP_MISR_EVENTS)),
        *(Field(f"{name}_INT", 8 + n, access=RC) for n, name in enumerate(_DP_MISR_EVENTS))]),
    *reserved(0x13),
    Register("FCSCR", 0x14, [Field("FCSCNT", 0, 8, RO)], width=16),
    Register("RECR", 0x15, [Field("RXERCNT", 0, 8, RO)], width=16),
    Register("PCSR", 0x16, [Field("PCSR", 0, 16)], width=16),
    Register("RBR", 0x17, [Field("RBR", 0, 16)], width=16),
    Register("LEDCR", 0x18, [Field("LEDCR", 0, 16)], width=16),
    Register("PHYCR", 0x19, [Field("PHYADDR", 0, 5), Field("PHYCR", 5, 11)], width=16),
    Register("10BTSCR", 0x1A, [Field("BTSCR", 0, 16)], width=16),
    Register("CDCTRL1", 0x1B, [Field("CDCTRL1", 0, 16)], width=16),
    *reserved(0x1C),
    Register("EDCR", 0x1D, [Field("EDCR", 0, 16)], width=16),
    *reserved(0x1E, 0x1F))
DP_LINK, DP_ANC, DP_DUP, DP_SPD, DP_ED = 5, 2, 3, 4, 6          # MISR event numbers


class DP83848(Clause22Phy):
    """National/TI DP83848: PHYSTS (0x10) reports link, speed (bit 1 set = 10 Mb/s), duplex
    (bit 2), auto-negotiation complete (bit 4) and a pending interrupt (bit 7); PHYCR (0x19)
    reports the strapped address in bits 4:0 (ST's driver scans for it); MISR latches link,
    AN-complete, speed, duplex and energy-detect events (SNLS266, MICR/MISR)."""

    PART = "DP83848"
    PHY_ID = (0x2000, 0x5C90)
    REGISTERS = CLAUSE22 + DP83848_VENDOR
    DEFAULTS = {
        0: 0x3100,                # AN enable, 100 Mb/s, full duplex (straps: all modes)
        1: 0x7849,                # 100FD/100HD/10FD/10HD, MF preamble suppression, AN ability, ext.
        2: 0x2000, 3: 0x5C90,
        4: 0x01E1, 6: 0x0004,     # ANER: next page able
        0x19: 0x8000,             # PHYCR: MDIX_EN; the address is added when attached
    }

    def _vendor_reset(self) -> None:
        self._last_mode: tuple[int, bool] | None = None

    def _vendor_attached(self, address: int) -> None:
        phycr = self.layout.by_name["PHYCR"].register
        self._configured[0x19] = phycr.PHYADDR.put(self._configured.get(0x19, 0), address)
        self[phycr.PHYADDR] = address

    def _event(self, number: int) -> None:
        self.values["MISR"] |= 1 << (8 + number)

    def _vendor_link_down(self) -> None:
        self._event(DP_LINK)

    def _vendor_an_complete(self) -> None:
        self._event(DP_ANC)

    def _vendor_link_up(self) -> None:
        self._event(DP_LINK)
        mode = self.speed_duplex()
        if self._last_mode is not None:
            if mode[0] != self._last_mode[0]:
                self._event(DP_SPD)
            if mode[1] != self._last_mode[1]:
                self._event(DP_DUP)
        self._last_mode = mode

    def set_link(self, up: bool, speed: int | None = None, duplex: str | bool | None = None) -> None:
        if bool(up) != self._cable:
            self._event(DP_ED)
        super().set_link(up, speed, duplex)

    def _pending(self) -> bool:
        misr = self.values["MISR"]
        return bool((misr >> 8) & misr & 0xFF)

    def _interrupt_asserted(self) -> bool:
        micr = self.values["MICR"]
        return bool(micr & 0x1 and micr & 0x2 and self._pending())

    def _physts(self) -> int:
        value = 0
        if self._link_status_now():
            speed, full = self.speed_duplex()
            value |= 0x1 | (0x2 if speed == 10 else 0) | (0x4 if full else 0) | (0x3 << 9)
        if self._an_complete:
            value |= 0x10
        if self.values["MICR"] & 0x2 and self._pending():
            value |= 0x80
        return value

    def _link_status_now(self) -> bool:
        return self._link                       # PHYSTS is not latched, unlike BMSR


# --- KSZ8081RNA (Micrel/Microchip) -----------------------------------------------------------
_KSZ_EVENTS = ("LINK_UP", "REMOTE_FAULT", "LINK_DOWN", "LP_ACK", "PD_FAULT", "PAGE_RX", "RX_ERR", "JABBER")
KSZ8081_VENDOR = (
    Register("DRC", 0x10, [Field("DRC", 0, 16)], width=16),          # digital reserved control
    Register("AFECR1", 0x11, [Field("AFECR1", 0, 16)], width=16),    # AFE control 1
    *reserved(0x12, 0x13, 0x14),
    Register("RXERCTR", 0x15, [Field("RXERCTR", 0, 16, RO)], width=16),
    Register("OMSO", 0x16, [Field("RMII_OVERRIDE", 1), Field("BCAST_OFF", 9), Field("FACTORY_TEST", 15)],
             width=16),
    Register("OMSS", 0x17, [Field("RMII_STRAP", 1, access=RO), Field("PHYAD_STRAP", 13, 3, RO)], width=16),
    Register("EXCR", 0x18, [Field("EXCR", 0, 16)], width=16),
    *reserved(0x19, 0x1A),
    Register("INTCS", 0x1B, width=16, fields=[
        *(Field(f"{name}_IF", n, access=RC) for n, name in enumerate(_KSZ_EVENTS)),
        *(Field(f"{name}_IE", 8 + n) for n, name in enumerate(_KSZ_EVENTS))]),
    *reserved(0x1C),
    Register("LINKMD", 0x1D, [Field("LINKMD", 0, 16)], width=16),
    Register("PHYCTRL1", 0x1E, width=16, value="_phy_control_1", fields=[
        Field("OPMODE", 0, 3, RO), Field("PHY_ISOLATE", 3, access=RO), Field("ENERGY_DETECT", 4, access=RO),
        Field("MDIX_STATE", 5, access=RO), Field("POLARITY", 7, access=RO), Field("LINK_STATUS", 8, access=RO),
        Field("ENABLE_PAUSE", 9, access=RO)]),
    Register("PHYCTRL2", 0x1F, width=16, fields=[
        Field("DISABLE_SCRAMBLER", 0), Field("SQE_TEST", 1), Field("REMOTE_LOOPBACK", 2),
        Field("DISABLE_TX", 3), Field("LED_MODE", 4, 2), Field("RMII_REF_CLK_SEL", 7),
        Field("JABBER_ENABLE", 8), Field("INT_LEVEL", 9), Field("POWER_SAVING", 10),
        Field("FORCE_LINK", 11), Field("PAIR_SWAP_DISABLE", 13), Field("MDIX_SELECT", 14),
        Field("HP_MDIX", 15)]))
KSZ_LINK_UP, KSZ_LINK_DOWN, KSZ_LP_ACK, KSZ_PAGE_RX = 0, 2, 3, 5
# PHY Control 1 operation mode indication: (Mb/s, full duplex) -> code
_KSZ_OPMODE = {(10, False): 0b001, (100, False): 0b010, (10, True): 0b101, (100, True): 0b110}


class KSZ8081RNA(Clause22Phy):
    """Micrel/Microchip KSZ8081RNA: PHY Control 1 (0x1E) reports the operation mode (bits 2:0,
    000 while negotiating) and link status (bit 8); OMSS (0x17) the strapped PHYAD[2:0] in bits
    15:13; INTCS (0x1B) latches link up/down, link-partner acknowledge and page received, and
    enables them in bits 15:8 (DS00002199). Strapped for RMII (OMSS bit 1)."""

    PART = "KSZ8081RNA"
    PHY_ID = (0x0022, 0x1560)
    REGISTERS = CLAUSE22 + KSZ8081_VENDOR
    DEFAULTS = {
        0: 0x3100, 1: 0x7849, 2: 0x0022, 3: 0x1561, 4: 0x01E1,
        0x17: 0x0002,             # OMSS: RMII strap; PHYAD is added when attached
        0x1F: 0x8100,             # PHY Control 2: HP Auto-MDIX, jabber counter enabled
    }

    def _vendor_attached(self, address: int) -> None:
        if address > 7:
            raise PlatformError(f"{self.name}: a KSZ8081RNA straps PHYAD[2:0]: register it at MDIO "
                                f"address 0..7 ('@ ethernet <0-7>'), not {address}")
        omss = self.layout.by_name["OMSS"].register
        self._configured[0x17] = omss.PHYAD_STRAP.put(self._configured.get(0x17, 0), address)
        self[omss.PHYAD_STRAP] = address

    def _event(self, number: int) -> None:
        self.values["INTCS"] |= 1 << number

    def _vendor_link_down(self) -> None:
        self._event(KSZ_LINK_DOWN)

    def _vendor_an_complete(self) -> None:
        self._event(KSZ_PAGE_RX)
        self._event(KSZ_LP_ACK)

    def _vendor_link_up(self) -> None:
        self._event(KSZ_LINK_UP)

    def _interrupt_asserted(self) -> bool:
        intcs = self.values["INTCS"]
        return bool(intcs & (intcs >> 8) & 0xFF)

    def interrupt_active_high(self) -> bool:
        return bool(self.values["PHYCTRL2"] >> 9 & 1)

    def mdio_write(self, register: int, value: int) -> None:
        before = self.interrupt_active_high()
        super().mdio_write(register, value)
        if self.interrupt_active_high() != before:   # polarity changed: the pin follows
            self.drive_irq(self.output_level(""))

    def _phy_control_1(self) -> int:
        value = 0x10 if self._cable and not self[BMCR.POWER_DOWN] else 0
        if self._link:
            value |= _KSZ_OPMODE[self.speed_duplex()] | 0x100
        return value


# --- the catalogue ---------------------------------------------------------------------------
CATALOGUE: dict[str, type[Clause22Phy]] = {p.PART: p for p in (LAN8742A, LAN8720A, DP83848, KSZ8081RNA)}
DEFAULT_PART = LAN8742A


def part_for(params: dict[str, Any]) -> type[Clause22Phy]:
    """The catalogue part whose PHYID1/PHYID2 (revision nibble aside) the .repl's Id1/Id2 name;
    the LAN8742A when it names none. A ValueError lists the catalogue otherwise."""
    default_id1, default_id2 = DEFAULT_PART.DEFAULTS[2], DEFAULT_PART.DEFAULTS[3]
    id1, id2 = params.get("Id1", default_id1), params.get("Id2", default_id2)
    if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 0xFFFF for v in (id1, id2)):
        return DEFAULT_PART                       # its constructor names the bad value
    for part in CATALOGUE.values():
        if (id1, id2 & 0xFFF0) == part.PHY_ID:
            return part
    known = "; ".join(f"{name}: Id1 0x{p.PHY_ID[0]:04X}, Id2 0x{p.PHY_ID[1]:04X}-0x{p.PHY_ID[1] | 0xF:04X}"
                      for name, p in CATALOGUE.items())
    raise ValueError(f"no PHY model has the identifier Id1 0x{id1:04X}, Id2 0x{id2:04X}; the built-in "
                     f"machine models {known} (leave Id1/Id2 out for a LAN8742A)")


@model("Network.EthernetPhysicalLayer")
class EthernetPhysicalLayer(Clause22Phy):
    """Renode's PHY type: built as the catalogue part its `Id1`/`Id2` name, a LAN8742A when it
    names none (the bus asks `model_for`; building the class directly does the same)."""

    @classmethod
    def model_for(cls, params: dict[str, Any], address: int | None) -> type[Peripheral]:
        return part_for(params)

    def __new__(cls, services, name, params=None, irqs=None, **kwargs):
        part = part_for(params or {})
        phy = object.__new__(part)
        part.__init__(phy, services, name, params, irqs, **kwargs)
        return phy


__all__ = ["CATALOGUE", "DEFAULT_PART", "EthernetPhysicalLayer", "LAN8742A", "LAN8720A", "DP83848",
           "KSZ8081RNA", "part_for"]
