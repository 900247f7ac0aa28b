"""STM32F4 real-time clock (Renode type `Timers.STM32F4_RTC`): the calendar in RTC_TR/RTC_DR.

Registers as RM0090 §26.6 describes them for the STM32F405/407. The calendar is kept as a point
in time (Unix nanoseconds) at a virtual-time instant and advances one second per virtual second;
RTC_TR, RTC_DR and RTC_SSR are computed from it in BCD when read (RM0090 §26.3.2). A scenario
sets it with `set_calendar()` (its date, at its start), as a battery-backed RTC would have been set
before the board booted; firmware sets it the documented way:

- write protection (RM0090 §26.3.5): RTC_WPR takes 0xCA then 0x53; any other value locks again.
  Until then writes to the protected registers (all but the ISR flags [13:8], TAFCR and the backup
  registers) are ignored.
- initialization mode (RM0090 §26.3.5): ISR.INIT stops the calendar (INITF follows at once), TR
  and DR become writable, and clearing INIT starts the calendar from what they hold.
- reading (RM0090 §26.3.6): reading SSR or TR locks the date until DR is read, so a TR, DR pair
  is always one instant. RSF reads 1 outside initialization mode: the shadow registers are copied
  every two RTCCLK periods, sooner than any polling loop looks.
- 12-hour format (CR.FMT): hours 1-12 with TR.PM. INITS is 1 once the year is not 0.

Not modelled: the prescalers' effect (the calendar always counts seconds of virtual time, as
with the usual LSE 32768 Hz / 128 / 256), alarms, the wake-up timer and their interrupts,
time-stamp and tamper, smooth and coarse calibration, shift operations, daylight-saving bits,
the bypass of the shadow registers, and RCC_BDCR.RTCEN (the RTC runs as if clocked).
"""

from __future__ import annotations

import datetime as _dt

from sim.machine.peripherals.base import Peripheral, model
from sim.machine.peripherals.registers import RO, W0C, WO, Field, Register

NS_PER_S = 1_000_000_000
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_RESET_UNIX_NS = int((_dt.datetime(2000, 1, 1, tzinfo=_dt.UTC) - _EPOCH).total_seconds()) * NS_PER_S
WPR_KEYS = (0xCA, 0x53)


def _protected(name: str):
    """on_write of a write-protected register: the write is ignored while RTC_WPR is locked."""
    def written(model: "STM32F4_RTC", old: int, new: int) -> None:
        if model.write_protected:
            model.values[name] = old
    return written


def _calendar(name: str):
    """on_write of TR/DR: writable in initialization mode only (RM0090 §26.3.5)."""
    def written(model: "STM32F4_RTC", old: int, new: int) -> None:
        if model.write_protected or not model[ISR.INIT]:
            model.values[name] = old
    return written

TR = Register("TR", 0x00, on_write=_calendar("TR"), on_read="_time_read", value="_time_value", fields=[
    Field("SU", 0, 4), Field("ST", 4, 3), Field("MNU", 8, 4), Field("MNT", 12, 3),
    Field("HU", 16, 4), Field("HT", 20, 2), Field("PM", 22)])
# reset 0x0000 2101 (RM0090 §26.6.2): 2000-01-01 with WDU = 1, Monday (the date was a Saturday)
DR = Register("DR", 0x04, reset=0x0000_2101, on_write=_calendar("DR"), on_read="_date_read",
              value="_date_value", fields=[
    Field("DU", 0, 4), Field("DT", 4, 2), Field("MU", 8, 4), Field("MT", 12), Field("WDU", 13, 3),
    Field("YU", 16, 4), Field("YT", 20, 4)])
CR = Register("CR", 0x08, on_write=_protected("CR"), fields=[
    Field("WUCKSEL", 0, 3), Field("TSEDGE", 3), Field("REFCKON", 4), Field("FMT", 6),
    Field("DCE", 7), Field("ALRAE", 8), Field("ALRBE", 9), Field("WUTE", 10), Field("TSE", 11),
    Field("ALRAIE", 12), Field("ALRBIE", 13), Field("WUTIE", 14), Field("TSIE", 15), Field("ADD1H", 16),
    Field("SUB1H", 17), Field("BKP", 18), Field("POL", 20), Field("OSEL", 21, 2), Field("COE", 23)])
