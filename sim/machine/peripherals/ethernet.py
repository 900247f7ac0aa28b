"""STM32F407 Ethernet MAC with its DMA and MMC (Renode type `Network.SynopsysEthernetMAC`).

Registers, bits and reset values are those of facts/stm32f407.md §9-10 (MAC 0x000, MMC 0x100,
PTP 0x700, DMA 0x1000). Where Renode's model fails real drivers (renode issues 237, 274, 922,
626) this one follows the silicon:

Software reset: DMABMR.SR (1 at power-on) clears a few cycles after it is set, and only while the
RMII reference clock runs, i.e. while a PHY is attached (`attach_phy`); without one it sticks at 1
as ST's HAL comment warns (facts §5). Completion resets every MAC/MMC/DMA register.

MDIO: a MACMIIAR write with MB = 1 runs a clause-22 read or write on the PHY at PA after
`mdio_cycles`; MB reads 1 until then (ST's HAL polls it). An address without a PHY reads 0xFFFF.

TX DMA (runs while DMAOMR.ST and MACCR.TE are set, on DMATPDR writes, ST/TE rising): walks
descriptors from the current one (normal 16-byte or enhanced 32-byte layout by DMABMR.EDFE;
chained through TDES3 with TCH, or ring with DSL spacing; TER wraps to DMATDLAR), gathers the
FS..LS buffers byte-exactly as TBS1/TBS2 say, pads to 60 bytes unless DP, applies CIC checksum
insertion (only with DMAOMR.TSF = 1) over the bytes read, clears OWN on every descriptor and
writes IHE/IPE/ES status into the LS one, raises TS if the LS descriptor has IC, then hands the
frame (without FCS) to the `on_transmit` callbacks as `TxFrame` and asks the machine to stop
the run slice. Meeting OWN = 0 sets TBUS and suspends (TPS = 110).

RX DMA: `receive(frame)` takes a frame without FCS from the wire, appends the FCS (CRC-32),
applies the MAC address filter (perfect MACA0-3 with AE/SA/MBC, hash table for HU/HM, HPF,
DAIF, broadcast unless BFD, PAM, promiscuous PM, receive-all RA with AFM status), optionally the
checksum engine (MACCR.IPCO), and queues it in the 2 KiB RX FIFO. The RX DMA (DMAOMR.SR) writes
FIFO frames into descriptors with OWN = 1, spanning as many as needed (FS/LS, FL counting the 4
FCS bytes unless CSTF/APCS strip them, FT, checksum status in RDES0 and, for enhanced
descriptors, RDES4), sets RS unless the LS descriptor has DIC, and after each frame looks at the
next descriptor: OWN = 0 sets RBUS and suspends (RPS = 100). A suspended RX DMA re-fetches the
descriptor on a DMARPDR write and when the next frame arrives (facts §9.5). While descriptors
are DMA-owned no frame is lost. What happens to frames while none is, is DMAOMR.DFRF's choice,
as on the Synopsys core (TI SLAU723A "receive process suspend"; Altera cv_54017 Rx steps 6-10):
- DFRF = 1 (flushing disabled): frames wait in the RX FIFO (RX_FIFO_BYTES) and are delivered
  once descriptors come back; a frame that does not fit the FIFO is dropped and counted
  (DMAMFBOCR.MFC while suspended for lack of descriptors, MFA + ROS while the DMA is stopped).
  A frame that runs out of descriptors midway is closed as intermediate and resumed later.
- DFRF = 0 (reset default, ST's HAL default): a frame arriving while the current descriptor is
  still CPU-owned is flushed and counted in DMAMFBOCR.MFC; a frame that runs out of
  descriptors midway is truncated (LS + DE + ES).

Interrupts: DMASR status bits are write-1-to-clear; NIS/AIS are sticky summaries set only by
DMAIER-enabled sources; the ETH line = (NIS & NISE) | (AIS & AISE) | unmasked MMC interrupts
(MMC counters at half/full range set MMCRIR/MMCTIR; masks reset to 0 = unmasked, so the
interrupt storm of facts §12.3.1 happens here too). DMAMFBOCR clears on read.

Bus errors: a descriptor or buffer the DMA cannot reach (`DmaError`, e.g. CCM) stops that DMA
engine with FBES and EBS set, until the next software reset.

Not modelled: PTP timestamping (registers are storage; TTSS is never set), PMT wake-up, flow
control/pause frames, the write-settle erratum (writes are never dropped), MACDBGR (reads 0),
half-duplex collisions, wire timing (a frame is handed over at the instant the DMA finished
reading it; the link model adds serialization delay).
"""

from __future__ import annotations

import zlib
from typing import Callable

from sim.frame_types import DmaSegment, TxFrame
from sim.machine.peripherals.base import DmaError, Field, Peripheral, Register, model
from sim.machine.peripherals.eth_checksum import check_rx_checksums, insert_tx_checksums
from sim.machine.peripherals.timing import Deadlines

RX_FIFO_BYTES = 2048                 # the F407's MTL receive FIFO
MAX_FRAME_GATHER = 16384             # TX frames longer than this are aborted (jabber/runaway)
MAX_DESCRIPTORS_PER_FRAME = 256      # guards against descriptor chains without LS

# MACCR
MACCR_RE, MACCR_TE, MACCR_APCS, MACCR_IPCO = 1 << 2, 1 << 3, 1 << 7, 1 << 10
MACCR_LM, MACCR_JD, MACCR_CSTF = 1 << 12, 1 << 22, 1 << 25
# MACFFR
FFR_PM, FFR_HU, FFR_HM, FFR_DAIF, FFR_PAM, FFR_BFD = 1 << 0, 1 << 1, 1 << 2, 1 << 3, 1 << 4, 1 << 5
FFR_SAIF, FFR_SAF, FFR_HPF, FFR_RA = 1 << 8, 1 << 9, 1 << 10, 1 << 31
# MACMIIAR
MII_MB, MII_MW = 1 << 0, 1 << 1
# MACAxHR
MACA_AE, MACA_SA = 1 << 31, 1 << 30
# DMABMR
BMR_SR, BMR_EDFE = 1 << 0, 1 << 7
# DMAOMR
OMR_SR, OMR_FEF, OMR_ST, OMR_FTF, OMR_TSF, OMR_DFRF, OMR_DTCEFD = (
    1 << 1, 1 << 7, 1 << 13, 1 << 20, 1 << 21, 1 << 24, 1 << 26)
