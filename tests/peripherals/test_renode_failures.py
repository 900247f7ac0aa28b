"""Renode's SynopsysEthernetMAC/EthernetPhysicalLayer fail real drivers in known ways; each test
here replays what the driver in the Renode issue it names does and shows this model behaves like the
silicon."""

from __future__ import annotations

from ethkit import (NIS, NISE, OMR_TSF, OMR_RSF, RIE, RS, TIE, TS, Driver, PEER,
                    STATION, dpkt_checksums, tcp_frame)
from periphkit import FakeMachine

SRAM = 0x2000_0000


def test_renode_237_phy_and_mac_writes_are_handled(machine):
    """renode#237 (Zephyr on STM32F407): 'ethernet.phy: Unhandled write to offset 0x0, value
    0x8000 / 0x1000' and 'ethernet: Unhandled write to offset 0x8 / 0xC'. Here the PHY resets
    and renegotiates, and the hash-table registers hold and filter."""
    drv = Driver(machine)
    drv.mdio_write(0, 0, 0x8000)
    assert drv.phy.counters["resets"] == 1
    machine.run_until(lambda: not drv.mdio_read(0, 0) & 0x8000, limit=100_000)
    drv.mdio_write(0, 0, 0x1000)
    machine.run_until(lambda: drv.mdio_read(0, 1) & 0x24 == 0x24, limit=1_000_000)
    drv.init()
    drv.r["MACHTHR"] = 0x8000_0000
    drv.r["MACHTLR"] = 0x0000_0001
    assert (drv.r["MACHTHR"], drv.r["MACHTLR"]) == (0x8000_0000, 0x0000_0001)


def test_renode_274_hardware_checksum_generation(machine):
    """renode#274: with CHECKSUM_BY_HARDWARE every TCP checksum on the wire was 0 and the
    handshake failed. Here CIC = 11 fills in valid IPv4 and TCP checksums."""
    drv = Driver(machine)
    drv.init()
    drv.setup_tx(SRAM + 0x100, 4, SRAM + 0x1000, 1524)
    drv.start()
    syn = tcp_frame(b"", tcp_sum=0, ip_sum=0)            # lwIP with CHECKSUM_GEN_* = 0
    drv.send(syn, cic=3)
    assert dpkt_checksums(drv.sent[0].data) == (True, True)
    assert drv.sent[0].data[50:52] != b"\0\0"


def test_renode_922_dmabmr_sr_clears_for_st_hal(machine):
    """renode#922: HAL_ETH_Init spins forever on 'while (DMABMR & SR)'. Here it clears a few
    cycles after being set, because the PHY provides the reference clock."""
    drv = Driver(machine)
    drv.r["DMABMR"] = drv.r["DMABMR"] | 1
    polls = 0
    while drv.r["DMABMR"] & 1:
        polls += 1
        machine.advance(4)
        assert polls < 1000, "HAL_ETH_Init would time out (ETH_SWRESET_TIMEOUT)"
    assert polls > 0, "SR must read 1 at least once after being set"


def test_renode_626_complete_emac_two_stations_exchange_traffic():
    """renode#626: F2/H7 EMAC models too incomplete for a client-server echo over Ethernet. Two
    MACs wired back to back exchange 40 frames each way through 3-descriptor rings (ring mode,
    enhanced descriptors, interrupt-driven: RS/TS with NIS, descriptors returned and DMARPDR
    written), with nothing lost."""
    machine = FakeMachine()                              # one clock and one RAM for both
    a = Driver(machine)
    b = Driver(machine, irq=62)
    for drv, base in ((a, SRAM), (b, SRAM + 0x8000)):
        drv.init(ier=NISE | RIE | TIE, omr=OMR_TSF | OMR_RSF)
        drv.setup_tx(base + 0x100, 3, base + 0x1000, 1524, chained=False)
        drv.setup_rx(base + 0x200, 3, base + 0x4000, 1524, chained=False)
        drv.start()
    b.r["MACA0LR"] = int.from_bytes(PEER[:4], "little")
    b.r["MACA0HR"] = int.from_bytes(PEER[4:], "little")
    a.mac.on_transmit(lambda f: b.mac.receive(f.data))
    b.mac.on_transmit(lambda f: a.mac.receive(f.data))
    got_a, got_b = [], []
    for n in range(40):
        a.send(tcp_frame(bytes([n]) * 300, dst=PEER, src=STATION), cic=3)
        b.send(tcp_frame(bytes([n]) * 200, dst=STATION, src=PEER), cic=3)
        for drv, got in ((a, got_a), (b, got_b)):
            assert machine.irq(drv.irq)
            sr = drv.r["DMASR"]
            assert sr & (RS | TS | NIS) == RS | TS | NIS
            drv.clear_status(RS | TS | NIS)
            got += [data[:-4] for data, _ in drv.receive_all()]
            drv.resume_rx()
    assert len(got_a) == len(got_b) == 40
    assert all(dpkt_checksums(f) == (True, True) for f in got_a + got_b)
    assert [f[60] for f in got_b] == list(range(40))
    assert a.mac.counters["rx_dropped"] == b.mac.counters["rx_dropped"] == 0
