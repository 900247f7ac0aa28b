"""The PHY catalogue under its vendors' drivers (tests/firmware_src/phy_driver.c): each part is
found, brought up and read back through its own status registers the way ST's stm32-lan8742 /
stm32-dp83848 drivers (and Zephyr's KSZ8081 driver) do. The identifiers are the vendors' (the
values Linux's drivers match: smsc.c, dp83848.c, micrel.c); the modes are IEEE 802.3 Annex 28B's
priority resolution of what both ends advertise."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fwresult import run_to_finish

from sim.machine import Machine
from sim.machine.peripherals.phy import LinkError
from sim.platform import DEFAULT_REPL, PlatformError

PHY_ENTRY = re.compile(r"\nphy: Network\.EthernetPhysicalLayer @ ethernet 0\n(    .*\n|\s*//.*\n)*")
MODES = {0: (10, False), 1: (10, True), 2: (100, False), 3: (100, True)}
MS = 168_000

# part: (PART define, PHYID1, PHYID2, MDIO address on the test board)
PARTS = {
    "LAN8742A": (1, 0x0007, 0xC131, 0),
    "LAN8720A": (2, 0x0007, 0xC0F1, 1),
    "DP83848": (3, 0x2000, 0x5C90, 1),          # the STM324xG-EVAL's PHY at its address
    "KSZ8081RNA": (4, 0x0022, 0x1561, 2),
}


def platform_with_phy(tmp_path: Path, id1: int, id2: int, address: int, extra: str = "") -> Path:
    entry = (f"\nphy: Network.EthernetPhysicalLayer @ ethernet {address}\n"
             f"    Id1: 0x{id1:04X}\n    Id2: 0x{id2:04X}\n{extra}")
    text, n = PHY_ENTRY.subn(lambda _: entry, DEFAULT_REPL.read_text())
    assert n == 1
    path = tmp_path / f"phy_{id1:04x}{id2:04x}.repl"
    path.write_text(text)
    return path


def bring_up(build_test_firmware, tmp_path, part, partner=None):
    define, id1, id2, address = PARTS[part]
    elf = build_test_firmware("phy_driver", {"PART": define}, part.lower())
    m = Machine(str(platform_with_phy(tmp_path, id1, id2, address)), seed=1)
    m.load_elf(str(elf))
    phy = m.peripherals["phy"]
    assert type(phy).__name__ == part
    if partner is not None:
        phy.set_link(True, *partner)
    run, result = run_to_finish(m, max_cycles=4000 * MS)
    assert result.passed, result.describe()
    return m, phy, result.values


@pytest.mark.parametrize("part", PARTS)
def test_the_vendor_driver_finds_the_part_and_reads_the_link_from_its_status_registers(
        build_test_firmware, tmp_path, part):
    define, id1, id2, address = PARTS[part]
    m, phy, v = bring_up(build_test_firmware, tmp_path, part)
    assert v[0] == address, "found at its MDIO address by the driver's own scan"
    assert v[1] == id1 << 16 | id2
    assert MODES[v[2]] == (100, True), "100BASE-TX full duplex: the best both ends advertise"
    assert 1800 <= v[5] <= 1800 + 40, "the link is up once auto-negotiation's 1.8 s have passed"


@pytest.mark.parametrize("part", PARTS)
def test_a_partner_that_only_does_10_half_duplex_is_read_as_such(build_test_firmware, tmp_path, part):
    m, phy, v = bring_up(build_test_firmware, tmp_path, part, partner=(10, "half"))
    assert MODES[v[2]] == (10, False)
    assert phy.speed_duplex() == (10, False)
    assert phy.register(5) & 0x01E0 == 0x0020, "ANLPAR: the partner advertised 10BASE-T half only"


def test_unknown_identifiers_and_bad_link_states_are_named(tmp_path):
    with pytest.raises(PlatformError, match="no PHY model has the identifier Id1 0x1234.*DP83848: Id1 0x2000"):
        Machine(str(platform_with_phy(tmp_path, 0x1234, 0x5678, 0)))
    with pytest.raises(PlatformError, match="KSZ8081RNA straps PHYAD.*0..7"):
        Machine(str(platform_with_phy(tmp_path, 0x0022, 0x1561, 9)))
    m = Machine(str(platform_with_phy(tmp_path, 0x2000, 0x5C90, 1)))
    with pytest.raises(LinkError, match="10 or 100"):
        m.peripherals["phy"].set_link(True, 1000)
    with pytest.raises(LinkError, match="'full' or 'half'"):
        m.peripherals["phy"].set_link(True, 100, "both")


# --- the interrupt pin ------------------------------------------------------------------------
# What each part latches for the events the firmware enabled (its flag register, read-to-clear)
LINK_FLAGS = {
    "LAN8742A": {"up": 1 << 6, "down": 1 << 4},       # ISFR: AN complete (INT6), link down (INT4)
    "LAN8720A": {"up": 1 << 6, "down": 1 << 4},
    "DP83848": {"up": 1 << 13, "down": 1 << 13},      # MISR: LINK_INT, either way
    "KSZ8081RNA": {"up": 1 << 0, "down": 1 << 2},     # INTCS: link up, link down
}


@pytest.mark.parametrize("part", PARTS)
def test_link_down_and_up_reach_firmware_that_waits_for_the_phy_interrupt(build_test_firmware, tmp_path, part):
    """nINT -> PB14 -> EXTI14 (falling edge) -> IRQ 40, as on the STM324xG-EVAL: the firmware
    sleeps in WFI until the interrupt, reads the PHY's flags and the link, and reports. The
    test unplugs the cable 5 ms after the first report and plugs it back 10 ms after the second."""
    define, id1, id2, address = PARTS[part]
    elf = build_test_firmware("phy_irq", {"PART": define, "PHY_ADDR": address}, part.lower())
    wiring = "    -> gpioPortB@14\n\ngpioPortB:\n    14 -> exti@14\n"
    m = Machine(str(platform_with_phy(tmp_path, id1, id2, address, wiring)), seed=1)
    m.load_elf(str(elf))
    phy = m.peripherals["phy"]
    events, cable = [], {}

    def on_event(ctx):
        index, up, flags = (m.read_register(r) for r in ("r0", "r1", "r2"))
        events.append((index, up, flags, m.cycles))
        if index == 0:
            cable["unplugged"] = m.cycles + 5 * MS
            m.schedule(5 * MS, lambda: phy.set_link(False))
        elif index == 1:
            cable["plugged"] = m.cycles + 10 * MS
            m.schedule(10 * MS, lambda: phy.set_link(True))

    m.hook("link_event", on_event)
    run, result = run_to_finish(m, max_cycles=6000 * MS)
    assert result.passed, result.describe()
    v = result.values
    assert v[0] == 1, "PB14 idles high (the interrupt is active low)"
    assert [(i, up) for i, up, _, _ in events] == [(0, 1), (1, 0), (2, 1)]
    flags = LINK_FLAGS[part]
    assert [f & mask for (_, _, f, _), mask in zip(events, (flags["up"], flags["down"], flags["up"]))] == \
        [flags["up"], flags["down"], flags["up"]]
    assert (v[3], v[6], v[9]) == (1, 1, 1), "the pin is released once the flags are read"
    assert v[10] == 3, "one interrupt per link change"
    down_at, up_at = events[1][3], events[2][3]
    assert 0 <= down_at - cable["unplugged"] < 2 * MS, "the drop is reported at once"
    assert 1800 * MS <= up_at - cable["plugged"] < 1810 * MS, "auto-negotiation again, then the report"


def test_set_link_through_the_mac_drops_and_renegotiates_the_link():
    """What a scenario's `Set Link` does on the built-in machine, with the reference firmware
    booted: the MAC hands out its PHY; unplugging drops the link at once, plugging it into a
    100 Mb/s half-duplex partner brings it back after auto-negotiation, at that mode."""
    elf = Path(__file__).resolve().parents[2] / "build" / "firmware" / "fixed.elf"
    if not elf.exists():
        pytest.fail(f"{elf} is not built: run scripts/setup (it builds the firmware)")
    m = Machine(str(DEFAULT_REPL), seed=1)
    m.load_elf(str(elf))
    while b"ready" not in m.uart("usart1").transcript:
        assert m.cycles < 3000 * MS, "the reference firmware did not boot"
        m.run(10 * MS)
    phy = m.ethernet.phy()
    assert phy is m.ethernet.phy(0) is m.peripherals["phy"]
    assert phy.link_up and phy.speed_duplex() == (100, True)
    phy.set_link(False)
    assert not phy.link_up and not m.ethernet.smi.link_up()
    phy.set_link(True, 100, "half")
    m.run(1700 * MS)
    assert not phy.link_up, "still negotiating"
    m.run(200 * MS)
    assert phy.link_up and phy.speed_duplex() == (100, False)