# DMASR / DMAIER
TS, TPSS, TBUS, TJTS, ROS, TUS, RS, RBUS, RPSS, RWTS, ETS = (1 << n for n in range(11))
FBES, ERS, AIS, NIS = 1 << 13, 1 << 14, 1 << 15, 1 << 16
NIS_SOURCES = TS | TBUS | RS | ERS
AIS_SOURCES = TPSS | TJTS | ROS | TUS | RBUS | RPSS | RWTS | ETS | FBES
DMASR_W1C = NIS_SOURCES | AIS_SOURCES | AIS | NIS
RPS_SHIFT, TPS_SHIFT, EBS_SHIFT = 17, 20, 23
SR_MMCS = 1 << 27
TPS_STOPPED, TPS_FETCHING, TPS_SUSPENDED = 0, 1, 6
RPS_STOPPED, RPS_WAITING, RPS_SUSPENDED = 0, 3, 4
# TX descriptor
TDES0_OWN, TDES0_IC, TDES0_LS = 1 << 31, 1 << 30, 1 << 29
TDES0_DP, TDES0_TER, TDES0_TCH = 1 << 26, 1 << 21, 1 << 20
TDES0_IHE, TDES0_ES, TDES0_JT, TDES0_IPE = 1 << 16, 1 << 15, 1 << 14, 1 << 12
TDES0_STATUS = 0x0003_FFFF
# RX descriptor
RDES0_OWN, RDES0_AFM, RDES0_ES, RDES0_DE = 1 << 31, 1 << 30, 1 << 15, 1 << 14
RDES0_VLAN, RDES0_FS, RDES0_LS, RDES0_IPHCE = 1 << 10, 1 << 9, 1 << 8, 1 << 7
RDES0_FT, RDES0_CE, RDES0_PCE_ESA = 1 << 5, 1 << 1, 1 << 0
RDES1_DIC, RDES1_RER, RDES1_RCH = 1 << 31, 1 << 15, 1 << 14
RDES4_IPV6PR, RDES4_IPV4PR, RDES4_IPCB, RDES4_IPPE, RDES4_IPHE = 1 << 7, 1 << 6, 1 << 5, 1 << 4, 1 << 3

# MMC counters: register -> (status register, status bit)
MMC_COUNTERS = {
    "MMCTGFSCCR": ("MMCTIR", 1 << 14), "MMCTGFMSCCR": ("MMCTIR", 1 << 15),
    "MMCTGFCR": ("MMCTIR", 1 << 21), "MMCRFCECR": ("MMCRIR", 1 << 5),
    "MMCRFAECR": ("MMCRIR", 1 << 6), "MMCRGUFCR": ("MMCRIR", 1 << 17),
}
MMCCR_CR, MMCCR_CSR, MMCCR_ROR, MMCCR_MCF, MMCCR_MCP, MMCCR_MCFHP = (1 << n for n in range(6))


class _BusFault(Exception):
    """A DMA engine hit an address it cannot reach."""

    def __init__(self, tx: bool, read: bool, descriptor: bool, error: DmaError) -> None:
        super().__init__(str(error))
        self.tx, self.read, self.descriptor, self.error = tx, read, descriptor, error


# --- register hooks -------------------------------------------------------------------------
def _maccr_written(self: "SynopsysEthernetMAC", old: int, new: int) -> None:
    if new & MACCR_TE and not old & MACCR_TE:
        self._tx_process()


def _miiar_written(self: "SynopsysEthernetMAC", old: int, new: int) -> None:
    if old & MII_MB:
        self.values["MACMIIAR"] = old             # busy: software must not touch it
        self.counters["mdio_writes_while_busy"] += 1
        return
    if new & MII_MB:
        self._mdio_data = self.values["MACMIIDR"] & 0xFFFF
        self.arm("mdio", self.mdio_cycles, self._mdio_done)


def _rwuffr_read(self: "SynopsysEthernetMAC", value: int) -> int:
    value = self._wakeup_filter[self._wakeup_index]
    self._wakeup_index = (self._wakeup_index + 1) % 8
    return value


def _rwuffr_written(self: "SynopsysEthernetMAC", old: int, new: int) -> None:
    self._wakeup_filter[self._wakeup_index] = new
    self._wakeup_index = (self._wakeup_index + 1) % 8


def _pmtcsr_written(self: "SynopsysEthernetMAC", old: int, new: int) -> None:
    if new & (1 << 31):                           # WFFRPR resets the wake-up filter pointer
        self._wakeup_index = 0
        self.values["MACPMTCSR"] = new & ~(1 << 31)


def _macsr_read(self: "SynopsysEthernetMAC", value: int) -> int:
    return self._macsr()


def _maca_written(self: "SynopsysEthernetMAC", old: int, new: int) -> None:
    self._station_address_set = True
    self._refresh_filter()


def _mac_filter_written(self: "SynopsysEthernetMAC", old: int, new: int) -> None:
    self._refresh_filter()


def _mmccr_written(self: "SynopsysEthernetMAC", old: int, new: int) -> None:
    if new & MMCCR_CR:
        for name in MMC_COUNTERS:
            self.values[name] = 0
    if new & MMCCR_MCP:
        preset = 0xFFFF_FFF0 if new & MMCCR_MCFHP else 0x7FFF_FFF0
        for name in MMC_COUNTERS:
            self.values[name] = preset
    self.values["MMCCR"] = new & ~(MMCCR_CR | MMCCR_MCP)
    self._update_irq()


def _mmc_mask_written(self: "SynopsysEthernetMAC", old: int, new: int) -> None:
    self._update_irq()


