"""The Ethernet MAC's checksum offload engine: TX insertion (TDES0.CIC) and RX checking (MACCR.IPCO).

Rules from RM0090 §33.5, "Transmit checksum offload" and "Receive checksum offload" (Rev 11
pp.1133-1134):
- CIC 01: IPv4 header checksum only. CIC 10: header + TCP/UDP/ICMP checksum over the segment,
  the pseudo-header sum already in the checksum field (summed as found). CIC 11: header + full
  checksum, the field ignored and the pseudo-header computed here.
- ICMP(v4) has no pseudo-header; its checksum field must be 0 in both modes - a non-zero field
  is summed as found and yields a wrong checksum, as on silicon.
- Fragments, AH/ESP, IPv6 routing/fragment headers and other protocols are bypassed untouched.
- IPv6: no header checksum; TCP/UDP/ICMPv6 get the IPv6 pseudo-header.
- A UDP checksum that computes to 0 is sent as 0xFFFF.
Everything is computed over the bytes the DMA read from memory, so a driver that corrupted its
buffers gets a *valid* checksum over the corrupted data, exactly like the hardware.
"""

from __future__ import annotations

from dataclasses import dataclass

ETH_IPV4, ETH_IPV6, ETH_VLAN = 0x0800, 0x86DD, 0x8100
PROTO_ICMP, PROTO_TCP, PROTO_UDP, PROTO_ICMPV6 = 1, 6, 17, 58
CHECKSUM_OFFSET = {PROTO_TCP: 16, PROTO_UDP: 6, PROTO_ICMP: 2, PROTO_ICMPV6: 2}
IPV6_WALKABLE = {0, 60}          # hop-by-hop and destination options may precede the payload
PAYLOAD_TYPE = {PROTO_UDP: 1, PROTO_TCP: 2, PROTO_ICMP: 3, PROTO_ICMPV6: 3}


def ones_sum(data: bytes | bytearray | memoryview, initial: int = 0) -> int:
    """16-bit one's-complement sum (not inverted) of `data` in network byte order."""
    raw = bytes(data)
    if len(raw) & 1:
        raw += b"\0"
    # one's-complement sums are byte-order independent (RFC 1071): sum native little-endian
    # words, fold, then swap the two bytes of the result
    total = sum(memoryview(raw).cast("H"))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    total = ((total & 0xFF) << 8) | (total >> 8)
    total += initial
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def _l3_offset(frame: bytes | bytearray) -> tuple[int, int]:
    """(ethertype, offset of the L3 header), looking through one 802.1Q tag."""
    if len(frame) < 14:
        return 0, 14
    ethertype = int.from_bytes(frame[12:14], "big")
    if ethertype == ETH_VLAN and len(frame) >= 18:
        return int.from_bytes(frame[16:18], "big"), 18
    return ethertype, 14


def _ipv6_payload(frame: bytes | bytearray, l3: int) -> tuple[int, int, int] | None:
    """(next header, payload offset, payload end) of an IPv6 packet, None if bypassed."""
    length = int.from_bytes(frame[l3 + 4:l3 + 6], "big")
    end = l3 + 40 + length
    nxt, offset = frame[l3 + 6], l3 + 40
    while nxt in IPV6_WALKABLE:
        if offset + 8 > len(frame):
            return None
        nxt, offset = frame[offset], offset + 8 * (frame[offset + 1] + 1)
    return nxt, offset, end


@dataclass
class TxChecksumResult:
    header_error: bool = False       # TDES0.IHE
    payload_error: bool = False      # TDES0.IPE (TDES0 bit 12, "PCE" in the HAL)


def insert_tx_checksums(frame: bytearray, cic: int) -> TxChecksumResult:
    """Apply checksum insertion mode `cic` (1..3) to `frame` (no FCS) in place."""
    result = TxChecksumResult()
    if not cic:
        return result
    ethertype, l3 = _l3_offset(frame)
    if ethertype == ETH_IPV4:
        if len(frame) < l3 + 20 or frame[l3] >> 4 != 4 or (frame[l3] & 0xF) < 5:
            result.header_error = True
            return result
        ihl = (frame[l3] & 0xF) * 4
        total = int.from_bytes(frame[l3 + 2:l3 + 4], "big")
        if l3 + ihl > len(frame) or total < ihl:
            result.header_error = True
            return result
        frame[l3 + 10:l3 + 12] = b"\0\0"
        frame[l3 + 10:l3 + 12] = (~ones_sum(frame[l3:l3 + ihl]) & 0xFFFF).to_bytes(2, "big")
        if cic < 2:
            return result
        flags_fragment = int.from_bytes(frame[l3 + 6:l3 + 8], "big")
        proto = frame[l3 + 9]
        if flags_fragment & 0x3FFF or proto not in (PROTO_TCP, PROTO_UDP, PROTO_ICMP):
            return result                                   # fragment or unsupported: bypass
        start, end = l3 + ihl, l3 + total
        if end > len(frame):
            result.payload_error = True
            return result
        pseudo = 0
        if proto != PROTO_ICMP:
            pseudo = ones_sum(bytes(frame[l3 + 12:l3 + 20]) + bytes((0, proto)) + (end - start).to_bytes(2, "big"))
        _insert_l4(frame, proto, start, end, cic, pseudo, result)
    elif ethertype == ETH_IPV6 and cic >= 2:
        if len(frame) < l3 + 40 or frame[l3] >> 4 != 6:
            result.header_error = True
            return result
        payload = _ipv6_payload(frame, l3)
        if payload is None:
            return result
        proto, start, end = payload
        if proto not in (PROTO_TCP, PROTO_UDP, PROTO_ICMPV6):
            return result
        if end > len(frame) or start > end:
            result.payload_error = True
            return result
        pseudo = ones_sum(bytes(frame[l3 + 8:l3 + 40]) + (end - start).to_bytes(4, "big") + bytes((0, 0, 0, proto)))
        _insert_l4(frame, proto, start, end, cic, pseudo, result)
    return result


