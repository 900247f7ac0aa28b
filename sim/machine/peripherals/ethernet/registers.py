"""The Ethernet block's register map: MAC (0x000), MMC (0x100), PTP (0x700) and DMA (0x1000),
field by field as RM0090 §33.8 describes them.

Callbacks name methods of `SynopsysEthernetMAC` (mac.py), which hands the work to the room it
belongs to (mdio.py, tx.py, rx.py). Where ST's SVD disagrees with RM0090 (MACFFR's upper
fields, MMCTIMR.TGFM, MACA0HR's reset value, MACDBGR, PTPPPSCR), these tables follow RM0090;
tests/peripherals/test_register_tables.py lists each difference.
"""

from __future__ import annotations

from sim.machine.peripherals.registers import RC, RO, W1C, W1S, WO, Field, Register, flags

# --- MAC (RM0090 §33.8.1) ---------------------------------------------------------------------
MACCR = Register("MACCR", 0x000, reset=0x0000_8000, fields=[
    Field("RE", 2), Field("TE", 3, on_change="_transmitter_switched"), Field("DC", 4),
    Field("BL", 5, 2), Field("APCS", 7), Field("RD", 9), Field("IPCO", 10), Field("DM", 11),
    Field("LM", 12), Field("ROD", 13), Field("FES", 14), Field("CSD", 16), Field("IFG", 17, 3),
    Field("JD", 22), Field("WD", 23), Field("CSTF", 25)])
MACFFR = Register("MACFFR", 0x004, on_write="_filter_written", fields=[
    Field("PM", 0), Field("HU", 1), Field("HM", 2), Field("DAIF", 3), Field("PAM", 4),
    Field("BFD", 5), Field("PCF", 6, 2), Field("SAIF", 8), Field("SAF", 9), Field("HPF", 10),
    Field("RA", 31)])
MACHTHR = Register("MACHTHR", 0x008, [Field("HTH", 0, 32)], on_write="_filter_written")
MACHTLR = Register("MACHTLR", 0x00C, [Field("HTL", 0, 32)], on_write="_filter_written")
MACMIIAR = Register("MACMIIAR", 0x010, on_write="_miiar_written", fields=[
    Field("MB", 0, access=W1S), Field("MW", 1), Field("CR", 2, 3), Field("MR", 6, 5), Field("PA", 11, 5)])
MACMIIDR = Register("MACMIIDR", 0x014, [Field("MD", 0, 16)])
MACFCR = Register("MACFCR", 0x018, fields=[
    Field("FCB_BPA", 0), Field("TFCE", 1), Field("RFCE", 2), Field("UPFD", 3), Field("PLT", 4, 2),
    Field("ZQPD", 7), Field("PT", 16, 16)])
MACVLANTR = Register("MACVLANTR", 0x01C, [Field("VLANTI", 0, 16), Field("VLANTC", 16)])
# eight filter words behind one address: each access moves an internal pointer
MACRWUFFR = Register("MACRWUFFR", 0x028, [Field("RWUFF", 0, 32)],
                     on_read="_wakeup_filter_read", on_write="_wakeup_filter_written")
MACPMTCSR = Register("MACPMTCSR", 0x02C, fields=[
    Field("PD", 0), Field("MPE", 1), Field("WFE", 2), Field("MPR", 5, access=RC),
    Field("WFR", 6, access=RC), Field("GU", 9),
    Field("WFFRPR", 31, access=W1S, on_write="_wakeup_pointer_reset")])
MACDBGR = Register("MACDBGR", 0x034, fields=[
    Field("MMRPEA", 0, access=RO), Field("MSFRWCS", 1, 2, RO), Field("RFWRA", 4, access=RO),
    Field("RFRCS", 5, 2, RO), Field("RFFL", 8, 2, RO), Field("MMTEA", 16, access=RO),
    Field("MTFCS", 17, 2, RO), Field("MTP", 19, access=RO), Field("TFRS", 20, 2, RO),
    Field("TFWA", 22, access=RO), Field("TFNE", 24, access=RO), Field("TFF", 25, access=RO)])
