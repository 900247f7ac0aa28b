"""Registers declared field by field: bits, access mode, reset value and side effects in one place.

A model declares each register once, as data, and its code then names fields instead of
repeating bit constants:

    DMASR = Register("DMASR", 0x1014, on_write="_interrupts_written", fields=[
        *flags(W1C, TS=0, TPSS=1, TBUS=2, ...),
        Field("RPS", 17, 3, RO), Field("TPS", 20, 3, RO), ...])

    if self[MACCR.TE]: ...              # a field's value
    self[DMASR.TPS] = TPS_SUSPENDED     # hardware sets a field (no access rules, no callbacks)

The same declaration drives the bus interface (`Peripheral.read`/`write` in base.py), the
register dump (`dump`, `format_dump`) and the table checks against ST's SVD in the tests.

Access modes are RM0090's own (RM0090 §1.1, "List of abbreviations for registers"); the bus
applies them, model code never re-implements them:

    RW   rw     software reads and writes
    RO   r      writes are ignored; the model sets the value
    WO   w      reads return 0; the written value reaches the field's callbacks
    W1C  rc_w1  writing 1 clears, writing 0 leaves the bit
    W0C  rc_w0  writing 0 clears, writing 1 leaves the bit
    RC   rc_r   a read returns the value and clears it
    W1S  rs     writing 1 sets, writing 0 leaves the bit (the hardware clears it)

Bits that no field covers are reserved: they read as their reset value and ignore writes.

Callbacks are method names of the model (resolved once per model class, so declarations stay
shareable module constants and snapshots copy no closures) or plain functions taking the model
first:
- `value` (field): `fn(model) -> int` supplies the field's value on every read instead of the
  stored one. It must not change state (dumps call it too); read side effects go in `on_read`.
- `on_write` (field): `fn(model, old, new)` after every bus write that touches the field, with
  the field's value before and after the write. Trigger fields report what software wrote
  instead: a WO field's value (it is not stored) and a W1S field's written bits (1 = "start",
  whatever the bit already was).
- `on_change` (field): like `on_write`, only when the value differs.
- `value` (register): `fn(model) -> int` supplies the whole register the same way (a port's
  input levels).
- `on_read` (register): `fn(model, value) -> value` after the fields are read, for side effects
  of the read itself (popping a FIFO, arming a clear sequence).
- `on_write` (register): `fn(model, old, new)` after the field callbacks, with the whole
  register before and after the write (trigger fields as written, as above).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Union

Callback = Union[str, Callable[..., Any], None]


class Access(enum.Enum):
    RW = "rw"
    RO = "r"
    WO = "w"
    W1C = "rc_w1"
    W0C = "rc_w0"
    RC = "rc_r"
    W1S = "rs"


RW, RO, WO, W1C, W0C, RC, W1S = (Access.RW, Access.RO, Access.WO, Access.W1C, Access.W0C,
                                 Access.RC, Access.W1S)

class Field:
    """One field of a register: `width` bits from `lsb`, an access mode, a reset value and
    optional callbacks. `register` is set when the field's register is declared."""

    __slots__ = ("name", "lsb", "width", "access", "reset", "value", "on_write", "on_change",
                 "mask", "bits", "register", "register_name")

    def __init__(self, name: str, lsb: int, width: int = 1, access: Access = RW, *,
                 reset: int | None = None, value: Callback = None, on_write: Callback = None,
                 on_change: Callback = None) -> None:
        if not isinstance(access, Access):
            raise TypeError(f"field {name}: access must be an Access, got {access!r}")
        if width < 1 or lsb < 0:
            raise ValueError(f"field {name}: bits [{lsb + width - 1}:{lsb}] are not a bit range")
        self.name = name
        self.lsb = lsb
        self.width = width
        self.access = access
        self.reset = reset
        self.value = value
        self.on_write = on_write
        self.on_change = on_change
        self.bits = (1 << width) - 1            # the largest field value
        self.mask = self.bits << lsb            # the field's bits in the register
        self.register: Register | None = None
        self.register_name = ""

    # --- a field inside a raw word (registers, descriptor words) -------------------------
    def get(self, word: int) -> int:
        return (word >> self.lsb) & self.bits

    def put(self, word: int, value: int) -> int:
        """`word` with this field replaced by `value`."""
        return (word & ~self.mask) | ((value << self.lsb) & self.mask)

    def encode(self, value: int) -> int:
        """`value` placed at the field's position (for building words from several fields)."""
        return (value << self.lsb) & self.mask

    def __repr__(self) -> str:
        where = f"{self.register_name}." if self.register_name else ""
        bits = f"{self.lsb}" if self.width == 1 else f"{self.lsb + self.width - 1}:{self.lsb}"
        return f"<Field {where}{self.name} [{bits}] {self.access.value}>"


