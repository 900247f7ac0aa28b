"""The firmware ELF as the Renode backend sees it: checked before Renode loads it, and its symbols.

Renode's own ELF loader would accept or reject the file with a .NET message; checking here first
gives the same clear errors as the built-in machine, and the symbol table serves
`symbol_address`, `symbolize` (functions and data objects) and `hook("fw_tls_send", ...)` without asking Renode.
"""

from __future__ import annotations

import bisect
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from sim.errors import BackendError


class FirmwareImage:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            with open(self.path, "rb") as stream:
                elf = ELFFile(stream)
                self._check(elf)
                self.entry = elf.header["e_entry"]
                self.symbols, self._sized = self._read_symbols(elf)
        except FileNotFoundError:
            raise BackendError(f"firmware {self.path} does not exist (build it with scripts/setup)") from None
        except ELFError as exc:
            raise BackendError(f"firmware {self.path} is not an ELF file: {exc}") from exc
        self._starts = [start for start, _, _ in self._sized]

    def _check(self, elf: ELFFile) -> None:
        if elf.elfclass != 32 or elf["e_machine"] != "EM_ARM":
            raise BackendError(
                f"firmware {self.path} is a {elf.elfclass}-bit {elf['e_machine']} ELF; the STM32F407 "
                f"needs a 32-bit ARM ELF (build with arm-none-eabi-gcc)")
        if not elf.little_endian:
            raise BackendError(f"firmware {self.path} is big-endian; the Cortex-M4 is little-endian")
        if not any(seg["p_type"] == "PT_LOAD" and seg["p_filesz"] for seg in elf.iter_segments()):
            raise BackendError(f"firmware {self.path} has no loadable segment")

    @staticmethod
    def _read_symbols(elf: ELFFile):
        symbols: dict[str, int] = {}
        sized: list[tuple[int, int, str]] = []
        table = elf.get_section_by_name(".symtab")
        if table is None:
            return symbols, sized
        for sym in table.iter_symbols():
            kind = sym["st_info"]["type"]
            if not sym.name or kind not in ("STT_FUNC", "STT_OBJECT", "STT_NOTYPE"):
                continue
            if sym["st_shndx"] == "SHN_UNDEF" or sym.name.startswith("$"):
                continue
            # Thumb function symbols carry bit 0 set; the code starts at the even address
            address = sym["st_value"] & ~1 if kind == "STT_FUNC" else sym["st_value"]
            if kind != "STT_NOTYPE" or sym.name not in symbols:
                symbols[sym.name] = address
            if kind in ("STT_FUNC", "STT_OBJECT"):
                sized.append((address, max(sym["st_size"], 1), sym.name))
        sized.sort()
        return symbols, sized

    def address_of(self, name: str) -> int:
        try:
            return self.symbols[name]
        except KeyError:
            raise BackendError(f"symbol {name!r} is not in {self.path.name} (is it static, inlined or "
                               f"removed by --gc-sections?)") from None

    def symbolize(self, address: int) -> str | None:
        """'name+0xNN' for the function or data object that contains `address`, else None
        (a DMA buffer in a diagnosis reads `eth_tx_buffers+0xc00`, as on the built-in machine)."""
        index = bisect.bisect_right(self._starts, address) - 1
        if index < 0:
            return None
        start, size, name = self._sized[index]
        if address >= start + size:
            return None
        return name if address == start else f"{name}+0x{address - start:x}"
