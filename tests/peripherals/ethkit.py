"""Driver-side helpers for the Ethernet MAC tests: an ST-HAL-like driver written in Python that
talks to the model only through its registers and the fake machine's RAM (descriptors and
buffers), plus an independent checksum check with dpkt."""

from __future__ import annotations

import struct

import dpkt

from sim.machine.peripherals.ethernet import SynopsysEthernetMAC
from sim.machine.peripherals.phy_catalogue import EthernetPhysicalLayer

from periphkit import FakeMachine, Regs

ETH_IRQ = 61
OWN, IC, LS, FS, DC, DP, TER, TCH = 1 << 31, 1 << 30, 1 << 29, 1 << 28, 1 << 27, 1 << 26, 1 << 21, 1 << 20
RDES0_FS, RDES0_LS, RDES0_DE, RDES0_ES, RDES0_FT = 1 << 9, 1 << 8, 1 << 14, 1 << 15, 1 << 5
RDES1_DIC, RDES1_RER, RDES1_RCH = 1 << 31, 1 << 15, 1 << 14
# DMASR
TS, TPSS, TBUS, RS, RBUS, FBES, AIS, NIS = 1 << 0, 1 << 1, 1 << 2, 1 << 6, 1 << 7, 1 << 13, 1 << 15, 1 << 16
# DMAIER
NISE, AISE, RIE, TIE, RBUIE, TBUIE, FBEIE = 1 << 16, 1 << 15, 1 << 6, 1 << 0, 1 << 7, 1 << 2, 1 << 13
# DMAOMR
OMR_SR, OMR_ST, OMR_TSF, OMR_RSF, OMR_DFRF, OMR_FTF, OMR_OSF = 1 << 1, 1 << 13, 1 << 21, 1 << 25, 1 << 24, 1 << 20, 1 << 2
# MACCR
RE, TE, IPCO, DM, FES, CSTF, LM = 1 << 2, 1 << 3, 1 << 10, 1 << 11, 1 << 14, 1 << 25, 1 << 12

STATION = bytes.fromhex("02000000 0f07".replace(" ", ""))
PEER = bytes.fromhex("0200000000aa")