def _mmc_counter_read(name: str):
    status_reg, bit = MMC_COUNTERS[name]

    def read(self: "SynopsysEthernetMAC", value: int) -> int:
        if self.values[status_reg] & bit:
            self.values[status_reg] &= ~bit       # reading the counter clears its interrupt
            self._update_irq()
        if self.values["MMCCR"] & MMCCR_ROR:
            self.values[name] = 0
        return value
    return read


def _bmr_written(self: "SynopsysEthernetMAC", old: int, new: int) -> None:
    if new & BMR_SR:
        if self.armed("swreset"):
            self._reset_by_software = True        # joins the reset already in progress
        else:
            self._start_software_reset(by_software=True)


def _tpdr_written(self: "SynopsysEthernetMAC", old: int, new: int) -> None:
    self.values["DMATPDR"] = 0
    self._tx_process()


def _rpdr_written(self: "SynopsysEthernetMAC", old: int, new: int) -> None:
    self.values["DMARPDR"] = 0
    self._rx_process("poll")


def _rdlar_written(self: "SynopsysEthernetMAC", old: int, new: int) -> None:
    self._rx_desc = self._descriptor_address(new, "DMARDLAR")
    self._rx_partial = 0
    self.values["DMACHRDR"] = self._rx_desc


def _tdlar_written(self: "SynopsysEthernetMAC", old: int, new: int) -> None:
    self._tx_desc = self._descriptor_address(new, "DMATDLAR")
    self.values["DMACHTDR"] = self._tx_desc


def _dmasr_written(self: "SynopsysEthernetMAC", old: int, new: int) -> None:
    self._update_irq()


def _omr_written(self: "SynopsysEthernetMAC", old: int, new: int) -> None:
    if new & OMR_FTF and not self.armed("ftf"):
        self.arm("ftf", 16, self._tx_fifo_flushed)
    if new & OMR_ST and not old & OMR_ST:
        self._set_tps(TPS_FETCHING)
        self._tx_process()
    elif old & OMR_ST and not new & OMR_ST:
        self._set_tps(TPS_STOPPED)
        self._raise(TPSS)
    if new & OMR_SR and not old & OMR_SR:
        self._set_rps(RPS_WAITING)
        self._rx_suspended = False
        self._rx_process("start")
    elif old & OMR_SR and not new & OMR_SR:
        self._set_rps(RPS_STOPPED)
        self._raise(RPSS)


def _dmaier_written(self: "SynopsysEthernetMAC", old: int, new: int) -> None:
    self._update_irq()


