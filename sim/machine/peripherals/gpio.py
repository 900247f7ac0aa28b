"""STM32F4 GPIO port (Renode type `GPIOPort.STM32_GPIOPort`).

Facts §6. Reset values of MODER/OSPEEDR/PUPDR come from the .repl constructor attributes
(`modeResetValue`, `outputSpeedResetValue`, `pullUpPullDownResetValue`, Renode's names) because
they differ per port: GPIOA resets PA13-15 to alternate function for SWD, so firmware that writes
MODER = 0 on port A is visibly wrong here too. BSRR sets and resets ODR bits (set wins when both
are written) and reads 0. IDR shows output pins as driven (open-drain pins also need the external
level high), and input pins as the external level set with `set_input()`, else their pull
(pull-up 1, otherwise 0); analog pins read 0. LCKR implements the lock key sequence; locked pins
ignore writes to MODER/OTYPER/OSPEEDR/PUPDR/AFR until reset.

Outputs: `on_change(callback)` is called with (pin, level) whenever a pin's level changes, so
the machine can wire pins to EXTI or a board model. Not modelled: alternate-function routing
(the peripherals' pins do not pass through the port), slew rates, the I/O compensation cell.
"""

from __future__ import annotations

from typing import Callable

from sim.machine.peripherals.base import Peripheral, Register, model

LCKK = 1 << 16


def _config_written(name: str):
    bits_per_pin = {"MODER": 2, "OTYPER": 1, "OSPEEDR": 2, "PUPDR": 2, "AFRL": 4, "AFRH": 4}[name]
    first_pin = 8 if name == "AFRH" else 0

    def written(self: "STM32_GPIOPort", old: int, new: int) -> None:
        locked = self._locked_mask
        if locked:
            keep = 0
            for pin in range(16):
                slot = pin - first_pin
                if locked & (1 << pin) and 0 <= slot < 32 // bits_per_pin:
                    keep |= ((1 << bits_per_pin) - 1) << (slot * bits_per_pin)
            self.values[name] = (new & ~keep) | (old & keep)
        self._levels_changed()
    return written


def _odr_written(self: "STM32_GPIOPort", old: int, new: int) -> None:
    self._levels_changed()


def _bsrr_written(self: "STM32_GPIOPort", old: int, new: int) -> None:
    odr = self.values["ODR"]
    odr &= ~(new >> 16) & 0xFFFF
    odr |= new & 0xFFFF                       # set wins over reset for the same pin
    self.values["ODR"] = odr
    self.values["BSRR"] = 0
    self._levels_changed()


def _lckr_written(self: "STM32_GPIOPort", old: int, new: int) -> None:
    if self._lock_step == 4:                  # locked until reset
        self.values["LCKR"] = old
        return
    pins, key = new & 0xFFFF, bool(new & LCKK)
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
    self.values["LCKR"] = pins                # LCKK reads 1 only once the sequence completed


def _lckr_read(self: "STM32_GPIOPort", value: int) -> int:
    if self._lock_step == 3:                  # the read that completes the key sequence
        self._lock_step = 4
        self._locked_mask = self._lock_pins
        self.values["LCKR"] = self._lock_pins | LCKK
        return self.values["LCKR"]
    return value


def _idr_read(self: "STM32_GPIOPort", value: int) -> int:
    return self.input_levels()


@model("GPIOPort.STM32_GPIOPort")
class STM32_GPIOPort(Peripheral):
    SIZE = 0x400
    REGISTERS = (
        Register("MODER", 0x00, 0, on_write=_config_written("MODER")),
        Register("OTYPER", 0x04, 0, write_mask=0xFFFF, on_write=_config_written("OTYPER")),
        Register("OSPEEDR", 0x08, 0, on_write=_config_written("OSPEEDR")),
        Register("PUPDR", 0x0C, 0, on_write=_config_written("PUPDR")),
        Register("IDR", 0x10, 0, write_mask=0, on_read=_idr_read),
        Register("ODR", 0x14, 0, write_mask=0xFFFF, on_write=_odr_written),
        Register("BSRR", 0x18, 0, on_write=_bsrr_written),
        Register("LCKR", 0x1C, 0, write_mask=0x1FFFF, on_read=_lckr_read, on_write=_lckr_written),
        Register("AFRL", 0x20, 0, on_write=_config_written("AFRL")),
        Register("AFRH", 0x24, 0, on_write=_config_written("AFRH")),
    )

    SNAPSHOT_KEEP = ("_listeners",)          # host-side wiring survives a snapshot restore

    def __init__(self, services, name, params=None, irqs=None) -> None:
        self._listeners: list[Callable[[int, int], None]] = []
        self._external: dict[int, int] = {}       # pin -> level driven from outside
        super().__init__(services, name, params, irqs)

    def reset(self) -> None:
        super().reset()
        self.values["MODER"] = int(self.param("modeResetValue", 0)) & 0xFFFF_FFFF
        self.values["OSPEEDR"] = int(self.param("outputSpeedResetValue", 0)) & 0xFFFF_FFFF
        self.values["PUPDR"] = int(self.param("pullUpPullDownResetValue", 0)) & 0xFFFF_FFFF
        self._lock_step = 0
        self._lock_pins = 0
        self._locked_mask = 0
        self._last_levels = self.input_levels()

    # --- pin levels ----------------------------------------------------------------
    def mode(self, pin: int) -> int:
        """0 input, 1 output, 2 alternate function, 3 analog."""
        return (self.values["MODER"] >> (2 * pin)) & 3

    def input_levels(self) -> int:
        moder, pupdr = self.values["MODER"], self.values["PUPDR"]
        odr, otyper = self.values["ODR"], self.values["OTYPER"]
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

    def on_change(self, callback: Callable[[int, int], None]) -> None:
        self._listeners.append(callback)

    def _levels_changed(self) -> None:
        levels = self.input_levels()
        changed = levels ^ self._last_levels
        self._last_levels = levels
        if changed and self._listeners:
            for pin in range(16):
                if changed & (1 << pin):
                    for callback in self._listeners:
                        callback(pin, (levels >> pin) & 1)
