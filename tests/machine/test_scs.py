"""NVIC semantics that the test firmwares do not reach directly: level-sensitive IRQ inputs,
priority grouping, register side effects."""

from __future__ import annotations

from sim.machine.scs import SYSTICK, SystemControlSpace


class FakeHost:
    def __init__(self) -> None:
        self.t = 0
        self.changes = 0
        self.events = []

    def now(self) -> int:
        return self.t

    def schedule_at(self, time, callback):
        self.events.append((time, callback))
        return len(self.events)

    def cancel(self, handle) -> None:
        pass

    def read_ipsr(self) -> int:
        return 0

    def request_system_reset(self) -> None:
        self.reset = True

    def exception_state_changed(self) -> None:
        self.changes += 1


def scs():
    return SystemControlSpace(FakeHost(), 168_000_000, 168_000_000)


def pending(s, irq):
    return bool(s.pending >> (16 + irq) & 1)


def test_level_sensitive_irq_lines():
    s = scs()
    s.set_irq_level(37, True)
    assert pending(s, 37)
    s.set_irq_level(37, False)
    assert pending(s, 37)                       # a pended interrupt stays pending
    s.write(0x280 + 4, 4, 1 << 5)               # ICPR1 bit 5 = IRQ 37
    assert not pending(s, 37)
    s.set_irq_level(37, True)
    s.write(0x280 + 4, 4, 1 << 5)               # clearing while the line is high: pends again
    assert pending(s, 37)
    s.pending &= ~(1 << (16 + 37))              # the handler is entered ...
    s.active |= 1 << (16 + 37)
    s.set_irq_level(37, True)                   # ... a line held high does not pend meanwhile
    assert not pending(s, 37)
    s.exception_returned(16 + 37)               # ... and pends again on return if still high
    assert pending(s, 37)


def test_priority_grouping_limits_preemption_to_group_bits():
    s = scs()
    s.write(0x400 + 5, 1, 0x40)                 # IRQ5 priority 0x40
    s.write(0x400 + 6, 1, 0x50)                 # IRQ6 priority 0x50
    s.write(0xD0C, 4, 0x05FA0000 | (5 << 8))    # PRIGROUP 5: group = bits 7:6
    assert s.group_priority(16 + 5) == s.group_priority(16 + 6) == 0x40
    s.active = 1 << (16 + 6)
    s.pending = 1 << (16 + 5)
    s.enabled = (1 << 5) | (1 << 6)
    assert s.best_pending(s.execution_priority(0, 0, 0)) is None     # same group: no preemption
    s.write(0xD0C, 4, 0x05FA0000)               # PRIGROUP 0: all bits preempt
    assert s.best_pending(s.execution_priority(0, 0, 0)) == 16 + 5


def test_register_side_effects():
    s = scs()
    assert s.read(0xD00, 4) == 0x410FC241                          # CPUID
    assert s.read(0xD0C, 4) >> 16 == 0xFA05                        # AIRCR VECTKEYSTAT
    s.write(0xD0C, 4, 0x1234_0004)                                 # wrong key: ignored
    assert not getattr(s.host, "reset", False)
    s.write(0xD0C, 4, 0x05FA_0004)
    assert s.host.reset
    s.write(0xD04, 4, 1 << 26)                                     # ICSR.PENDSTSET
    assert s.pending & (1 << SYSTICK) and s.read(0xD04, 4) & (1 << 26)
    s.write(0xD04, 4, 1 << 25)                                     # PENDSTCLR
    assert not s.pending & (1 << SYSTICK)
    s.write(0xD28, 1, 0xFF)                                        # CFSR is write-one-to-clear
    s.cfsr = 0x0000_8200
    s.write(0xD29, 1, 0x02)                                        # BFSR byte: clear PRECISERR
    assert s.cfsr == 0x0000_8000
    s.write(0xD18 + 11 - 4, 1, 0xFF)                               # SHPR2: SVCall priority
    assert s.read(0xD18 + 11 - 4, 1) == 0xF0                       # 4 implemented bits
    assert s.read(0x004, 4) == 2                                   # ICTR: 82 IRQs -> 3 words
    s.write(0x100 + 8, 4, 0xFFFF_FFFF)                             # ISER2: only IRQs 64..81 exist
    assert s.read(0x100 + 8, 4) == (1 << 18) - 1
