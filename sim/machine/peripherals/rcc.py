"""STM32F4 reset and clock control (Renode type `Miscellaneous.STM32F4_RCC`) and the live clock tree.

Registers as RM0090 §7.3 describes them. Ready flags (HSIRDY, HSERDY, PLLRDY, PLLI2SRDY, LSIRDY,
LSERDY) follow their enable bits after a short virtual delay, and CFGR.SWS follows CFGR.SW once
the selected source is ready - as on silicon, a switch to a clock that is not ready yet happens
when it becomes ready. The enable bit of a clock that drives SYSCLK (directly, or through the
PLL) cannot be cleared (RM0090 §7.3.1, HSION/HSEON/PLLON).

The clock tree (RM0090 §6.2, Figure 21) is live: SYSCLK is the HSI (16 MHz, the reset source),
the HSE (the `hseFrequency` attribute, 8 MHz by default) or the PLL (VCO = source x N / M,
SYSCLK = VCO / P, PLL48CLK = VCO / Q, with the M/N/P/Q the PLL was enabled with: RM0090 §7.3.2
says PLLCFGR is written only while the PLL is off); HCLK = SYSCLK / HPRE, PCLKx = HCLK / PPREx,
and the timers of an APB run at PCLKx when PPREx is 1, else at 2 x PCLKx (RM0090 §6.2, "timer
clock frequencies"). Rates are exact fractions. Whenever a write or a source becoming ready
changes a rate, the RCC tells the machine (`services.clocks_changed()`) at that moment, and the
core, SysTick and the timers follow from there (docs/clock-tree.md).

`hseFrequency` is an attribute of the built-in machine only: Renode 1.16.1's STM32F4_RCC has no
such parameter and refuses a platform file that gives it. The default platform leaves it out
(8 MHz); a board file for another crystal (25 MHz on the STM324xG-EVAL) is for the built-in
machine.

Not modelled: the reset registers do not reset other peripherals, disabled peripheral clocks do
not gate register access in other models, the clock security system never fires, flash wait
states cost no time.
"""

from __future__ import annotations

from fractions import Fraction

from sim.machine.peripherals.base import Peripheral, model
from sim.machine.peripherals.clocks import CLOCK_NAMES, describe_rate
from sim.machine.peripherals.registers import RO, WO, Field, Register, flags
from sim.machine.peripherals.timing import Deadlines

HSI_HZ = 16_000_000                  # RM0090 §6.2.2
HSE_DEFAULT_HZ = 8_000_000           # the STM32F4-Discovery's crystal
# an HSE crystal is 4-26 MHz (RM0090 §6.2.1); in bypass mode an external clock up to 50 MHz
# (STM32F407 datasheet, "High-speed external user clock")
HSE_RANGE = (1_000_000, 50_000_000)

CR = Register("CR", 0x00, reset=0x0000_0083, on_write="_sources_written", fields=[
    Field("HSION", 0), Field("HSIRDY", 1, access=RO), Field("HSITRIM", 3, 5),
    Field("HSICAL", 8, 8, RO), Field("HSEON", 16), Field("HSERDY", 17, access=RO),
    Field("HSEBYP", 18), Field("CSSON", 19), Field("PLLON", 24), Field("PLLRDY", 25, access=RO),
    Field("PLLI2SON", 26), Field("PLLI2SRDY", 27, access=RO)])
PLLCFGR = Register("PLLCFGR", 0x04, reset=0x2400_3010, fields=[
    Field("PLLM", 0, 6), Field("PLLN", 6, 9), Field("PLLP", 16, 2), Field("PLLSRC", 22),
    Field("PLLQ", 24, 4)])
CFGR = Register("CFGR", 0x08, on_write="_cfgr_written", fields=[
    Field("SW", 0, 2), Field("SWS", 2, 2, RO), Field("HPRE", 4, 4), Field("PPRE1", 10, 3),
    Field("PPRE2", 13, 3), Field("RTCPRE", 16, 5), Field("MCO1", 21, 2), Field("I2SSRC", 23),
    Field("MCO1PRE", 24, 3), Field("MCO2PRE", 27, 3), Field("MCO2", 30, 2)])
