"""TIM2-TIM7 against RM0090 §18 (general-purpose) and §20 (basic): the time base in virtual time.

The oracle is the reference manual's arithmetic: an update event every (PSC + 1) x (ARR + 1)
timer clocks (RM0090 §18.3.2, §20.3.2), at the timer clock the RCC gives the APB1 timers
(PCLK1 x 2 when the APB1 prescaler is not 1, RM0090 §6.2). Virtual time is in reference cycles
at 168 MHz, so 1 ms is 168 000 of them.
"""

from __future__ import annotations

import pytest

from sim.machine.peripherals.timers import TIMERS, STM32_Timer

from periphkit import Regs

MS = 168_000                                     # reference cycles per millisecond
TIM6, TIM2, TIM3, TIM5 = 0x4000_1000, 0x4000_0000, 0x4000_0400, 0x4000_0C00
CEN, UDIS, URS, OPM, DIR, ARPE = 1, 2, 4, 8, 0x10, 0x80
UIF, UG = 1, 1


def make(machine, address, irq=54):
    cls = STM32_Timer.model_for({}, address)
    model = cls(machine, TIMERS[address].name.lower(), {"frequency": 10_000_000, "initialLimit": 0xFFFF},
                {"": irq}, address=address)
    machine.clock_listeners.append(model)
    return model, Regs(model)


def rising_edges(machine, line):
    """Cycles at which IRQ `line` went high."""
    return [cycle for cycle, irq, level in machine.irq_log if irq == line and level]


def hal_timebase(r, psc, arr=999):
    """What HAL_InitTick (stm32f4xx_hal_timebase_tim_template.c) does with TIM6."""
    r["CR1"] = r["CR1"] & ~ARPE
    r["ARR"] = arr
    r["PSC"] = psc
    r["EGR"] = UG
    if r["SR"] & UIF:
        r["SR"] = ~UIF
    r["DIER"] = r["DIER"] | 1
    r["CR1"] = r["CR1"] | CEN


def ack(r):
    r["SR"] = ~UIF & 0xFFFF                        # HAL's __HAL_TIM_CLEAR_IT: rc_w0


def test_the_timer_at_each_address_has_its_own_register_table():
    assert STM32_Timer.model_for({}, TIM6).KIND.name == "TIM6"
    assert {r.name for r in STM32_Timer.model_for({}, TIM6).REGISTERS} == {
        "CR1", "CR2", "DIER", "SR", "EGR", "CNT", "PSC", "ARR"}
    assert STM32_Timer.model_for({}, TIM2).KIND.width == 32
    assert STM32_Timer.model_for({}, TIM3).KIND.width == 16
    with pytest.raises(ValueError, match="TIM2-TIM7"):
        STM32_Timer.model_for({}, 0x4001_0000)           # TIM1: not modelled, said so


def test_hal_timebase_on_tim6_ticks_every_millisecond(machine):
    machine.clocks.set(TIMCLK1=84_000_000)              # 168 MHz, APB1 /4: PCLK1 42, timers 84
    model, r = make(machine, TIM6)
    hal_timebase(r, psc=83)
    assert not r["SR"] & UIF                             # HAL cleared the flag of the UG
    start = machine.cycles
    for _ in range(5):
        machine.run_until(lambda: machine.irq(54), limit=2 * MS, step=997)
        ack(r)
    edges = rising_edges(machine, 54)
    assert [e - start for e in edges] == [MS, 2 * MS, 3 * MS, 4 * MS, 5 * MS]


def test_the_ug_of_init_sets_uif_unless_urs(machine):
    _, r = make(machine, TIM6)
    r["ARR"] = 10
    r["EGR"] = UG
    assert r["SR"] & UIF
    r["SR"] = 0
    r["CR1"] = URS
    r["EGR"] = UG
    assert not r["SR"] & UIF                             # URS: only overflows set UIF


def test_counter_reads_follow_virtual_time_and_stop_with_cen(machine):
    machine.clocks.set(TIMCLK1=16_000_000)              # the HSI at reset, APB1 /1
    _, r = make(machine, TIM6)
    r["PSC"] = 15                                        # 1 MHz counter clock
    r["ARR"] = 0xFFFF
    r["EGR"] = UG
    r["CR1"] = CEN
    machine.advance(168 * 250)                           # 250 us
    assert r["CNT"] == 250
    r["CR1"] = 0
    machine.advance(MS)
    assert r["CNT"] == 250                               # stopped: the count holds
    r["CR1"] = CEN
    machine.advance(168 * 10)
    assert r["CNT"] == 260