ISR = Register("ISR", 0x0C, reset=0x0000_0007, on_write="_isr_written", fields=[
    Field("ALRAWF", 0, access=RO), Field("ALRBWF", 1, access=RO), Field("WUTWF", 2, access=RO),
    Field("SHPF", 3, access=RO), Field("INITS", 4, access=RO, value="_initialized"),
    Field("RSF", 5, access=W0C, value="_synchronized"), Field("INITF", 6, access=RO, value="_init_mode"),
    Field("INIT", 7), Field("ALRAF", 8, access=W0C), Field("ALRBF", 9, access=W0C),
    Field("WUTF", 10, access=W0C), Field("TSF", 11, access=W0C), Field("TSOVF", 12, access=W0C),
    Field("TAMP1F", 13, access=W0C), Field("TAMP2F", 14, access=W0C), Field("RECALPF", 16, access=RO)])
PRER = Register("PRER", 0x10, reset=0x007F_00FF, on_write=_protected("PRER"), fields=[
    Field("PREDIV_S", 0, 15), Field("PREDIV_A", 16, 7)])
WUTR = Register("WUTR", 0x14, reset=0x0000_FFFF, on_write=_protected("WUTR"), fields=[Field("WUT", 0, 16)])
CALIBR = Register("CALIBR", 0x18, on_write=_protected("CALIBR"), fields=[Field("DC", 0, 5), Field("DCS", 7)])


def _alarm_fields() -> list[Field]:
    return [Field("SU", 0, 4), Field("ST", 4, 3), Field("MSK1", 7), Field("MNU", 8, 4), Field("MNT", 12, 3),
            Field("MSK2", 15), Field("HU", 16, 4), Field("HT", 20, 2), Field("PM", 22), Field("MSK3", 23),
            Field("DU", 24, 4), Field("DT", 28, 2), Field("WDSEL", 30), Field("MSK4", 31)]


ALRMAR = Register("ALRMAR", 0x1C, on_write=_protected("ALRMAR"), fields=_alarm_fields())
ALRMBR = Register("ALRMBR", 0x20, on_write=_protected("ALRMBR"), fields=_alarm_fields())
WPR = Register("WPR", 0x24, fields=[Field("KEY", 0, 8, WO, on_write="_key_written")])
SSR = Register("SSR", 0x28, on_read="_subseconds_read", value="_subseconds_value",
               fields=[Field("SS", 0, 16, RO)])
SHIFTR = Register("SHIFTR", 0x2C, fields=[Field("SUBFS", 0, 15, WO), Field("ADD1S", 31, access=WO)])
TSTR = Register("TSTR", 0x30, fields=[       # the time-stamp (not modelled: it reads 0)
    Field("SU", 0, 4, RO), Field("ST", 4, 3, RO), Field("MNU", 8, 4, RO), Field("MNT", 12, 3, RO),
    Field("HU", 16, 4, RO), Field("HT", 20, 2, RO), Field("PM", 22, access=RO)])
TSDR = Register("TSDR", 0x34, fields=[
    Field("DU", 0, 4, RO), Field("DT", 4, 2, RO), Field("MU", 8, 4, RO), Field("MT", 12, access=RO),
    Field("WDU", 13, 3, RO)])
TSSSR = Register("TSSSR", 0x38, fields=[Field("SS", 0, 16, RO)])
CALR = Register("CALR", 0x3C, on_write=_protected("CALR"), fields=[
    Field("CALM", 0, 9), Field("CALW16", 13), Field("CALW8", 14), Field("CALP", 15)])
TAFCR = Register("TAFCR", 0x40, fields=[
    Field("TAMP1E", 0), Field("TAMP1TRG", 1), Field("TAMPIE", 2), Field("TAMP2E", 3), Field("TAMP2TRG", 4),
    Field("TAMPTS", 7), Field("TAMPFREQ", 8, 3), Field("TAMPFLT", 11, 2), Field("TAMPPRCH", 13, 2),
    Field("TAMPPUDIS", 15), Field("TAMP1INSEL", 16), Field("TSINSEL", 17), Field("ALARMOUTTYPE", 18)])