# CIR: ready flags (read-only), their interrupt enables, and write-only clear bits
CIR = Register("CIR", 0x0C, on_write="_cir_written", fields=[
    *flags(RO, LSIRDYF=0, LSERDYF=1, HSIRDYF=2, HSERDYF=3, PLLRDYF=4, PLLI2SRDYF=5, CSSF=7),
    *flags(LSIRDYIE=8, LSERDYIE=9, HSIRDYIE=10, HSERDYIE=11, PLLRDYIE=12, PLLI2SRDYIE=13),
    *flags(WO, LSIRDYC=16, LSERDYC=17, HSIRDYC=18, HSERDYC=19, PLLRDYC=20, PLLI2SRDYC=21, CSSC=23)])
CIR_FLAGS = CIR.mask_of("LSIRDYF", "LSERDYF", "HSIRDYF", "HSERDYF", "PLLRDYF", "PLLI2SRDYF", "CSSF")
CIR_CLEARS_SHIFT = 16                # xxxC clears xxxF, 16 bits below it

# Peripheral reset, clock enable and low-power clock enable bits, one per peripheral
# (RM0090 §7.3). CRYP and HASH (AHB2 bits 4-5) exist on the F415/F417 only.
_AHB1 = dict(GPIOA=0, GPIOB=1, GPIOC=2, GPIOD=3, GPIOE=4, GPIOF=5, GPIOG=6, GPIOH=7, GPIOI=8,
             CRC=12, DMA1=21, DMA2=22, ETHMAC=25, OTGHS=29)
_AHB1_CLOCKS = dict(_AHB1, BKPSRAM=18, ETHMACTX=26, ETHMACRX=27, ETHMACPTP=28, OTGHSULPI=30)
_AHB2 = dict(DCMI=0, CRYP=4, HASH=5, RNG=6, OTGFS=7)
_AHB3 = dict(FSMC=0)
_APB1 = dict(TIM2=0, TIM3=1, TIM4=2, TIM5=3, TIM6=4, TIM7=5, TIM12=6, TIM13=7, TIM14=8, WWDG=11,
             SPI2=14, SPI3=15, USART2=17, USART3=18, UART4=19, UART5=20, I2C1=21, I2C2=22,
             I2C3=23, CAN1=25, CAN2=26, PWR=28, DAC=29)
_APB2 = dict(TIM1=0, TIM8=1, USART1=4, USART6=5, ADC=8, SDIO=11, SPI1=12, SYSCFG=14, TIM9=16,
             TIM10=17, TIM11=18)
_APB2_CLOCKS = dict({k: v for k, v in _APB2.items() if k != "ADC"}, ADC1=8, ADC2=9, ADC3=10)


def _bits(names: dict[str, int], suffix: str) -> list[Field]:
    return flags(**{f"{name}{suffix}": bit for name, bit in names.items()})


AHB1RSTR = Register("AHB1RSTR", 0x10, _bits(_AHB1, "RST"))
AHB2RSTR = Register("AHB2RSTR", 0x14, _bits(_AHB2, "RST"))
AHB3RSTR = Register("AHB3RSTR", 0x18, _bits(_AHB3, "RST"))
APB1RSTR = Register("APB1RSTR", 0x20, _bits(_APB1, "RST"))
APB2RSTR = Register("APB2RSTR", 0x24, _bits(_APB2, "RST"))
# bit 20 CCMDATARAMEN: the CCM clock, on after reset (ST's SVD omits the bit, so its reset value
# 0x0010_0000 sets a bit it does not declare)
AHB1ENR = Register("AHB1ENR", 0x30, _bits(dict(_AHB1_CLOCKS, CCMDATARAM=20), "EN"), reset=0x0010_0000)
AHB2ENR = Register("AHB2ENR", 0x34, _bits(_AHB2, "EN"))
AHB3ENR = Register("AHB3ENR", 0x38, _bits(_AHB3, "EN"))
APB1ENR = Register("APB1ENR", 0x40, _bits(_APB1, "EN"))
APB2ENR = Register("APB2ENR", 0x44, _bits(_APB2_CLOCKS, "EN"))
AHB1LPENR = Register("AHB1LPENR", 0x50, _bits(dict(_AHB1_CLOCKS, FLITF=15, SRAM1=16, SRAM2=17), "LPEN"),
                     reset=0x7E67_91FF)
