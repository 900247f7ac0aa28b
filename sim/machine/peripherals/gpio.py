"""STM32F4 GPIO port (Renode type `GPIOPort.STM32_GPIOPort`).

Registers as RM0090 §8.4 describes them. Reset values of MODER/OSPEEDR/PUPDR come from the .repl
constructor attributes (`modeResetValue`, `outputSpeedResetValue`, `pullUpPullDownResetValue`,
Renode's names) because they differ per port: GPIOA resets PA13-15 to alternate function for SWD,
so firmware that writes MODER = 0 on port A is visibly wrong here too. BSRR sets and resets ODR
bits (set wins when both are written) and reads 0. IDR shows output pins as driven (open-drain
pins also need the external level high), and input pins as the external level set with
`set_input()`, else their pull (pull-up 1, otherwise 0); analog pins read 0. LCKR implements the
lock key sequence; locked pins ignore writes to MODER/OTYPER/OSPEEDR/PUPDR/AFR until reset.

Pins as signals: the port's numbered outputs 0-15 are its pins' levels, wired by the platform
file (`14 -> exti@14`) to another model's input, and its inputs 0-15 (`-> gpioPortB@14`, e.g.
a PHY's interrupt pin) drive the pins from outside like `set_input()`. `on_change(callback)` is
called with (pin, level) whenever a pin's level changes, for host-side listeners. Not modelled:
alternate-function routing (the peripherals' pins do not pass through the port), slew rates, the
I/O compensation cell.
"""

from __future__ import annotations

from typing import Callable

from sim.machine.peripherals.base import Peripheral, model
from sim.machine.peripherals.registers import RO, WO, Field, Register


def _config(name: str, offset: int, prefix: str, bits: int, first_pin: int = 0, pins: int = 16) -> Register:
    """A per-pin configuration register (MODER, OTYPER, ...): pins locked by LCKR keep their
    field on writes."""
    fields = [Field(f"{prefix}{pin}", (pin - first_pin) * bits, bits)
              for pin in range(first_pin, first_pin + pins)]
    pin_masks = tuple((1 << pin, f.mask) for pin, f in zip(range(first_pin, first_pin + pins), fields, strict=True))

    def written(port: "STM32_GPIOPort", old: int, new: int) -> None:
        port._config_written(name, pin_masks, old, new)

    return Register(name, offset, fields, on_write=written)


MODER = _config("MODER", 0x00, "MODER", 2)
OTYPER = _config("OTYPER", 0x04, "OT", 1)
OSPEEDR = _config("OSPEEDR", 0x08, "OSPEEDR", 2)
PUPDR = _config("PUPDR", 0x0C, "PUPDR", 2)
IDR = Register("IDR", 0x10, [Field(f"IDR{pin}", pin, access=RO) for pin in range(16)], value="input_levels")
ODR = Register("ODR", 0x14, [Field(f"ODR{pin}", pin) for pin in range(16)], on_write="_odr_written")
BSRR = Register("BSRR", 0x18, [Field(f"BS{pin}", pin, access=WO) for pin in range(16)]
                + [Field(f"BR{pin}", 16 + pin, access=WO) for pin in range(16)], on_write="_bsrr_written")
LCKR = Register("LCKR", 0x1C, [Field(f"LCK{pin}", pin) for pin in range(16)] + [Field("LCKK", 16)],
                on_read="_lckr_read", on_write="_lckr_written")
AFRL = _config("AFRL", 0x20, "AFRL", 4, 0, 8)
AFRH = _config("AFRH", 0x24, "AFRH", 4, 8, 8)
LOCK_PINS = LCKR.mask_of(*(f"LCK{pin}" for pin in range(16)))