class Register:
    """A register: name, offset in its block, width and fields. `reset` is the whole register's
    reset value as the reference manual states it (reserved bits included); a field's own
    `reset`, if given, must agree with it. Fields are attributes: `DMASR.TS`."""

    _OWN = frozenset({"name", "offset", "fields", "reset", "value", "on_read", "on_write", "width",
                      "width_mask", "rw", "w1c", "w0c", "w1s", "wo", "rc", "ro", "lsb", "bits",
                      "mask", "register_name"})

    def __init__(self, name: str, offset: int, fields: Iterable[Field] = (), *,
                 reset: int | None = None, value: Callback = None, on_read: Callback = None,
                 on_write: Callback = None, width: int = 32) -> None:
        self.name = name
        self.offset = offset
        self.width = width
        self.width_mask = (1 << width) - 1
        # the whole register seen as one field, so `model[REG]` and `model[REG.FIELD]` are one path
        self.register_name, self.lsb, self.bits, self.mask = name, 0, self.width_mask, self.width_mask
        self.value = value
        self.on_read = on_read
        self.on_write = on_write
        self.fields: tuple[Field, ...] = tuple(fields)
        covered = 0
        from_fields = 0
        masks = {access: 0 for access in Access}
        for f in self.fields:
            if f.register is not None:
                raise ValueError(f"{name}.{f.name} already belongs to {f.register_name}")
            if isinstance(self.__dict__.get(f.name), Field):
                raise ValueError(f"{name}: two fields named {f.name}")
            if f.name in self._OWN:
                raise ValueError(f"{name}: field name {f.name!r} clashes with a Register attribute")
            if f.lsb + f.width > width:
                raise ValueError(f"{name}.{f.name}: bits {f.lsb}+{f.width} exceed the {width}-bit register")
            if f.mask & covered:
                raise ValueError(f"{name}.{f.name} overlaps another field")
            covered |= f.mask
            masks[f.access] |= f.mask
            if f.reset is not None:
                from_fields |= (f.reset << f.lsb) & f.mask
            f.register = self
            f.register_name = name
            setattr(self, f.name, f)
        if reset is None:
            reset = from_fields
        for f in self.fields:
            if f.reset is not None and f.get(reset) != f.reset:
                raise ValueError(f"{name}.{f.name}: reset {f.reset:#x} disagrees with the register "
                                 f"reset value {reset:#x}")
            if f.reset is None:
                f.reset = f.get(reset)
        if masks[WO] & reset:
            raise ValueError(f"{name}: write-only fields read 0, so their reset must be 0")
        self.reset = reset & self.width_mask
        self.rw = masks[RW]
        self.w1c = masks[W1C]
        self.w0c = masks[W0C]
        self.w1s = masks[W1S]
        self.wo = masks[WO]
        self.rc = masks[RC]
        self.ro = masks[RO]

    def field(self, name: str) -> Field:
        f = self.__dict__.get(name)
        if not isinstance(f, Field):
            raise KeyError(f"{self.name} has no field {name}")
        return f

    def mask_of(self, *names: str) -> int:
        """The bits of the named fields together (e.g. the status bits one summary covers)."""
        mask = 0
        for n in names:
            mask |= self.field(n).mask
        return mask

    def __repr__(self) -> str:
        return f"<Register {self.name} @0x{self.offset:x}>"


def flags(access: Access = RW, **positions: int) -> list[Field]:
    """Single-bit fields by name: `flags(GPIOAEN=0, GPIOBEN=1)` (enable and reset registers)."""
    return [Field(name, bit, 1, access) for name, bit in positions.items()]


# --- compiled per model class ---------------------------------------------------------------
def _resolve(cls: type, callback: Callback, where: str) -> Callable[..., Any] | None:
    if callback is None or callable(callback):
        return callback
    fn = getattr(cls, callback, None)
    if fn is None or not callable(fn):
        raise TypeError(f"{cls.__name__}: {where} names {callback!r}, which is not a method")
    return fn


