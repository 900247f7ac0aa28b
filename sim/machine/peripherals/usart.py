"""STM32F4 USART (Renode type `UART.STM32_UART`), paced at the programmed baud in virtual time.

Facts §7. The `frequency` constructor attribute is the USART's kernel clock (PCLK2 for USART1/6,
PCLK1 for USART2/3; Renode's default is 8 MHz). One character takes (start + data + parity +
stop) bit times at the baud the BRR (and OVER8) program, converted to CPU cycles.

TX is double-buffered as on silicon: writing DR fills TDR and clears TXE; TDR moves into the
shift register at once when the shifter is idle (TXE rises again), otherwise when the current
character has been shifted out, one character time after it started. A character reaches the
transcript and the `on_output` callbacks when its last stop bit has been sent. TC rises when the
shifter finishes with TDR empty; it clears by the SR-read-then-DR-write sequence or by writing 0.
Writing DR while TXE = 0 overwrites TDR (the older byte is lost, counted in `tdr_overwritten`).

RX: bytes queued with `inject()` (the port's `write()`) arrive one per character time while UE and RE are set (they wait
in the host queue while the receiver is off). A byte that arrives while RXNE or ORE is set is
lost and sets ORE; RDR keeps the old byte and RXNE is not raised again until ORE is cleared by
reading SR then DR (facts §7, efton.sk g24). IDLE rises one character time after the last byte
of a burst. SR reset value is 0x0000_00C0 (the SVD's 0x00C0_0000 is a bug).

Interrupt: TXEIE&TXE | TCIE&TC | RXNEIE&(RXNE|ORE) | IDLEIE&IDLE | PEIE&PE | EIE&DMAR&(FE|NF|ORE),
level-driven on the USART's NVIC line.

Not modelled: parity/framing/noise errors on received data (the host line is perfect), LIN,
smartcard, IrDA, synchronous mode, hardware flow control, DMA requests, break characters.
"""

from __future__ import annotations

from typing import Callable

from sim.machine.peripherals.base import Field, Peripheral, Register, model
from sim.machine.peripherals.timing import Deadlines

SR_PE, SR_FE, SR_NF, SR_ORE, SR_IDLE = 1 << 0, 1 << 1, 1 << 2, 1 << 3, 1 << 4
SR_RXNE, SR_TC, SR_TXE, SR_LBD, SR_CTS = 1 << 5, 1 << 6, 1 << 7, 1 << 8, 1 << 9
SR_RC_W0 = SR_RXNE | SR_TC | SR_LBD | SR_CTS
SR_CLEARED_BY_DR_READ = SR_IDLE | SR_ORE | SR_NF | SR_FE | SR_PE

CR1_SBK, CR1_RE, CR1_TE, CR1_IDLEIE = 1 << 0, 1 << 2, 1 << 3, 1 << 4
CR1_RXNEIE, CR1_TCIE, CR1_TXEIE, CR1_PEIE = 1 << 5, 1 << 6, 1 << 7, 1 << 8
CR1_PCE, CR1_M, CR1_UE, CR1_OVER8 = 1 << 10, 1 << 12, 1 << 13, 1 << 15
CR3_EIE, CR3_DMAR = 1 << 0, 1 << 6

STOP_HALF_BITS = {0: 2, 1: 1, 2: 4, 3: 3}       # CR2.STOP -> stop length in half bits


def _sr_read(self: "STM32_UART", value: int) -> int:
    self._sr_seen = value & SR_CLEARED_BY_DR_READ
    self._tc_seen = bool(value & SR_TC)
    return value


def _sr_written(self: "STM32_UART", old: int, new: int) -> None:
    self.values["SR"] = old & (new | ~SR_RC_W0)   # rc_w0: writing 1 leaves the flag alone
    self._update_irq()


def _dr_read(self: "STM32_UART", value: int) -> int:
    sr = self.values["SR"]
    sr &= ~(SR_RXNE | self._sr_seen)
    self._sr_seen = 0
    self.values["SR"] = sr
    if self._rx_queue and not self.armed("rx"):
        self._start_rx()                          # ORE cleared: reception goes on
    self._update_irq()
    return self._rdr


def _dr_written(self: "STM32_UART", old: int, new: int) -> None:
    cr1 = self.values["CR1"]
    if not cr1 & CR1_UE:
        return                                    # USART disabled: the write goes nowhere
    sr = self.values["SR"]
    if self._tc_seen:
        sr &= ~SR_TC
        self._tc_seen = False
    if not sr & SR_TXE:
        self.counters["tdr_overwritten"] += 1
    self._tdr = new & 0x1FF
    self.values["SR"] = sr & ~SR_TXE
    if self._shift is None:
        self._start_tx()
    self._update_irq()


def _cr_written(self: "STM32_UART", old: int, new: int) -> None:
    self.values["CR1"] &= ~CR1_SBK                # break is not modelled; SBK self-clears
    if self._shift is None:
        self._start_tx()
    if self._rx_queue and not self.armed("rx"):
        self._start_rx()
    self._update_irq()