def _insert_l4(frame: bytearray, proto: int, start: int, end: int, cic: int, pseudo: int,
               result: TxChecksumResult) -> None:
    field = start + CHECKSUM_OFFSET[proto]
    if field + 2 > end:
        result.payload_error = True
        return
    if proto == PROTO_ICMP:
        pseudo = 0                                          # field summed as found (must be 0)
    elif cic == 3:
        frame[field:field + 2] = b"\0\0"
    else:
        pseudo = 0                                          # CIC 10: pseudo-header sum is in the field
    checksum = ~ones_sum(frame[start:end], pseudo) & 0xFFFF
    if proto == PROTO_UDP and checksum == 0:
        checksum = 0xFFFF
    frame[field:field + 2] = checksum.to_bytes(2, "big")


@dataclass
class RxChecksumStatus:
    """What the receive checksum engine found (feeds RDES0 bits 7/5/0 and RDES4)."""

    ipv4: bool = False
    ipv6: bool = False
    header_error: bool = False
    payload_error: bool = False
    bypassed: bool = False           # IP frame whose payload the engine does not check
    payload_type: int = 0            # RDES4.IPPT: 1 UDP, 2 TCP, 3 ICMP

    @property
    def ip(self) -> bool:
        return self.ipv4 or self.ipv6


def check_rx_checksums(frame: bytes) -> RxChecksumStatus:
    """Verify the IPv4 header and TCP/UDP/ICMP checksums of a received frame (no FCS)."""
    status = RxChecksumStatus()
    ethertype, l3 = _l3_offset(frame)
    if ethertype == ETH_IPV4:
        status.ipv4 = True
        if len(frame) < l3 + 20 or frame[l3] >> 4 != 4 or (frame[l3] & 0xF) < 5:
            status.header_error = True
            return status
        ihl = (frame[l3] & 0xF) * 4
        total = int.from_bytes(frame[l3 + 2:l3 + 4], "big")
        if l3 + ihl > len(frame) or total < ihl or l3 + total > len(frame):
            status.header_error = True
            return status
        if ones_sum(frame[l3:l3 + ihl]) != 0xFFFF:
            status.header_error = True
        proto = frame[l3 + 9]
        if int.from_bytes(frame[l3 + 6:l3 + 8], "big") & 0x3FFF or proto not in CHECKSUM_OFFSET:
            status.bypassed = True
            return status
        status.payload_type = PAYLOAD_TYPE[proto]
        start, end = l3 + ihl, l3 + total
        pseudo = 0 if proto == PROTO_ICMP else ones_sum(
            bytes(frame[l3 + 12:l3 + 20]) + bytes((0, proto)) + (end - start).to_bytes(2, "big"))
    elif ethertype == ETH_IPV6:
        status.ipv6 = True
        if len(frame) < l3 + 40 or frame[l3] >> 4 != 6:
            status.header_error = True
            return status
        payload = _ipv6_payload(frame, l3)
        if payload is None or payload[0] not in (PROTO_TCP, PROTO_UDP, PROTO_ICMPV6):
            status.bypassed = True
            return status
        proto, start, end = payload
        if end > len(frame) or start > end:
            status.header_error = True
            return status
        status.payload_type = PAYLOAD_TYPE[proto]
        pseudo = ones_sum(bytes(frame[l3 + 8:l3 + 40]) + (end - start).to_bytes(4, "big") + bytes((0, 0, 0, proto)))
    else:
        return status
    field = start + CHECKSUM_OFFSET[proto]
    if field + 2 > end:
        status.payload_error = True
    elif proto == PROTO_UDP and frame[field:field + 2] == b"\0\0" and status.ipv4:
        pass                                                # UDP over IPv4 without checksum
    elif ones_sum(frame[start:end], pseudo) != 0xFFFF:
        status.payload_error = True
    return status