@model("Network.SynopsysEthernetMAC")
class SynopsysEthernetMAC(Deadlines, Peripheral):
    SIZE = 0x1400
    REGISTERS = (
        # --- MAC -----------------------------------------------------------------------------
        Register("MACCR", 0x000, 0x0000_8000, fields=(
            Field("RE", 2), Field("TE", 3), Field("DC", 4), Field("BL", 5, 2), Field("APCS", 7),
            Field("RD", 9), Field("IPCO", 10), Field("DM", 11), Field("LM", 12), Field("ROD", 13),
            Field("FES", 14), Field("CSD", 16), Field("IFG", 17, 3), Field("JD", 22), Field("WD", 23),
            Field("CSTF", 25)), write_mask=0x02DF_7EFC, on_write=_maccr_written),
        Register("MACFFR", 0x004, 0, fields=(
            Field("PM", 0), Field("HU", 1), Field("HM", 2), Field("DAIF", 3), Field("PAM", 4),
            Field("BFD", 5), Field("PCF", 6, 2), Field("SAIF", 8), Field("SAF", 9), Field("HPF", 10),
            Field("RA", 31)), write_mask=0x8000_07FF, on_write=_mac_filter_written),
        Register("MACHTHR", 0x008, 0, on_write=_mac_filter_written),
        Register("MACHTLR", 0x00C, 0, on_write=_mac_filter_written),
        Register("MACMIIAR", 0x010, 0, fields=(
            Field("MB", 0), Field("MW", 1), Field("CR", 2, 3), Field("MR", 6, 5), Field("PA", 11, 5)),
            write_mask=0xFFDF, on_write=_miiar_written),
        Register("MACMIIDR", 0x014, 0, write_mask=0xFFFF),
        Register("MACFCR", 0x018, 0, write_mask=0xFFFF_00BF),
        Register("MACVLANTR", 0x01C, 0, write_mask=0x0001_FFFF),
        Register("MACRWUFFR", 0x028, 0, on_read=_rwuffr_read, on_write=_rwuffr_written),
        Register("MACPMTCSR", 0x02C, 0, write_mask=0x8000_0207, on_write=_pmtcsr_written),
        Register("MACDBGR", 0x034, 0, write_mask=0),
        Register("MACSR", 0x038, 0, write_mask=0, on_read=_macsr_read),
        Register("MACIMR", 0x03C, 0, write_mask=0x0000_0208),
        Register("MACA0HR", 0x040, 0x8000_FFFF, write_mask=0x0000_FFFF, on_write=_maca_written),
        Register("MACA0LR", 0x044, 0xFFFF_FFFF, on_write=_maca_written),
        Register("MACA1HR", 0x048, 0x0000_FFFF, write_mask=0xFF00_FFFF, on_write=_mac_filter_written),
        Register("MACA1LR", 0x04C, 0xFFFF_FFFF, on_write=_mac_filter_written),
        Register("MACA2HR", 0x050, 0x0000_FFFF, write_mask=0xFF00_FFFF, on_write=_mac_filter_written),
        Register("MACA2LR", 0x054, 0xFFFF_FFFF, on_write=_mac_filter_written),
        Register("MACA3HR", 0x058, 0x0000_FFFF, write_mask=0xFF00_FFFF, on_write=_mac_filter_written),
        Register("MACA3LR", 0x05C, 0xFFFF_FFFF, on_write=_mac_filter_written),
        # --- MMC -----------------------------------------------------------------------------
        Register("MMCCR", 0x100, 0, write_mask=0x3F, on_write=_mmccr_written),
        Register("MMCRIR", 0x104, 0, write_mask=0),
        Register("MMCTIR", 0x108, 0, write_mask=0),
        Register("MMCRIMR", 0x10C, 0, write_mask=0x0002_0060, on_write=_mmc_mask_written),
        Register("MMCTIMR", 0x110, 0, write_mask=0x0020_C000, on_write=_mmc_mask_written),
        *(Register(name, offset, 0, write_mask=0, on_read=_mmc_counter_read(name)) for name, offset in (
            ("MMCTGFSCCR", 0x14C), ("MMCTGFMSCCR", 0x150), ("MMCTGFCR", 0x168),
            ("MMCRFCECR", 0x194), ("MMCRFAECR", 0x198), ("MMCRGUFCR", 0x1C4))),
        # --- PTP (storage only) ---------------------------------------------------------------
        Register("PTPTSCR", 0x700, 0x0000_2000),
        Register("PTPSSIR", 0x704, 0, write_mask=0xFF),
        Register("PTPTSHR", 0x708, 0, write_mask=0),
        Register("PTPTSLR", 0x70C, 0, write_mask=0),
        Register("PTPTSHUR", 0x710, 0),
        Register("PTPTSLUR", 0x714, 0),
        Register("PTPTSAR", 0x718, 0),
        Register("PTPTTHR", 0x71C, 0),
        Register("PTPTTLR", 0x720, 0),
        Register("PTPTSSR", 0x728, 0, write_mask=0),
        Register("PTPPPSCR", 0x72C, 0, write_mask=0xF),
        # --- DMA -----------------------------------------------------------------------------
        Register("DMABMR", 0x1000, 0x0000_2101, fields=(
            Field("SR", 0), Field("DA", 1), Field("DSL", 2, 5), Field("EDFE", 7), Field("PBL", 8, 6),
            Field("RTPR", 14, 2), Field("FB", 16), Field("RDP", 17, 6), Field("USP", 23),
            Field("FPM", 24), Field("AAB", 25), Field("MB", 26)),
            write_mask=0x07FF_FFFF, on_write=_bmr_written),
        Register("DMATPDR", 0x1004, 0, on_write=_tpdr_written),
        Register("DMARPDR", 0x1008, 0, on_write=_rpdr_written),
        Register("DMARDLAR", 0x100C, 0, on_write=_rdlar_written),
        Register("DMATDLAR", 0x1010, 0, on_write=_tdlar_written),
        Register("DMASR", 0x1014, 0, write_mask=0, w1c_mask=DMASR_W1C, on_write=_dmasr_written),
        Register("DMAOMR", 0x1018, 0, fields=(
            Field("SR", 1), Field("OSF", 2), Field("RTC", 3, 2), Field("FUGF", 6), Field("FEF", 7),
            Field("ST", 13), Field("TTC", 14, 3), Field("FTF", 20), Field("TSF", 21),
            Field("DFRF", 24), Field("RSF", 25), Field("DTCEFD", 26)),
            write_mask=0x0731_E0DE, on_write=_omr_written),
        Register("DMAIER", 0x101C, 0, write_mask=DMASR_W1C, on_write=_dmaier_written),
        Register("DMAMFBOCR", 0x1020, 0, write_mask=0, read_clears=0x1FFF_FFFF),
        Register("DMARSWTR", 0x1024, 0, write_mask=0xFF),
        Register("DMACHTDR", 0x1048, 0, write_mask=0),
        Register("DMACHRDR", 0x104C, 0, write_mask=0),
        Register("DMACHTBAR", 0x1050, 0, write_mask=0),
        Register("DMACHRBAR", 0x1054, 0, write_mask=0),
    )

    # host-side wiring, not machine state: a snapshot restore keeps the live callbacks
    SNAPSHOT_KEEP = ("_tx_listeners",)

    # Virtual durations in CPU cycles.
    software_reset_cycles = 64
    mdio_cycles = 128                # MDIO frame time; silicon takes 64 MDC periods (see report)

    def __init__(self, services, name, params=None, irqs=None) -> None:
        self._phys: dict[int, Peripheral] = {}
        self._tx_listeners: list[Callable[[TxFrame], None]] = []
        self.reference_clock: bool | None = None   # None: present while a PHY is attached
        self.counters = {
            "frames_tx": 0, "frames_rx": 0, "rx_dropped": 0, "rx_filtered": 0,
            "rx_mac_disabled": 0, "rx_link_down": 0, "rx_fifo_overflow": 0, "rx_flushed": 0,
            "rx_truncated": 0, "rx_crc_errors": 0, "rx_checksum_dropped": 0, "rx_runts": 0,
            "tx_link_down": 0, "tx_jabber": 0, "bus_errors": 0, "mdio_reads": 0,
            "mdio_writes": 0, "mdio_absent": 0, "mdio_writes_while_busy": 0,
        }
        self.warnings: list[str] = []
        super().__init__(services, name, params, irqs)

    # --- lifecycle ---------------------------------------------------------------------------
    def reset(self) -> None:
        """Power-on reset; DMABMR.SR starts at 1 and completes once the reference clock runs."""
        self._reset_state()
        self.clear_deadlines()
        self._start_software_reset(by_software=False)

    def _reset_state(self) -> None:
        Peripheral.reset(self)
        self._irq_level = False
        self._tx_desc = 0
        self._rx_desc = 0
        self._tx_fatal = False
        self._rx_fatal = False
        self._rx_suspended = False
        self._rx_fifo: list[tuple[bytes, int, int]] = []    # (frame + FCS, RDES0 bits, RDES4)
        self._rx_fifo_bytes = 0
        self._rx_partial = 0                                  # bytes of the head frame written
        self._mdio_data = 0
        self._wakeup_filter = [0] * 8
        self._wakeup_index = 0
        self._station_address_set = False
        self._refresh_filter()

    # --- EthernetPort --------------------------------------------------------------------------
    @property
    def mac_address(self) -> bytes | None:
        if not self._station_address_set:
            return None
        return self._station_address

    def on_transmit(self, callback: Callable[[TxFrame], None]) -> None:
        self._tx_listeners.append(callback)

    @property
    def stats(self) -> dict[str, int]:
        return dict(self.counters)

    # --- PHY / MDIO ----------------------------------------------------------------------------
    def attach_phy(self, address: int, phy: Peripheral) -> None:
        if not 0 <= address < 32:
            raise ValueError(f"{self.name}: PHY address {address} is outside 0..31 ('@ {self.name} <0-31>')")
        if address in self._phys:
            raise ValueError(f"{self.name}: two PHYs at MDIO address {address}")
        self._phys[address] = phy
        if hasattr(phy, "attached"):
            phy.attached(address)
        if self.values["DMABMR"] & BMR_SR and not self.armed("swreset"):
            self._start_software_reset(by_software=False)

    def phy(self, address: int) -> Peripheral | None:
        return self._phys.get(address)

    def _clock_running(self) -> bool:
        return bool(self._phys) if self.reference_clock is None else self.reference_clock

    def _link_up(self) -> bool:
        if not self._phys:
            return True                 # no PHY model: treat the wire as connected
        return any(getattr(phy, "link_up", True) for phy in self._phys.values())

    def _mdio_done(self) -> None:
        if not self.expire("mdio"):
            return
        miiar = self.values["MACMIIAR"]
        address, register = (miiar >> 11) & 0x1F, (miiar >> 6) & 0x1F
        phy = self._phys.get(address)
        if miiar & MII_MW:
            self.counters["mdio_writes"] += 1
            if phy is not None:
                phy.mdio_write(register, self._mdio_data)
            else:
                self.counters["mdio_absent"] += 1
        else:
            self.counters["mdio_reads"] += 1
            if phy is not None:
                value = phy.mdio_read(register) & 0xFFFF
            else:
                value = 0xFFFF          # MDIO pull-up: an absent PHY reads all ones
                self.counters["mdio_absent"] += 1
            self.values["MACMIIDR"] = value
        self.values["MACMIIAR"] = miiar & ~MII_MB

    # --- software reset (DMABMR.SR) --------------------------------------------------------------
    def _start_software_reset(self, by_software: bool) -> None:
        self.values["DMABMR"] |= BMR_SR
        self._reset_by_software = by_software
        if self._clock_running():
            self.arm("swreset", self.software_reset_cycles, self._software_reset_done)
        elif by_software:
            self._warn("DMABMR.SR stays 1: no RMII reference clock (no PHY attached to the MAC), "
                       "so the software reset never completes (facts §5)")

    def _software_reset_done(self) -> None:
        if not self.expire("swreset"):
            return
        if not self._clock_running():
            return
        if self._reset_by_software:
            self._reset_state()                   # every MAC/MMC/DMA register, FIFOs, MDIO
            self.clear_deadlines()
        # (the power-on reset only finishes: the registers already hold their reset values)
        self.values["DMABMR"] &= ~BMR_SR
        self._update_irq()

    def _tx_fifo_flushed(self) -> None:
        if self.expire("ftf"):
            self.values["DMAOMR"] &= ~OMR_FTF

    # --- interrupts ----------------------------------------------------------------------------
    def _raise(self, bits: int) -> None:
        """Status event(s): set the DMASR bits and the summaries their enables allow."""
        sr = self.values["DMASR"] | bits
        enabled = bits & self.values["DMAIER"]
        if enabled & NIS_SOURCES:
            sr |= NIS
        if enabled & AIS_SOURCES:
            sr |= AIS
        self.values["DMASR"] = sr
        self._update_irq()

    def _mmc_pending(self) -> tuple[bool, bool]:
        rx = bool(self.values["MMCRIR"] & ~self.values["MMCRIMR"])
        tx = bool(self.values["MMCTIR"] & ~self.values["MMCTIMR"])
        return rx, tx

    def _macsr(self) -> int:
        rx, tx = self._mmc_pending()
        return (rx << 5) | (tx << 6) | ((rx or tx) << 4)

    def _update_irq(self) -> None:
        v = self.values
        mmc = v["MMCRIR"] & ~v["MMCRIMR"] or v["MMCTIR"] & ~v["MMCTIMR"]
        sr = v["DMASR"]
        v["DMASR"] = sr = (sr | SR_MMCS) if mmc else (sr & ~SR_MMCS)
        level = bool(sr & v["DMAIER"] & (NIS | AIS) or mmc)
        if level != self._irq_level:
            self._irq_level = level
            self.drive_irq(level)

    def _set_tps(self, state: int) -> None:
        self.values["DMASR"] = (self.values["DMASR"] & ~(7 << TPS_SHIFT)) | (state << TPS_SHIFT)

    def _set_rps(self, state: int) -> None:
        self.values["DMASR"] = (self.values["DMASR"] & ~(7 << RPS_SHIFT)) | (state << RPS_SHIFT)

    def _bus_fault(self, fault: _BusFault) -> None:
        self.counters["bus_errors"] += 1
        ebs = (1 if fault.tx else 0) | (2 if fault.read else 0) | (4 if fault.descriptor else 0)
        self.values["DMASR"] = (self.values["DMASR"] & ~(7 << EBS_SHIFT)) | (ebs << EBS_SHIFT)
        if fault.tx:
            self._tx_fatal = True
            self._set_tps(TPS_STOPPED)
        else:
            self._rx_fatal = True
            self._set_rps(RPS_STOPPED)
        kind = "descriptor" if fault.descriptor else "buffer"
        self._warn(f"{'TX' if fault.tx else 'RX'} DMA {'read' if fault.read else 'write'} of a {kind} "
                   f"at 0x{fault.error.address:08x} failed: the Ethernet DMA cannot reach it "
                   f"(descriptors and buffers must be in SRAM, not CCM); FBES set, DMA stopped")
        self._raise(FBES)

    def _mmc_count(self, name: str) -> None:
        if self.values["MMCCR"] & MMCCR_MCF:
            return
        value = self.values[name] + 1
        if value > 0xFFFF_FFFF:
            value = 0xFFFF_FFFF if self.values["MMCCR"] & MMCCR_CSR else 0
        self.values[name] = value
        if value in (0x8000_0000, 0xFFFF_FFFF):
            status_reg, bit = MMC_COUNTERS[name]
            self.values[status_reg] |= bit
            self._update_irq()

    # --- memory access through the DMA ----------------------------------------------------------
    def _descriptor_address(self, value: int, what: str) -> int:
        if value & 3:
            self._warn(f"{what} = 0x{value:08x} is not word-aligned; the DMA ignores bits 1:0")
        return value & ~3

    def _read_descriptor(self, address: int, tx: bool) -> list[int]:
        words = 8 if self.values["DMABMR"] & BMR_EDFE else 4
        try:
            raw = self.services.dma_read(address, 4 * words)
        except DmaError as error:
            raise _BusFault(tx, True, True, error) from None
        return [int.from_bytes(raw[i:i + 4], "little") for i in range(0, 4 * words, 4)]

    def _write_word(self, address: int, value: int, tx: bool) -> None:
        try:
            self.services.dma_write(address, (value & 0xFFFF_FFFF).to_bytes(4, "little"))
        except DmaError as error:
            raise _BusFault(tx, False, True, error) from None

    def _next_descriptor(self, address: int, control: int, chained: bool, end_of_ring: bool,
                         base: int) -> int:
        if end_of_ring:
            return base
        if chained:
            return self._descriptor_address(control, "next-descriptor address (DES3)")
        size = 32 if self.values["DMABMR"] & BMR_EDFE else 16
        return address + size + 4 * ((self.values["DMABMR"] >> 2) & 0x1F)

    # --- transmit ----------------------------------------------------------------------------------
    def _tx_process(self) -> None:
        if self._tx_fatal or not self.values["DMAOMR"] & OMR_ST or not self.values["MACCR"] & MACCR_TE:
            return
        try:
            while self._transmit_one():
                pass
        except _BusFault as fault:
            self._bus_fault(fault)

    def _transmit_one(self) -> bool:
        """Send the frame at the current descriptor; False when the DMA suspends."""
        first = self._tx_desc
        address = first
        base = self.values["DMATDLAR"] & ~3
        data = bytearray()
        segments: list[DmaSegment] = []
        descriptors: list[tuple[int, int]] = []
        fs_control = None
        for _ in range(MAX_DESCRIPTORS_PER_FRAME):
            words = self._read_descriptor(address, tx=True)
            tdes0 = words[0]
            self.values["DMACHTDR"] = address
            if not tdes0 & TDES0_OWN:
                # nothing (more) to send: suspend; a partly owned frame is retried from its FS
                self._tx_desc = first
                self.values["DMACHTDR"] = first
                self._set_tps(TPS_SUSPENDED)
                self._raise(TBUS)
                return False
            if fs_control is None:
                fs_control = tdes0
            descriptors.append((address, tdes0))
            chained = bool(tdes0 & TDES0_TCH)
            buffers = [(words[2], words[1] & 0x1FFF)]
            if not chained:
                buffers.append((words[3], (words[1] >> 16) & 0x1FFF))
            for buffer, length in buffers:
                if not length:
                    continue
                try:
                    chunk = self.services.dma_read(buffer, length)
                except DmaError as error:
                    raise _BusFault(True, True, False, error) from None
                self.values["DMACHTBAR"] = buffer
                segments.append(DmaSegment(address, buffer, len(data), length))
                data += chunk
            address = self._next_descriptor(address, words[3], chained, bool(tdes0 & TDES0_TER), base)
            if tdes0 & TDES0_LS or len(data) > MAX_FRAME_GATHER:
                break
        else:
            self._warn(f"TX descriptors from 0x{first:08x} never set LS; frame aborted")
        self._tx_desc = address
        self.values["DMACHTDR"] = address
        self._finish_tx(bytes(data), tuple(segments), descriptors, fs_control or 0)
        return True

    def _finish_tx(self, raw: bytes, segments: tuple[DmaSegment, ...],
                   descriptors: list[tuple[int, int]], control: int) -> None:
        status = 0
        frame = bytearray(raw)
        limit = 16384 if self.values["MACCR"] & MACCR_JD else 2048
        last_address, last_tdes0 = descriptors[-1]
        jabber = len(frame) > limit or not last_tdes0 & TDES0_LS
        if jabber:
            status |= TDES0_JT | TDES0_ES
            self.counters["tx_jabber"] += 1
        else:
            if len(frame) < 60 and not control & TDES0_DP:
                frame += bytes(60 - len(frame))
            cic = (control >> 22) & 3
            if cic and self.values["DMAOMR"] & OMR_TSF:
                result = insert_tx_checksums(frame, cic)
                if result.header_error:
                    status |= TDES0_IHE | TDES0_ES
                if result.payload_error:
                    status |= TDES0_IPE | TDES0_ES
        for address, tdes0 in descriptors:
            closed = tdes0 & ~TDES0_OWN
            if address == last_address:
                closed = (closed & ~TDES0_STATUS) | status
            self._write_word(address, closed, tx=True)
        if last_tdes0 & TDES0_IC:
            self._raise(TS)
        if jabber:
            self._raise(TJTS)
            return
        self._mmc_count("MMCTGFCR")
        self.counters["frames_tx"] += 1
        tx = TxFrame(bytes(frame), self.services.now(), segments, (control >> 22) & 3)
        if self.values["MACCR"] & MACCR_LM:
            self._accept(bytes(frame))                 # loopback: the frame comes straight back
            return
        if not self._link_up():
            self.counters["tx_link_down"] += 1
            return
        for callback in self._tx_listeners:
            callback(tx)
        self.services.request_stop()

    # --- receive: filtering -----------------------------------------------------------------------
    def _refresh_filter(self) -> None:
        v = self.values
        self._station_address = (v["MACA0LR"].to_bytes(4, "little")
                                 + (v["MACA0HR"] & 0xFFFF).to_bytes(2, "little"))
        perfect = [(self._station_address, 0, False)]
        for n in (1, 2, 3):
            high, low = v[f"MACA{n}HR"], v[f"MACA{n}LR"]
            if high & MACA_AE:
                address = low.to_bytes(4, "little") + (high & 0xFFFF).to_bytes(2, "little")
                perfect.append((address, (high >> 24) & 0x3F, bool(high & MACA_SA)))
        self._perfect = perfect
        self._hash_table = (v["MACHTHR"] << 32) | v["MACHTLR"]

    @staticmethod
    def _masked_equal(a: bytes, b: bytes, byte_mask: int) -> bool:
        return all(a[i] == b[i] for i in range(6) if not byte_mask & (1 << i))

    def _hash_hit(self, address: bytes) -> bool:
        # upper 6 bits of the bit-reversed Ethernet CRC of the address index the 64-bit table
        crc = zlib.crc32(address) & 0xFFFF_FFFF
        index = int(f"{crc:032b}"[::-1], 2) >> 26
        return bool(self._hash_table >> index & 1)

    def _filter(self, frame: bytes) -> bool:
        """True if the destination (and source) address filters pass the frame."""
        ffr = self.values["MACFFR"]
        if ffr & FFR_PM:
            return True
        da, sa = frame[0:6], frame[6:12]
        if da == b"\xff" * 6:
            passed = not ffr & FFR_BFD
        else:
            multicast = bool(da[0] & 1)
            perfect = any(not source and self._masked_equal(da, address, mask)
                          for address, mask, source in self._perfect)
            use_hash = ffr & (FFR_HM if multicast else FFR_HU)
            if multicast and ffr & FFR_PAM:
                passed = True
            elif use_hash:
                passed = self._hash_hit(da) or bool(ffr & FFR_HPF and perfect)
            else:
                passed = perfect
            if ffr & FFR_DAIF and not (multicast and ffr & FFR_PAM):
                passed = not passed
        if passed and ffr & FFR_SAF:
            match = any(source and self._masked_equal(sa, address, mask)
                        for address, mask, source in self._perfect)
            passed = match != bool(ffr & FFR_SAIF)
        return passed

    # --- receive: the wire side ---------------------------------------------------------------------
    def receive(self, frame: bytes, fcs: bytes | None = None) -> bool:
        """A frame (without FCS) arrives from the wire now. `fcs` overrides the computed FCS
        (to model a corrupted frame). False if the MAC dropped it (see `stats`)."""
        if not self._link_up():
            return self._drop("rx_link_down")
        if not self.values["MACCR"] & MACCR_RE:
            return self._drop("rx_mac_disabled")
        if len(frame) < 14:
            return self._drop("rx_runts")
        if len(frame) < 60:
            frame = bytes(frame) + bytes(60 - len(frame))   # what the sender's MAC put on the wire
        good_fcs = zlib.crc32(frame).to_bytes(4, "little")
        if fcs is not None and bytes(fcs) != good_fcs:
            self._mmc_count("MMCRFCECR")
            self.counters["rx_crc_errors"] += 1
            if not self.values["DMAOMR"] & OMR_FEF:
                return self._drop("rx_dropped")
            return self._accept(bytes(frame), bytes(fcs), crc_error=True)
        return self._accept(bytes(frame), good_fcs)

    def _drop(self, reason: str) -> bool:
        self.counters[reason] += 1
        if reason != "rx_dropped":
            self.counters["rx_dropped"] += 1
        return False

    def _accept(self, frame: bytes, fcs: bytes | None = None, crc_error: bool = False) -> bool:
        if fcs is None:
            fcs = zlib.crc32(frame).to_bytes(4, "little")
        passed = self._filter(frame)
        status = 0
        if not passed:
            if not self.values["MACFFR"] & FFR_RA:
                return self._drop("rx_filtered")
            status |= RDES0_AFM
        ethertype = int.from_bytes(frame[12:14], "big")
        maccr = self.values["MACCR"]
        stored = frame + fcs
        if ethertype >= 0x600:
            status |= RDES0_FT
            if maccr & MACCR_CSTF:
                stored = frame
        elif maccr & MACCR_APCS:
            stored = frame[:14 + ethertype] if 14 + ethertype <= len(frame) else frame
        if ethertype == 0x8100:
            status |= RDES0_VLAN
        if crc_error:
            status |= RDES0_CE | RDES0_ES
        rdes4 = 0
        if maccr & MACCR_IPCO:
            check = check_rx_checksums(frame)
            enhanced = bool(self.values["DMABMR"] & BMR_EDFE)
            if check.header_error:
                status |= RDES0_IPHCE | RDES0_ES
            if check.payload_error and not enhanced:
                status |= RDES0_PCE_ESA
            if enhanced and check.ip:
                status |= RDES0_PCE_ESA           # extended status available in RDES4
                rdes4 = ((RDES4_IPV4PR if check.ipv4 else 0) | (RDES4_IPV6PR if check.ipv6 else 0)
                         | (RDES4_IPCB if check.bypassed else 0)
                         | (RDES4_IPPE if check.payload_error else 0)
                         | (RDES4_IPHE if check.header_error else 0) | check.payload_type)
            if (check.header_error or check.payload_error) and not self.values["DMAOMR"] & (
                    OMR_DTCEFD | OMR_FEF):
                return self._drop("rx_checksum_dropped")
        if self._rx_fifo_bytes + len(stored) > RX_FIFO_BYTES:
            self.counters["rx_fifo_overflow"] += 1
            if self._rx_suspended:
                self._count_missed(mfc=True)
            else:
                self._count_missed(mfc=False)
                self._raise(ROS)
            return self._drop("rx_dropped")
        self._rx_fifo.append((stored, status, rdes4))
        self._rx_fifo_bytes += len(stored)
        flushed = self.counters["rx_flushed"]
        self._rx_process("frame")
        return self.counters["rx_flushed"] == flushed       # False: flushed for lack of descriptors

    def _count_missed(self, mfc: bool) -> None:
        value = self.values["DMAMFBOCR"]
        if mfc:
            count = value & 0xFFFF
            value = (value & ~0xFFFF) | ((count + 1) & 0xFFFF) | ((1 << 16) if count == 0xFFFF else 0)
        else:
            count = (value >> 17) & 0x7FF
            value = (value & ~(0x7FF << 17)) | (((count + 1) & 0x7FF) << 17) | ((1 << 28) if count == 0x7FF else 0)
        self.values["DMAMFBOCR"] = value

    # --- receive: the DMA side ------------------------------------------------------------------------
    def _rx_process(self, reason: str) -> None:
        """Move FIFO frames into descriptors. `reason`: "frame", "poll" or "start"."""
        if self._rx_fatal or not self.values["DMAOMR"] & OMR_SR:
            return
        try:
            if self._rx_suspended or reason == "start":
                # (re-)fetch the current descriptor: on start, on a poll demand, on a new frame
                words = self._read_descriptor(self._rx_desc, tx=False)
                if not words[0] & RDES0_OWN:
                    if reason == "frame" and not self.values["DMAOMR"] & OMR_DFRF:
                        self._flush_rx_fifo()
                    self._suspend_rx()
                    return
                self._rx_suspended = False
                self._set_rps(RPS_WAITING)
            while self._rx_fifo and not self._rx_suspended:
                self._deliver_head_frame()
        except _BusFault as fault:
            self._bus_fault(fault)

    def _flush_rx_fifo(self) -> None:
        """Flushing enabled and still no descriptor: discard every waiting frame (MFC)."""
        for _ in self._rx_fifo:
            self._count_missed(mfc=True)
            self.counters["rx_flushed"] += 1
            self.counters["rx_dropped"] += 1
        self._rx_fifo.clear()
        self._rx_fifo_bytes = 0
        self._rx_partial = 0

    def _suspend_rx(self) -> None:
        self._rx_suspended = True
        self._set_rps(RPS_SUSPENDED)
        self._raise(RBUS)

    def _deliver_head_frame(self) -> None:
        stored, status, rdes4 = self._rx_fifo[0]
        base = self.values["DMARDLAR"] & ~3
        enhanced = bool(self.values["DMABMR"] & BMR_EDFE)
        offset = self._rx_partial
        address = self._rx_desc
        words = self._read_descriptor(address, tx=False)
        if not words[0] & RDES0_OWN:
            self._suspend_rx()
            return
        for _ in range(MAX_DESCRIPTORS_PER_FRAME):
            self.values["DMACHRDR"] = address
            rdes1 = words[1]
            chained = bool(rdes1 & RDES1_RCH)
            buffers = [(words[2], (rdes1 & 0x1FFF) & ~3)]
            if not chained:
                buffers.append((words[3], ((rdes1 >> 16) & 0x1FFF) & ~3))
            first_in_frame = offset == 0
            for buffer, size in buffers:
                if not size or offset >= len(stored):
                    continue
                chunk = stored[offset:offset + size]
                try:
                    self.services.dma_write(buffer, chunk)
                except DmaError as error:
                    raise _BusFault(False, False, False, error) from None
                self.values["DMACHRBAR"] = buffer
                offset += len(chunk)
            next_address = self._next_descriptor(address, words[3], chained, bool(rdes1 & RDES1_RER), base)
            rdes0 = RDES0_FS if first_in_frame else 0
            if offset >= len(stored):
                # last descriptor of the frame
                rdes0 |= RDES0_LS | status | (len(stored) << 16)
                self._close_rx_descriptor(address, rdes0, rdes4 if enhanced else None)
                self._rx_desc = next_address
                self._frame_delivered(stored, status, rdes1)
                break
            next_words = self._read_descriptor(next_address, tx=False)
            if next_words[0] & RDES0_OWN:
                self._close_rx_descriptor(address, rdes0, None)
                address, words = next_address, next_words
                continue
            # the frame does not fit the descriptors the DMA owns
            if self.values["DMAOMR"] & OMR_DFRF:
                self._close_rx_descriptor(address, rdes0, None)    # intermediate; resume later
                self._rx_desc = next_address
                self._rx_partial = offset
                self._suspend_rx()
                return
            rdes0 |= RDES0_LS | RDES0_DE | RDES0_ES | (offset << 16) | (status & RDES0_AFM)
            self._close_rx_descriptor(address, rdes0, None)
            self._rx_desc = next_address
            self.counters["rx_truncated"] += 1
            self._pop_rx_fifo()
            self._raise(RS)
            self._suspend_rx()
            return
        else:
            self._warn(f"RX descriptors from 0x{self._rx_desc:08x} hold no buffer space "
                       f"(RBS1/RBS2 = 0?); frame dropped")
            self._rx_desc = address
            self._pop_rx_fifo()
            self.counters["rx_dropped"] += 1
            return
        # after each frame the DMA looks at the next descriptor (Synopsys Rx step 8)
        if not self._read_descriptor(self._rx_desc, tx=False)[0] & RDES0_OWN:
            self._suspend_rx()

    def _close_rx_descriptor(self, address: int, rdes0: int, rdes4: int | None) -> None:
        if rdes4 is not None:
            self._write_word(address + 16, rdes4, tx=False)
        self._write_word(address, rdes0 & ~RDES0_OWN, tx=False)

    def _pop_rx_fifo(self) -> None:
        stored = self._rx_fifo.pop(0)[0]
        self._rx_fifo_bytes -= len(stored)
        self._rx_partial = 0

    def _frame_delivered(self, stored: bytes, status: int, rdes1_last: int) -> None:
        self._pop_rx_fifo()
        self.values["DMACHRDR"] = self._rx_desc
        self.counters["frames_rx"] += 1
        if not status & RDES0_ES and not stored[0] & 1:
            self._mmc_count("MMCRGUFCR")
        if not rdes1_last & RDES1_DIC:
            self._raise(RS)

    # --- diagnostics -------------------------------------------------------------------------------
    @property
    def rx_fifo_frames(self) -> int:
        return len(self._rx_fifo)

    def _warn(self, message: str) -> None:
        text = f"{self.name}: {message}"
        if text not in self.warnings:
            self.warnings.append(text)
