"""The clock tree under firmware that does what ST's HAL and a CubeMX project do: a 1 ms
timebase at the 16 MHz HSI of reset, the switch to the 168 MHz PLL, the timebase again
(tests/firmware_src/clock_timers.c). Every tick is timed in virtual time by hooks, so the oracle
is the arithmetic of RM0090 (SysTick counts HCLK or HCLK/8, ARMv7-M ARM B3.3; a timer updates
every (PSC + 1) x (ARR + 1) timer clocks, RM0090 §18.3.2; the APB1 timers run at twice PCLK1
when its prescaler is not 1, RM0090 §6.2): 1 ms is 168 000 reference cycles of virtual time.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fwresult import run_to_finish

from sim.machine import Machine
from sim.platform import DEFAULT_REPL

MS = 168_000                                   # reference cycles (1/168 MHz) in a millisecond


def eval_board_platform(tmp_path: Path) -> Path:
    """The default platform with the STM324xG-EVAL's 25 MHz crystal (PLLM = 25)."""
    text = DEFAULT_REPL.read_text().replace("    rtcPeripheral: rtc\n",
                                            "    rtcPeripheral: rtc\n    hseFrequency: 25000000\n")
    assert "hseFrequency" in text
    path = tmp_path / "eval.repl"
    path.write_text(text)
    return path


def run_clock_test(elf: Path, repl: Path, handler: str, marks_hooked=("clock_switch_begin", "clock_switch_end")):
    """Run to the end with `handler` and the marker functions hooked: the virtual time of every
    handler entry, and of every call of each marker."""
    m = Machine(str(repl), seed=1)
    m.load_elf(str(elf))
    ticks: list[int] = []
    marks: dict[str, list[int]] = {mark: [] for mark in marks_hooked}
    m.hook(handler, lambda ctx: ticks.append(m.cycles))
    for mark in marks_hooked:
        m.hook(mark, lambda ctx, mark=mark: marks[mark].append(m.cycles))
    run, result = run_to_finish(m, max_cycles=200 * MS)
    assert result.passed, result.describe()
    return m, result, ticks, marks


@pytest.mark.parametrize("timebase, handler", [(1, "SysTick_Handler"), (2, "SysTick_Handler"),
                                               (3, "TIM6_DAC_IRQHandler")],
                         ids=["systick-hclk", "systick-hclk-div8", "tim6"])
@pytest.mark.parametrize("hse_mhz", [8, 25], ids=["hse8", "hse25"])
def test_timebase_ticks_every_millisecond_before_and_after_the_switch(build_test_firmware, tmp_path,
                                                                       timebase, handler, hse_mhz):
    elf = build_test_firmware("clock_timers", {"TIMEBASE": timebase, "HSE_MHZ": hse_mhz},
                              f"tb{timebase}-hse{hse_mhz}")
    repl = DEFAULT_REPL if hse_mhz == 8 else eval_board_platform(tmp_path)
    m, result, ticks, marks = run_clock_test(elf, repl, handler)
    (begin,), (end,) = marks["clock_switch_begin"], marks["clock_switch_end"]
    before = [b - a for a, b in zip(ticks, ticks[1:]) if b <= begin]
    after = [b - a for a, b in zip(ticks, ticks[1:]) if a >= end]
    assert len(before) >= 4 and len(after) >= 4, (ticks, begin, end)
    assert before == [MS] * len(before), "1 ms ticks at the 16 MHz HSI of reset"
    assert after == [MS] * len(after), "1 ms ticks once HCLK is the 168 MHz PLL"
    assert result.values[2] == 168_000_000
    assert m.peripherals["rcc"].describe_clocks().startswith("SYSCLK 168 MHz (PLL), HCLK 168 MHz")


def test_tim2_one_pulse_and_periodic_periods_before_and_after_the_switch(build_test_firmware):
    elf = build_test_firmware("clock_timers", {"TIMEBASE": 4}, "tim2")
    m, result, updates, marks = run_clock_test(elf, DEFAULT_REPL, "TIM2_IRQHandler",
                                               ("clock_switch_begin", "pulse_begin", "pulse_end"))
    assert result.values[0] == 16_000_000 and result.values[1] == 84_000_000   # the timer clocks
    (begin,) = marks["clock_switch_begin"]
    # one pulse of 2500 counts at 1 MHz: CEN is written a few instructions before pulse_begin
    # and seen cleared at most one poll loop late, a few core cycles either way
    for (start, stop), core_hz in zip(zip(marks["pulse_begin"], marks["pulse_end"]), (16, 168)):
        slack = 30 * 168 // core_hz                     # 30 core cycles in reference cycles
        assert 2500 * 168 - slack <= stop - start <= 2500 * 168 + slack, (stop - start, core_hz)
    first = [t for t in updates if t < begin]
    second = [t for t in updates if t > begin]
    assert len(first) == 5 and len(second) == 5
    for run in (first, second):
        assert [b - a for a, b in zip(run, run[1:])] == [MS] * 4