def test_psc_is_preloaded_and_applies_at_the_next_update(machine):
    machine.clocks.set(TIMCLK1=84_000_000)
    _, r = make(machine, TIM6)
    hal_timebase(r, psc=83)                             # 1 ms periods
    start = machine.cycles
    machine.advance(MS // 2)
    r["PSC"] = 167                                       # 2 ms periods, from the next update on
    for _ in range(3):
        machine.run_until(lambda: machine.irq(54), limit=3 * MS, step=1000)
        ack(r)
    assert [e - start for e in rising_edges(machine, 54)] == [MS, 3 * MS, 5 * MS]


def test_arr_writes_apply_at_once_without_arpe_and_at_the_update_with_it(machine):
    machine.clocks.set(TIMCLK1=84_000_000)
    _, r = make(machine, TIM6)
    r["PSC"] = 83                                        # 1 us counter clock
    r["ARR"] = 999
    r["EGR"] = UG
    r["SR"] = 0
    r["DIER"] = 1
    r["CR1"] = CEN
    start = machine.cycles
    machine.advance(168 * 100)                           # CNT = 100
    r["ARR"] = 499                                       # unbuffered: this period ends at 500
    machine.run_until(lambda: machine.irq(54), limit=MS, step=100)
    ack(r)
    assert rising_edges(machine, 54)[-1] - start == 168 * 500
    r["CR1"] = CEN | ARPE
    machine.advance(168 * 100)
    r["ARR"] = 1999                                      # buffered: the current period stays 500
    machine.run_until(lambda: machine.irq(54), limit=MS, step=100)
    ack(r)
    assert rising_edges(machine, 54)[-1] - start == 168 * 1000
    machine.run_until(lambda: machine.irq(54), limit=3 * MS, step=100)
    assert rising_edges(machine, 54)[-1] - start == 168 * 3000


def test_one_pulse_mode_stops_the_counter_at_the_update(machine):
    machine.clocks.set(TIMCLK1=84_000_000)
    model, r = make(machine, TIM2, irq=28)
    r["PSC"] = 83
    r["ARR"] = 4999                                      # 5 ms pulse
    r["EGR"] = UG
    r["SR"] = 0
    r["CR1"] = OPM | CEN
    start = machine.cycles
    machine.run_until(lambda: not r["CR1"] & CEN, limit=10 * MS, step=1000)
    assert machine.cycles - start in range(5 * MS, 5 * MS + 1000)
    assert r["SR"] & UIF and r["CNT"] == 0
    machine.advance(10 * MS)
    assert r["CNT"] == 0                                 # stays stopped
    assert model.counters["updates"] == 2                # the UG and the one pulse


def test_update_flags_nobody_waits_for_need_no_events(machine):
    machine.clocks.set(TIMCLK1=84_000_000)
    model, r = make(machine, TIM3, irq=29)
    r["PSC"] = 83
    r["ARR"] = 99                                        # 100 us periods, no interrupt enabled
    r["EGR"] = UG
    r["SR"] = 0
    r["CR1"] = CEN
    assert not model.armed("next")
    machine.advance(168 * 50)
    assert not r["SR"] & UIF
    machine.advance(168 * 60)                            # past the first overflow
    assert r["SR"] & UIF
    r["SR"] = 0
    assert not r["SR"] & UIF
    machine.advance(168 * 100)
    assert r["SR"] & UIF
    assert machine.irq_log == []


def test_udis_suppresses_the_update_but_the_counter_still_wraps(machine):
    machine.clocks.set(TIMCLK1=84_000_000)
    _, r = make(machine, TIM3, irq=29)
    r["PSC"] = 83
    r["ARR"] = 99
    r["EGR"] = UG
    r["SR"] = 0
    r["CR1"] = UDIS | CEN
    machine.advance(168 * 150)
    assert not r["SR"] & UIF
    assert r["CNT"] == 50


def test_down_and_center_aligned_counting(machine):
    machine.clocks.set(TIMCLK1=84_000_000)
    _, r = make(machine, TIM3, irq=29)
    r["PSC"] = 83
    r["ARR"] = 100
    r["CR1"] = DIR
    r["EGR"] = UG                                        # down-counting: CNT takes ARR
    assert r["CNT"] == 100
    r["SR"] = 0
    r["DIER"] = 1
    r["CR1"] = DIR | CEN
    start = machine.cycles
    machine.advance(168 * 30)
    assert r["CNT"] == 70
    machine.run_until(lambda: machine.irq(29), limit=MS, step=10)
    assert rising_edges(machine, 29)[-1] - start == 168 * 101   # 100 .. 0, then the underflow
    ack(r)
    # center-aligned mode 1: 0 up to ARR, down to 0; an update at the top and at the bottom
    r["CR1"] = 0
    r["CR1"] = 0x20
    r["CNT"] = 0
    r["CR1"] = 0x20 | CEN
    start = machine.cycles
    machine.advance(168 * 130)
    assert r["CNT"] == 70 and r["CR1"] & DIR             # on its way down: DIR reads 1
    machine.run_until(lambda: machine.irq(29), limit=MS, step=10)
    ack(r)
    machine.run_until(lambda: machine.irq(29), limit=MS, step=10)
    edges = [e - start for e in rising_edges(machine, 29)[-2:]]
    assert edges == [168 * 100, 168 * 200]


def test_a_clock_switch_changes_the_period_from_that_moment(machine):
    machine.clocks.set(TIMCLK1=16_000_000)              # HSI, APB1 /1
    _, r = make(machine, TIM6)
    hal_timebase(r, psc=15)                             # 1 ms at 16 MHz
    start = machine.cycles
    machine.run_until(lambda: machine.irq(54), limit=2 * MS, step=997)
    ack(r)
    machine.run_to(start + MS + MS // 2)                 # half way through the second period
    machine.clocks.set(TIMCLK1=84_000_000)              # the PLL: 5.25 times faster
    machine.run_until(lambda: machine.irq(54), limit=2 * MS, step=97)
    ack(r)
    edges = [e - start for e in rising_edges(machine, 54)]
    # the second half of the period (500 counts) at 84/16 the speed: 500 x 16/84 us
    assert edges == [MS, MS + MS // 2 + -(-500 * 16 * 168 // 84)]


def test_tim2_counts_32_bits_and_compare_sets_ccxif(machine):
    machine.clocks.set(TIMCLK1=84_000_000)
    _, r = make(machine, TIM2, irq=28)
    r["ARR"] = 0xFFFF_FFFF
    r["CCR1"] = 84_000_000                               # 1 s at 84 MHz, PSC 0
    r["EGR"] = UG
    r["SR"] = 0
    r["DIER"] = 0x2                                      # CC1IE
    r["CR1"] = CEN
    start = machine.cycles
    machine.advance(168 * 1_000_000 // 2)
    assert r["CNT"] == 42_000_000
    machine.run_until(lambda: machine.irq(28), limit=MS * 1000, step=MS)
    assert rising_edges(machine, 28)[-1] - start == 168_000_000
    assert r["SR"] & 0x2 and not r["SR"] & UIF
    assert r["CNT"] > 0x10000                             # a 32-bit count


def test_software_capture_copies_the_count(machine):
    machine.clocks.set(TIMCLK1=84_000_000)
    _, r = make(machine, TIM5, irq=50)
    r["PSC"] = 83
    r["ARR"] = 0xFFFF_FFFF
    r["CCMR1"] = 0x1                                     # CC1S = 01: channel 1 is an input
    r["EGR"] = UG
    r["SR"] = 0
    r["CR1"] = CEN
    machine.advance(168 * 1234)
    r["EGR"] = 0x2                                       # CC1G
    assert r["CCR1"] == 1234 and r["SR"] & 0x2
    r["EGR"] = 0x2
    assert r["SR"] & (1 << 9)                            # CC1OF: captured again before a read


def test_arr_zero_blocks_the_counter(machine):
    _, r = make(machine, TIM6)
    r["CR1"] = CEN
    machine.advance(MS)
    assert r["CNT"] == 0 and not r["SR"] & UIF
