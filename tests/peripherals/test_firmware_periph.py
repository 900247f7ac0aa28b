"""The peripheral models under real firmware on the built-in machine: purpose-built test
firmwares (tests/firmware_src/periph_*.c) drive USART1, the RNG and the Ethernet MAC/PHY the way
the reference firmware and ST's HAL do; frames are checked with dpkt, independently of the model."""

from __future__ import annotations

import re
from pathlib import Path

import dpkt
import pytest

from ethkit import PEER, dpkt_checksums, tcp_frame, udp_frame
from fwresult import run_to_finish

from sim.machine import Machine
from sim.platform import DEFAULT_REPL

ROOT = Path(__file__).resolve().parents[2]
REPL = DEFAULT_REPL


def boot(elf: Path, seed: int = 1, repl: Path = REPL) -> Machine:
    m = Machine(str(repl), seed=seed)
    m.load_elf(str(elf))
    return m


def fast_link_platform(tmp_path: Path) -> Path:
    """The default platform with a 1 ms auto-negotiation instead of the LAN8742A's 1.8 s: the
    Ethernet tests here are about the MAC, and the test firmware polls MDIO without sleeping."""
    text = REPL.read_text().replace("phy: Network.EthernetPhysicalLayer @ ethernet 0\n",
                                    "phy: Network.EthernetPhysicalLayer @ ethernet 0\n"
                                    "    autoNegotiationTime: 0.001\n")
    assert "autoNegotiationTime" in text
    path = tmp_path / "fast_link.repl"
    path.write_text(text)
    return path


# --- USART --------------------------------------------------------------------------------------
def test_usart_interrupt_driven_tx_rx_and_overrun(build_test_firmware):
    m = boot(build_test_firmware("periph_usart"))
    port = m.uart("usart1")
    m.hook("uart_rx_point", lambda ctx: port.write(b"ping\n"))
    m.hook("uart_overrun_point", lambda ctx: port.write(b"XYZ"))
    run, result = run_to_finish(m, max_cycles=50_000_000)
    assert result.passed, result.describe()
    assert port.transcript == b"hello from usart1\r\n"
    v = result.values
    assert v[0] == 19 and v[1] == 20                    # 19 bytes, one more TXE irq to stop
    assert v[2] == 5 and v[3].to_bytes(4, "little") == b"ping" and v[4] == 5
    assert v[5] & 0x28 == 0x28                          # ORE and RXNE after three unread bytes
    assert v[6] == ord("X"), "RDR keeps the first byte on overrun"
    assert not v[7] & 0x08, "SR then DR cleared ORE"
    # 19 characters of 10 bits at 84 MHz / 729 baud take 19 * 14580 cycles of virtual time
    assert m.stats["idle_cycles"] > 19 * 14580 * 0.9, "the firmware slept in WFI while the line sent"


# --- RNG ----------------------------------------------------------------------------------------
def _rng_values(elf: Path, seed: int) -> tuple[int, ...]:
    m = boot(elf, seed)
    run, result = run_to_finish(m, max_cycles=5_000_000)
    assert result.passed, result.describe()
    assert result.values[0] & 1 == 0, "DRDY was already set right after RNGEN"
    return result.values[8:24]


def test_rng_same_seed_same_values_other_seed_other_values(build_test_firmware):
    elf = build_test_firmware("periph_rng")
    first, again, other = _rng_values(elf, 1), _rng_values(elf, 1), _rng_values(elf, 2)
    assert first == again
    assert first != other
    assert len(set(first)) == 16


# --- Ethernet -------------------------------------------------------------------------------------
def _rx_frames() -> list[bytes]:
    """What the Python side injects: 7 frames the station accepts, one it must filter out."""
    other = bytes.fromhex("020000000099")
    arp = b"\xff" * 6 + PEER + b"\x08\x06" + bytes.fromhex("0001080006040001") + PEER + \
        bytes([192, 0, 2, 1]) + bytes(6) + bytes([192, 0, 2, 10])
    frames = [_valid(tcp_frame(b"small")), arp, _valid(udp_frame(b"x", dst=other)),
              _valid(tcp_frame(bytes(range(256)) * 5 + b"tail")),          # spans 3 RX buffers
              *(_valid(udp_frame(bytes([n]) * 80)) for n in range(4))]     # exhaust the ring
    return frames


def _valid(frame: bytes) -> bytes:
    eth = dpkt.ethernet.Ethernet(frame)
    eth.data.sum = 0
    eth.data.data.sum = 0
    return bytes(eth)


