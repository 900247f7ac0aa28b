"""STM32_UART: baud-paced TX/RX in virtual time, flags, overrun, interrupts (RM0090 §30)."""

from __future__ import annotations

import pytest

from sim.machine.peripherals.usart import STM32_UART

from periphkit import Regs

IRQ = 37
UE, TE, RE = 1 << 13, 1 << 3, 1 << 2
TXEIE, RXNEIE, IDLEIE = 1 << 7, 1 << 5, 1 << 4
TXE, TC, RXNE, IDLE, ORE = 1 << 7, 1 << 6, 1 << 5, 1 << 4, 1 << 3
# 115200 baud from PCLK2 = 84 MHz: BRR 0x2D9 -> 84e6/729 baud; 10 bits at 168 MHz
CHAR = 10 * 168_000_000 * 0x2D9 // 84_000_000          # 14580 cycles


@pytest.fixture
def uart(machine):
    model = STM32_UART(machine, "usart1", {"frequency": 84_000_000}, {"": IRQ})
    r = Regs(model)
    r["BRR"] = 0x2D9
    r["CR1"] = UE | TE | RE
    return model, r


def test_sr_resets_to_txe_tc(machine):
    r = Regs(STM32_UART(machine, "usart1", {"frequency": 84_000_000}, {"": IRQ}))
    assert r["SR"] == 0x0000_00C0


def test_char_time_follows_brr_and_frequency(uart):
    model, _ = uart
    assert model.char_cycles() == CHAR
    assert round(model.baud()) == 115226     # 84 MHz / 729, the rate BRR 0x2D9 really gives


def test_tx_is_double_buffered_and_paced(uart, machine):
    model, r = uart
    out = []
    model.on_output(out.append)
    r["SR"]
    r["DR"] = ord("h")
    assert r["SR"] & TXE, "TDR moves into the idle shift register at once"
    assert not r["SR"] & TC, "TC cleared by SR read + DR write"
    r["DR"] = ord("i")
    assert not r["SR"] & TXE, "second byte waits in TDR"
    machine.advance(CHAR - 1)
    assert out == [] and not r["SR"] & TXE
    machine.advance(1)
    assert out == [b"h"] and r["SR"] & TXE and not r["SR"] & TC
    machine.advance(CHAR)
    assert out == [b"h", b"i"] and r["SR"] & TC
    assert model.transcript == b"hi"


def test_tc_stays_set_when_dr_is_written_without_reading_sr_first(uart, machine):
    model, r = uart
    r["DR"] = ord("x")                        # no SR read before: TC is not cleared
    assert r["SR"] & TC
    machine.advance(CHAR)
    r["SR"] = ~TC                             # writing 0 clears TC
    assert not r["SR"] & TC


def test_txe_interrupt_driven_transmit(uart, machine):
    model, r = uart
    message = list(b"ready\r\n")
    r["CR1"] = UE | TE | RE | TXEIE
    assert machine.irq(IRQ), "TXE with TXEIE raises the line"
    # an ISR: refill while TXE, disable TXEIE when done
    while True:
        if machine.irq(IRQ) and r["SR"] & TXE:
            if message:
                r["DR"] = message.pop(0)
            else:
                r["CR1"] = UE | TE | RE
        if not message and not machine.irq(IRQ) and r["SR"] & TC:
            break
        machine.advance(100)
    assert model.transcript == b"ready\r\n"
    assert machine.cycles == pytest.approx(7 * CHAR, abs=200)


def test_rx_paced_with_rxne_interrupt_and_idle(uart, machine):
    model, r = uart
    r["CR1"] = UE | TE | RE | RXNEIE | IDLEIE
    model.inject(b"ab")
    assert not r["SR"] & RXNE
    machine.advance(CHAR)
    assert r["SR"] & RXNE and machine.irq(IRQ)
    assert r["DR"] == ord("a")
    assert not machine.irq(IRQ)
    machine.advance(CHAR)
    assert r["DR"] == ord("b")
    assert not r["SR"] & IDLE
    machine.advance(CHAR)
    assert r["SR"] & IDLE and machine.irq(IRQ)
    r["SR"]
    r["DR"]                                   # SR then DR clears IDLE
    assert not r["SR"] & IDLE and not machine.irq(IRQ)


def test_overrun_keeps_old_byte_and_blocks_rxne_until_cleared(uart, machine):
    model, r = uart
    model.inject(b"123")
    machine.advance(3 * CHAR)                 # nobody reads: '2' and '3' overrun
    sr = model.values["SR"]                   # peek: a bus read of SR would arm the clear
    assert sr & ORE and sr & RXNE
    assert model.counters["rx_overruns"] == 2
    assert r["DR"] == ord("1"), "RDR keeps the old byte"
    assert r["SR"] & ORE, "a DR read without a preceding SR read leaves ORE set"
    model.inject(b"4")
    machine.advance(CHAR)
    assert not r["SR"] & RXNE, "no RXNE while ORE stays set"
    r["SR"]
    r["DR"]                                   # SR then DR clears ORE
    assert not r["SR"] & ORE
    model.inject(b"5")
    machine.advance(CHAR)
    assert r["SR"] & RXNE and r["DR"] == ord("5")


def test_rx_waits_while_receiver_is_disabled(machine):
    model = STM32_UART(machine, "usart2", {"frequency": 42_000_000}, {"": 38})
    r = Regs(model)
    model.inject(b"z")
    machine.advance(10 * CHAR)
    assert model.pending_input == 1
    r["BRR"] = 0x16D
    r["CR1"] = UE | RE
    machine.advance(model.char_cycles())
    assert r["SR"] & RXNE and r["DR"] == ord("z")


def test_port_is_a_backend_uart_port(uart, machine):
    from sim.backend import UartPort
    model, r = uart
    port = model.port
    assert isinstance(port, UartPort) and port.name == "usart1"
    port.write(b"q")
    machine.advance(CHAR)
    assert r["DR"] == ord("q")
    r["DR"] = ord("!")
    machine.advance(CHAR)
    assert port.transcript == b"!"


def test_the_model_itself_also_works_as_the_port(uart, machine):
    model, r = uart
    model.write(b"k")                          # one argument: UartPort.write
    machine.advance(CHAR)
    assert r["DR"] == ord("k")


def test_usart_needs_a_positive_frequency(machine):
    with pytest.raises(ValueError, match="frequency"):
        STM32_UART(machine, "usart1", {"frequency": 0}, {})
