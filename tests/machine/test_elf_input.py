"""Firmware images the machine cannot run are refused with an ElfError (a SimError: one line that
names the file and the fix, never a pyelftools exception): missing, a directory, not an ELF,
truncated, damaged section or program headers, 64-bit, big-endian, not ARM, or a segment that
does not fit the platform's memory map (named together with the region it missed)."""

from __future__ import annotations

import struct

import pytest
from machine_paths import CORE_PLATFORM

from sim.errors import BackendError, SimError
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


@pytest.fixture
def reference_bytes(reference_elf):
    return reference_elf.read_bytes()


def refused(tmp_path, data: bytes) -> str:
    """The one-line ElfError message for an image with these bytes."""
    with pytest.raises(ElfError) as info:
        load(tmp_path, data)
    assert isinstance(info.value, SimError)
    message = str(info.value)
    assert "\n" not in message and str(tmp_path / "fw.elf") in message
    return message


@pytest.mark.parametrize("keep", [4, 40, 0x34 + 0x20 * 2, 100_000, -1])
def test_truncated_elf(tmp_path, reference_bytes, keep):
    message = refused(tmp_path, reference_bytes[:keep] if keep > 0 else reference_bytes[:len(reference_bytes) // 2])
    assert "truncated" in message and "build or copy the firmware again" in message


def _section_headers(data: bytes) -> tuple[int, int, int]:
    shoff = struct.unpack_from("<I", data, 0x20)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x2E)
    return shoff, shnum, shstrndx


@pytest.mark.parametrize("damage", ["shoff-past-eof", "strtab-index", "sections-past-eof", "symtab-link"])
def test_damaged_section_headers(tmp_path, reference_bytes, damage):
    data = bytearray(reference_bytes)
    shoff, shnum, shstrndx = _section_headers(data)
    if damage == "shoff-past-eof":
        struct.pack_into("<I", data, 0x20, len(data) + 0x1000)
    elif damage == "strtab-index":
        struct.pack_into("<H", data, 0x32, shnum + 7)                    # e_shstrndx out of range
    elif damage == "sections-past-eof":
        for i in range(1, shnum):                                        # sh_offset of every section
            struct.pack_into("<I", data, shoff + 40 * i + 16, len(data) + 0x100)
    else:
        for i in range(shnum):                                           # sh_link of every section
            struct.pack_into("<I", data, shoff + 40 * i + 24, 0xFFFF)
    message = refused(tmp_path, bytes(data))
    assert "damaged or truncated" in message or "truncated" in message


def test_a_directory_and_a_text_file(tmp_path):
    with pytest.raises(ElfError, match="is a directory"):
        Machine(CORE_PLATFORM).load_elf(tmp_path)
    assert "not an ELF file" in refused(tmp_path, b"this is a README, not firmware\n")


def test_an_image_linked_outside_the_memory_map_names_the_elf(tmp_path, reference_bytes):
    data = bytearray(reference_bytes)
    phoff = struct.unpack_from("<I", data, 0x1C)[0]
    phentsize, phnum = struct.unpack_from("<HH", data, 0x2A)
    for i in range(phnum):
        if struct.unpack_from("<I", data, phoff + i * phentsize)[0] == 1:      # the first PT_LOAD
            struct.pack_into("<II", data, phoff + i * phentsize + 8, 0x9000_0000, 0x9000_0000)
            break
    message = refused(tmp_path, bytes(data))
    assert "does not fit the memory map" in message and "Link the firmware for the STM32F407 map" in message