AHB2LPENR = Register("AHB2LPENR", 0x54, _bits(_AHB2, "LPEN"), reset=0x0000_00F1)
AHB3LPENR = Register("AHB3LPENR", 0x58, _bits(_AHB3, "LPEN"), reset=0x0000_0001)
APB1LPENR = Register("APB1LPENR", 0x60, _bits(_APB1, "LPEN"), reset=0x36FE_C9FF)
APB2LPENR = Register("APB2LPENR", 0x64, _bits(_APB2_CLOCKS, "LPEN"), reset=0x0007_5F33)
BDCR = Register("BDCR", 0x70, on_write="_sources_written", fields=[
    Field("LSEON", 0), Field("LSERDY", 1, access=RO), Field("LSEBYP", 2), Field("RTCSEL", 8, 2),
    Field("RTCEN", 15), Field("BDRST", 16)])
CSR = Register("CSR", 0x74, reset=0x0E00_0000, on_write="_csr_written", fields=[
    Field("LSION", 0), Field("LSIRDY", 1, access=RO), Field("RMVF", 24, access=WO),
    *flags(RO, BORRSTF=25, PINRSTF=26, PORRSTF=27, SFTRSTF=28, IWDGRSTF=29, WWDGRSTF=30, LPWRRSTF=31)])
CSR_RESET_FLAGS = CSR.mask_of("BORRSTF", "PINRSTF", "PORRSTF", "SFTRSTF", "IWDGRSTF", "WWDGRSTF", "LPWRRSTF")
SSCGR = Register("SSCGR", 0x80, fields=[
    Field("MODPER", 0, 13), Field("INCSTEP", 13, 15), Field("SPREADSEL", 30), Field("SSCGEN", 31)])
PLLI2SCFGR = Register("PLLI2SCFGR", 0x84, reset=0x2000_3000, fields=[
    Field("PLLI2SN", 6, 9), Field("PLLI2SR", 28, 3)])

# clock source -> (enable field, ready field); CIR has its xxxRDYF flag and xxxRDYIE enable
SOURCES = {
    "HSI": (CR.HSION, CR.HSIRDY), "HSE": (CR.HSEON, CR.HSERDY), "PLL": (CR.PLLON, CR.PLLRDY),
    "PLLI2S": (CR.PLLI2SON, CR.PLLI2SRDY), "LSI": (CSR.LSION, CSR.LSIRDY),
    "LSE": (BDCR.LSEON, BDCR.LSERDY),
}
SYSCLK_READY = {0: CR.HSIRDY, 1: CR.HSERDY, 2: CR.PLLRDY}      # CFGR.SW -> ready flag
AHB_DIVIDERS = {8: 2, 9: 4, 10: 8, 11: 16, 12: 64, 13: 128, 14: 256, 15: 512}
APB_DIVIDERS = {4: 2, 5: 4, 6: 8, 7: 16}


