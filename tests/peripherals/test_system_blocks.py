"""RCC, FLASH interface, PWR, GPIO and EXTI models against RM0090 (§7 RCC, §3 FLASH, §5 PWR, §8 GPIO, §12
EXTI)."""

from __future__ import annotations

import pytest

from sim.machine.peripherals.exti import STM32F4_EXTI
from sim.machine.peripherals.flash import KEY1, KEY2, STM32F4_FlashController
from sim.machine.peripherals.gpio import STM32_GPIOPort
from sim.machine.peripherals.pwr import STM32_PWR
from sim.machine.peripherals.rcc import STM32F4_RCC

from periphkit import Regs


# --- RCC -------------------------------------------------------------------------------------
@pytest.fixture
def rcc(machine):
    model = STM32F4_RCC(machine, "rcc", {"rtcPeripheral": "rtc"}, {})
    return model, Regs(model)


def test_rcc_reset_values_follow_rm0090(rcc):
    _, r = rcc
    assert r["CR"] == 0x0000_0083
    assert r["PLLCFGR"] == 0x2400_3010
    assert r["CFGR"] == 0
    assert r["AHB1ENR"] == 0x0010_0000          # CCMDATARAMEN, which the SVD omits
    assert r["CSR"] == 0x0E00_0000
    assert r["PLLI2SCFGR"] == 0x2000_3000


def test_hse_and_pll_ready_flags_follow_their_enables_after_a_delay(rcc, machine):
    model, r = rcc
    r["CR"] = r["CR"] | (1 << 16)                # HSEON
    assert not r["CR"] & (1 << 17), "HSERDY must not be set in the same cycle"
    machine.run_until(lambda: r["CR"] & (1 << 17))
    assert machine.cycles > 0
    r["CR"] = r["CR"] & ~(1 << 16)
    assert not r["CR"] & (1 << 17), "HSERDY drops with HSEON"
    r["CR"] = r["CR"] | (1 << 16)
    machine.run_until(lambda: r["CR"] & (1 << 17))
    r["PLLCFGR"] = 0x2740_5408                   # HSE 8 MHz, M=8 N=336 P=2 Q=7
    r["CR"] = r["CR"] | (1 << 24)
    assert not r["CR"] & (1 << 25)
    machine.run_until(lambda: r["CR"] & (1 << 25))
    assert model.warnings == []


def test_sws_follows_sw_only_once_the_source_is_ready(rcc, machine):
    _, r = rcc
    r["CR"] = r["CR"] | (1 << 16)                # HSEON, not ready yet
    r["CFGR"] = 0x1                              # SW = HSE
    assert (r["CFGR"] >> 2) & 3 == 0, "switched to a clock that is not ready"
    machine.run_until(lambda: r["CR"] & (1 << 17))
    assert (r["CFGR"] >> 2) & 3 == 1
    r["CFGR"] = 0x2                              # SW = PLL while the PLL is off
    assert (r["CFGR"] >> 2) & 3 == 1
    r["CFGR"] = 0x3                              # SWS is read-only: writes never land in it
    assert r["CFGR"] & 0xC == 0x4


def test_clock_tree_of_the_reference_board(rcc, machine):
    model, r = rcc
    r["CR"] = r["CR"] | (1 << 16)
    machine.run_until(lambda: r["CR"] & (1 << 17))
    r["PLLCFGR"] = 0x2740_5408
    r["CR"] = r["CR"] | (1 << 24)
    machine.run_until(lambda: r["CR"] & (1 << 25))
    r["CFGR"] = (0b101 << 10) | (0b100 << 13) | 0x2   # APB1 /4, APB2 /2, SW = PLL
    # RM0090 §6.2: timers on an APB with a prescaler other than 1 run at twice its PCLK
    assert model.clock_tree() == {"SYSCLK": 168_000_000, "HCLK": 168_000_000,
                                  "PCLK1": 42_000_000, "PCLK2": 84_000_000, "TIMCLK1": 84_000_000,
                                  "TIMCLK2": 168_000_000, "PLL48CLK": 48_000_000}


def test_pll_out_of_range_is_reported(rcc, machine):
    model, r = rcc
    r["PLLCFGR"] = 0x2440_5402                   # M=2 with HSE 8 MHz: VCO input 4 MHz
    r["CR"] = r["CR"] | (1 << 24)
    assert any("VCO input" in w for w in model.warnings)


