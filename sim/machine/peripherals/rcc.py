"""STM32F4 reset and clock control (Renode type `Miscellaneous.STM32F4_RCC`).

Reset values and bit positions are from facts/stm32f407.md §3. Ready flags (HSIRDY, HSERDY,
PLLRDY, PLLI2SRDY, LSIRDY, LSERDY) follow their enable bits after a short virtual delay, and
CFGR.SWS follows CFGR.SW once the selected source is ready - as on silicon, a switch to a clock
that is not ready yet happens when it becomes ready. The clock tree (SYSCLK, HCLK, PCLK1/2,
PLL48CLK) is computed from the registers for other models and for reports.

Not modelled: the reset registers do not reset other peripherals, disabled peripheral clocks do
not gate register access in other models, the clock security system never fires.
"""

from __future__ import annotations

from sim.machine.peripherals.base import Field, Peripheral, Register, model
from sim.machine.peripherals.timing import Deadlines

HSI_HZ = 16_000_000

# CR bits
HSION, HSIRDY = 1 << 0, 1 << 1
HSEON, HSERDY = 1 << 16, 1 << 17
PLLON, PLLRDY = 1 << 24, 1 << 25
PLLI2SON, PLLI2SRDY = 1 << 26, 1 << 27

# CIR: flags [7:0] (read-only), enables [13:8], clear bits [23:16] (write-only)
CIR_FLAG = {"LSI": 1 << 0, "LSE": 1 << 1, "HSI": 1 << 2, "HSE": 1 << 3, "PLL": 1 << 4, "PLLI2S": 1 << 5}
CIR_ENABLES = 0x3F00
CIR_CLEARS = 0xBF_0000

# BDCR / CSR bits
LSEON, LSERDY = 1 << 0, 1 << 1
LSION, LSIRDY = 1 << 0, 1 << 1
RMVF = 1 << 24
CSR_RESET_FLAGS = 0xFE00_0000

AHB_DIVIDERS = {8: 2, 9: 4, 10: 8, 11: 16, 12: 64, 13: 128, 14: 256, 15: 512}
APB_DIVIDERS = {4: 2, 5: 4, 6: 8, 7: 16}


def _cr_written(self: "STM32F4_RCC", old: int, new: int) -> None:
    self._sources_changed()


def _cfgr_written(self: "STM32F4_RCC", old: int, new: int) -> None:
    self._update_sws()


def _cir_written(self: "STM32F4_RCC", old: int, new: int) -> None:
    clears = (new >> 16) & 0xBF
    self.values["CIR"] = (old & ~(CIR_ENABLES | clears)) | (new & CIR_ENABLES)
    self._update_irq()


def _bdcr_written(self: "STM32F4_RCC", old: int, new: int) -> None:
    self._sources_changed()


def _csr_written(self: "STM32F4_RCC", old: int, new: int) -> None:
    if new & RMVF:                       # remove reset flags; RMVF itself reads 0
        self.values["CSR"] = new & ~(RMVF | CSR_RESET_FLAGS)
    self._sources_changed()