class Driver:
    """Owns a MAC (+ optional PHY) model, its register view and descriptor lists in fake RAM."""

    def __init__(self, machine: FakeMachine, *, phy: bool = True, enhanced: bool = True,
                 phy_address: int = 0, irq: int = ETH_IRQ) -> None:
        self.m = machine
        self.irq = irq
        self.mac = SynopsysEthernetMAC(machine, "ethernet", {}, {"": irq})
        self.r = Regs(self.mac)
        self.phy = None
        if phy:
            # auto-negotiation in 1 ms instead of the part's 1.8 s: these tests are about the MAC
            self.phy = EthernetPhysicalLayer(machine, "phy", {"Id1": 0x0007, "Id2": 0xC131,
                                                              "autoNegotiationTime": 0.001}, {})
            self.mac.attach_phy(phy_address, self.phy)
        self.enhanced = enhanced
        self.sent = []
        self.mac.on_transmit(self.sent.append)
        self.tx_descs: list[int] = []
        self.rx_descs: list[int] = []
        self.tx_next = 0
        self.rx_next = 0

    # --- MDIO (ST HAL: write MIIAR with MB, poll MB) ------------------------------------------
    def mdio_read(self, address: int, register: int) -> int:
        self.r["MACMIIAR"] = (address << 11) | (register << 6) | (4 << 2) | 1
        self.m.run_until(lambda: not self.r["MACMIIAR"] & 1, limit=100_000, step=8)
        return self.r["MACMIIDR"]

    def mdio_write(self, address: int, register: int, value: int) -> None:
        self.r["MACMIIDR"] = value
        self.r["MACMIIAR"] = (address << 11) | (register << 6) | (4 << 2) | 2 | 1
        self.m.run_until(lambda: not self.r["MACMIIAR"] & 1, limit=100_000, step=8)

    # --- HAL_ETH_Init-like bring-up ---------------------------------------------------------------
    def software_reset(self, limit: int = 100_000) -> bool:
        """DMABMR |= SR, then poll with a timeout like ST's HAL; True when it cleared."""
        self.r["DMABMR"] = self.r["DMABMR"] | 1
        try:
            self.m.run_until(lambda: not self.r["DMABMR"] & 1, limit=limit, step=8)
        except AssertionError:
            return False
        return True

    def init(self, *, maccr: int = DM | FES, omr: int = OMR_TSF | OMR_RSF | OMR_OSF,
             ier: int = NISE | RIE | TIE, dsl: int = 0) -> None:
        assert self.software_reset(), "DMABMR.SR never cleared"
        if self.phy is not None:                        # like the HAL: wait for link + AN done
            self.m.run_until(lambda: self.mdio_read(0, 1) & 0x24 == 0x24, limit=1_000_000, step=64)
        self.r["MACA0HR"] = STATION[5] << 8 | STATION[4]
        self.r["MACA0LR"] = int.from_bytes(STATION[:4], "little")
        self.r["MACCR"] = maccr
        self.r["MACFFR"] = 0
        self.r["DMAOMR"] = omr
        self.r["DMABMR"] = (1 << 25) | (1 << 16) | (32 << 8) | (int(self.enhanced) << 7) | (dsl << 2) | (1 << 23) | (32 << 17)
        self.r["DMAIER"] = ier

    def start(self) -> None:
        self.r["MACCR"] = self.r["MACCR"] | TE | RE
        self.r["DMAOMR"] = self.r["DMAOMR"] | OMR_FTF
        self.m.run_until(lambda: not self.r["DMAOMR"] & OMR_FTF, limit=10_000, step=4)
        self.r["DMAOMR"] = self.r["DMAOMR"] | OMR_ST | OMR_SR

    # --- descriptor lists --------------------------------------------------------------------------
    @property
    def desc_size(self) -> int:
        return 32 if self.enhanced else 16

    def setup_tx(self, base: int, count: int, buffers: int, buf_size: int, *, chained: bool = True,
                 stride: int | None = None, control: int = 0) -> None:
        stride = stride or (40 if chained else self.desc_size)
        self.tx_descs = [base + i * stride for i in range(count)]
        self.tx_bufs = [buffers + i * buf_size for i in range(count)]
        self.tx_buf_size = buf_size
        self.tx_chained = chained
        for i, d in enumerate(self.tx_descs):
            nxt = self.tx_descs[(i + 1) % count]
            ctrl = control | (TCH if chained else 0) | (TER if not chained and i == count - 1 else 0)
            self.m.w32(d, ctrl)
            self.m.w32(d + 4, 0)
            self.m.w32(d + 8, self.tx_bufs[i])
            self.m.w32(d + 12, nxt if chained else 0)
        self.tx_next = 0
        self.r["DMATDLAR"] = base

    def setup_rx(self, base: int, count: int, buffers: int, buf_size: int, *, chained: bool = True,
                 stride: int | None = None, dic: bool = False) -> None:
        stride = stride or (40 if chained else self.desc_size)
        self.rx_descs = [base + i * stride for i in range(count)]
        self.rx_bufs = [buffers + i * buf_size for i in range(count)]
        self.rx_buf_size = buf_size
        self.rx_chained = chained
        for i, d in enumerate(self.rx_descs):
            nxt = self.rx_descs[(i + 1) % count]
            ctrl = buf_size | (RDES1_RCH if chained else 0) | (RDES1_DIC if dic else 0)
            if not chained and i == count - 1:
                ctrl |= RDES1_RER
            self.m.w32(d, OWN)
            self.m.w32(d + 4, ctrl)
            self.m.w32(d + 8, self.rx_bufs[i])
            self.m.w32(d + 12, nxt if chained else 0)
        self.rx_next = 0
        self.r["DMARDLAR"] = base

    # --- TX like HAL_ETH_TransmitFrame -----------------------------------------------------------
    def send(self, frame: bytes, *, cic: int = 0, extra: int = IC, poll: bool = True,
             data_per_buffer: int | None = None) -> None:
        """Copy `frame` into consecutive TX buffers and hand the descriptors to the DMA."""
        per = data_per_buffer or self.tx_buf_size
        chunks = [frame[i:i + per] for i in range(0, len(frame), per)] or [b""]
        n = len(self.tx_descs)
        for k, chunk in enumerate(chunks):
            d = self.tx_descs[(self.tx_next + k) % n]
            self.m.write(self.tx_bufs[(self.tx_next + k) % n], chunk)
            ctrl = self.m.r32(d) & (TCH | TER)
            ctrl |= (cic << 22) | extra
            if k == 0:
                ctrl |= FS
            if k == len(chunks) - 1:
                ctrl |= LS
            self.m.w32(d + 4, len(chunk))
            self.m.w32(d, ctrl | OWN)
        self.tx_next = (self.tx_next + len(chunks)) % n
        if poll:
            self.clear_status(TBUS)
            self.r["DMATPDR"] = 0

    def send_buffers(self, buffers: list[tuple[bytes, int]], *, cic: int = 0, extra: int = IC) -> None:
        """Lower level: (bytes copied into the buffer, TBS1 declared) per descriptor."""
        n = len(self.tx_descs)
        for k, (content, declared) in enumerate(buffers):
            i = (self.tx_next + k) % n
            self.m.write(self.tx_bufs[i], content)
            ctrl = (self.m.r32(self.tx_descs[i]) & (TCH | TER)) | (cic << 22) | extra
            ctrl |= (FS if k == 0 else 0) | (LS if k == len(buffers) - 1 else 0)
            self.m.w32(self.tx_descs[i] + 4, declared)
            self.m.w32(self.tx_descs[i], ctrl | OWN)
        self.tx_next = (self.tx_next + len(buffers)) % n
        self.clear_status(TBUS)
        self.r["DMATPDR"] = 0

    # --- RX like HAL_ETH_GetReceivedFrame + low_level_input ------------------------------------------
    def receive_all(self, give_back: bool = True) -> list[tuple[bytes, int]]:
        """Collect completed frames (data, RDES0 of the LS descriptor), returning descriptors."""
        frames = []
        n = len(self.rx_descs)
        while True:
            parts, used = [], []
            for k in range(n):
                d = self.rx_descs[(self.rx_next + k) % n]
                rdes0 = self.m.r32(d)
                if rdes0 & OWN:
                    return frames
                used.append(d)
                parts.append((self.rx_bufs[(self.rx_next + k) % n], rdes0))
                if rdes0 & RDES0_LS:
                    break
            else:
                return frames
            length = (parts[-1][1] >> 16) & 0x3FFF
            data = b""
            for buffer, _ in parts:
                take = min(self.rx_buf_size, length - len(data))
                data += self.m.read(buffer, take)
            frames.append((data, parts[-1][1]))
            if give_back:
                for d in used:
                    self.m.w32(d, OWN)
            self.rx_next = (self.rx_next + len(used)) % n
        return frames

    def resume_rx(self) -> None:
        if self.r["DMASR"] & RBUS:
            self.r["DMASR"] = RBUS
            self.r["DMARPDR"] = 0

    def clear_status(self, bits: int) -> None:
        self.r["DMASR"] = bits


