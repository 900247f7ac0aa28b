"""STM32F407 Ethernet MAC with its DMA and MMC (Renode type `Network.SynopsysEthernetMAC`): the
register callbacks, resets, interrupts and MMC counters, and the port the network layer uses.
The work behind the registers is in its own rooms: mdio.py (station management and the PHY
interface), tx.py (transmit DMA), rx.py (address filter, RX FIFO, receive DMA).

Where Renode's model fails real drivers (renode issues 237, 274, 922, 626) this one follows the
silicon:

Software reset: DMABMR.SR (1 at power-on) clears a few cycles after it is set, and only while the
RMII reference clock runs, i.e. while a PHY is attached (`attach_phy`); without one it sticks at
1, as ST's HAL warns ("the SWR is not performed if the ETH_RX_CLK or the ETH_TX_CLK are not
available", stm32f4xx_hal_eth.c). Completion resets every MAC/MMC/DMA register.

Interrupts: DMASR status bits are write-1-to-clear; NIS/AIS are sticky summaries set only by
DMAIER-enabled sources; the ETH line = (NIS & NISE) | (AIS & AISE) | unmasked MMC interrupts
(MMC counters at half/full range set MMCRIR/MMCTIR; the masks reset to 0 = unmasked, so a driver
that never masks them gets the interrupt storm it gets on silicon). DMAMFBOCR clears on read.

Bus errors: a descriptor or buffer the DMA cannot reach (`DmaError`, e.g. CCM) stops that DMA
engine with FBES and EBS set, until the next software reset.

Not modelled: PTP timestamping (registers are storage; TTSS is never set), PMT wake-up, flow
control/pause frames, the write-settle erratum (writes are never dropped), MACDBGR (reads 0),
half-duplex collisions, wire timing (a frame is handed over at the instant the DMA finished
reading it; the link model adds serialization delay).
"""

from __future__ import annotations

from typing import Callable

from sim.errors import BackendError
from sim.frame_types import TxFrame
from sim.machine.peripherals.base import Peripheral, model
from sim.machine.peripherals.ethernet.descriptors import DescriptorBusFault, descriptor_address
from sim.machine.peripherals.ethernet.mdio import PhyDevice, StationManagement
from sim.machine.peripherals.ethernet.registers import (
    AIS_SOURCES,
    DMABMR,
    DMAIER,
    DMAOMR,
    DMASR,
    MACPMTCSR,
    MMC_COUNTERS,
    MMCCR,
    MMCRIMR,
    MMCRIR,
    MMCTIMR,
    MMCTIR,
    NIS_SOURCES,
    REGISTERS,
    RPS_STOPPED,
    RPS_WAITING,
    TPS_FETCHING,
    TPS_STOPPED,
)
from sim.machine.peripherals.ethernet.rx import RxPath
from sim.machine.peripherals.ethernet.tx import TxDma
from sim.machine.peripherals.timing import Deadlines

MMC_PRESET_HALF, MMC_PRESET_FULL = 0x7FFF_FFF0, 0xFFFF_FFF0      # MMCCR.MCP with MCFHP = 0 / 1
MMC_INTERRUPT_AT = (0x8000_0000, 0xFFFF_FFFF)                      # half and full range
NIS, AIS, MMCS = DMASR.NIS.mask, DMASR.AIS.mask, DMASR.MMCS.mask
SUMMARIES = NIS | AIS                             # DMAIER has NISE/AISE at the same bits