class CompiledRegister:
    """A register as one model class uses it: callbacks resolved to functions and everything a
    bus access needs precomputed, so an access is a few mask operations."""

    __slots__ = ("register", "name", "plain_read", "provider", "providers", "on_read", "rc", "rw", "w1c",
                 "w0c", "w1s", "triggers", "special_write", "field_callbacks", "on_write", "has_callbacks")

    def __init__(self, cls: type, register: Register) -> None:
        self.register = register
        self.name = register.name
        self.provider = _resolve(cls, register.value, f"{register.name} value")
        self.providers = tuple((f, _resolve(cls, f.value, f"{register.name}.{f.name} value"))
                               for f in register.fields if f.value is not None)
        self.on_read = _resolve(cls, register.on_read, f"{register.name} on_read")
        self.rc = register.rc
        self.plain_read = not (self.provider or self.providers or self.on_read or self.rc)
        self.rw = register.rw
        self.w1c, self.w0c, self.w1s = register.w1c, register.w0c, register.w1s
        self.triggers = register.wo | register.w1s      # callbacks see these bits as written
        self.special_write = bool(self.w1c or self.w0c or self.w1s)
        self.field_callbacks = tuple(
            (f, _resolve(cls, f.on_write, f"{register.name}.{f.name} on_write"),
             _resolve(cls, f.on_change, f"{register.name}.{f.name} on_change"))
            for f in register.fields if f.on_write is not None or f.on_change is not None)
        self.on_write = _resolve(cls, register.on_write, f"{register.name} on_write")
        self.has_callbacks = bool(self.field_callbacks or self.on_write)

    def load(self, model: Any) -> int:
        """The value a bus read returns, with the read's side effects."""
        values = model.values
        value = values[self.name] if self.provider is None else self.provider(model)
        for f, provide in self.providers:
            value = (value & ~f.mask) | ((provide(model) << f.lsb) & f.mask)
        if self.on_read is not None:
            value = self.on_read(model, value) & 0xFFFF_FFFF
        if self.rc:
            values[self.name] &= ~self.rc
        return value

    def peek(self, model: Any) -> int:
        """The value a read would return, without its side effects."""
        value = model.values[self.name] if self.provider is None else self.provider(model)
        for f, provide in self.providers:
            value = (value & ~f.mask) | ((provide(model) << f.lsb) & f.mask)
        return value

    def store(self, model: Any, value: int, lane: int) -> None:
        """A bus write of `value` (already shifted into the byte `lane` it covers)."""
        values = model.values
        old = values[self.name]
        rw = self.rw
        new = (old & ~(rw & lane)) | (value & rw)
        if self.special_write:
            new &= ~(value & self.w1c)
            new &= ~(~value & lane & self.w0c)
            new |= value & self.w1s
        values[self.name] = new
        if self.has_callbacks:
            written = (new & ~self.triggers) | (value & self.triggers)
            for f, on_write, on_change in self.field_callbacks:
                if f.mask & lane:
                    before, after = (old >> f.lsb) & f.bits, (written >> f.lsb) & f.bits
                    if on_write is not None:
                        on_write(model, before, after)
                    if on_change is not None and before != after:
                        on_change(model, before, after)
            if self.on_write is not None:
                self.on_write(model, old, written)


class RegisterLayout:
    """All registers of one model class: by name, by offset, and - for registers on a byte bus -
    by every byte offset they cover (so a sub-word access finds its register in one lookup).
    With `bytewise=False` offsets are register numbers (a PHY's MDIO registers)."""

    def __init__(self, cls: type, registers: Iterable[Register], bytewise: bool = True) -> None:
        self.registers: tuple[Register, ...] = tuple(registers)
        self.by_name: dict[str, CompiledRegister] = {}
        self.by_offset: dict[int, CompiledRegister] = {}
        self.by_byte: dict[int, CompiledRegister] = {}
        for r in self.registers:
            if r.name in self.by_name:
                raise ValueError(f"{cls.__name__}: two registers named {r.name}")
            compiled = CompiledRegister(cls, r)
            self.by_name[r.name] = compiled
            span = range(r.offset, r.offset + r.width // 8) if bytewise else (r.offset,)
            for byte in span:
                if byte in self.by_byte:
                    raise ValueError(f"{cls.__name__}: {r.name} overlaps {self.by_byte[byte].name}")
                self.by_byte[byte] = compiled
            self.by_offset[r.offset] = compiled
        if not bytewise:
            self.by_byte = {}
        self.reset_values: dict[str, int] = {r.name: r.reset for r in self.registers}


# --- dumps: what a debugger's `monitor regs` would list -------------------------------------
@dataclass(frozen=True)
class FieldState:
    name: str
    lsb: int
    width: int
    access: str
    value: int


@dataclass(frozen=True)
class RegisterState:
    name: str
    offset: int
    value: int
    fields: tuple[FieldState, ...]


def dump(model: Any) -> list[RegisterState]:
    """Every register of `model` with its field values, read without side effects."""
    out = []
    for r in model.REGISTERS:
        value = model.layout.by_name[r.name].peek(model)
        out.append(RegisterState(r.name, r.offset, value, tuple(
            FieldState(f.name, f.lsb, f.width, f.access.value, f.get(value)) for f in r.fields)))
    return out


def format_dump(model: Any, names: Iterable[str] | None = None) -> str:
    """A text listing, one register a line: `DMASR  0x1014 = 0x00660004  TBUS=1 RPS=3 ...`.
    Single-bit fields are listed only when set; wider ones always."""
    wanted = None if names is None else {n.upper() for n in names}
    digits = 8 if any(r.width > 16 for r in model.REGISTERS) else 4
    lines = []
    for state in dump(model):
        if wanted is not None and state.name.upper() not in wanted:
            continue
        parts = [f"{f.name}={f.value:#x}" if f.width > 1 else f"{f.name}"
                 for f in state.fields if f.width > 1 or f.value]
        lines.append(f"{state.name:<12} 0x{state.offset:04x} = 0x{state.value:0{digits}x}  {' '.join(parts)}".rstrip())
    return "\n".join(lines)


__all__ = ["Access", "RW", "RO", "WO", "W1C", "W0C", "RC", "W1S", "Field", "Register", "flags",
           "RegisterLayout", "CompiledRegister", "RegisterState", "FieldState", "dump", "format_dump"]
