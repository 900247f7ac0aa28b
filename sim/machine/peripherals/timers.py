"""STM32F4 basic timers TIM6/TIM7 (RM0090 §20) and general-purpose timers TIM2-TIM5 (RM0090
§18), Renode type `Timers.STM32_Timer`.

Renode has one type for every STM32 timer; the built-in machine picks the register table by
address (`model_for`): TIM2 and TIM5 are 32-bit, TIM3 and TIM4 16-bit, TIM6 and TIM7 basic.
The counter is clocked from the live APB1 timer clock (TIMCLK1: PCLK1, or 2 x PCLK1 when the APB1
prescaler is not 1; clocks.py), not from the .repl's `frequency`, which only Renode uses.

Time base (RM0090 §18.3.1-18.3.2, §20.3.1-20.3.2): the prescaler divides the timer clock by
PSC + 1; the counter counts up (0..ARR, then an overflow), down (ARR..0, then an underflow) or
center-aligned (0..ARR-1 up, an overflow, ARR..1 down, an underflow). Each overflow or underflow
is an update event (UEV) unless CR1.UDIS is set: UIF is set, the preloaded PSC and - with
CR1.ARPE - ARR (and CCRx with OCxPE) are loaded, and with CR1.OPM the counter stops (CEN
clears). EGR.UG reinitialises the counter and the prescaler and generates an update (with
CR1.URS set, without UIF). PSC is always preloaded; ARR only with ARPE, else a write applies at
once. An ARR of 0 blocks the counter. SR flags are rc_w0. The interrupt line is high while
(SR & DIER) has UIF, CCxIF or TIF set.

Compare/capture (TIM2-TIM5): CCRx are stored (preloaded with OCxPE); a channel in output
compare (CCxS = 00) sets CCxIF when the counter reaches CCRx (in center-aligned mode 1 only
counting down, mode 2 only counting up); EGR.CCxG captures CNT into a channel in input mode and
sets CCxIF (CCxOF if it was set already). Input signals and outputs (pins) are not modelled.

No per-cycle work: the counter is a function of virtual time from an anchor (the time, count and
prescaler phase at which it last started or changed configuration; clocks.py explains why times
are computed from an anchor). Update and compare flags nobody waits for are worked out when
firmware reads SR; an event is scheduled only for what has to happen on time: an interrupt
(UIE, CCxIE), a preload to apply, a one-pulse stop.

Not modelled: slave modes (SMCR: external clock, reset/gated/trigger modes), master mode TRGO,
DMA requests (UDE, CCxDE), input capture from pins, the output stage (OCxREF, PWM pins), the
clock division CKD (it only affects input filters), a counter above ARR wrapping at the top of its
range without an update (RM0090 does not describe that case; the model wraps without UIF).
The ARR reset value is RM0090's 0 (Renode resets ARR to its `initialLimit` instead).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from sim.machine.peripherals.base import Peripheral, model
from sim.machine.peripherals.clocks import count_in, time_of
from sim.machine.peripherals.registers import W0C, WO, Field, Register, flags
from sim.machine.peripherals.timer_counter import CENTER, DOWN, UP, Counting, hits, next_hit
from sim.machine.peripherals.timing import Deadlines


# --- register tables --------------------------------------------------------------------------
def _cr1(general: bool) -> Register:
    fields = [Field("CEN", 0), Field("UDIS", 1), Field("URS", 2), Field("OPM", 3)]
    if general:
        fields += [Field("DIR", 4, value="_dir_value"), Field("CMS", 5, 2), Field("ARPE", 7),
                   Field("CKD", 8, 2)]
    else:
        fields += [Field("ARPE", 7)]
    return Register("CR1", 0x00, fields, on_write="_cr1_written")


def _ccmr(name: str, offset: int, first: int) -> Register:
    """CCMR1/CCMR2 in their output-compare layout (RM0090 §18.4.7-18.4.8; in input mode the same
    bits are ICxPSC/ICxF, which the model does not use)."""
    a, b = first, first + 1
    return Register(name, offset, on_write="_channels_written", fields=[
        Field(f"CC{a}S", 0, 2), Field(f"OC{a}FE", 2), Field(f"OC{a}PE", 3), Field(f"OC{a}M", 4, 3),
        Field(f"OC{a}CE", 7), Field(f"CC{b}S", 8, 2), Field(f"OC{b}FE", 10), Field(f"OC{b}PE", 11),
        Field(f"OC{b}M", 12, 3), Field(f"OC{b}CE", 15)])


def _general_registers(width: int, option: Register | None) -> tuple[Register, ...]:
    wide = width == 32
    return tuple(r for r in (
        _cr1(True),
        Register("CR2", 0x04, [Field("CCDS", 3), Field("MMS", 4, 3), Field("TI1S", 7)]),
        Register("SMCR", 0x08, on_write="_smcr_written", fields=[
            Field("SMS", 0, 3), Field("TS", 4, 3), Field("MSM", 7), Field("ETF", 8, 4),
            Field("ETPS", 12, 2), Field("ECE", 14), Field("ETP", 15)]),
        Register("DIER", 0x0C, on_write="_dier_written", fields=flags(
            UIE=0, CC1IE=1, CC2IE=2, CC3IE=3, CC4IE=4, TIE=6, UDE=8, CC1DE=9, CC2DE=10, CC3DE=11,
            CC4DE=12, TDE=14)),
        Register("SR", 0x10, value="_sr_value", on_write="_sr_written", fields=flags(
            W0C, UIF=0, CC1IF=1, CC2IF=2, CC3IF=3, CC4IF=4, TIF=6, CC1OF=9, CC2OF=10, CC3OF=11,
            CC4OF=12)),
        Register("EGR", 0x14, on_write="_egr_written", fields=flags(
            WO, UG=0, CC1G=1, CC2G=2, CC3G=3, CC4G=4, TG=6)),
        _ccmr("CCMR1", 0x18, 1),
        _ccmr("CCMR2", 0x1C, 3),
        Register("CCER", 0x20, fields=[
            Field(f"CC{n}{suffix}", 4 * (n - 1) + bit)
            for n in range(1, 5) for suffix, bit in (("E", 0), ("P", 1), ("NP", 3))]),
        Register("CNT", 0x24, [Field("CNT", 0, width, value="_cnt_value")], on_write="_cnt_written"),
        Register("PSC", 0x28, [Field("PSC", 0, 16)], on_write="_psc_written"),
        Register("ARR", 0x2C, [Field("ARR", 0, width)], on_write="_arr_written"),
        *(Register(f"CCR{n}", 0x30 + 4 * n, [Field(f"CCR{n}", 0, 32 if wide else 16)],
                   on_write="_channels_written") for n in range(1, 5)),
        Register("DCR", 0x48, [Field("DBA", 0, 5), Field("DBL", 8, 5)]),
        Register("DMAR", 0x4C, [Field("DMAB", 0, 16)]),
        option) if r is not None)


def _basic_registers() -> tuple[Register, ...]:
    return (
        _cr1(False),
        Register("CR2", 0x04, [Field("MMS", 4, 3)]),
        Register("DIER", 0x0C, fields=flags(UIE=0, UDE=8), on_write="_dier_written"),
        Register("SR", 0x10, [Field("UIF", 0, access=W0C)], value="_sr_value", on_write="_sr_written"),
        Register("EGR", 0x14, [Field("UG", 0, access=WO)], on_write="_egr_written"),
        Register("CNT", 0x24, [Field("CNT", 0, 16, value="_cnt_value")], on_write="_cnt_written"),
        Register("PSC", 0x28, [Field("PSC", 0, 16)], on_write="_psc_written"),
        Register("ARR", 0x2C, [Field("ARR", 0, 16)], on_write="_arr_written"),
    )


# --- the model --------------------------------------------------------------------------------
@dataclass(frozen=True)
class TimerKind:
    name: str
    general: bool
    width: int


# RM0090 §2.3 (memory map) and §18/§20: which timer sits where
TIMERS = {
    0x4000_0000: TimerKind("TIM2", True, 32), 0x4000_0400: TimerKind("TIM3", True, 16),
    0x4000_0800: TimerKind("TIM4", True, 16), 0x4000_0C00: TimerKind("TIM5", True, 32),
    0x4000_1000: TimerKind("TIM6", False, 16), 0x4000_1400: TimerKind("TIM7", False, 16),
}


class _Timer(Deadlines, Peripheral):
    """Behaviour shared by the basic and general-purpose timers; subclasses give the table."""

    SIZE = 0x400
    KIND: TimerKind = TimerKind("TIM", False, 16)
    TIMER_CLOCK = "TIMCLK1"                     # TIM2-TIM7 are on APB1 (RM0090 §2.3)
    INTERRUPT_FLAGS = 0x1                        # UIF (TIM2-TIM5 add CCxIF and TIF)

    def reset(self) -> None:
        super().reset()
        self.clear_deadlines()
        self._running = False
        self._irq_level = False
        self._psc = 0                             # active (shadow) prescaler
        self._arr = 0                             # active (shadow) auto-reload
        self._ccr = [0, 0, 0, 0]                  # active compare values
        self._anchor_time = 0                     # virtual time of the anchor
        self._anchor_rate = Fraction(0)           # timer clock at the anchor
        self._anchor_phase = 0                    # counter phase at the anchor
        self._anchor_prescale = 0                 # timer clocks into the prescaler period
        self._counting = Counting(UP, 0, self.KIND.width)
        self._seen = 0                            # counter clocks already reflected in SR
        self._stopped_cnt = 0                     # CNT while stopped
        self._stopped_down = False
        self.counters = {"updates": 0, "update_interrupts": 0}
        self.warnings: list[str] = []

    # --- where the counter is ------------------------------------------------------------------
    def _mode(self) -> str:
        if not self.KIND.general:
            return UP
        cr1 = type(self).REGISTERS[0]
        if self[cr1.CMS]:
            return CENTER
        return DOWN if self.values["CR1"] & cr1.DIR.mask else UP

    def _clocks_now(self) -> int:
        """Counter clocks from the anchor to now."""
        if not self._running or self._counting.blocked:
            return 0
        ticks = count_in(self.services.now() - self._anchor_time, self._anchor_rate, self.services.frequency)
        return (self._anchor_prescale + ticks) // (self._psc + 1)

    def _phase_now(self) -> int:
        return self._anchor_phase + self._clocks_now()

    def _cnt_value(self) -> int:
        if not self._running or self._counting.blocked:
            return self._stopped_cnt
        return self._counting.value(self._phase_now())

    def _dir_value(self) -> int:
        if self._mode() == CENTER:
            down = self._counting.counting_down(self._phase_now()) if self._running else self._stopped_down
            return int(down)
        return (self.values["CR1"] >> 4) & 1

    def _sr_value(self) -> int:
        """SR as firmware reads it: the stored flags plus those set since they were last
        brought up to date (without changing state: dumps call this too)."""
        return self.values["SR"] | self._flags_since(self._seen, self._clocks_now())

    # --- flags, events ---------------------------------------------------------------------
    def _flags_since(self, first: int, last: int) -> int:
        """SR bits the counter sets between counter clocks `first` and `last` since the anchor."""
        if last <= first:
            return 0
        c, base = self._counting, self._anchor_phase
        bits = 0
        if not self[self._cr1.UDIS] and c.updates(base + first, base + last):
            bits |= 1
        for n, compare in self._compare_channels():
            if any(hits(r, m, base + first, base + last) for r, m in c.matches(compare, self._cms())):
                bits |= 1 << n
        return bits

    def _compare_channels(self) -> list[tuple[int, int]]:
        """(channel, CCR) of the channels in output compare (TIM2-TIM5)."""
        return []

    def _cms(self) -> int:
        return 0

    def _catch_up(self) -> None:
        """Bring SR up to now (flags set since the last look), and the interrupt line."""
        now = self._clocks_now()
        bits = self._flags_since(self._seen, now)
        self._seen = now
        if bits:
            self.values["SR"] |= bits
        self._update_irq()

    def _reanchor(self) -> None:
        """Start a new anchor at now, from where the counter is (after a catch-up), with the
        current configuration and timer clock."""
        clocks = self._clocks_now()
        phase = self._anchor_phase + clocks
        if self._running and not self._counting.blocked:
            ticks = count_in(self.services.now() - self._anchor_time, self._anchor_rate, self.services.frequency)
            prescale = (self._anchor_prescale + ticks) - clocks * (self._psc + 1)
            cnt, down = self._counting.value(phase), self._counting.counting_down(phase)
        else:
            prescale = self._anchor_prescale
            cnt, down = self._stopped_cnt, self._stopped_down
        self._start_anchor(cnt, down, prescale)

    def _start_anchor(self, cnt: int, down: bool, prescale: int = 0) -> None:
        self._counting = Counting(self._mode(), self._arr, self.KIND.width)
        self._anchor_time = self.services.now()
        self._anchor_rate = self.services.clocks.rate(self.TIMER_CLOCK)
        self._anchor_phase = self._counting.start_phase(cnt, down) if not self._counting.blocked else 0
        self._anchor_prescale = min(prescale, self._psc)
        self._seen = 0
        self._stopped_cnt, self._stopped_down = cnt, down
        if self._counting.blocked:
            self._stopped_cnt = cnt

    def _freeze(self) -> None:
        """The counter stops where it is."""
        phase = self._phase_now()
        if self._running and not self._counting.blocked:
            self._stopped_cnt = self._counting.value(phase)
            self._stopped_down = self._counting.counting_down(phase)
        self._running = False

    def _plan(self) -> None:
        """Arm the next event that must happen on time, or none."""
        self.disarm("next")
        if not self._running or self._counting.blocked:
            return
        c, base = self._counting, self._anchor_phase
        now = base + self._clocks_now()
        targets = []
        if not self[self._cr1.UDIS] and (self._needs_update_event() or self[self._uie]):
            targets.append(c.next_update(now))
        for n, compare in self._compare_channels():
            if self._interrupt_enabled(n):
                hits = [next_hit(r, m, now) for r, m in c.matches(compare, self._cms())]
                targets += [h for h in hits if h is not None]
        if not targets:
            return
        clocks = min(targets) - base                          # counter clocks after the anchor
        ticks = clocks * (self._psc + 1) - self._anchor_prescale
        due = self._anchor_time + time_of(ticks, self._anchor_rate, self.services.frequency)
        self.arm("next", due - self.services.now(), self._on_event)

    def _needs_update_event(self) -> bool:
        """True when an update event changes something beyond UIF."""
        return bool(self[self._cr1.OPM] or self._preload_pending())

    def _preload_pending(self) -> bool:
        return self[self._psc_field] != self._psc or self._arr_preload() != self._arr

    def _arr_preload(self) -> int:
        return self.values["ARR"]

    def _interrupt_enabled(self, channel: int) -> bool:
        return False

    def _on_event(self) -> None:
        if not self.expire("next"):
            return
        c, base = self._counting, self._anchor_phase
        clocks = self._clocks_now()
        updated = not self[self._cr1.UDIS] and c.updates(base + self._seen, base + clocks)
        self._catch_up()
        if updated:
            self.counters["updates"] += 1
            # the update event: shadows load, a one-pulse counter stops, from this instant
            phase = base + clocks
            cnt, down = c.value(phase), c.counting_down(phase)
            self._load_shadows()
            if c.mode == DOWN:
                cnt = self._arr                   # an underflow reloads the (new) auto-reload value
            if self[self._cr1.OPM]:
                self[self._cr1.CEN] = 0
                self._running = False
                self._stopped_cnt, self._stopped_down = cnt, down
            self._start_anchor(cnt, down, 0)
        self._plan()

    def _load_shadows(self) -> None:
        self._psc = self[self._psc_field]
        self._arr = self._arr_preload()

    # --- register callbacks ---------------------------------------------------------------
    @property
    def _cr1(self) -> Register:
        return type(self).REGISTERS[0]

    @property
    def _uie(self) -> Field:
        return type(self).layout.by_name["DIER"].register.UIE

    @property
    def _psc_field(self) -> Field:
        return type(self).layout.by_name["PSC"].register.PSC

    def _cr1_written(self, old: int, new: int) -> None:
        cr1 = self._cr1
        self._catch_up()
        if not self[cr1.ARPE]:
            self._arr = self._arr_preload()       # not buffered: the shadow follows at once
        was, now = bool(cr1.CEN.get(old)), bool(cr1.CEN.get(new))
        if was and not now:
            self._freeze()
            self._start_anchor(self._stopped_cnt, self._stopped_down, self._anchor_prescale)
        elif now and not was:
            self._running = True
            self._start_anchor(self._stopped_cnt, self._stopped_down, self._anchor_prescale)
        else:
            self._reanchor()                      # DIR/CMS/ARPE/UDIS may have changed
        self._plan()

    def _dier_written(self, old: int, new: int) -> None:
        self._catch_up()
        self._plan()

    def _sr_written(self, old: int, new: int) -> None:
        self._update_irq()
        self._plan()

    def write(self, offset: int, size: int, value: int) -> None:
        if offset & ~3 == 0x10:                   # SR: flags set by now must exist to be cleared
            self._catch_up()
        Peripheral.write(self, offset, size, value)

    def _egr_written(self, old: int, written: int) -> None:
        self._catch_up()
        if written & 1:                           # UG
            cr1 = self._cr1
            if not self[cr1.UDIS]:
                self._load_shadows()
                if not self[cr1.URS]:
                    self.values["SR"] |= 1
                self.counters["updates"] += 1
            down = self._mode() == DOWN
            cnt = self._arr if down else 0
            self._stopped_cnt, self._stopped_down = cnt, down
            self._start_anchor(cnt, down, 0)
        self._software_events(written)
        self._update_irq()
        self._plan()

    def _software_events(self, written: int) -> None:
        """EGR bits beyond UG (the general-purpose timers' CCxG and TG)."""

    def _cnt_written(self, old: int, new: int) -> None:
        self._catch_up()
        cnt = new & ((1 << self.KIND.width) - 1)
        down = self._counting.counting_down(self._phase_now()) if self._running else self._stopped_down
        prescale = self._current_prescale()
        self._stopped_cnt, self._stopped_down = cnt, down
        self._start_anchor(cnt, down, prescale)
        self._plan()

    def _current_prescale(self) -> int:
        if not self._running or self._counting.blocked:
            return self._anchor_prescale
        ticks = count_in(self.services.now() - self._anchor_time, self._anchor_rate, self.services.frequency)
        return (self._anchor_prescale + ticks) % (self._psc + 1)

    def _psc_written(self, old: int, new: int) -> None:
        self._plan()                              # applies at the next update event

    def _arr_written(self, old: int, new: int) -> None:
        self._catch_up()
        if not self[self._cr1.ARPE]:
            self._reanchor_with(arr=self._arr_preload())
        self._plan()

    def _reanchor_with(self, **changes: Any) -> None:
        """Apply shadow changes at now: the counter keeps its value and prescaler phase."""
        prescale = self._current_prescale()
        phase = self._phase_now()
        if self._running and not self._counting.blocked:
            cnt, down = self._counting.value(phase), self._counting.counting_down(phase)
        else:
            cnt, down = self._stopped_cnt, self._stopped_down
        for name, value in changes.items():
            setattr(self, f"_{name}", value)
        self._stopped_cnt, self._stopped_down = cnt, down
        self._start_anchor(cnt, down, prescale)

    def clocks_changed(self) -> None:
        """The timer clock may have changed: what was counted so far was counted at the old
        rate; from now on the new one applies."""
        if self.services.clocks.rate(self.TIMER_CLOCK) == self._anchor_rate:
            return
        self._catch_up()
        self._reanchor_with()
        self._plan()

    def _update_irq(self) -> None:
        level = bool(self.values["SR"] & self.values["DIER"] & self.INTERRUPT_FLAGS)
        if level != self._irq_level:
            self._irq_level = level
            if level:
                self.counters["update_interrupts"] += 1
            self.drive_irq(level)

    # --- what reports show ------------------------------------------------------------------
    def describe(self) -> str:
        rate = self.services.clocks.rate(self.TIMER_CLOCK)
        state = "running" if self._running else "stopped"
        return (f"{self.name} ({self.KIND.name}): {state}, CNT={self._cnt_value()}, PSC={self._psc}, "
                f"ARR={self._arr}, timer clock {float(rate) / 1e6:g} MHz")


class BasicTimer(_Timer):
    """TIM6/TIM7 (RM0090 §20.4)."""

    REGISTERS = _basic_registers()
    KIND = TimerKind("TIM6", False, 16)


class GeneralPurposeTimer(_Timer):
    """TIM3/TIM4 (RM0090 §18.4): 16-bit, four channels."""

    REGISTERS = _general_registers(16, None)
    KIND = TimerKind("TIM3", True, 16)
    INTERRUPT_FLAGS = 0x5F                        # UIF, CC1IF..CC4IF, TIF

    def reset(self) -> None:
        super().reset()
        self._ccr = [0, 0, 0, 0]

    def _cms(self) -> int:
        return self[self._cr1.CMS]

    def _channel_mode(self, n: int) -> int:
        ccmr = self.values["CCMR1" if n <= 2 else "CCMR2"]
        return (ccmr >> (0 if n % 2 else 8)) & 3

    def _preloaded(self, n: int) -> bool:
        ccmr = self.values["CCMR1" if n <= 2 else "CCMR2"]
        return bool((ccmr >> (3 if n % 2 else 11)) & 1)

    def _compare_channels(self) -> list[tuple[int, int]]:
        return [(n, self._ccr[n - 1]) for n in range(1, 5) if self._channel_mode(n) == 0]

    def _interrupt_enabled(self, channel: int) -> bool:
        return bool(self.values["DIER"] >> channel & 1)

    def _preload_pending(self) -> bool:
        if _Timer._preload_pending(self):
            return True
        return any(self._ccr[n - 1] != self.values[f"CCR{n}"] for n in range(1, 5))

    def _load_shadows(self) -> None:
        _Timer._load_shadows(self)
        for n in range(1, 5):
            if self._preloaded(n):
                self._ccr[n - 1] = self.values[f"CCR{n}"]

    def _channels_written(self, old: int, new: int) -> None:
        self._catch_up()
        for n in range(1, 5):
            if not self._preloaded(n):
                self._ccr[n - 1] = self.values[f"CCR{n}"]
        self._plan()

    def _smcr_written(self, old: int, new: int) -> None:
        if new & 0x7 or new & (1 << 14):
            self._warn("slave mode / external clock (SMCR) is not modelled: the counter keeps "
                       "counting the internal timer clock")

    def _software_events(self, written: int) -> None:
        for n in range(1, 5):
            if written >> n & 1:
                flag = 1 << n
                if self._channel_mode(n) != 0:           # input mode: capture CNT
                    if self.values["SR"] & flag:
                        self.values["SR"] |= 1 << (n + 8)    # CCxOF
                    self.values[f"CCR{n}"] = self._ccr[n - 1] = self._cnt_value()
                self.values["SR"] |= flag
        if written & (1 << 6):
            self.values["SR"] |= 1 << 6                   # TIF

    def _warn(self, message: str) -> None:
        text = f"{self.name}: {message}"
        if text not in self.warnings:
            self.warnings.append(text)


class GeneralPurposeTimer32(GeneralPurposeTimer):
    """TIM2/TIM5 (RM0090 §18.4): 32-bit counter, auto-reload and compare registers; TIM2's
    option register remaps ITR1, TIM5's TI4."""

    REGISTERS = _general_registers(32, Register("OR", 0x50, [Field("ITR1_RMP", 10, 2)]))
    KIND = TimerKind("TIM2", True, 32)


class GeneralPurposeTimer5(GeneralPurposeTimer):
    REGISTERS = _general_registers(32, Register("OR", 0x50, [Field("TI4_RMP", 6, 2)]))
    KIND = TimerKind("TIM5", True, 32)


def _variant(kind: TimerKind) -> type[_Timer]:
    if not kind.general:
        base: type[_Timer] = BasicTimer
    elif kind.name == "TIM2":
        base = GeneralPurposeTimer32
    elif kind.name == "TIM5":
        base = GeneralPurposeTimer5
    else:
        base = GeneralPurposeTimer
    return type(f"STM32_Timer_{kind.name}", (base,), {"KIND": kind, "REGISTERS": base.REGISTERS})


_VARIANTS = {address: _variant(kind) for address, kind in TIMERS.items()}


@model("Timers.STM32_Timer")
class STM32_Timer(GeneralPurposeTimer):
    """The Renode type's built-in model: `model_for` picks the timer at the entry's address."""

    @classmethod
    def model_for(cls, params: dict[str, Any], address: int | None) -> type[Peripheral]:
        variant = _VARIANTS.get(address) if address is not None else None
        if variant is None:
            where = f"at 0x{address:08x}" if address is not None else "without a sysbus address"
            known = ", ".join(f"{k.name} 0x{a:08x}" for a, k in TIMERS.items())
            raise ValueError(f"Timers.STM32_Timer {where}: the built-in machine models the STM32F407's "
                             f"TIM2-TIM7 ({known}); replace this entry with a sysbus Tag if the "
                             f"firmware only touches it")
        return variant


__all__ = ["STM32_Timer", "BasicTimer", "GeneralPurposeTimer", "GeneralPurposeTimer32", "TIMERS"]
