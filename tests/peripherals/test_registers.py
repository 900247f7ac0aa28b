"""The register framework: RM0090's access modes as the bus applies them (RM0090 §1.1, "List of
abbreviations for registers"), sub-word accesses, field callbacks, declaration errors, and the
register dump that comes from the same tables."""

from __future__ import annotations

import copy

import pytest

from sim.machine.peripherals import format_dump
from sim.machine.peripherals.base import Peripheral
from sim.machine.peripherals.rcc import STM32F4_RCC
from sim.machine.peripherals.registers import RC, RO, W0C, W1C, W1S, WO, Field, Register, dump
from sim.machine.peripherals.usart import STM32_UART

from periphkit import Regs

# one register per access mode, each with a field at bits 7:0 and reserved bits 15:8 reset to 0xA5
MODES = {"RW": None, "RO": RO, "WO": WO, "W1C": W1C, "W0C": W0C, "RC": RC, "W1S": W1S}


def _mode_register(name: str, offset: int, access) -> Register:
    field = Field("F", 0, 8) if access is None else Field("F", 0, 8, access)
    reset = 0xA500 | (0 if access is WO else 0x3C)
    return Register(name, offset, [field, Field("HI", 16, 16, on_change="_hi_changed")], reset=reset)


class Toy(Peripheral):
    """A test model: one register per access mode, callbacks that record what they saw."""
    REGISTERS = tuple(_mode_register(name, 4 * i, access) for i, (name, access) in enumerate(MODES.items())) + (
        Register("CB", 0x40, on_write="_cb_written", fields=[
            Field("A", 0, 4, on_write="_a_written"), Field("B", 8, 4, on_change="_b_changed"),
            Field("GO", 16, access=W1S, on_write="_go_written"),
            Field("LIVE", 24, 8, RO, value="_live")]),
        Register("POP", 0x44, [Field("DATA", 0, 8, RO)], on_read="_pop"),
    )

    def reset(self) -> None:
        super().reset()
        self.seen: list[tuple] = []
        self.live = 0x5A
        self.fifo = [1, 2, 3]

    def _hi_changed(self, old, new): self.seen.append(("HI", old, new))
    def _cb_written(self, old, new): self.seen.append(("CB", old, new))
    def _a_written(self, old, new): self.seen.append(("A", old, new))
    def _b_changed(self, old, new): self.seen.append(("B", old, new))
    def _go_written(self, old, new): self.seen.append(("GO", old, new))
    def _live(self): return self.live

    def _pop(self, value):
        return self.fifo.pop(0) if self.fifo else 0


@pytest.fixture
def toy(machine):
    model = Toy(machine, "toy")
    return model, Regs(model)


@pytest.mark.parametrize("mode, written, expected", [
    # (mode, value written to F (reset 0x3C = 0011_1100), F read back afterwards)
    ("RW", 0x0F, 0x0F),
    ("RO", 0x0F, 0x3C),            # writes ignored
    ("W1C", 0x0C, 0x30),           # ones clear, zeros leave
    ("W0C", 0xF3, 0x30),           # zeros clear, ones leave
    ("W1S", 0x03, 0x3F),           # ones set, zeros leave
])
def test_a_write_applies_the_fields_access_mode(toy, mode, written, expected):
    _, r = toy
    r[mode] = written
    assert r[mode] & 0xFF == expected
    assert r[mode] >> 8 & 0xFF == 0xA5, "reserved bits keep their reset value and ignore writes"


def test_write_only_fields_read_zero_and_hand_the_written_value_to_their_callbacks(toy):
    model, r = toy
    r["WO"] = 0x77
    assert r["WO"] & 0xFF == 0
    r["CB"] = 1 << 16                              # GO (rs): the callback sees the 1 written
    r["CB"] = 0                                    # ... and the 0 written, though GO still reads 1
    assert [s for s in model.seen if s[0] == "GO"] == [("GO", 0, 1), ("GO", 1, 0)]
    assert r["CB"] >> 16 & 1 == 1


def test_clear_on_read_returns_the_value_then_clears(toy):
    _, r = toy
    assert r["RC"] & 0xFF == 0x3C
    assert r["RC"] & 0xFF == 0
    assert r["RC"] >> 8 & 0xFF == 0xA5


def test_sub_word_writes_touch_only_their_bytes_and_only_those_fields_callbacks(toy):
    model, r = toy
    model.write(0x40 + 1, 1, 0x07)                 # byte 1: B = 7 (A, GO untouched)
    assert r["CB"] & 0xFFFF == 0x0700
    assert model.seen == [("B", 0, 7), ("CB", 0, 0x0700)]   # (LIVE's provided value is not stored)
    model.seen.clear()
    model.write(0x40, 2, 0x0702)                   # bytes 0-1: A written (on_write), B unchanged
    assert model.seen == [("A", 0, 2), ("CB", 0x0700, 0x0702)]
    assert model.read(0x40 + 1, 1) == 0x07 and model.read(0x40 + 3, 1) == 0x5A