@model("GPIOPort.STM32_GPIOPort")
class STM32_GPIOPort(Peripheral):
    SIZE = 0x400
    REGISTERS = (MODER, OTYPER, OSPEEDR, PUPDR, IDR, ODR, BSRR, LCKR, AFRL, AFRH)

    SNAPSHOT_KEEP = ("_listeners",)          # host-side wiring survives a snapshot restore

    def __init__(self, services, name, params=None, irqs=None, **kwargs) -> None:
        self._listeners: list[Callable[[int, int], None]] = []
        self._external: dict[int, int] = {}       # pin -> level driven from outside
        super().__init__(services, name, params, irqs, **kwargs)

    def reset(self) -> None:
        super().reset()
        # reset values differ per port (RM0090 §8.4.1-8.4.4): the .repl gives them
        self[MODER] = int(self.param("modeResetValue", 0))
        self[OSPEEDR] = int(self.param("outputSpeedResetValue", 0))
        self[PUPDR] = int(self.param("pullUpPullDownResetValue", 0))
        self._lock_step = 0
        self._lock_pins = 0
        self._locked_mask = 0
        self._last_levels = self.input_levels()

    # --- register callbacks ------------------------------------------------------------------
    def _config_written(self, name: str, pin_masks: tuple[tuple[int, int], ...], old: int, new: int) -> None:
        locked = self._locked_mask
        if locked:
            keep = 0
            for pin_bit, field_mask in pin_masks:
                if locked & pin_bit:
                    keep |= field_mask
            self.values[name] = (new & ~keep) | (old & keep)
        self._levels_changed()

    def _odr_written(self, old: int, new: int) -> None:
        self._levels_changed()

    def _bsrr_written(self, old: int, written: int) -> None:
        sets, resets = written & 0xFFFF, written >> 16
        self[ODR] = (self[ODR] & ~resets) | sets         # set wins over reset for the same pin
        self._levels_changed()

    def _lckr_written(self, old: int, new: int) -> None:
        if self._lock_step == 4:                  # locked until reset
            self[LCKR] = old
            return
        pins, key = new & LOCK_PINS, LCKR.LCKK.get(new)
        step = self._lock_step
        if step == 1 and not key and pins == self._lock_pins:
            step = 2
        elif step == 2 and key and pins == self._lock_pins:
            step = 3
        elif key:
            step, self._lock_pins = 1, pins       # a new sequence starts
        else:
            step = 0
        self._lock_step = step
        self[LCKR] = pins                         # LCKK reads 1 only once the sequence completed

    def _lckr_read(self, value: int) -> int:
        if self._lock_step == 3:                  # the read that completes the key sequence
            self._lock_step = 4
            self._locked_mask = self._lock_pins
            self[LCKR] = self._lock_pins | LCKR.LCKK.mask
            return self[LCKR]
        return value

    # --- pin levels ----------------------------------------------------------------
    def mode(self, pin: int) -> int:
        """0 input, 1 output, 2 alternate function, 3 analog."""
        return (self[MODER] >> (2 * pin)) & 3

    def input_levels(self) -> int:
        moder, pupdr, odr, otyper = self[MODER], self[PUPDR], self[ODR], self[OTYPER]
        levels = 0
        for pin in range(16):
            mode = (moder >> (2 * pin)) & 3
            if mode == 3:
                continue
            external = self._external.get(pin)
            if external is None:
                external = 1 if (pupdr >> (2 * pin)) & 3 == 1 else 0
                if mode == 1 and otyper & (1 << pin):
                    external = 1              # open drain released: nothing else pulls it low
            if mode == 1:
                level = (odr >> pin) & 1
                if otyper & (1 << pin):
                    level &= external         # open drain: high only if the line is high
            else:
                level = external
            levels |= level << pin
        return levels

    def set_input(self, pin: int, level: bool | None) -> None:
        """Drive `pin` from outside (True/False), or release it (None) to its pull."""
        if not 0 <= pin < 16:
            raise ValueError(f"{self.name}: pin {pin} does not exist (0..15)")
        if level is None:
            self._external.pop(pin, None)
        else:
            self._external[pin] = int(bool(level))
        self._levels_changed()

    def gpio_input(self, pin: int, level: bool) -> None:
        """Input `pin` driven by another model's output (the platform file's `-> port@pin`)."""
        self.set_input(pin, level)

    def output_level(self, output: str) -> bool | None:
        return bool(self._last_levels >> int(output) & 1) if output.isdigit() and int(output) < 16 else None

    def on_change(self, callback: Callable[[int, int], None]) -> None:
        self._listeners.append(callback)

    def _levels_changed(self) -> None:
        levels = self.input_levels()
        changed = levels ^ self._last_levels
        self._last_levels = levels
        if changed and (self._listeners or self.wires):
            for pin in range(16):
                if changed & (1 << pin):
                    level = (levels >> pin) & 1
                    for callback in self._listeners:
                        callback(pin, level)
                    self.drive_irq(bool(level), str(pin))