@model("Miscellaneous.STM32F4_RCC")
class STM32F4_RCC(Deadlines, Peripheral):
    SIZE = 0x400
    REGISTERS = (
        Register("CR", 0x00, 0x0000_0083, fields=(
            Field("HSION", 0), Field("HSIRDY", 1), Field("HSITRIM", 3, 5), Field("HSICAL", 8, 8),
            Field("HSEON", 16), Field("HSERDY", 17), Field("HSEBYP", 18), Field("CSSON", 19),
            Field("PLLON", 24), Field("PLLRDY", 25), Field("PLLI2SON", 26), Field("PLLI2SRDY", 27)),
            write_mask=0x050D_00F9, on_write=_cr_written),
        Register("PLLCFGR", 0x04, 0x2400_3010, fields=(
            Field("PLLM", 0, 6), Field("PLLN", 6, 9), Field("PLLP", 16, 2), Field("PLLSRC", 22),
            Field("PLLQ", 24, 4)), write_mask=0x0F43_7FFF),
        Register("CFGR", 0x08, 0, fields=(
            Field("SW", 0, 2), Field("SWS", 2, 2), Field("HPRE", 4, 4), Field("PPRE1", 10, 3),
            Field("PPRE2", 13, 3), Field("RTCPRE", 16, 5), Field("MCO1", 21, 2), Field("I2SSRC", 23),
            Field("MCO1PRE", 24, 3), Field("MCO2PRE", 27, 3), Field("MCO2", 30, 2)),
            write_mask=0xFFFF_FCF3, on_write=_cfgr_written),
        Register("CIR", 0x0C, 0, write_mask=CIR_ENABLES | CIR_CLEARS, on_write=_cir_written),
        Register("AHB1RSTR", 0x10, 0, write_mask=0x2260_11FF),
        Register("AHB2RSTR", 0x14, 0, write_mask=0x0000_00F1),
        Register("AHB3RSTR", 0x18, 0, write_mask=0x0000_0001),
        Register("APB1RSTR", 0x20, 0, write_mask=0x36FE_C9FF),
        Register("APB2RSTR", 0x24, 0, write_mask=0x0007_5933),
        Register("AHB1ENR", 0x30, 0x0010_0000, write_mask=0x7E77_11FF),
        Register("AHB2ENR", 0x34, 0, write_mask=0x0000_00F1),
        Register("AHB3ENR", 0x38, 0, write_mask=0x0000_0001),
        Register("APB1ENR", 0x40, 0, write_mask=0x36FE_C9FF),
        Register("APB2ENR", 0x44, 0, write_mask=0x0007_5F33),
        Register("AHB1LPENR", 0x50, 0x7E67_91FF),
        Register("AHB2LPENR", 0x54, 0x0000_00F1),
        Register("AHB3LPENR", 0x58, 0x0000_0001),
        Register("APB1LPENR", 0x60, 0x36FE_C9FF),
        Register("APB2LPENR", 0x64, 0x0007_5F33),
        Register("BDCR", 0x70, 0, write_mask=0x0001_8305, on_write=_bdcr_written),
        Register("CSR", 0x74, 0x0E00_0000, write_mask=RMVF | LSION, on_write=_csr_written),
        Register("SSCGR", 0x80, 0),
        Register("PLLI2SCFGR", 0x84, 0x2000_3000, write_mask=0x7000_7FC0),
    )

    # Virtual start-up times (CPU cycles). Short on purpose: long enough that firmware which
    # does not wait on a ready flag sees it low, short enough that boot stays fast.
    hse_frequency = 8_000_000            # the board crystal (STM32F4-Discovery); not in the .repl
    startup_cycles = {"HSI": 64, "HSE": 512, "PLL": 256, "PLLI2S": 256, "LSI": 64, "LSE": 1024}

    def reset(self) -> None:
        super().reset()
        self.clear_deadlines()
        self._irq_level = False
        self.warnings: list[str] = []

    # --- ready flags ---------------------------------------------------------------
    def _source_bits(self) -> dict[str, tuple[str, int, int]]:
        # name -> (register, enable bit, ready bit)
        return {"HSI": ("CR", HSION, HSIRDY), "HSE": ("CR", HSEON, HSERDY),
                "PLL": ("CR", PLLON, PLLRDY), "PLLI2S": ("CR", PLLI2SON, PLLI2SRDY),
                "LSI": ("CSR", LSION, LSIRDY), "LSE": ("BDCR", LSEON, LSERDY)}

    def _sources_changed(self) -> None:
        for name, (reg, enable, ready) in self._source_bits().items():
            value = self.values[reg]
            if value & enable and not value & ready:
                if not self.armed(name):
                    if name == "PLL":
                        self._check_pll_config()
                    self.arm(name, self.startup_cycles[name], getattr(self, f"_ready_{name}"))
            elif not value & enable:
                self.disarm(name)
                self.values[reg] = value & ~ready
        self._update_sws()

    def _became_ready(self, name: str) -> None:
        if not self.expire(name):
            return
        reg, enable, ready = self._source_bits()[name]
        if self.values[reg] & enable:
            self.values[reg] |= ready
            if self.values["CIR"] & (CIR_FLAG[name] << 8):
                self.values["CIR"] |= CIR_FLAG[name]
                self._update_irq()
        self._update_sws()

    # one bound method per source, so scheduled callbacks stay plain bound methods
    def _ready_HSI(self) -> None: self._became_ready("HSI")
    def _ready_HSE(self) -> None: self._became_ready("HSE")
    def _ready_PLL(self) -> None: self._became_ready("PLL")
    def _ready_PLLI2S(self) -> None: self._became_ready("PLLI2S")
    def _ready_LSI(self) -> None: self._became_ready("LSI")
    def _ready_LSE(self) -> None: self._became_ready("LSE")

    def _update_sws(self) -> None:
        cfgr = self.values["CFGR"]
        sw = cfgr & 3
        ready = {0: HSIRDY, 1: HSERDY, 2: PLLRDY}.get(sw, 0)
        if ready and self.values["CR"] & ready:
            self.values["CFGR"] = (cfgr & ~0xC) | (sw << 2)

    def _update_irq(self) -> None:
        level = bool(self.values["CIR"] & 0xBF)
        if level != self._irq_level:
            self._irq_level = level
            self.drive_irq(level)

    def _check_pll_config(self) -> None:
        source = self.hse_frequency if self.get_field("PLLCFGR", "PLLSRC") else HSI_HZ
        m, n = self.get_field("PLLCFGR", "PLLM"), self.get_field("PLLCFGR", "PLLN")
        problems = []
        if m < 2:
            problems.append(f"PLLM={m} (must be 2..63)")
        elif not 1_000_000 <= source / m <= 2_000_000:
            problems.append(f"VCO input {source / m / 1e6:.3g} MHz (must be 1-2 MHz)")
        if not 50 <= n <= 432:
            problems.append(f"PLLN={n} (must be 50..432)")
        elif m >= 2 and not 100e6 <= source * n / m <= 432e6:
            problems.append(f"VCO output {source * n / m / 1e6:.4g} MHz (must be 100-432 MHz)")
        if problems:
            self.warnings.append(f"{self.name}: PLL enabled with " + ", ".join(problems))

    # --- clock tree (Hz) -------------------------------------------------------------
    def vco(self) -> int:
        source = self.hse_frequency if self.get_field("PLLCFGR", "PLLSRC") else HSI_HZ
        m = self.get_field("PLLCFGR", "PLLM") or 1
        return source * self.get_field("PLLCFGR", "PLLN") // m

    def pllclk(self) -> int:
        return self.vco() // (2 * (self.get_field("PLLCFGR", "PLLP") + 1))

    def pll48(self) -> int:
        q = self.get_field("PLLCFGR", "PLLQ")
        return self.vco() // q if q >= 2 else 0

    def sysclk(self) -> int:
        sws = self.get_field("CFGR", "SWS")
        return {0: HSI_HZ, 1: self.hse_frequency, 2: self.pllclk()}.get(sws, HSI_HZ)

    def hclk(self) -> int:
        return self.sysclk() // AHB_DIVIDERS.get(self.get_field("CFGR", "HPRE"), 1)

    def pclk1(self) -> int:
        return self.hclk() // APB_DIVIDERS.get(self.get_field("CFGR", "PPRE1"), 1)

    def pclk2(self) -> int:
        return self.hclk() // APB_DIVIDERS.get(self.get_field("CFGR", "PPRE2"), 1)

    def clock_tree(self) -> dict[str, int]:
        return {"sysclk": self.sysclk(), "hclk": self.hclk(), "pclk1": self.pclk1(),
                "pclk2": self.pclk2(), "pll48": self.pll48()}