def test_on_change_fires_only_when_the_field_changes(toy):
    model, r = toy
    r["RW"] = 0x1234_0000
    r["RW"] = 0x1234_0000
    assert model.seen == [("HI", 0, 0x1234)]


def test_value_providers_and_read_hooks(toy):
    model, r = toy
    model.live = 0x42
    assert r["CB"] >> 24 == 0x42
    assert [r["POP"], r["POP"], r["POP"], r["POP"]] == [1, 2, 3, 0]
    assert model.peek(Toy.REGISTERS[-2]) >> 24 == 0x42          # peek: providers, no side effects
    assert model.fifo == []


def test_fields_by_name_in_model_code(toy):
    model, r = toy
    cb = Toy.REGISTERS[-2]
    model[cb.B] = 0x1F                             # hardware update: no access rules, no callbacks
    assert model[cb.B] == 0xF and r["CB"] & 0xF00 == 0xF00 and model.seen == []
    model[cb] = 0
    assert model[cb.B] == 0


def test_a_copied_model_keeps_its_registers_and_callbacks(toy):
    model, _ = toy
    Regs(model)["W1C"] = 0x04
    twin = copy.deepcopy(model)
    Regs(twin)["RW"] = 0x0001_0000
    assert twin.seen == [("HI", 0, 1)] and model.seen == []
    assert twin.values["W1C"] == model.values["W1C"] == 0xA538


@pytest.mark.parametrize("fields, message", [
    ([Field("A", 0, 4), Field("B", 3, 2)], "overlaps"),
    ([Field("A", 30, 4)], "exceed"),
    ([Field("A", 0, 4, reset=3)], "disagrees"),
    ([Field("name", 0)], "clashes"),
])
def test_bad_declarations_are_refused(fields, message):
    with pytest.raises(ValueError, match=message):
        Register("R", 0, fields, reset=0 if message != "disagrees" else 5)


def test_a_callback_that_names_no_method_is_refused_when_the_class_is_made():
    with pytest.raises(TypeError, match="_nowhere"):
        class Broken(Peripheral):        # noqa: F841
            REGISTERS = (Register("R", 0, [Field("A", 0, on_write="_nowhere")]),)


def test_dump_decodes_the_rcc_reset_values_as_rm0090_states_them(machine):
    rcc = STM32F4_RCC(machine, "rcc", {}, {})
    state = {s.name: s for s in dump(rcc)}
    # RM0090 §7.3: RCC_PLLCFGR resets to 0x2400_3010 = PLLQ 4, PLLP /2 (0), PLLN 192, PLLM 16
    pll = {f.name: f.value for f in state["PLLCFGR"].fields}
    assert state["PLLCFGR"].value == 0x2400_3010
    assert pll == {"PLLM": 16, "PLLN": 192, "PLLP": 0, "PLLSRC": 0, "PLLQ": 4}
    # RCC_CR resets to 0x0000_0083: HSION, HSIRDY, HSITRIM = 16
    cr = {f.name: f.value for f in state["CR"].fields}
    assert (cr["HSION"], cr["HSIRDY"], cr["HSITRIM"], cr["HSEON"]) == (1, 1, 16, 0)


def test_format_dump_lists_set_flags_and_wide_fields(machine):
    uart = STM32_UART(machine, "usart1", {"frequency": 84_000_000}, {})
    Regs(uart)["BRR"] = 0x2D9                      # 115200 baud from 84 MHz
    text = format_dump(uart, ["sr", "BRR"])
    assert text.splitlines() == [
        "SR           0x0000 = 0x000000c0  TC TXE",
        "BRR          0x0008 = 0x000002d9  DIV_Fraction=0x9 DIV_Mantissa=0x2d",
    ]


def test_a_phy_is_dumped_as_its_mii_registers(machine):
    from sim.machine.peripherals.phy_catalogue import EthernetPhysicalLayer
    phy = EthernetPhysicalLayer(machine, "phy", {}, {})
    machine.advance(phy.autoneg_cycles)
    phy.mdio_read(1)                               # the link bit latches low until one read
    lines = {line.split()[0]: line for line in format_dump(phy).splitlines()}
    # IEEE 802.3 §22.2.4.2: link up, AN complete, 10/100 abilities (LAN8742A defaults)
    assert lines["BMSR"].startswith("BMSR         0x0001 = 0x782d")
    assert "LINK_STATUS" in lines["BMSR"] and "AN_COMPLETE" in lines["BMSR"]
