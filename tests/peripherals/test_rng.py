"""STM32F4_RNG: seeded values, DRDY timing, no repeats, error injection (RM0090 §24)."""

from __future__ import annotations

from sim.machine.peripherals.rng import STM32F4_RNG

from periphkit import FakeMachine, Regs

RNGEN, IE = 1 << 2, 1 << 3
DRDY, SECS, SEIS = 1 << 0, 1 << 2, 1 << 6


def _values(seed: int, count: int) -> list[int]:
    machine = FakeMachine(seed)
    r = Regs(STM32F4_RNG(machine, "rng", {}, {"": 80}))
    r["CR"] = RNGEN
    out = []
    for _ in range(count):
        machine.run_until(lambda: r["SR"] & DRDY, step=8)
        out.append(r["DR"])
    return out


def test_same_seed_same_values_different_seed_different():
    a, b, c = _values(1, 16), _values(1, 16), _values(2, 16)
    assert a == b
    assert a != c
    assert len(set(a)) == 16


def test_drdy_low_after_enable_and_after_each_read(machine):
    r = Regs(STM32F4_RNG(machine, "rng", {}, {"": 80}))
    r["CR"] = RNGEN
    assert not r["SR"] & DRDY
    ready_at = machine.run_until(lambda: r["SR"] & DRDY, step=1)
    assert 0 < ready_at <= 40 * 168 // 48       # at most 40 RNG clocks of 48 MHz
    r["DR"]
    assert not r["SR"] & DRDY


def test_never_the_same_value_twice(machine, monkeypatch):
    model = STM32F4_RNG(machine, "rng", {}, {"": 80})
    r = Regs(model)
    stream = iter([7, 7, 7, 9])
    monkeypatch.setattr(model._stream, "u32", lambda: next(stream))
    r["CR"] = RNGEN
    machine.run_until(lambda: r["SR"] & DRDY)
    assert r["DR"] == 7
    machine.run_until(lambda: r["SR"] & DRDY)
    assert r["DR"] == 9


def test_read_without_drdy_repeats_the_old_value_and_is_counted(machine):
    model = STM32F4_RNG(machine, "rng", {}, {"": 80})
    r = Regs(model)
    r["CR"] = RNGEN
    machine.run_until(lambda: r["SR"] & DRDY)
    first = r["DR"]
    assert r["DR"] == first
    assert model.counters["reads_not_ready"] == 1


def test_interrupt_and_seed_error_recovery(machine):
    model = STM32F4_RNG(machine, "rng", {}, {"": 80})
    r = Regs(model)
    r["CR"] = RNGEN | IE
    machine.run_until(lambda: machine.irq(80))
    r["DR"]
    model.inject_seed_error()
    assert r["SR"] & (SECS | SEIS) == SECS | SEIS and machine.irq(80)
    machine.advance(10_000)
    assert not r["SR"] & DRDY, "no data after a seed error"
    r["SR"] = ~SEIS                            # clear SEIS ...
    r["CR"] = IE                               # ... and toggle RNGEN
    r["CR"] = RNGEN | IE
    assert not r["SR"] & SECS
    machine.run_until(lambda: r["SR"] & DRDY)
