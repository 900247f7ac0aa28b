"""Accesses to hardware the platform does not model, when a run is asked to go on past them
(`MachineOptions.on_unmapped = "warn"`), as Renode logs such an access and continues.

A read returns 0 and a write is ignored. Each access is counted by address, direction and the
function that made it, so a run's report can list every unmodelled register the firmware
touched; the block it belongs to is named from the STM32F405/407 memory map (RM0090 §2.3,
Table 1), which is what a developer recognises ("TIM6", not 0x40001000).

The record is bounded: past `MAX_KEYS` distinct (address, direction, function) entries further
ones are only counted.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Callable

MAX_KEYS = 4096

# RM0090 §2.3, Table 1 (STM32F405xx/07xx register boundary addresses), and the Cortex-M4 private
# peripheral bus (ARMv7-M ARM B3.1, Table B3-1); inclusive ranges.
_BLOCKS = sorted([
    (0x1FFF_0000, 0x1FFF_77FF, "system memory (bootloader)"), (0x1FFF_7800, 0x1FFF_7A0F, "OTP area"),
    (0x1FFF_7A10, 0x1FFF_7A1B, "unique device ID"), (0x1FFF_7A22, 0x1FFF_7A23, "flash size register"),
    (0x1FFF_C000, 0x1FFF_C00F, "option bytes"),
    (0x4000_0000, 0x4000_03FF, "TIM2"), (0x4000_0400, 0x4000_07FF, "TIM3"), (0x4000_0800, 0x4000_0BFF, "TIM4"),
    (0x4000_0C00, 0x4000_0FFF, "TIM5"), (0x4000_1000, 0x4000_13FF, "TIM6"), (0x4000_1400, 0x4000_17FF, "TIM7"),
    (0x4000_1800, 0x4000_1BFF, "TIM12"), (0x4000_1C00, 0x4000_1FFF, "TIM13"), (0x4000_2000, 0x4000_23FF, "TIM14"),
    (0x4000_2800, 0x4000_2BFF, "RTC & BKP registers"), (0x4000_2C00, 0x4000_2FFF, "WWDG"),
    (0x4000_3000, 0x4000_33FF, "IWDG"), (0x4000_3400, 0x4000_37FF, "I2S2ext"), (0x4000_3800, 0x4000_3BFF, "SPI2/I2S2"),
    (0x4000_3C00, 0x4000_3FFF, "SPI3/I2S3"), (0x4000_4000, 0x4000_43FF, "I2S3ext"),
    (0x4000_4400, 0x4000_47FF, "USART2"), (0x4000_4800, 0x4000_4BFF, "USART3"), (0x4000_4C00, 0x4000_4FFF, "UART4"),
    (0x4000_5000, 0x4000_53FF, "UART5"), (0x4000_5400, 0x4000_57FF, "I2C1"), (0x4000_5800, 0x4000_5BFF, "I2C2"),
    (0x4000_5C00, 0x4000_5FFF, "I2C3"), (0x4000_6400, 0x4000_67FF, "CAN1"), (0x4000_6800, 0x4000_6BFF, "CAN2"),
    (0x4000_7000, 0x4000_73FF, "PWR"), (0x4000_7400, 0x4000_77FF, "DAC"),
    (0x4001_0000, 0x4001_03FF, "TIM1"), (0x4001_0400, 0x4001_07FF, "TIM8"), (0x4001_1000, 0x4001_13FF, "USART1"),
    (0x4001_1400, 0x4001_17FF, "USART6"), (0x4001_2000, 0x4001_23FF, "ADC1/ADC2/ADC3"),
    (0x4001_2C00, 0x4001_2FFF, "SDIO"), (0x4001_3000, 0x4001_33FF, "SPI1"), (0x4001_3800, 0x4001_3BFF, "SYSCFG"),
    (0x4001_3C00, 0x4001_3FFF, "EXTI"), (0x4001_4000, 0x4001_43FF, "TIM9"), (0x4001_4400, 0x4001_47FF, "TIM10"),
    (0x4001_4800, 0x4001_4BFF, "TIM11"),
    *[(0x4002_0000 + 0x400 * i, 0x4002_03FF + 0x400 * i, f"GPIO{port}") for i, port in enumerate("ABCDEFGHI")],
    (0x4002_3000, 0x4002_33FF, "CRC"), (0x4002_3800, 0x4002_3BFF, "RCC"),
    (0x4002_3C00, 0x4002_3FFF, "flash interface"), (0x4002_4000, 0x4002_4FFF, "backup SRAM"),
    (0x4002_6000, 0x4002_63FF, "DMA1"), (0x4002_6400, 0x4002_67FF, "DMA2"), (0x4002_8000, 0x4002_93FF, "Ethernet MAC"),
    (0x4004_0000, 0x4007_FFFF, "USB OTG HS"), (0x5000_0000, 0x5003_FFFF, "USB OTG FS"),
    (0x5005_0000, 0x5005_03FF, "DCMI"), (0x5006_0000, 0x5006_03FF, "CRYP"), (0x5006_0400, 0x5006_07FF, "HASH"),
    (0x5006_0800, 0x5006_0BFF, "RNG"), (0x6000_0000, 0x9FFF_FFFF, "FSMC banks (external memory)"),
    (0xA000_0000, 0xA000_0FFF, "FSMC control registers"),
    (0xE000_0000, 0xE000_0FFF, "ITM"), (0xE000_1000, 0xE000_1FFF, "DWT"), (0xE000_2000, 0xE000_2FFF, "FPB"),
    (0xE004_0000, 0xE004_0FFF, "TPIU"), (0xE004_2000, 0xE004_23FF, "DBGMCU"),
])
_STARTS = [b[0] for b in _BLOCKS]


def block_name(address: int) -> str | None:
    """The STM32F407 block at `address` (RM0090 Table 1), or None for a reserved address."""
    i = bisect.bisect_right(_STARTS, address) - 1
    if i >= 0 and address <= _BLOCKS[i][1]:
        return _BLOCKS[i][2]
    return None


@dataclass
class UnmodelledAccess:
    address: int
    write: bool
    function: str | None             # the function that made it (None: no symbol)
    count: int = 0
    first_cycles: int = 0            # virtual time of the first one

    def to_dict(self) -> dict:
        return {"address": f"0x{self.address:08x}", "block": block_name(self.address),
                "access": "write" if self.write else "read", "function": self.function, "count": self.count,
                "first_cycles": self.first_cycles}

    def describe(self) -> str:
        block = block_name(self.address) or "reserved"
        who = self.function or "?"
        return (f"0x{self.address:08x} ({block}) {'written' if self.write else 'read'} "
                f"{self.count}x by {who}")


class UnmodelledAccesses:
    """The record of a run's unmodelled accesses; `touch()` is called for every one."""

    def __init__(self, function_at: Callable[[], str | None], now: Callable[[], int]) -> None:
        self.function_at = function_at           # the function the CPU is in (from the PC)
        self.now = now
        self.entries: dict[tuple[int, bool, str | None], UnmodelledAccess] = {}
        self.not_recorded = 0

    def touch(self, address: int, write: bool) -> None:
        key = (address, write, self.function_at())
        entry = self.entries.get(key)
        if entry is None:
            if len(self.entries) >= MAX_KEYS:
                self.not_recorded += 1
                return
            entry = self.entries[key] = UnmodelledAccess(address, write, key[2], first_cycles=self.now())
        entry.count += 1

    def clear(self) -> None:
        self.entries.clear()
        self.not_recorded = 0

    def report(self) -> list[UnmodelledAccess]:
        """Every entry, by address, then reads before writes, then function."""
        return sorted(self.entries.values(), key=lambda e: (e.address, e.write, e.function or ""))


__all__ = ["MAX_KEYS", "UnmodelledAccess", "UnmodelledAccesses", "block_name"]