@model("Network.SynopsysEthernetMAC")
class SynopsysEthernetMAC(Deadlines, Peripheral):
    SIZE = 0x1400
    REGISTERS = REGISTERS

    # host-side wiring, not machine state: a snapshot restore keeps the live callbacks
    SNAPSHOT_KEEP = ("tx_listeners",)

    # Virtual durations in reference cycles.
    software_reset_cycles = 64

    def __init__(self, services, name, params=None, irqs=None, **kwargs) -> None:
        self.name = name
        self.tx_listeners: list[Callable[[TxFrame], None]] = []
        self.reference_clock: bool | None = None   # None: present while a PHY is attached
        self.counters = {
            "frames_tx": 0, "frames_rx": 0, "rx_dropped": 0, "rx_filtered": 0,
            "rx_mac_disabled": 0, "rx_link_down": 0, "rx_fifo_overflow": 0, "rx_flushed": 0,
            "rx_truncated": 0, "rx_crc_errors": 0, "rx_checksum_dropped": 0, "rx_runts": 0,
            "tx_link_down": 0, "tx_jabber": 0, "bus_errors": 0, "mdio_reads": 0,
            "mdio_writes": 0, "mdio_absent": 0, "mdio_writes_while_busy": 0,
        }
        self.warnings: list[str] = []
        self.smi = StationManagement(self)
        self.tx = TxDma(self)
        self.rx = RxPath(self)
        super().__init__(services, name, params, irqs, **kwargs)

    # --- lifecycle ---------------------------------------------------------------------------
    def reset(self) -> None:
        """Power-on reset; DMABMR.SR starts at 1 and completes once the reference clock runs."""
        self._reset_state()
        self.clear_deadlines()
        self._start_software_reset(by_software=False)

    def _reset_state(self) -> None:
        Peripheral.reset(self)
        self._irq_level = False
        self.tx.reset()
        self.rx.reset()
        self.smi.reset()
        self._wakeup_filter = [0] * 8
        self._wakeup_index = 0
        self._station_address_set = False
        self.rx.filter.refresh(self)

    # --- EthernetPort --------------------------------------------------------------------------
    @property
    def mac_address(self) -> bytes | None:
        if not self._station_address_set:
            return None
        return self.rx.filter.station_address

    def on_transmit(self, callback: Callable[[TxFrame], None]) -> None:
        self.tx_listeners.append(callback)

    def receive(self, frame: bytes, fcs: bytes | None = None) -> bool:
        """A frame (without FCS) arrives from the wire now. `fcs` overrides the computed FCS
        (to model a corrupted frame). False if the MAC dropped it (see `stats`)."""
        return self.rx.receive(frame, fcs)

    @property
    def stats(self) -> dict[str, int]:
        return dict(self.counters)

    @property
    def rx_fifo_frames(self) -> int:
        return len(self.rx.fifo)

    # --- PHYs ----------------------------------------------------------------------------------
    def attach_phy(self, address: int, phy: PhyDevice) -> None:
        """Register `phy` at MDIO `address` (the .repl's `phy: ... @ ethernet <address>`)."""
        self.smi.attach(address, phy)
        if self[DMABMR.SR] and not self.armed("swreset"):
            self._start_software_reset(by_software=False)

    def phy(self, address: int | None = None) -> PhyDevice:
        """The PHY at MDIO `address`, or the only one when `address` is None (what a scenario's
        `Set Link` drives: `machine.ethernet.phy().set_link(up, speed, duplex)`)."""
        phys = self.smi.phys
        if address is None and len(phys) == 1:
            return next(iter(phys.values()))
        if address in phys:
            return phys[address]
        have = ", ".join(str(a) for a in sorted(phys)) or "none"
        raise BackendError(f"{self.name}: no PHY at MDIO address {address}" if address is not None else
                           f"{self.name}: give the PHY's MDIO address (PHYs at: {have})")

    def set_link(self, up: bool, speed: int | None = None, duplex: str | None = None) -> None:
        """The cable at the only PHY (EthernetPort.set_link)."""
        self.phy().set_link(up, speed, duplex)

    def _clock_running(self) -> bool:
        return bool(self.smi.phys) if self.reference_clock is None else self.reference_clock

    # --- register callbacks --------------------------------------------------------------------
    def _transmitter_switched(self, old: int, new: int) -> None:
        if new:
            self.tx.process()

    def _filter_written(self, old: int, new: int) -> None:
        self.rx.filter.refresh(self)

    def _station_address_written(self, old: int, new: int) -> None:
        self._station_address_set = True
        self.rx.filter.refresh(self)

    def _miiar_written(self, old: int, new: int) -> None:
        self.smi.start(old, new)

    def _wakeup_filter_read(self, value: int) -> int:
        value = self._wakeup_filter[self._wakeup_index]
        self._wakeup_index = (self._wakeup_index + 1) % 8
        return value

    def _wakeup_filter_written(self, old: int, new: int) -> None:
        self._wakeup_filter[self._wakeup_index] = new
        self._wakeup_index = (self._wakeup_index + 1) % 8

    def _wakeup_pointer_reset(self, old: int, new: int) -> None:
        if new:
            self._wakeup_index = 0
            self[MACPMTCSR.WFFRPR] = 0

    def _mmccr_written(self, old: int, new: int) -> None:
        if MMCCR.CR.get(new):
            for name in MMC_COUNTERS:
                self.values[name] = 0
        if MMCCR.MCP.get(new):
            preset = MMC_PRESET_FULL if MMCCR.MCFHP.get(new) else MMC_PRESET_HALF
            for name in MMC_COUNTERS:
                self.values[name] = preset
        self[MMCCR.CR] = self[MMCCR.MCP] = 0          # both self-clear
        self._update_irq()

    def _mmc_masks_written(self, old: int, new: int) -> None:
        self._update_irq()

    def _mmc_counter_read(self, name: str, value: int) -> int:
        flag = MMC_COUNTERS[name]
        if self[flag]:
            self[flag] = 0                            # reading the counter clears its interrupt
            self._update_irq()
        if self[MMCCR.ROR]:
            self.values[name] = 0
        return value

    def _mmc_rx_pending(self) -> int:
        values = self.values
        return int(bool(values[MMCRIR.name] & ~values[MMCRIMR.name]))

    def _mmc_tx_pending(self) -> int:
        values = self.values
        return int(bool(values[MMCTIR.name] & ~values[MMCTIMR.name]))

    def _mmc_any_pending(self) -> int:
        values = self.values
        return int(bool(values[MMCRIR.name] & ~values[MMCRIMR.name]
                        or values[MMCTIR.name] & ~values[MMCTIMR.name]))

    def _software_reset_requested(self, old: int, new: int) -> None:
        if new:
            if self.armed("swreset"):
                self._reset_by_software = True        # joins the reset already in progress
            else:
                self._start_software_reset(by_software=True)

    def _tx_poll_demand(self, old: int, new: int) -> None:
        self.tx.process()

    def _rx_poll_demand(self, old: int, new: int) -> None:
        self.rx.process("poll")

    def _rx_list_written(self, old: int, new: int) -> None:
        self.rx.list_written(descriptor_address(self, new, "DMARDLAR"))

    def _tx_list_written(self, old: int, new: int) -> None:
        self.tx.list_written(descriptor_address(self, new, "DMATDLAR"))

    def _interrupts_written(self, old: int, new: int) -> None:
        self._update_irq()

    def _omr_written(self, old: int, new: int) -> None:
        if DMAOMR.FTF.get(new) and not self.armed("ftf"):
            self.arm("ftf", 16, self._tx_fifo_flushed)
        if DMAOMR.ST.get(new) and not DMAOMR.ST.get(old):
            self[DMASR.TPS] = TPS_FETCHING
            self.tx.process()
        elif DMAOMR.ST.get(old) and not DMAOMR.ST.get(new):
            self[DMASR.TPS] = TPS_STOPPED
            self.raise_status(DMASR.TPSS.mask)
        if DMAOMR.SR.get(new) and not DMAOMR.SR.get(old):
            self[DMASR.RPS] = RPS_WAITING
            self.rx.suspended = False
            self.rx.process("start")
        elif DMAOMR.SR.get(old) and not DMAOMR.SR.get(new):
            self[DMASR.RPS] = RPS_STOPPED
            self.raise_status(DMASR.RPSS.mask)

    # --- software reset (DMABMR.SR) --------------------------------------------------------------
    def _start_software_reset(self, by_software: bool) -> None:
        self[DMABMR.SR] = 1
        self._reset_by_software = by_software
        if self._clock_running():
            self.arm("swreset", self.software_reset_cycles, self._software_reset_done)
        elif by_software:
            self.warn("DMABMR.SR stays 1: no RMII reference clock (no PHY attached to the MAC), "
                      "so the software reset never completes")

    def _software_reset_done(self) -> None:
        if not self.expire("swreset"):
            return
        if not self._clock_running():
            return
        if self._reset_by_software:
            self._reset_state()                   # every MAC/MMC/DMA register, FIFOs, MDIO
            self.clear_deadlines()
        # (the power-on reset only finishes: the registers already hold their reset values)
        self[DMABMR.SR] = 0
        self._update_irq()

    def _tx_fifo_flushed(self) -> None:
        if self.expire("ftf"):
            self[DMAOMR.FTF] = 0

    # --- status and interrupts (used by the DMA engines) ---------------------------------------------
    def raise_status(self, bits: int) -> None:
        """Status event(s): set the DMASR bits and the summaries their enables allow."""
        values = self.values
        sr = values[DMASR.name] | bits
        enabled = bits & values[DMAIER.name]
        if enabled & NIS_SOURCES:
            sr |= NIS
        if enabled & AIS_SOURCES:
            sr |= AIS
        values[DMASR.name] = sr
        self._update_irq()

    def _update_irq(self) -> None:
        values = self.values
        mmc = self._mmc_any_pending()
        sr = values[DMASR.name]
        values[DMASR.name] = sr = (sr | MMCS) if mmc else (sr & ~MMCS)
        level = bool(sr & values[DMAIER.name] & SUMMARIES or mmc)
        if level != self._irq_level:
            self._irq_level = level
            self.drive_irq(level)

    def bus_fault(self, fault: DescriptorBusFault) -> None:
        """A DMA engine hit memory it cannot reach: it stops, FBES and EBS say which access."""
        self.counters["bus_errors"] += 1
        self[DMASR.EBS] = (1 if fault.tx else 0) | (2 if fault.read else 0) | (4 if fault.descriptor else 0)
        if fault.tx:
            self.tx.fatal = True
            self[DMASR.TPS] = TPS_STOPPED
        else:
            self.rx.fatal = True
            self[DMASR.RPS] = RPS_STOPPED
        kind = "descriptor" if fault.descriptor else "buffer"
        self.warn(f"{'TX' if fault.tx else 'RX'} DMA {'read' if fault.read else 'write'} of a {kind} "
                  f"at 0x{fault.error.address:08x} failed: the Ethernet DMA cannot reach it "
                  f"(descriptors and buffers must be in SRAM, not CCM); FBES set, DMA stopped")
        self.raise_status(DMASR.FBES.mask)

    def mmc_count(self, name: str) -> None:
        """One more event for MMC counter `name` (frozen by MCF, wrapping or sticking by CSR)."""
        if self[MMCCR.MCF]:
            return
        value = self.values[name] + 1
        if value > 0xFFFF_FFFF:
            value = 0xFFFF_FFFF if self[MMCCR.CSR] else 0
        self.values[name] = value
        if value in MMC_INTERRUPT_AT:
            self[MMC_COUNTERS[name]] = 1
            self._update_irq()

    # --- diagnostics -------------------------------------------------------------------------------
    def warn(self, message: str) -> None:
        text = f"{self.name}: {message}"
        if text not in self.warnings:
            self.warnings.append(text)