ALRMASSR = Register("ALRMASSR", 0x44, on_write=_protected("ALRMASSR"),
                    fields=[Field("SS", 0, 15), Field("MASKSS", 24, 4)])
ALRMBSSR = Register("ALRMBSSR", 0x48, on_write=_protected("ALRMBSSR"),
                    fields=[Field("SS", 0, 15), Field("MASKSS", 24, 4)])
BACKUP = tuple(Register(f"BKP{n}R", 0x50 + 4 * n, fields=[Field("BKP", 0, 32)]) for n in range(20))


def _bcd(value: int) -> tuple[int, int]:
    return value // 10, value % 10


@model("Timers.STM32F4_RTC")
class STM32F4_RTC(Peripheral):
    SIZE = 0x400
    REGISTERS = (TR, DR, CR, ISR, PRER, WUTR, CALIBR, ALRMAR, ALRMBR, WPR, SSR, SHIFTR, TSTR, TSDR, TSSSR,
                 CALR, TAFCR, ALRMASSR, ALRMBSSR, *BACKUP)

    def reset(self) -> None:
        super().reset()
        self._unix_ns = _RESET_UNIX_NS            # the calendar ...
        self._at_cycles = self.services.now()     # ... at this virtual instant
        self._key_state = 0                       # WPR: 0 locked, 1 first key seen, 2 unlocked
        self._locked: tuple[int, int, int] | None = None    # (TR, DR, SSR) frozen by a TR/SSR read
        # the weekday is software's: the hardware only counts it on (reset: WDU 1 on a Saturday)
        self._weekday_offset = (DR.WDU.get(DR.reset) - self._true_weekday(_RESET_UNIX_NS)) % 7

    # --- the calendar ------------------------------------------------------------------------------
    def set_calendar(self, unix_ns: int) -> None:
        """The calendar reads `unix_ns` now and runs on from there (a scenario's start date)."""
        self._unix_ns = unix_ns
        self._at_cycles = self.services.now()
        self._locked = None
        self._weekday_offset = 0
        if self[ISR.INIT]:
            self[TR], self[DR] = self._registers(unix_ns)[:2]

    def calendar_ns(self) -> int:
        """The calendar now, in Unix nanoseconds (stopped in initialization mode)."""
        return self._unix_ns if self[ISR.INIT] else self._running_ns()

    def _running_ns(self) -> int:
        elapsed = self.services.now() - self._at_cycles
        return self._unix_ns + elapsed * NS_PER_S // self.services.frequency

    def _registers(self, unix_ns: int) -> tuple[int, int, int]:
        """(TR, DR, SSR) for the instant `unix_ns`, in the format CR.FMT selects."""
        seconds, fraction_ns = divmod(unix_ns, NS_PER_S)
        t = _EPOCH + _dt.timedelta(seconds=seconds)
        hour, pm = t.hour, 0
        if self[CR.FMT]:                          # 12-hour format: 12 AM, 1..11 AM, 12 PM, 1..11 PM
            pm = 1 if hour >= 12 else 0
            hour = hour % 12 or 12
        tr = 0
        for field, value in ((TR.HT, _bcd(hour)[0]), (TR.HU, _bcd(hour)[1]), (TR.MNT, _bcd(t.minute)[0]),
                             (TR.MNU, _bcd(t.minute)[1]), (TR.ST, _bcd(t.second)[0]),
                             (TR.SU, _bcd(t.second)[1]), (TR.PM, pm)):
            tr = field.put(tr, value)
        dr = 0
        year = t.year % 100                       # two BCD digits: 2000-2099 (RM0090 §26.6.2)
        weekday = (t.isoweekday() - 1 + self._weekday_offset) % 7 + 1
        for field, value in ((DR.YT, _bcd(year)[0]), (DR.YU, _bcd(year)[1]), (DR.WDU, weekday),
                             (DR.MT, _bcd(t.month)[0]), (DR.MU, _bcd(t.month)[1]),
                             (DR.DT, _bcd(t.day)[0]), (DR.DU, _bcd(t.day)[1])):
            dr = field.put(dr, value)
        prediv_s = self[PRER.PREDIV_S]
        # SS counts down from PREDIV_S once per ck_apre period (RM0090 §26.6.10)
        ssr = prediv_s - fraction_ns * (prediv_s + 1) // NS_PER_S
        return tr, dr, ssr

    @staticmethod
    def _true_weekday(unix_ns: int) -> int:
        return (_EPOCH + _dt.timedelta(seconds=unix_ns // NS_PER_S)).isoweekday()

    def _from_registers(self) -> int:
        """Unix nanoseconds of what TR and DR hold (software's initialization values)."""
        tr, dr = self.values["TR"], self.values["DR"]
        hour = TR.HT.get(tr) * 10 + TR.HU.get(tr)
        if self[CR.FMT]:
            hour = hour % 12 + (12 if TR.PM.get(tr) else 0)
        try:
            t = _dt.datetime(2000 + DR.YT.get(dr) * 10 + DR.YU.get(dr), DR.MT.get(dr) * 10 + DR.MU.get(dr),
                             DR.DT.get(dr) * 10 + DR.DU.get(dr), hour, TR.MNT.get(tr) * 10 + TR.MNU.get(tr),
                             TR.ST.get(tr) * 10 + TR.SU.get(tr), tzinfo=_dt.UTC)
        except ValueError:                        # not a calendar date: keep the last good one
            return self._unix_ns
        return int((t - _EPOCH).total_seconds()) * NS_PER_S

    # --- reading ---------------------------------------------------------------------------------
    def _now_registers(self) -> tuple[int, int, int]:
        if self[ISR.INIT]:
            return self.values["TR"], self.values["DR"], self[PRER.PREDIV_S]
        return self._locked or self._registers(self.calendar_ns())

    def _time_value(self) -> int:
        return self._now_registers()[0]

    def _date_value(self) -> int:
        return self._now_registers()[1]

    def _subseconds_value(self) -> int:
        return self._now_registers()[2]

    def _time_read(self, value: int) -> int:
        if self._locked is None and not self[ISR.INIT]:
            self._locked = self._now_registers()          # DR stays at this instant until it is read
        return value

    _subseconds_read = _time_read

    def _date_read(self, value: int) -> int:
        self._locked = None
        return value

    def _initialized(self) -> int:
        dr = self._now_registers()[1]
        return 1 if DR.YT.get(dr) or DR.YU.get(dr) else 0

    def _synchronized(self) -> int:
        return 0 if self[ISR.INIT] else 1

    def _init_mode(self) -> int:
        return self[ISR.INIT]

    # --- writing ---------------------------------------------------------------------------------
    @property
    def write_protected(self) -> bool:
        return self._key_state != 2

    def _key_written(self, old: int, key: int) -> None:
        if self._key_state == 0 and key == WPR_KEYS[0]:
            self._key_state = 1
        elif self._key_state == 1 and key == WPR_KEYS[1]:
            self._key_state = 2
        else:
            self._key_state = 0                   # a wrong key re-activates the protection

    def _isr_written(self, old: int, new: int) -> None:
        if self.write_protected and ISR.INIT.get(old) != ISR.INIT.get(new):
            self[ISR.INIT] = ISR.INIT.get(old)    # INIT is protected; the flags [13:8] are not
            return
        if ISR.INIT.get(new) and not ISR.INIT.get(old):          # enter: the calendar stops here
            now = self._running_ns()
            self._unix_ns = now
            self.values["TR"], self.values["DR"] = self._registers(now)[:2]
            self._locked = None
        elif ISR.INIT.get(old) and not ISR.INIT.get(new):        # leave: it starts from TR and DR
            self._unix_ns = self._from_registers()
            written = DR.WDU.get(self.values["DR"]) or 1
            self._weekday_offset = (written - self._true_weekday(self._unix_ns)) % 7
            self._at_cycles = self.services.now()
            self._locked = None