@model("UART.STM32_UART")
class STM32_UART(Deadlines, Peripheral):
    SIZE = 0x400
    REGISTERS = (
        Register("SR", 0x00, 0x0000_00C0, fields=(
            Field("PE", 0), Field("FE", 1), Field("NF", 2), Field("ORE", 3), Field("IDLE", 4),
            Field("RXNE", 5), Field("TC", 6), Field("TXE", 7), Field("LBD", 8), Field("CTS", 9)),
            write_mask=SR_RC_W0, on_read=_sr_read, on_write=_sr_written),
        Register("DR", 0x04, 0, write_mask=0x1FF, on_read=_dr_read, on_write=_dr_written),
        Register("BRR", 0x08, 0, fields=(Field("DIV_Fraction", 0, 4), Field("DIV_Mantissa", 4, 12)),
                 write_mask=0xFFFF, on_write=_cr_written),
        Register("CR1", 0x0C, 0, write_mask=0xBFFF, on_write=_cr_written),
        Register("CR2", 0x10, 0, write_mask=0x7F7F, on_write=_cr_written),
        Register("CR3", 0x14, 0, write_mask=0x0FFF, on_write=_cr_written),
        Register("GTPR", 0x18, 0, write_mask=0xFFFF),
    )

    # host-side wiring, not machine state: a snapshot restore keeps the live callbacks
    SNAPSHOT_KEEP = ("_listeners",)

    def __init__(self, services, name, params=None, irqs=None) -> None:
        self._transcript = bytearray()
        self._listeners: list[Callable[[bytes], None]] = []
        self._rx_queue = bytearray()
        self.counters = {"tx_bytes": 0, "rx_bytes": 0, "rx_overruns": 0, "tdr_overwritten": 0}
        self.warnings: list[str] = []
        super().__init__(services, name, params, irqs)
        self.frequency = int(self.param("frequency", 8_000_000))
        if self.frequency <= 0:
            raise ValueError(f"{name}: frequency must be a positive clock in Hz, got {self.frequency}")

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

    # --- bus interface, and UartPort.write ------------------------------------------------
    def read(self, offset: int, size: int) -> int:
        if offset == 0:                           # SR, polled by firmware: skip the generic path
            value = _sr_read(self, self.values["SR"])
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
    def baud(self) -> float | None:
        brr = self.values["BRR"] & 0xFFFF
        if self.values["CR1"] & CR1_OVER8:
            div8 = ((brr >> 4) << 3) | (brr & 7)  # 8 x USARTDIV
            return self.frequency / div8 if div8 else None
        return self.frequency / brr if brr else None

    def char_cycles(self) -> int | None:
        """CPU cycles one character takes on the line, or None while the baud is not set."""
        brr = self.values["BRR"] & 0xFFFF
        cr1 = self.values["CR1"]
        if cr1 & CR1_OVER8:
            divisor = ((brr >> 4) << 3) | (brr & 7)
        else:
            divisor = brr
        if not divisor:
            return None
        half_bits = 2 * (1 + (9 if cr1 & CR1_M else 8)) + STOP_HALF_BITS[(self.values["CR2"] >> 12) & 3]
        # cycles = bits * f_cpu / baud = half_bits/2 * f_cpu * divisor / f_usart, rounded up
        return -(-half_bits * self.services.frequency * divisor // (2 * self.frequency))

    # --- transmitter ------------------------------------------------------------------
    def _start_tx(self) -> None:
        cr1 = self.values["CR1"]
        if self._tdr is None or not cr1 & CR1_UE or not cr1 & CR1_TE:
            return
        cycles = self.char_cycles()
        if cycles is None:
            self._warn("transmit with BRR = 0: no baud rate, nothing is sent")
            return
        self._shift, self._tdr = self._tdr, None
        self.values["SR"] |= SR_TXE
        self.arm("tx", cycles, self._tx_done)

    def _tx_done(self) -> None:
        if not self.expire("tx"):
            return
        value, self._shift = self._shift, None
        if value is not None:
            cr1 = self.values["CR1"]
            data_bits = (9 if cr1 & CR1_M else 8) - (1 if cr1 & CR1_PCE else 0)
            byte = bytes([value & ((1 << min(data_bits, 8)) - 1)])
            self._transcript += byte
            self.counters["tx_bytes"] += 1
            for callback in self._listeners:
                callback(byte)
        if self._tdr is not None:
            self._start_tx()
        if self._shift is None:
            self.values["SR"] |= SR_TC
        self._update_irq()

    # --- receiver --------------------------------------------------------------------
    def _receiver_on(self) -> bool:
        cr1 = self.values["CR1"]
        return bool(cr1 & CR1_UE and cr1 & CR1_RE)

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
        sr = self.values["SR"]
        if sr & (SR_RXNE | SR_ORE):
            sr |= SR_ORE                          # overrun: RDR keeps the old byte
            self.counters["rx_overruns"] += 1
        else:
            self._rdr = value
            sr |= SR_RXNE
            self.counters["rx_bytes"] += 1
        self.values["SR"] = sr
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
        self.values["SR"] |= SR_IDLE
        self._update_irq()

    # --- interrupt ------------------------------------------------------------------------
    def _update_irq(self) -> None:
        sr, cr1 = self.values["SR"], self.values["CR1"]
        level = bool(
            (cr1 & CR1_TXEIE and sr & SR_TXE)
            or (cr1 & CR1_TCIE and sr & SR_TC)
            or (cr1 & CR1_RXNEIE and sr & (SR_RXNE | SR_ORE))
            or (cr1 & CR1_IDLEIE and sr & SR_IDLE)
            or (cr1 & CR1_PEIE and sr & SR_PE)
            or (self.values["CR3"] & (CR3_EIE | CR3_DMAR) == (CR3_EIE | CR3_DMAR)
                and sr & (SR_FE | SR_NF | SR_ORE)))
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