MACSR = Register("MACSR", 0x038, fields=[
    Field("PMTS", 3, access=RO), Field("MMCS", 4, access=RO, value="_mmc_any_pending"),
    Field("MMCRS", 5, access=RO, value="_mmc_rx_pending"),
    Field("MMCTS", 6, access=RO, value="_mmc_tx_pending"), Field("TSTS", 9, access=RC)])
MACIMR = Register("MACIMR", 0x03C, [Field("PMTIM", 3), Field("TSTIM", 9)])
# MO (bit 31) always reads 1: reset 0x8000_FFFF (ST's SVD says 0x0010_FFFF)
MACA0HR = Register("MACA0HR", 0x040, reset=0x8000_FFFF, on_write="_station_address_written",
                   fields=[Field("MACA0H", 0, 16), Field("MO", 31, access=RO)])
MACA0LR = Register("MACA0LR", 0x044, [Field("MACA0L", 0, 32)], reset=0xFFFF_FFFF,
                   on_write="_station_address_written")


def _perfect_filter(n: int) -> tuple[Register, Register]:
    """MACAnHR/MACAnLR, n = 1..3: an extra perfect-filter address (RM0090 §33.8.1)."""
    high = Register(f"MACA{n}HR", 0x040 + 8 * n, reset=0x0000_FFFF, on_write="_filter_written", fields=[
        Field(f"MACA{n}H", 0, 16), Field("MBC", 24, 6), Field("SA", 30), Field("AE", 31)])
    low = Register(f"MACA{n}LR", 0x044 + 8 * n, [Field(f"MACA{n}L", 0, 32)], reset=0xFFFF_FFFF,
                   on_write="_filter_written")
    return high, low


(MACA1HR, MACA1LR), (MACA2HR, MACA2LR), (MACA3HR, MACA3LR) = (_perfect_filter(n) for n in (1, 2, 3))
# the extra perfect filters as (high register, its address field, low register)
EXTRA_ADDRESSES = tuple((high, high.field(f"MACA{n}H"), low)
                        for n, (high, low) in enumerate(((MACA1HR, MACA1LR), (MACA2HR, MACA2LR),
                                                         (MACA3HR, MACA3LR)), start=1))

# --- MMC (RM0090 §33.8.2) -----------------------------------------------------------------------
MMCCR = Register("MMCCR", 0x100, on_write="_mmccr_written", fields=[
    Field("CR", 0, access=W1S), Field("CSR", 1), Field("ROR", 2), Field("MCF", 3),
    Field("MCP", 4, access=W1S), Field("MCFHP", 5)])
MMCRIR = Register("MMCRIR", 0x104, [Field("RFCES", 5, access=RO), Field("RFAES", 6, access=RO),
                                    Field("RGUFS", 17, access=RO)])
MMCTIR = Register("MMCTIR", 0x108, [Field("TGFSCS", 14, access=RO), Field("TGFMSCS", 15, access=RO),
                                    Field("TGFS", 21, access=RO)])
MMCRIMR = Register("MMCRIMR", 0x10C, [Field("RFCEM", 5), Field("RFAEM", 6), Field("RGUFM", 17)],
                   on_write="_mmc_masks_written")
MMCTIMR = Register("MMCTIMR", 0x110, [Field("TGFSCM", 14), Field("TGFMSCM", 15), Field("TGFM", 21)],
                   on_write="_mmc_masks_written")


def _counter(name: str, offset: int, field: str) -> Register:
    def read(mac, value: int) -> int:
        return mac._mmc_counter_read(name, value)
    return Register(name, offset, [Field(field, 0, 32, RO)], on_read=read)


