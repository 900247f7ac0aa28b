"""The TX copy loop of each variant, executed from the built ELF on a bare Cortex-M4 core
(unicorn): `fixed` puts every frame into the DMA buffers unchanged; `seedbug` has exactly the
documented defect (firmware/README.md), which the scenario diagnosis relies on."""

from __future__ import annotations

import struct

import pytest
import unicorn
from elftools.elf.elffile import ELFFile
from unicorn import arm_const as A

TX_BUF = 1024
DESCS = 4
OWN = 1 << 31
TCH = 1 << 20
STALE = 0xEE                      # what the buffers held from their previous use

RAM = 0x20000000
DESC_BASE = RAM + 0x100           # 32-byte enhanced descriptors
BUF_BASE = RAM + 0x1000           # 4 x 1024-byte TX buffers
PBUF_BASE = RAM + 0x3000          # struct pbuf { next; payload; u16 tot_len; u16 len; 4 x u8 }
DATA_BASE = RAM + 0x4000
STACK_TOP = RAM + 0x20000
RETURN_ADDR = RAM + 0x10000


class CopyLoop:
    def __init__(self, elf_path):
        with open(elf_path, "rb") as f:
            elf = ELFFile(f)
            self.entry = next(s for s in elf.get_section_by_name(".symtab").iter_symbols()
                              if s.name == "eth_tx_copy_frame")["st_value"]
            self.segments = [(seg["p_paddr"], seg.data()) for seg in elf.iter_segments()
                             if seg["p_type"] == "PT_LOAD" and seg["p_filesz"]]

    def run(self, chunks: list[bytes], owned: set[int] = frozenset()) -> tuple[int, list[bytes]]:
        """Copy a pbuf chain with these payloads; returns (result, the 4 TX buffers)."""
        uc = unicorn.Uc(unicorn.UC_ARCH_ARM, unicorn.UC_MODE_THUMB | unicorn.UC_MODE_MCLASS)
        uc.mem_map(0x08000000, 1024 * 1024)
        uc.mem_map(RAM, 128 * 1024)
        for addr, data in self.segments:
            if 0x08000000 <= addr < 0x08100000:
                uc.mem_write(addr, data)
        for i in range(DESCS):
            desc = DESC_BASE + 32 * i
            status = TCH | (OWN if i in owned else 0)
            nxt = DESC_BASE + 32 * ((i + 1) % DESCS)
            uc.mem_write(desc, struct.pack("<8I", status, 0, BUF_BASE + TX_BUF * i, nxt, 0, 0, 0, 0))
            uc.mem_write(BUF_BASE + TX_BUF * i, bytes([STALE]) * TX_BUF)
        total = sum(len(c) for c in chunks)
        data_at = DATA_BASE
        for k, chunk in enumerate(chunks):
            nxt = PBUF_BASE + 16 * (k + 1) if k + 1 < len(chunks) else 0
            uc.mem_write(PBUF_BASE + 16 * k, struct.pack("<IIHHBBBB", nxt, data_at, total, len(chunk), 0, 0, 1, 0))
            uc.mem_write(data_at, chunk)
            total -= len(chunk)
            data_at += (len(chunk) + 3) & ~3
        uc.reg_write(A.UC_ARM_REG_SP, STACK_TOP)
        uc.reg_write(A.UC_ARM_REG_R0, DESC_BASE)
        uc.reg_write(A.UC_ARM_REG_R1, PBUF_BASE)
        uc.reg_write(A.UC_ARM_REG_LR, RETURN_ADDR | 1)
        uc.emu_start(self.entry | 1, RETURN_ADDR, count=200_000)
        assert uc.reg_read(A.UC_ARM_REG_PC) == RETURN_ADDR, "the copy loop did not return"
        result = struct.unpack("<i", struct.pack("<I", uc.reg_read(A.UC_ARM_REG_R0)))[0]
        buffers = [bytes(uc.mem_read(BUF_BASE + TX_BUF * i, TX_BUF)) for i in range(DESCS)]
        return result, buffers


def on_the_wire(buffers: list[bytes], length: int) -> bytes:
    """What the DMA sends for `length` bytes: TBS1 = 1024 per non-final buffer (eth_tx_submit)."""
    out = b""
    for buf in buffers:
        take = min(TX_BUF, length - len(out))
        out += buf[:take]
        if len(out) == length:
            break
    return out


def frame_of(length: int) -> bytes:
    return bytes((i * 31 + 7) & 0xFF for i in range(length))


def split(frame: bytes, cuts: list[int]) -> list[bytes]:
    edges = [0, *[c for c in cuts if 0 < c < len(frame)], len(frame)]
    return [frame[a:b] for a, b in zip(edges, edges[1:])]


# (frame length, pbuf boundaries): single pbufs, lwIP's header/payload split, chains that end a
# pbuf exactly at the 1020/1024 boundaries
CASES = [(60, []), (1000, [54]), (1020, []), (1021, [54]), (1024, [1024]), (1025, [54, 1020]),
         (1200, [54, 600]), (1514, []), (1514, [54]), (1514, [54, 1020, 1024]), (1514, [1024, 1300])]


@pytest.fixture(scope="module")
def loops(firmware_elfs):
    return {v: CopyLoop(p) for v, p in firmware_elfs.items()}


@pytest.mark.parametrize("length,cuts", CASES)
def test_fixed_copies_every_frame_unchanged(loops, length, cuts):
    frame = frame_of(length)
    result, buffers = loops["fixed"].run(split(frame, cuts))
    assert result == length
    assert on_the_wire(buffers, length) == frame


@pytest.mark.parametrize("length,cuts", CASES)
def test_seedbug_corrupts_frames_past_1020_bytes(loops, length, cuts):
    frame = frame_of(length)
    result, buffers = loops["seedbug"].run(split(frame, cuts))
    wire = on_the_wire(buffers, length)
    assert result == length                             # the frame length is unchanged
    assert len(wire) == length
    if length <= 1020:
        assert wire == frame                            # handshake, GET, small POSTs: intact
        return
    assert wire[:1020] == frame[:1020]
    stale_end = min(length, 1024)
    assert wire[1020:stale_end] == bytes([STALE]) * (stale_end - 1020)  # the buffer's old bytes
    assert wire[1024:] == frame[1020:length - 4]        # the rest shifted by 4, the tail lost


@pytest.mark.parametrize("variant", ["fixed", "seedbug"])
def test_refuses_buffers_the_dma_still_owns(loops, variant):
    result, buffers = loops[variant].run(split(frame_of(1514), [54]), owned={1})
    assert result == -1
