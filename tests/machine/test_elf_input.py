"""Firmware images the machine cannot run are refused with a message that says why: not an ELF,
64-bit, big-endian, not ARM, or a segment that does not fit the platform's memory map (named
together with the region it missed)."""

from __future__ import annotations

import struct

import pytest
from machine_paths import CORE_PLATFORM

from sim.errors import BackendError
from sim.machine import Machine
from sim.machine.elf import ElfError


@pytest.fixture
def smoke_elf(build_test_firmware):
    return build_test_firmware("smoke").read_bytes()


def load(tmp_path, data: bytes):
    path = tmp_path / "fw.elf"
    path.write_bytes(data)
    m = Machine(CORE_PLATFORM)
    m.load_elf(path)
    return m


def patched(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


def test_not_an_elf(tmp_path):
    with pytest.raises(BackendError, match="not an ELF file"):
        load(tmp_path, b"\x00" * 64)


def test_missing_file(tmp_path):
    with pytest.raises(BackendError, match="does not exist"):
        Machine(CORE_PLATFORM).load_elf(tmp_path / "absent.elf")


def test_64_bit_elf(tmp_path, smoke_elf):
    with pytest.raises(BackendError, match="64-bit ELF.*32-bit ARM"):
        load(tmp_path, patched(smoke_elf, 4, "B", 2))


def test_big_endian_elf(tmp_path, smoke_elf):
    with pytest.raises(BackendError, match="big-endian"):
        load(tmp_path, patched(smoke_elf, 5, "B", 2))


def test_elf_for_another_architecture(tmp_path, smoke_elf):
    with pytest.raises(BackendError, match="built for EM_386, not ARM"):
        load(tmp_path, patched(smoke_elf, 18, "<H", 3))      # e_machine = EM_386


def test_segment_outside_the_memory_map_names_segment_and_region(tmp_path, smoke_elf):
    phoff = struct.unpack_from("<I", smoke_elf, 0x1C)[0]
    phentsize, phnum = struct.unpack_from("<HH", smoke_elf, 0x2A)
    data = smoke_elf
    for i in range(phnum):
        base = phoff + i * phentsize
        p_type, _, vaddr, paddr, filesz = struct.unpack_from("<5I", data, base)
        if p_type == 1 and paddr == 0x08000000 and filesz:
            data = patched(data, base + 8, "<I", 0x080FFF00)    # p_vaddr
            data = patched(data, base + 12, "<I", 0x080FFF00)   # p_paddr: runs off the end
            break
    else:
        pytest.fail("no flash segment in the smoke ELF")
    with pytest.raises(ElfError) as info:
        load(tmp_path, data)
    msg = str(info.value)
    assert "segment" in msg and ".isr_vector" in msg
    assert "flash (0x08000000-0x080fffff)" in msg and "past its end" in msg