# --- frames and an independent checksum check ----------------------------------------------------
def tcp_frame(payload: bytes, *, dst: bytes = STATION, src: bytes = PEER, tcp_sum: int = 0,
              ip_sum: int = 0) -> bytes:
    tcp = dpkt.tcp.TCP(sport=443, dport=49152, seq=1000, ack=2000, flags=dpkt.tcp.TH_ACK | dpkt.tcp.TH_PUSH,
                       win=5840, data=payload)
    ip = dpkt.ip.IP(src=bytes([192, 0, 2, 1]), dst=bytes([192, 0, 2, 10]), p=dpkt.ip.IP_PROTO_TCP,
                    ttl=64, id=7, data=tcp)
    ip.len = 20 + len(bytes(tcp))
    raw_ip = bytearray(bytes(ip))                   # dpkt fills valid sums; overwrite below
    struct.pack_into(">H", raw_ip, 10, ip_sum)
    struct.pack_into(">H", raw_ip, 20 + 16, tcp_sum)
    return dst + src + b"\x08\x00" + bytes(raw_ip)


def udp_frame(payload: bytes, *, dst: bytes = STATION, src: bytes = PEER) -> bytes:
    udp = dpkt.udp.UDP(sport=5000, dport=6000, data=payload)
    udp.ulen = 8 + len(payload)
    ip = dpkt.ip.IP(src=bytes([192, 0, 2, 1]), dst=bytes([192, 0, 2, 10]), p=dpkt.ip.IP_PROTO_UDP,
                    ttl=64, id=9, data=udp)
    ip.len = 20 + udp.ulen
    raw_ip = bytearray(bytes(ip))
    struct.pack_into(">H", raw_ip, 10, 0)
    struct.pack_into(">H", raw_ip, 20 + 6, 0x1234)
    return dst + src + b"\x08\x00" + bytes(raw_ip)


def icmp_frame(payload: bytes, *, field: int = 0, dst: bytes = STATION, src: bytes = PEER) -> bytes:
    icmp = dpkt.icmp.ICMP(type=8, code=0, data=dpkt.icmp.ICMP.Echo(id=1, seq=1, data=payload))
    ip = dpkt.ip.IP(src=bytes([192, 0, 2, 1]), dst=bytes([192, 0, 2, 10]), p=dpkt.ip.IP_PROTO_ICMP,
                    ttl=64, id=11, data=icmp)
    ip.len = 20 + len(bytes(icmp))
    raw_ip = bytearray(bytes(ip))
    struct.pack_into(">H", raw_ip, 10, 0)
    struct.pack_into(">H", raw_ip, 20 + 2, field)
    return dst + src + b"\x08\x00" + bytes(raw_ip)


def dpkt_checksums(frame: bytes) -> tuple[bool, bool]:
    """(IPv4 header checksum valid, transport checksum valid), recomputed by dpkt."""
    eth = dpkt.ethernet.Ethernet(frame)
    ip = eth.data
    header_sum, l4_sum = ip.sum, ip.data.sum
    ip.sum = 0
    ip.data.sum = 0
    recomputed = dpkt.ip.IP(bytes(ip))
    if isinstance(ip.data, dpkt.icmp.ICMP):
        l4_expected = dpkt.icmp.ICMP(bytes(ip.data)).sum
    else:
        l4_expected = recomputed.data.sum
    return header_sum == recomputed.sum, l4_sum == l4_expected