@model("Miscellaneous.STM32F4_RCC")
class STM32F4_RCC(Deadlines, Peripheral):
    SIZE = 0x400
    REGISTERS = (CR, PLLCFGR, CFGR, CIR, AHB1RSTR, AHB2RSTR, AHB3RSTR, APB1RSTR, APB2RSTR,
                 AHB1ENR, AHB2ENR, AHB3ENR, APB1ENR, APB2ENR, AHB1LPENR, AHB2LPENR, AHB3LPENR,
                 APB1LPENR, APB2LPENR, BDCR, CSR, SSCGR, PLLI2SCFGR)

    # Virtual start-up times (reference cycles, 1/168 MHz). Short on purpose: long enough that
    # firmware which does not wait on a ready flag sees it low, short enough that boot stays
    # fast (the datasheet's HSE start-up is ~2 ms, the PLL lock ~100 us).
    startup_cycles = {"HSI": 64, "HSE": 512, "PLL": 256, "PLLI2S": 256, "LSI": 64, "LSE": 1024}

    def __init__(self, services, name, params=None, irqs=None, **kwargs) -> None:
        hse = (params or {}).get("hseFrequency", HSE_DEFAULT_HZ)
        if isinstance(hse, bool) or not isinstance(hse, int) or not HSE_RANGE[0] <= hse <= HSE_RANGE[1]:
            raise ValueError(f"hseFrequency must be the HSE crystal or clock in Hz, "
                             f"{HSE_RANGE[0]}..{HSE_RANGE[1]} (e.g. hseFrequency: 25000000), not {hse!r}")
        self.hse_frequency = hse
        super().__init__(services, name, params, irqs, **kwargs)

    def reset(self) -> None:
        super().reset()
        self.clear_deadlines()
        self._irq_level = False
        self.warnings: list[str] = []
        self._pll_config = self._pll_fields()       # what the PLL runs with (latched at enable)
        self._rates = self._compute_rates()

    # --- register callbacks ------------------------------------------------------------------
    def _sources_written(self, old: int, new: int) -> None:
        self._keep_sysclk_sources()
        self._sources_changed()

    def _cfgr_written(self, old: int, new: int) -> None:
        self._update_sws()
        self._rates_may_have_changed()

    def _cir_written(self, old: int, written: int) -> None:
        clears = (written >> CIR_CLEARS_SHIFT) & CIR_FLAGS
        self[CIR] &= ~clears
        self._update_irq()

    def _csr_written(self, old: int, written: int) -> None:
        if CSR.RMVF.get(written):            # remove the reset flags
            self[CSR] &= ~CSR_RESET_FLAGS
        self._sources_changed()

    # --- ready flags ---------------------------------------------------------------
    def _keep_sysclk_sources(self) -> None:
        """HSION, HSEON and PLLON cannot be cleared while their clock drives SYSCLK."""
        sws = self[CFGR.SWS]
        if sws == 0:
            self[CR.HSION] = 1
        elif sws == 1:
            self[CR.HSEON] = 1
        elif sws == 2:
            self[CR.PLLON] = 1
            self[CR.HSEON if self._pll_config[0] else CR.HSION] = 1

    def _sources_changed(self) -> None:
        for name, (enable, ready) in SOURCES.items():
            if self[enable] and not self[ready]:
                if not self.armed(name):
                    if name == "PLL":
                        self._pll_config = self._pll_fields()
                        self._check_pll_config()
                    self.arm(name, self.startup_cycles[name], getattr(self, f"_ready_{name}"))
            elif not self[enable]:
                self.disarm(name)
                self[ready] = 0
        self._update_sws()
        self._rates_may_have_changed()

    def _became_ready(self, name: str) -> None:
        if not self.expire(name):
            return
        enable, ready = SOURCES[name]
        if self[enable]:
            self[ready] = 1
            if self[CIR.field(f"{name}RDYIE")]:
                self[CIR.field(f"{name}RDYF")] = 1
                self._update_irq()
        self._update_sws()
        self._rates_may_have_changed()

    # one bound method per source, so scheduled callbacks stay plain bound methods
    def _ready_HSI(self) -> None: self._became_ready("HSI")
    def _ready_HSE(self) -> None: self._became_ready("HSE")
    def _ready_PLL(self) -> None: self._became_ready("PLL")
    def _ready_PLLI2S(self) -> None: self._became_ready("PLLI2S")
    def _ready_LSI(self) -> None: self._became_ready("LSI")
    def _ready_LSE(self) -> None: self._became_ready("LSE")

    def _update_sws(self) -> None:
        sw = self[CFGR.SW]
        ready = SYSCLK_READY.get(sw)
        if ready is not None and self[ready]:
            self[CFGR.SWS] = sw

    def _update_irq(self) -> None:
        level = bool(self[CIR] & CIR_FLAGS)
        if level != self._irq_level:
            self._irq_level = level
            self.drive_irq(level)

    def _pll_fields(self) -> tuple[int, int, int, int, int]:
        return (self[PLLCFGR.PLLSRC], self[PLLCFGR.PLLM], self[PLLCFGR.PLLN], self[PLLCFGR.PLLP],
                self[PLLCFGR.PLLQ])

    def _check_pll_config(self) -> None:
        source = self.hse_frequency if self[PLLCFGR.PLLSRC] else HSI_HZ
        m, n = self[PLLCFGR.PLLM], self[PLLCFGR.PLLN]
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

    # --- clock tree (Hz, exact) ---------------------------------------------------------------
    def vco(self) -> Fraction:
        src, m, n, _, _ = self._pll_config
        source = self.hse_frequency if src else HSI_HZ
        return Fraction(source * n, m or 1)

    def pllclk(self) -> Fraction:
        return self.vco() / (2 * (self._pll_config[3] + 1))

    def pll48(self) -> Fraction:
        q = self._pll_config[4]
        return self.vco() / q if q >= 2 else Fraction(0)

    def sysclk(self) -> Fraction:
        sws = self[CFGR.SWS]
        if sws == 1:
            return Fraction(self.hse_frequency)
        if sws == 2:
            return self.pllclk()
        return Fraction(HSI_HZ)

    def _compute_rates(self) -> dict[str, Fraction]:
        sysclk = self.sysclk()
        hclk = sysclk / AHB_DIVIDERS.get(self[CFGR.HPRE], 1)
        apb1 = APB_DIVIDERS.get(self[CFGR.PPRE1], 1)
        apb2 = APB_DIVIDERS.get(self[CFGR.PPRE2], 1)
        pclk1, pclk2 = hclk / apb1, hclk / apb2
        return {"SYSCLK": sysclk, "HCLK": hclk, "PCLK1": pclk1, "PCLK2": pclk2,
                "TIMCLK1": pclk1 if apb1 == 1 else 2 * pclk1,
                "TIMCLK2": pclk2 if apb2 == 1 else 2 * pclk2,
                "PLL48CLK": self.pll48()}

    def _rates_may_have_changed(self) -> None:
        rates = self._compute_rates()
        if rates != self._rates:
            self._rates = rates
            self.services.clocks_changed()

    def rate(self, clock: str) -> Fraction:
        """The live rate of `clock` in Hz (ClockTree)."""
        try:
            return self._rates[clock]
        except KeyError:
            raise KeyError(f"no clock named {clock!r} (clocks: {', '.join(CLOCK_NAMES)})") from None

    def hclk(self) -> Fraction:
        return self._rates["HCLK"]

    def pclk1(self) -> Fraction:
        return self._rates["PCLK1"]

    def pclk2(self) -> Fraction:
        return self._rates["PCLK2"]

    def clock_tree(self) -> dict[str, Fraction]:
        """Every clock by name, e.g. {"SYSCLK": Fraction(168000000), "HCLK": ..., ...}."""
        return dict(self._rates)

    def describe_clocks(self) -> str:
        """`SYSCLK 168 MHz (PLL), HCLK 168 MHz, PCLK1 42 MHz, ...` for reports."""
        source = {0: "HSI", 1: "HSE", 2: "PLL"}.get(self[CFGR.SWS], "HSI")
        parts = [f"{name} {describe_rate(rate)}" for name, rate in self._rates.items()]
        return f"{parts[0]} ({source}), " + ", ".join(parts[1:])