# --- FLASH interface and PWR -------------------------------------------------------------------
def test_flash_acr_reads_back_and_keys_unlock_cr(machine):
    r = Regs(STM32F4_FlashController(machine, "flash_controller", {}, {}))
    r["ACR"] = 0x705                             # LATENCY 5, PRFTEN, ICEN, DCEN
    assert r["ACR"] == 0x705
    assert r["CR"] == 0x8000_0000
    r["CR"] = 0x1                                # locked: ignored
    assert r["CR"] == 0x8000_0000
    r["KEYR"] = KEY1
    r["KEYR"] = KEY2
    assert r["CR"] == 0
    r["CR"] = 0x8000_0000                        # relock
    r["KEYR"] = 0x1234                           # wrong key: locked until reset
    r["KEYR"] = KEY1
    r["KEYR"] = KEY2
    assert r["CR"] & 0x8000_0000


def test_pwr_resets_to_scale_1_and_action_bits_read_zero(machine):
    model = STM32_PWR(machine, "pwr", {}, {})
    r = Regs(model)
    assert r["CR"] == 0x0000_4000                # VOS = 1 (the SVD's 0 is wrong)
    assert model.voltage_scale == 1
    r["CR"] = 0x0000_0104                        # DBP + CWUF
    assert r["CR"] == 0x0000_0100
    r["CR"] = 0
    assert model.voltage_scale == 2


# --- GPIO ------------------------------------------------------------------------------------
def test_gpio_reset_values_come_from_the_repl(machine):
    r = Regs(STM32_GPIOPort(machine, "gpioPortA", {
        "modeResetValue": 0xA800_0000, "outputSpeedResetValue": 0x0C00_0000,
        "pullUpPullDownResetValue": 0x6400_0000, "numberOfAFs": 16}, {}))
    assert (r["MODER"], r["OSPEEDR"], r["PUPDR"]) == (0xA800_0000, 0x0C00_0000, 0x6400_0000)


def test_gpio_bsrr_set_wins_and_idr_shows_pins(machine):
    port = STM32_GPIOPort(machine, "gpioPortD", {}, {})
    r = Regs(port)
    changes = []
    port.on_change(lambda pin, level: changes.append((pin, level)))
    r["MODER"] = 0x5                             # pins 0, 1 output
    r["BSRR"] = (1 << 16) | 1 | (1 << 1)         # set and reset pin 0: set wins
    assert r["ODR"] == 0x3 and r["BSRR"] == 0
    assert (0, 1) in changes and (1, 1) in changes
    r["BSRR"] = 1 << 17
    assert r["ODR"] == 0x1
    r["PUPDR"] = 0x1 << 8                        # pin 4 input with pull-up
    assert r["IDR"] & (1 << 4)
    port.set_input(4, False)
    assert not r["IDR"] & (1 << 4)
    port.set_input(5, True)
    assert r["IDR"] & (1 << 5)


def test_gpio_lock_sequence_freezes_configuration(machine):
    r = Regs(STM32_GPIOPort(machine, "gpioPortC", {}, {}))
    r["MODER"] = 0x1
    for value in (0x1_0001, 0x0_0001, 0x1_0001):
        r["LCKR"] = value
    assert r["LCKR"] == 0x1_0001                 # the read completes the key sequence
    r["MODER"] = 0x2 | (1 << 2)
    assert r["MODER"] == 0x1 | (1 << 2), "pin 0 locked, pin 1 free"


# --- EXTI ------------------------------------------------------------------------------------
def test_exti_edges_set_pending_and_shared_lines_are_ored(machine):
    exti = STM32F4_EXTI(machine, "exti", {"numberOfOutputLines": 24},
                        {"0": 6, "5": 23, "6": 23})
    r = Regs(exti)
    r["IMR"] = (1 << 0) | (1 << 5) | (1 << 6)
    r["RTSR"] = (1 << 0) | (1 << 5) | (1 << 6)
    exti.set_line(0, True)
    assert machine.irq(6) and r["PR"] == 1
    r["PR"] = 1
    assert not machine.irq(6)
    exti.set_line(5, True)
    exti.set_line(6, True)
    assert machine.irq(23)
    r["PR"] = 1 << 5
    assert machine.irq(23), "line 6 still pending on the shared NVIC line"
    r["PR"] = 1 << 6
    assert not machine.irq(23)
    r["SWIER"] = 1 << 0
    assert machine.irq(6)