MMCTGFSCCR = _counter("MMCTGFSCCR", 0x14C, "TGFSCC")      # TX good after a single collision
MMCTGFMSCCR = _counter("MMCTGFMSCCR", 0x150, "TGFMSCC")   # TX good after more collisions
MMCTGFCR = _counter("MMCTGFCR", 0x168, "TGFC")            # TX good frames
MMCRFCECR = _counter("MMCRFCECR", 0x194, "RFCFC")         # RX frames with CRC error
MMCRFAECR = _counter("MMCRFAECR", 0x198, "RFAEC")         # RX frames with alignment error
MMCRGUFCR = _counter("MMCRGUFCR", 0x1C4, "RGUFC")         # RX good unicast frames
# counter -> its interrupt status flag (set at half and full range, cleared by reading it)
MMC_COUNTERS = {
    "MMCTGFSCCR": MMCTIR.TGFSCS, "MMCTGFMSCCR": MMCTIR.TGFMSCS, "MMCTGFCR": MMCTIR.TGFS,
    "MMCRFCECR": MMCRIR.RFCES, "MMCRFAECR": MMCRIR.RFAES, "MMCRGUFCR": MMCRIR.RGUFS,
}

# --- PTP (RM0090 §33.8.3; storage only: no time stamping is modelled) ----------------------------
PTPTSCR = Register("PTPTSCR", 0x700, reset=0x0000_2000, fields=[
    *flags(TSE=0, TSFCU=1, TSSTI=2, TSSTU=3, TSITE=4, TTSARU=5, TSSARFE=8, TSSSR=9, TSPTPPSV2E=10,
           TSSPTPOEFE=11, TSSIPV6FE=12, TSSIPV4FE=13, TSSEME=14, TSSMRME=15),
    Field("TSCNT", 16, 2), Field("TSPFFMAE", 18)])
PTPSSIR = Register("PTPSSIR", 0x704, [Field("STSSI", 0, 8)])
PTPTSHR = Register("PTPTSHR", 0x708, [Field("STS", 0, 32, RO)])
PTPTSLR = Register("PTPTSLR", 0x70C, [Field("STSS", 0, 31, RO), Field("STPNS", 31, access=RO)])
PTPTSHUR = Register("PTPTSHUR", 0x710, [Field("TSUS", 0, 32)])
PTPTSLUR = Register("PTPTSLUR", 0x714, [Field("TSUSS", 0, 31), Field("TSUPNS", 31)])
PTPTSAR = Register("PTPTSAR", 0x718, [Field("TSA", 0, 32)])
PTPTTHR = Register("PTPTTHR", 0x71C, [Field("TTSH", 0, 32)])
PTPTTLR = Register("PTPTTLR", 0x720, [Field("TTSL", 0, 32)])
# status flags (TSSO, TSTTR): RM0090 and ST's header disagree on their positions, and the model
# never sets them, so no field is declared
PTPTSSR = Register("PTPTSSR", 0x728)
PTPPPSCR = Register("PTPPPSCR", 0x72C, [Field("PPSFREQ", 0, 4)])

# --- DMA (RM0090 §33.8.4) -----------------------------------------------------------------------
DMABMR = Register("DMABMR", 0x1000, reset=0x0000_2101, fields=[
    Field("SR", 0, access=W1S, on_write="_software_reset_requested"), Field("DA", 1),
    Field("DSL", 2, 5), Field("EDFE", 7), Field("PBL", 8, 6), Field("RTPR", 14, 2), Field("FB", 16),
    Field("RDP", 17, 6), Field("USP", 23), Field("FPM", 24), Field("AAB", 25), Field("MB", 26)])
DMATPDR = Register("DMATPDR", 0x1004, [Field("TPD", 0, 32, WO, on_write="_tx_poll_demand")])
DMARPDR = Register("DMARPDR", 0x1008, [Field("RPD", 0, 32, WO, on_write="_rx_poll_demand")])
DMARDLAR = Register("DMARDLAR", 0x100C, [Field("SRL", 0, 32)], on_write="_rx_list_written")
DMATDLAR = Register("DMATDLAR", 0x1010, [Field("STL", 0, 32)], on_write="_tx_list_written")
DMASR = Register("DMASR", 0x1014, on_write="_interrupts_written", fields=[
    *flags(W1C, TS=0, TPSS=1, TBUS=2, TJTS=3, ROS=4, TUS=5, RS=6, RBUS=7, RPSS=8, RWTS=9, ETS=10,
           FBES=13, ERS=14, AIS=15, NIS=16),
    Field("RPS", 17, 3, RO), Field("TPS", 20, 3, RO), Field("EBS", 23, 3, RO),
    Field("MMCS", 27, access=RO), Field("PMTS", 28, access=RO), Field("TSTS", 29, access=RO)])