@pytest.mark.parametrize("mode", ["chained", "ring"])
def test_ethernet_hal_style_bring_up_tx_rx_and_descriptor_exhaustion(build_test_firmware, mode, tmp_path):
    elf = build_test_firmware("periph_eth", {"RING": 1}, "ring") if mode == "ring" \
        else build_test_firmware("periph_eth")
    m = boot(elf, repl=fast_link_platform(tmp_path))
    sent = []
    m.ethernet.on_transmit(sent.append)
    injected = _rx_frames()
    m.hook("eth_rx_point", lambda ctx: [m.ethernet.receive(f) for f in injected])
    run, result = run_to_finish(m, max_cycles=100_000_000)
    assert result.passed, result.describe()
    v = result.values
    assert v[0] == 1, "DMABMR.SR cleared"
    assert v[2] == 0 and v[3] == 0x0007_C131            # PHY found by SMR at address 0, its ID
    assert v[4] < 10000, "BMCR.15 self-cleared before the driver's timeout"
    assert v[5] > 0, "auto-negotiation took some MDIO polls"
    assert v[6] & 0x101C == 0x1018                      # PHYSCSR: autodone, 100BASE-TX FD
    assert v[7] == 6 and v[8] == 6                      # 6 TS interrupts, MMC TX good frames
    # TX: UDP padded to 60, ICMP, TCP over two 1024-byte buffers - checksums by the MAC
    udp, icmp, tcp = sent[:3]
    assert len(udp.data) == 60 and len(tcp.data) == 14 + 20 + 20 + 1200
    assert [s.length for s in tcp.segments] == [1024, 1254 - 1024]
    for frame in (udp, icmp, tcp):
        assert frame.checksum_insertion == 3
        assert dpkt_checksums(frame.data) == (True, True)
    bypass, header_only, pseudo_given = sent[3:6]
    assert [f.checksum_insertion for f in sent[3:6]] == [0, 1, 2]
    assert bypass.data[24:26] == b"\0\0" and bypass.data[50:52] == b"\0\0"
    assert dpkt_checksums(header_only.data) == (True, False)
    assert dpkt_checksums(pseudo_given.data) == (True, True)
    # RX: 7 accepted (the frame for another station filtered), lengths without FCS
    accepted = [f for f in injected if f[:6] != bytes.fromhex("020000000099")]
    assert v[9] == 7
    assert list(v[16:23]) == [max(len(f), 60) for f in accepted]
    assert v[10] >= 1, "the ring ran out: RBUS seen and DMARPDR written"
    assert v[12] == 0, "no frame missed (DMAMFBOCR)"
    assert v[13] == 6                                   # MMC good unicast: all but the ARP
    # the echoes: MACs swapped, checksums recomputed by the MAC over the firmware's buffers
    echoes = sent[6:]
    assert len(echoes) == 7
    for original, echo in zip(accepted, echoes):
        padded = original + bytes(max(0, 60 - len(original)))
        assert echo.data[:6] == padded[6:12] and echo.data[6:12] == padded[:6]
        assert echo.data[12:] == padded[12:]
    assert m.ethernet.counters["rx_filtered"] == 1


def test_ethernet_software_reset_sticks_without_a_phy(build_test_firmware, tmp_path):
    """No PHY on MDIO means no RMII reference clock: DMABMR.SR never clears (ST's HAL:
    stm32f4xx_hal_eth.c, "the SWR is not performed if the ETH_RX_CLK or the ETH_TX_CLK are not
    available"), and ST's SMR scan (stm32-lan8742 lan8742.c) reads 0xFFFF everywhere - MDIO is
    pulled up, IEEE 802.3 §22.2.2 - so it 'finds' address 31."""
    text = REPL.read_text()
    no_phy = re.sub(r"\nphy: Network\.EthernetPhysicalLayer @ ethernet 0\n(    .*\n|\s*//.*\n)*", "\n", text)
    assert "EthernetPhysicalLayer" not in no_phy
    repl = tmp_path / "no_phy.repl"
    repl.write_text(no_phy)
    m = boot(build_test_firmware("periph_eth"), repl=repl)
    run, result = run_to_finish(m, max_cycles=50_000_000)
    assert result.passed, result.describe()
    assert result.values[0] == 0 and result.values[1] == 20000, "SR polled to the timeout"
    assert result.values[2] == 31 and result.values[3] == 0xFFFF_FFFF
    assert any("reference clock" in w for w in m.ethernet.warnings)


def test_snapshot_of_a_booted_mac_restores_its_dma_and_phy_state(build_test_firmware, tmp_path):
    """Boot once to the RX point, snapshot, then run the RX phase twice from the snapshot: the
    MAC/DMA/PHY state (current descriptors, MMC counters, PHY link) comes back exactly, and a
    listener attached after the snapshot stays attached (host wiring is not machine state)."""
    m = boot(build_test_firmware("periph_eth"), repl=fast_link_platform(tmp_path))
    point = m.symbol_address("eth_rx_point")
    m.add_breakpoint(point)
    run = m.run(50_000_000)
    while run.reason.name == "REQUESTED":                # the MAC stops the slice per frame
        run = m.run(50_000_000)
    assert run.address == point
    m.remove_breakpoint(point)
    snap = m.snapshot()
    sent: list = []
    m.ethernet.on_transmit(sent.append)
    outcomes = []
    for _ in range(2):
        m.restore(snap)
        sent.clear()
        for frame in _rx_frames():
            m.ethernet.receive(frame)
        _, result = run_to_finish(m, max_cycles=50_000_000)
        assert result.passed, result.describe()
        outcomes.append(([f.data for f in sent], result.values, m.ethernet.counters["frames_rx"]))
    assert outcomes[0] == outcomes[1]
    assert len(outcomes[0][0]) == 7 and outcomes[0][2] == 7
    mac = m.ethernet                     # the MAC's rooms point at the live MAC and PHY, not copies
    assert mac.tx.mac is mac and mac.rx.mac is mac and mac.smi.mac is mac
    assert mac.smi.phys[0] is m.peripherals["phy"]
