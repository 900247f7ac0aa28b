"""STM32F4 USART (Renode type `UART.STM32_UART`), paced at the programmed baud in virtual time.

Registers as RM0090 §30.6 describes them. The USART's kernel clock is the live PCLK of its bus
(PCLK2 for USART1/6, PCLK1 for USART2/3; clocks.py): BRR programmed for 84 MHz gives the
intended baud only once the core runs from the PLL. The `frequency` constructor attribute (what
Renode computes the baud from) is used only where there is no clock tree to ask (a model built
without a bus address). One character takes (start + data + parity + stop) bit times at the
baud BRR (and OVER8) program, at the clock of the moment the character starts.

TX is double-buffered as on silicon: writing DR fills TDR and clears TXE; TDR moves into the
shift register at once when the shifter is idle (TXE rises again), otherwise when the current
character has been shifted out, one character time after it started. A character reaches the
transcript and the `on_output` callbacks when its last stop bit has been sent. TC rises when the
shifter finishes with TDR empty; it clears by the SR-read-then-DR-write sequence or by writing 0.
Writing DR while TXE = 0 overwrites TDR (the older byte is lost, counted in `tdr_overwritten`).

RX: bytes queued with `inject()` (the port's `write()`) arrive one per character time while UE
and RE are set (they wait in the host queue while the receiver is off). A byte that arrives while
RXNE or ORE is set is lost and sets ORE; RDR keeps the old byte and RXNE is not raised again
until ORE is cleared by reading SR then DR (RM0090 §30.6.1). IDLE rises one character time after
the last byte of a burst. SR resets to 0x0000_00C0: TXE and TC are 1 after reset (RM0090
§30.6.1); ST's SVD has the bits shifted to 0x00C0_0000.

Interrupt: TXEIE&TXE | TCIE&TC | RXNEIE&(RXNE|ORE) | IDLEIE&IDLE | PEIE&PE | EIE&DMAR&(FE|NF|ORE),
level-driven on the USART's NVIC line.

Not modelled: parity/framing/noise errors on received data (the host line is perfect), LIN,
smartcard, IrDA, synchronous mode, hardware flow control, DMA requests, break characters.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Callable

from sim.machine.peripherals.base import Peripheral, model
from sim.machine.peripherals.clocks import apb_of
from sim.machine.peripherals.registers import RO, W0C, Field, Register
from sim.machine.peripherals.timing import Deadlines

SR = Register("SR", 0x00, reset=0x0000_00C0, on_read="_sr_read", on_write="_sr_written", fields=[
    Field("PE", 0, access=RO), Field("FE", 1, access=RO), Field("NF", 2, access=RO),
    Field("ORE", 3, access=RO), Field("IDLE", 4, access=RO), Field("RXNE", 5, access=W0C),
    Field("TC", 6, access=W0C), Field("TXE", 7, access=RO), Field("LBD", 8, access=W0C),
    Field("CTS", 9, access=W0C)])
DR = Register("DR", 0x04, [Field("DR", 0, 9)], on_read="_dr_read", on_write="_dr_written")
BRR = Register("BRR", 0x08, [Field("DIV_Fraction", 0, 4), Field("DIV_Mantissa", 4, 12)],
               on_write="_control_written")
CR1 = Register("CR1", 0x0C, on_write="_control_written", fields=[
    Field("SBK", 0), Field("RWU", 1), Field("RE", 2), Field("TE", 3), Field("IDLEIE", 4),
    Field("RXNEIE", 5), Field("TCIE", 6), Field("TXEIE", 7), Field("PEIE", 8), Field("PS", 9),
    Field("PCE", 10), Field("WAKE", 11), Field("M", 12), Field("UE", 13), Field("OVER8", 15)])
CR2 = Register("CR2", 0x10, on_write="_control_written", fields=[
    Field("ADD", 0, 4), Field("LBDL", 5), Field("LBDIE", 6), Field("LBCL", 8), Field("CPHA", 9),
    Field("CPOL", 10), Field("CLKEN", 11), Field("STOP", 12, 2), Field("LINEN", 14)])
CR3 = Register("CR3", 0x14, on_write="_control_written", fields=[
    Field("EIE", 0), Field("IREN", 1), Field("IRLP", 2), Field("HDSEL", 3), Field("NACK", 4),
    Field("SCEN", 5), Field("DMAR", 6), Field("DMAT", 7), Field("RTSE", 8), Field("CTSE", 9),
    Field("CTSIE", 10), Field("ONEBIT", 11)])
GTPR = Register("GTPR", 0x18, [Field("PSC", 0, 8), Field("GT", 8, 8)])

# the flags a read of SR followed by a read of DR clears (RM0090 §30.6.1)
CLEARED_BY_SR_DR = SR.mask_of("IDLE", "ORE", "NF", "FE", "PE")
# interrupt enables and the flags they cover; EIE with DMAR covers the receive errors
TXEIE, TCIE, RXNEIE, IDLEIE, PEIE = (CR1.field(f).mask for f in ("TXEIE", "TCIE", "RXNEIE", "IDLEIE", "PEIE"))
TXE, TC, IDLE, PE = (SR.field(f).mask for f in ("TXE", "TC", "IDLE", "PE"))
RXNE_OR_ORE = SR.mask_of("RXNE", "ORE")
EIE_DMAR = CR3.mask_of("EIE", "DMAR")
RECEIVE_ERRORS = SR.mask_of("FE", "NF", "ORE")
STOP_HALF_BITS = {0: 2, 1: 1, 2: 4, 3: 3}       # CR2.STOP -> stop length in half bits


@model("UART.STM32_UART")
class STM32_UART(Deadlines, Peripheral):
    SIZE = 0x400
    REGISTERS = (SR, DR, BRR, CR1, CR2, CR3, GTPR)

    # host-side wiring, not machine state: a snapshot restore keeps the live callbacks
    SNAPSHOT_KEEP = ("_listeners",)

    def __init__(self, services, name, params=None, irqs=None, **kwargs) -> None:
        self._transcript = bytearray()
        self._listeners: list[Callable[[bytes], None]] = []
        self._rx_queue = bytearray()
        self.counters = {"tx_bytes": 0, "rx_bytes": 0, "rx_overruns": 0, "tdr_overwritten": 0}
        self.warnings: list[str] = []
        super().__init__(services, name, params, irqs, **kwargs)
        self.frequency = int(self.param("frequency", 8_000_000))
        if self.frequency <= 0:
            raise ValueError(f"{name}: frequency must be a positive clock in Hz, got {self.frequency}")
        bus = apb_of(self.address)
        self._kernel_clock = f"PCLK{bus}" if bus is not None else None

    def reset(self) -> None:
        super().reset()
        self.clear_deadlines()
        self._tdr: int | None = None
        self._shift: int | None = None
        self._rdr = 0
        self._sr_seen = 0
        self._tc_seen = False
        self._irq_level = False
        self._rx_since_idle = False

    # --- register callbacks ------------------------------------------------------------------
    def _sr_read(self, value: int) -> int:
        self._sr_seen = value & CLEARED_BY_SR_DR
        self._tc_seen = bool(value & TC)
        return value

    def _sr_written(self, old: int, new: int) -> None:
        self._update_irq()                        # RXNE/TC/LBD/CTS cleared by writing 0

    def _dr_read(self, value: int) -> int:
        self[SR] &= ~(SR.RXNE.mask | self._sr_seen)
        self._sr_seen = 0
        if self._rx_queue and not self.armed("rx"):
            self._start_rx()                      # ORE cleared: reception goes on
        self._update_irq()
        return self._rdr

    def _dr_written(self, old: int, new: int) -> None:
        if not self[CR1.UE]:
            return                                # USART disabled: the write goes nowhere
        if self._tc_seen:
            self[SR.TC] = 0                       # SR read, then DR written: TC clears
            self._tc_seen = False
        if not self[SR.TXE]:
            self.counters["tdr_overwritten"] += 1
        self._tdr = DR.DR.get(new)
        self[SR.TXE] = 0
        if self._shift is None:
            self._start_tx()
        self._update_irq()

    def _control_written(self, old: int, new: int) -> None:
        self[CR1.SBK] = 0                         # break is not modelled; SBK self-clears
        if self._shift is None:
            self._start_tx()
        if self._rx_queue and not self.armed("rx"):
            self._start_rx()
        self._update_irq()

    # --- bus interface, and UartPort.write ------------------------------------------------
    def read(self, offset: int, size: int) -> int:
        if offset == 0:                           # SR, polled by firmware: skip the generic path
            value = self._sr_read(self.values["SR"])
            return value & 0xFF if size == 1 else value
        return Peripheral.read(self, offset, size)

    def write(self, offset_or_data, size: int | None = None, value: int | None = None) -> None:
        """Bus write `write(offset, size, value)`; with one argument it is `UartPort.write(data)`,
        so the model itself can be handed out as the port."""
        if size is None:
            self.inject(offset_or_data)
        else:
            Peripheral.write(self, offset_or_data, size, value)

    # --- the line (host side) ----------------------------------------------------------
    @property
    def port(self) -> "UartLine":
        """This USART as a `sim.backend.UartPort` (what `Machine.uart(name)` hands out)."""
        return UartLine(self)

    @property
    def transcript(self) -> bytes:
        return bytes(self._transcript)

    def inject(self, data: bytes) -> None:
        """Queue bytes on the line towards the firmware; they arrive at the programmed baud."""
        self._rx_queue += bytes(data)
        if not self.armed("rx"):
            self._start_rx()

    def on_output(self, callback: Callable[[bytes], None]) -> None:
        self._listeners.append(callback)

    @property
    def pending_input(self) -> int:
        """Bytes queued by `write()` that the line has not delivered yet."""
        return len(self._rx_queue)

    # --- timing ---------------------------------------------------------------------
    def kernel_clock(self) -> Fraction:
        """The clock BRR divides: the live PCLK of the USART's bus."""
        if self._kernel_clock is not None:
            return self.services.clocks.rate(self._kernel_clock)
        return Fraction(self.frequency)

    def baud(self) -> float | None:
        brr = self[BRR]
        if self[CR1.OVER8]:
            div8 = ((brr >> 4) << 3) | (brr & 7)  # 8 x USARTDIV
            return float(self.kernel_clock() / div8) if div8 else None
        return float(self.kernel_clock() / brr) if brr else None

    def char_cycles(self) -> int | None:
        """Reference cycles one character takes on the line, or None while the baud is not set."""
        brr = self[BRR]
        if self[CR1.OVER8]:
            divisor = ((brr >> 4) << 3) | (brr & 7)
        else:
            divisor = brr
        if not divisor:
            return None
        half_bits = 2 * (1 + (9 if self[CR1.M] else 8)) + STOP_HALF_BITS[self[CR2.STOP]]
        # cycles = bits * f_ref / baud = half_bits/2 * f_ref * divisor / f_usart, rounded up
        clock = self.kernel_clock()
        return -(-half_bits * self.services.frequency * divisor * clock.denominator
                 // (2 * clock.numerator))

    # --- transmitter ------------------------------------------------------------------
    def _start_tx(self) -> None:
        if self._tdr is None or not self[CR1.UE] or not self[CR1.TE]:
            return
        cycles = self.char_cycles()
        if cycles is None:
            self._warn("transmit with BRR = 0: no baud rate, nothing is sent")
            return
        self._shift, self._tdr = self._tdr, None
        self[SR.TXE] = 1
        self.arm("tx", cycles, self._tx_done)

    def _tx_done(self) -> None:
        if not self.expire("tx"):
            return
        value, self._shift = self._shift, None
        if value is not None:
            data_bits = (9 if self[CR1.M] else 8) - (1 if self[CR1.PCE] else 0)
            byte = bytes([value & ((1 << min(data_bits, 8)) - 1)])
            self._transcript += byte
            self.counters["tx_bytes"] += 1
            for callback in self._listeners:
                callback(byte)
        if self._tdr is not None:
            self._start_tx()
        if self._shift is None:
            self[SR.TC] = 1
        self._update_irq()

    # --- receiver --------------------------------------------------------------------
    def _receiver_on(self) -> bool:
        return bool(self[CR1.UE] and self[CR1.RE])

    def _start_rx(self) -> None:
        if not self._rx_queue or not self._receiver_on():
            return
        cycles = self.char_cycles()
        if cycles is None:
            return
        self.arm("rx", cycles, self._rx_arrived)

    def _rx_arrived(self) -> None:
        if not self.expire("rx"):
            return
        if not self._receiver_on() or not self._rx_queue:
            return
        value = self._rx_queue[0]
        del self._rx_queue[0]
        if self[SR.RXNE] or self[SR.ORE]:
            self[SR.ORE] = 1                      # overrun: RDR keeps the old byte
            self.counters["rx_overruns"] += 1
        else:
            self._rdr = value
            self[SR.RXNE] = 1
            self.counters["rx_bytes"] += 1
        self._rx_since_idle = True
        cycles = self.char_cycles() or 1
        if self._rx_queue:
            self.arm("rx", cycles, self._rx_arrived)
        self.arm("idle", cycles, self._line_idle)
        self._update_irq()

    def _line_idle(self) -> None:
        if not self.expire("idle"):
            return
        if self.armed("rx") or not self._rx_since_idle:
            return
        self._rx_since_idle = False
        self[SR.IDLE] = 1
        self._update_irq()

    # --- interrupt ------------------------------------------------------------------------
    def _update_irq(self) -> None:
        sr, cr1 = self[SR], self[CR1]
        level = bool(cr1 & TXEIE and sr & TXE or cr1 & TCIE and sr & TC or cr1 & RXNEIE and sr & RXNE_OR_ORE
                     or cr1 & IDLEIE and sr & IDLE or cr1 & PEIE and sr & PE
                     or self[CR3] & EIE_DMAR == EIE_DMAR and sr & RECEIVE_ERRORS)
        if level != self._irq_level:
            self._irq_level = level
            self.drive_irq(level)

    def _warn(self, message: str) -> None:
        text = f"{self.name}: {message}"
        if text not in self.warnings:
            self.warnings.append(text)


class UartLine:
    """`sim.backend.UartPort` view of a USART model. (A separate object because the model's
    own `write(offset, size, value)` is the bus interface.)"""

    def __init__(self, uart: STM32_UART) -> None:
        self._uart = uart

    @property
    def name(self) -> str:
        return self._uart.name

    @property
    def transcript(self) -> bytes:
        return self._uart.transcript

    def write(self, data: bytes) -> None:
        self._uart.inject(data)

    def on_output(self, callback: Callable[[bytes], None]) -> None:
        self._uart.on_output(callback)