DMAOMR = Register("DMAOMR", 0x1018, on_write="_omr_written", fields=[
    Field("SR", 1), Field("OSF", 2), Field("RTC", 3, 2), Field("FUGF", 6), Field("FEF", 7),
    Field("ST", 13), Field("TTC", 14, 3), Field("FTF", 20, access=W1S), Field("TSF", 21),
    Field("DFRF", 24), Field("RSF", 25), Field("DTCEFD", 26)])
DMAIER = Register("DMAIER", 0x101C, on_write="_interrupts_written", fields=flags(
    TIE=0, TPSIE=1, TBUIE=2, TJTIE=3, ROIE=4, TUIE=5, RIE=6, RBUIE=7, RPSIE=8, RWTIE=9, ETIE=10,
    FBEIE=13, ERIE=14, AISE=15, NISE=16))
DMAMFBOCR = Register("DMAMFBOCR", 0x1020, fields=[
    Field("MFC", 0, 16, RC), Field("OMFC", 16, 1, RC), Field("MFA", 17, 11, RC), Field("OFOC", 28, 1, RC)])
DMARSWTR = Register("DMARSWTR", 0x1024, [Field("RSWTC", 0, 8)])
DMACHTDR = Register("DMACHTDR", 0x1048, [Field("HTDAP", 0, 32, RO)])
DMACHRDR = Register("DMACHRDR", 0x104C, [Field("HRDAP", 0, 32, RO)])
DMACHTBAR = Register("DMACHTBAR", 0x1050, [Field("HTBAP", 0, 32, RO)])
DMACHRBAR = Register("DMACHRBAR", 0x1054, [Field("HRBAP", 0, 32, RO)])

REGISTERS = (
    MACCR, MACFFR, MACHTHR, MACHTLR, MACMIIAR, MACMIIDR, MACFCR, MACVLANTR, MACRWUFFR, MACPMTCSR,
    MACDBGR, MACSR, MACIMR, MACA0HR, MACA0LR, MACA1HR, MACA1LR, MACA2HR, MACA2LR, MACA3HR, MACA3LR,
    MMCCR, MMCRIR, MMCTIR, MMCRIMR, MMCTIMR, MMCTGFSCCR, MMCTGFMSCCR, MMCTGFCR, MMCRFCECR,
    MMCRFAECR, MMCRGUFCR,
    PTPTSCR, PTPSSIR, PTPTSHR, PTPTSLR, PTPTSHUR, PTPTSLUR, PTPTSAR, PTPTTHR, PTPTTLR, PTPTSSR,
    PTPPPSCR,
    DMABMR, DMATPDR, DMARPDR, DMARDLAR, DMATDLAR, DMASR, DMAOMR, DMAIER, DMAMFBOCR, DMARSWTR,
    DMACHTDR, DMACHRDR, DMACHTBAR, DMACHRBAR,
)

# DMASR: the status bits each summary covers (RM0090 §33.8.4, ETH_DMASR), and process states
NIS_SOURCES = DMASR.mask_of("TS", "TBUS", "RS", "ERS")
AIS_SOURCES = DMASR.mask_of("TPSS", "TJTS", "ROS", "TUS", "RBUS", "RPSS", "RWTS", "ETS", "FBES")
TPS_STOPPED, TPS_FETCHING, TPS_SUSPENDED = 0, 1, 6
RPS_STOPPED, RPS_WAITING, RPS_SUSPENDED = 0, 3, 4
