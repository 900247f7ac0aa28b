"""The RTC calendar against RM0090 §26 and Python's own calendar: RTC_TR/RTC_DR in BCD from the
date a scenario sets, advancing with virtual time, set by firmware the documented way (write
protection keys, initialization mode), and read coherently (TR locks DR)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from sim.machine.peripherals.rtc import STM32F4_RTC

from periphkit import Regs

FREQ = 168_000_000


def unix_ns(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()) * 1_000_000_000


def bcd(n: int) -> int:
    return int(str(n), 16)


def expected_tr_dr(t: datetime) -> tuple[int, int]:
    """RM0090 §26.6.1/§26.6.2 layouts, filled from Python's calendar."""
    tr = bcd(t.hour) << 16 | bcd(t.minute) << 8 | bcd(t.second)
    dr = bcd(t.year % 100) << 16 | t.isoweekday() << 13 | bcd(t.month) << 8 | bcd(t.day)
    return tr, dr


@pytest.fixture
def rtc(machine):
    model = STM32F4_RTC(machine, "rtc", {}, {})
    return model, Regs(model)


def test_reset_values(rtc, machine):
    _, r = rtc
    assert r["TR"] == 0 and r["DR"] == 0x0000_2101          # 2000-01-01, WDU 1
    assert r["ISR"] & 0x7F == 0x27                          # ALRAWF ALRBWF WUTWF, RSF; INITS 0 (year 0)
    assert r["PRER"] == 0x007F_00FF and r["WUTR"] == 0xFFFF
    machine.cycles = 86_400 * FREQ                           # a day later the weekday counts on from 1
    _ = r["TR"]
    assert r["DR"] == 0x0000_4102                            # 2000-01-02, WDU 2


def test_the_weekday_is_the_one_software_wrote(rtc, machine):
    _, r = rtc
    r["WPR"] = 0xCA
    r["WPR"] = 0x53
    r["ISR"] = 1 << 7
    r["TR"] = 0x23_59_59
    r["DR"] = 0x24_00_00 | 7 << 13 | 0x0101                  # 2024-01-01 written as a Sunday (it was a Monday)
    r["ISR"] = 0
    machine.cycles = 1 * FREQ
    _ = r["TR"]
    assert r["DR"] == 0x24_00_00 | 1 << 13 | 0x0102          # the next day: Monday by its count


@pytest.mark.parametrize("start", ["2017-10-12T22:16:00", "2024-02-28T23:59:58", "2099-12-31T23:59:59"])
def test_the_calendar_starts_at_the_date_set_and_follows_virtual_time(rtc, machine, start):
    model, r = rtc
    model.set_calendar(unix_ns(start))
    t0 = datetime.fromisoformat(start)
    for elapsed in (0, 1, 2, 61, 3600 + 0.5):
        machine.cycles = int(elapsed * FREQ)
        t = t0 + timedelta(seconds=int(elapsed))
        assert (r["TR"], r["DR"]) == expected_tr_dr(t), (start, elapsed)   # TR first: DR is read after it
    assert r["SSR"] == 255 - 128                             # half a second: SS counts down from PREDIV_S
    assert r["DR"] == expected_tr_dr(t0 + timedelta(seconds=3600))[1]
    year = (t0 + timedelta(seconds=3600)).year % 100
    assert bool(r["ISR"] & (1 << 4)) == (year != 0)          # INITS: the year field is not 0


def test_reading_tr_locks_dr_until_dr_is_read(rtc, machine):
    model, r = rtc
    model.set_calendar(unix_ns("2024-03-31T23:59:59"))
    tr = r["TR"]
    machine.cycles = 2 * FREQ                                 # midnight passes between the two reads
    assert (tr, r["DR"]) == expected_tr_dr(datetime(2024, 3, 31, 23, 59, 59))
    assert (r["TR"], r["DR"]) == expected_tr_dr(datetime(2024, 4, 1, 0, 0, 1))


def test_firmware_sets_the_time_in_initialization_mode_after_the_keys(rtc, machine):
    model, r = rtc
    model.set_calendar(unix_ns("2024-01-01T00:00:00"))
    new_tr, new_dr = expected_tr_dr(datetime(2020, 6, 15, 8, 30, 0))
    r["ISR"] = 1 << 7                                        # protected: ignored
    r["TR"] = new_tr
    assert not r["ISR"] & (1 << 6) and r["TR"] != new_tr
    r["WPR"] = 0xCA
    r["WPR"] = 0x53
    r["TR"] = new_tr                                         # not in initialization mode: ignored
    assert r["TR"] != new_tr
    r["ISR"] = 1 << 7
    assert r["ISR"] & (1 << 6) and not r["ISR"] & (1 << 5)   # INITF; RSF clear while initializing
    machine.cycles = 5 * FREQ                                # the calendar stands still meanwhile
    r["PRER"] = 0x007F_00FF
    r["TR"] = new_tr
    r["DR"] = new_dr
    assert (r["TR"], r["DR"]) == (new_tr, new_dr)
    r["ISR"] = 0                                             # leave: it runs from what was written
    machine.cycles = 15 * FREQ
    assert (r["TR"], r["DR"]) == expected_tr_dr(datetime(2020, 6, 15, 8, 30, 10))
    r["WPR"] = 0xFF                                          # protection back on
    r["CR"] = 1 << 6
    assert r["CR"] == 0


def test_twelve_hour_format(rtc, machine):
    model, r = rtc
    r["WPR"] = 0xCA
    r["WPR"] = 0x53
    r["CR"] = 1 << 6                                         # FMT: AM/PM
    model.set_calendar(unix_ns("2024-05-01T13:05:00"))
    tr = r["TR"]
    _ = r["DR"]
    assert tr == (1 << 22) | bcd(1) << 16 | bcd(5) << 8      # 1:05:00 PM
    model.set_calendar(unix_ns("2024-05-01T00:10:00"))
    tr = r["TR"]
    _ = r["DR"]
    assert tr == bcd(12) << 16 | bcd(10) << 8                # 12:10:00 AM


def test_backup_registers_keep_what_is_written(rtc):
    _, r = rtc
    r["BKP0R"] = 0x32F2                                      # the usual "calendar was set" marker
    r["BKP19R"] = 0xDEAD_BEEF
    assert (r["BKP0R"], r["BKP19R"]) == (0x32F2, 0xDEAD_BEEF)
