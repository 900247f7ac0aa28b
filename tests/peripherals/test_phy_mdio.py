"""PHY over MDIO through the MAC: ST's address scan, reset and auto-negotiation, latching link
status, absent addresses, and the software reset that needs the PHY's reference clock."""

from __future__ import annotations

from ethkit import Driver

BMCR, BMSR, ID1, ID2, ANAR, SMR, PHYSCSR = 0, 1, 2, 3, 4, 18, 31


def test_st_driver_finds_the_phy_by_smr_and_absent_addresses_read_ffff(machine):
    drv = Driver(machine, phy_address=1)
    assert drv.mdio_read(0, ID1) == 0xFFFF, "no PHY at address 0: MDIO pull-up"
    found = next(a for a in range(32) if drv.mdio_read(a, SMR) & 0x1F == a)
    assert found == 1
    assert (drv.mdio_read(1, ID1), drv.mdio_read(1, ID2)) == (0x0007, 0xC131)


def test_mb_stays_busy_for_the_transfer_and_writes_while_busy_are_ignored(machine):
    drv = Driver(machine)
    drv.r["MACMIIAR"] = (0 << 11) | (ID1 << 6) | (4 << 2) | 1
    assert drv.r["MACMIIAR"] & 1, "MB must read 1 right after the write (ST's HAL polls it)"
    drv.r["MACMIIAR"] = (0 << 11) | (ID2 << 6) | (4 << 2) | 1
    machine.run_until(lambda: not drv.r["MACMIIAR"] & 1)
    assert drv.r["MACMIIDR"] == 0x0007
    assert drv.mac.counters["mdio_writes_while_busy"] == 1


def test_soft_reset_and_restart_autonegotiation_self_clear(machine):
    drv = Driver(machine)
    machine.run_until(lambda: drv.mdio_read(0, BMSR) & 0x24 == 0x24, limit=1_000_000)
    drv.mdio_write(0, ANAR, 0x0061)                      # advertise 10 Mb/s only
    assert drv.mdio_read(0, ANAR) == 0x0061, "PHY writes are acted upon (renode issue 237)"
    drv.mdio_write(0, BMCR, 0x8000)
    assert drv.phy.register(BMCR) & 0x8000, "reset in progress once the write frame ended"
    machine.run_until(lambda: not drv.mdio_read(0, BMCR) & 0x8000, limit=100_000)
    assert drv.mdio_read(0, ANAR) == 0x01E1, "reset restores the defaults"
    assert not drv.mdio_read(0, BMSR) & 0x4, "link drops across a reset (latched low)"
    machine.run_until(lambda: drv.mdio_read(0, BMSR) & 0x24 == 0x24, limit=1_000_000)
    assert drv.mdio_read(0, PHYSCSR) & 0x101C == 0x1018  # autodone, 100BASE-TX full duplex
    drv.mdio_write(0, ANAR, 0x0041)                      # 10BASE-T full duplex only
    drv.mdio_write(0, BMCR, 0x1200)                      # AN enable + restart
    assert drv.mdio_read(0, BMCR) & 0x0200
    assert not drv.mdio_read(0, BMSR) & 0x20, "AN complete clears while renegotiating"
    machine.run_until(lambda: not drv.mdio_read(0, BMCR) & 0x0200, limit=1_000_000)
    assert drv.mdio_read(0, BMSR) & 0x24 == 0x24
    assert drv.mdio_read(0, PHYSCSR) & 0x101C == 0x1014  # 10BASE-T full duplex


def test_link_status_is_latching_low(machine):
    drv = Driver(machine)
    machine.run_until(lambda: drv.mdio_read(0, BMSR) & 0x4, limit=1_000_000)
    drv.phy.set_link(False)
    drv.phy.set_link(True)
    machine.advance(1_000_000)                           # link long back up ...
    assert not drv.mdio_read(0, BMSR) & 0x4, "... but the first read reports the drop"
    assert drv.mdio_read(0, BMSR) & 0x4


def test_forced_mode_without_autonegotiation(machine):
    drv = Driver(machine)
    drv.mdio_write(0, BMCR, 0x0100)                      # AN off, 10 Mb/s, full duplex
    machine.advance(machine.frequency // 3)              # the 330 ms link integrity wait
    assert not drv.mdio_read(0, BMSR) & 0x4
    machine.run_until(lambda: drv.mdio_read(0, BMSR) & 0x4, limit=machine.frequency // 10)
    assert not drv.mdio_read(0, BMSR) & 0x20
    assert drv.mdio_read(0, PHYSCSR) & 0x101C == 0x0014


def test_hal_init_waits_on_dmabmr_sr_and_it_clears_with_a_phy(machine):
    drv = Driver(machine)
    drv.r["MACMIIAR"] = 4 << 2                           # MDC range, set before the reset
    assert drv.software_reset()
    assert drv.r["DMABMR"] == 0x0000_2100
    assert drv.r["MACMIIAR"] == 0, "the software reset clears the MDIO clock range too"
    assert drv.r["MACA0HR"] == 0x8000_FFFF and drv.mac.mac_address is None
    drv.init()
    assert drv.mac.mac_address == bytes.fromhex("020000000f07")


def test_sr_sticks_without_a_phy(machine):
    drv = Driver(machine, phy=False)
    assert drv.r["DMABMR"] & 1, "SR reads 1 from power-on until the reset completes"
    assert not drv.software_reset(limit=1_000_000)
    assert drv.r["DMABMR"] & 1
    assert any("reference clock" in w for w in drv.mac.warnings)


def test_sr_sticks_when_the_reference_clock_is_forced_off(machine):
    drv = Driver(machine)
    drv.mac.reference_clock = False                      # fault mode: REF_CLK missing
    assert not drv.software_reset(limit=100_000)


def test_repl_properties_set_registers_and_bad_ones_are_named(machine):
    import pytest
    from sim.machine.peripherals.phy_catalogue import EthernetPhysicalLayer
    phy = EthernetPhysicalLayer(machine, "phy", {"Id2": 0xC130, "VendorSpecific2": 0x00E0}, {})
    assert phy.register(3) == 0xC130
    with pytest.raises(ValueError, match="unknown property 'Id3'.*BasicControl"):
        EthernetPhysicalLayer(machine, "phy", {"Id3": 1}, {})
    with pytest.raises(ValueError, match="Id1 must be a 16-bit"):
        EthernetPhysicalLayer(machine, "phy", {"Id1": 0x12345}, {})



def test_only_a_phy_may_sit_on_the_mdio_bus_and_each_address_once(tmp_path):
    """The platform file names what is wrong: a non-PHY registered on the MAC, two PHYs at one
    address, an address outside 0..31 - a PlatformError, which the CLI prints as one line."""
    import pytest
    from sim.machine import Machine
    from sim.platform import DEFAULT_REPL, PlatformError
    text = DEFAULT_REPL.read_text()
    cases = {
        "rng: Miscellaneous.STM32F4_RNG @ ethernet 1": "rng.*is not a PHY",
        "phy2: Network.EthernetPhysicalLayer @ ethernet 0": "two PHYs at MDIO address 0",
        "phy2: Network.EthernetPhysicalLayer @ ethernet 32": "outside 0..31",
    }
    for entry, message in cases.items():
        if entry.startswith("rng:"):
            repl_text = text.replace("rng: Miscellaneous.STM32F4_RNG @ sysbus 0x50060800", entry)
        else:
            repl_text = text + "\n" + entry + "\n"
        repl = tmp_path / "platform.repl"
        repl.write_text(repl_text)
        with pytest.raises(PlatformError, match=message):
            Machine(str(repl))
