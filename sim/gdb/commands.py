"""What each GDB packet means for a halted target: queries, registers, memory, breakpoints and
watchpoints, monitor commands - and the resume/detach/kill requests the run loop acts on.

`Session.handle(payload)` returns either a list of reply payloads to send now, or a `Resume`,
`Detach` or `Kill` for the run loop. One Session lives as long as one GDB connection: the
breakpoints and watchpoints it inserted are removed again when it ends (`clear`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from sim.backend import Backend
from sim.errors import BackendError

from . import target
from .rsp import MAX_PACKET, ProtocolError, escape, hex_bytes, le_hex, parse_hex, unescape

THREAD = "1"                            # one core = one thread (no multiprocess extensions)
SIGINT, SIGTRAP, SIGSEGV = 2, 5, 11
ERROR_GENERIC, ERROR_MEMORY = "E01", "E14"
_WATCH_KINDS = {2: "write", 3: "read", 4: "access"}
_WATCH_FIELDS = {"write": "watch", "read": "rwatch", "access": "awatch"}


def _address(text: bytes) -> int:
    value = parse_hex(text, "address")
    if value >= 1 << 32:
        raise ProtocolError(f"address 0x{value:x} is beyond 32 bits")
    return value


@dataclass(frozen=True)
class Resume:
    step: bool                          # False: continue


@dataclass(frozen=True)
class Detach:
    pass


@dataclass(frozen=True)
class Kill:
    reply: bool                         # vKill wants `OK`; `k` has no reply


Action = list[str] | Resume | Detach | Kill


class Session:
    def __init__(self, machine: Backend, monitor: Callable[[str], str], *, log: Callable[[str], None]) -> None:
        self.machine = machine
        self.monitor = monitor
        self.log = log
        self.swbreak = False             # report swbreak:/hwbreak: only if GDB said it understands them
        self.hwbreak = False
        self.no_ack_requested = False
        self.last_stop: str | None = None            # the stop reply `?` repeats
        self.breakpoints: dict[int, set[int]] = {}       # address -> {0 (software), 1 (hardware)}
        self.watchpoints: set[tuple[int, int, str]] = set()

    # --- dispatch ---------------------------------------------------------------------------------
    def handle(self, payload: bytes) -> Action:
        try:
            return self._dispatch(payload)
        except ProtocolError as exc:
            self.log(f"gdb: malformed packet {payload[:60]!r}: {exc}")
            return [ERROR_GENERIC]
        except BackendError as exc:
            self.log(f"gdb: {payload[:60]!r}: {exc}")
            return [ERROR_GENERIC]
        except Exception as exc:         # noqa: BLE001 - a packet must never end the scenario
            self.log(f"gdb: {payload[:60]!r} failed: {type(exc).__name__}: {exc}")
            return [ERROR_GENERIC]

    def _dispatch(self, payload: bytes) -> Action:
        if not payload:
            return [""]
        head, rest = chr(payload[0]), payload[1:]
        simple = {
            "?": lambda: [self.last_stop or self.stop_reply(SIGTRAP)],
            "g": lambda: [self._read_all_registers()],
            "G": lambda: self._write_all_registers(rest),
            "p": lambda: [self._read_register(rest)],
            "P": lambda: self._write_register(rest),
            "m": lambda: [self._read_memory(rest)],
            "M": lambda: self._write_memory("M", rest, hex_bytes),
            "X": lambda: self._write_memory("X", rest, unescape),
            "Z": lambda: self._insert(rest),
            "z": lambda: self._remove(rest),
            "H": lambda: ["OK"],
            "T": lambda: ["OK"] if rest in (THREAD.encode(), b"-1", b"0") else [ERROR_GENERIC],
        }
        if head in simple:
            return simple[head]()
        if head in "cs":
            self._set_pc_from(rest)
            return Resume(step=head == "s")
        if head in "CS":                         # with a signal to deliver: ignored on bare metal
            _, _, addr = rest.partition(b";")
            self._set_pc_from(addr)
            return Resume(step=head == "S")
        if head == "D":
            return Detach()
        if head == "k":
            return Kill(reply=False)
        if head == "q":
            return self._query(payload)
        if head == "Q":
            if payload == b"QStartNoAckMode":
                self.no_ack_requested = True
                return ["OK"]
            return [""]
        if head == "v":
            return self._v_packet(payload)
        return [""]                              # unknown: the protocol's "not supported"

    # --- queries ------------------------------------------------------------------------------------
    def _query(self, payload: bytes) -> Action:
        name, _, args = payload.partition(b":")
        if name == b"qSupported":
            offered = set(args.split(b";"))
            self.swbreak = b"swbreak+" in offered
            self.hwbreak = b"hwbreak+" in offered
            features = [f"PacketSize={MAX_PACKET:x}", "qXfer:features:read+", "vContSupported+",
                        "QStartNoAckMode+"]
            features += [f for f, on in (("swbreak+", self.swbreak), ("hwbreak+", self.hwbreak)) if on]
            return [";".join(features)]
        if name == b"qXfer":
            return [self._xfer(args)]
        if payload.startswith(b"qRcmd,"):
            return self._monitor(payload[len(b"qRcmd,"):])
        answers = {b"qfThreadInfo": "m" + THREAD, b"qsThreadInfo": "l", b"qC": "QC" + THREAD,
                   b"qAttached": "1", b"qSymbol": "OK", b"qOffsets": "", b"qTStatus": ""}
        return [answers.get(name, "")]

    def _xfer(self, args: bytes) -> str:
        parts = args.split(b":")
        if len(parts) != 4 or parts[:2] != [b"features", b"read"]:
            return ""                            # other objects are not offered
        annex, span = parts[2], parts[3]
        if annex != b"target.xml":
            return "E00"
        offset_text, _, length_text = span.partition(b",")
        offset, length = parse_hex(offset_text, "qXfer offset"), parse_hex(length_text, "qXfer length")
        chunk = target.TARGET_XML[offset:offset + length]
        more = offset + len(chunk) < len(target.TARGET_XML)
        return ("m" if more else "l") + escape(chunk).decode("latin-1")

    def _monitor(self, hex_command: bytes) -> list[str]:
        command = hex_bytes(hex_command).decode("utf-8", "replace").strip()
        text = self.monitor(command)
        replies = []
        if text:
            if not text.endswith("\n"):
                text += "\n"
            data = text.encode()
            step = MAX_PACKET // 2 - 8
            replies = ["O" + data[i:i + step].hex() for i in range(0, len(data), step)]
        return replies + ["OK"]

    def _v_packet(self, payload: bytes) -> Action:
        if payload == b"vCont?":
            return ["vCont;c;C;s;S"]
        if payload.startswith(b"vCont;"):
            actions = [a.split(b":")[0][:1] for a in payload[len(b"vCont;"):].split(b";") if a]
            if any(a in (b"s", b"S") for a in actions):
                return Resume(step=True)         # 'step this thread, continue the others' = step
            if any(a in (b"c", b"C") for a in actions):
                return Resume(step=False)
            return [ERROR_GENERIC]
        if payload.startswith(b"vKill"):
            return Kill(reply=True)
        return [""]                              # vMustReplyEmpty and everything else unknown

    # --- registers ----------------------------------------------------------------------------------
    def _value(self, reg: target.Register) -> int:
        return self.machine.read_register(reg.name)

    def _read_all_registers(self) -> str:
        return "".join(le_hex(self._value(r), r.size) for r in target.REGISTERS)

    def _write_all_registers(self, data: bytes) -> list[str]:
        raw = hex_bytes(data)
        if len(raw) != target.G_SIZE:
            raise ProtocolError(f"G carries {len(raw)} bytes, the register block is {target.G_SIZE}")
        offset = 0
        for reg in target.REGISTERS:
            self.machine.write_register(reg.name, int.from_bytes(raw[offset:offset + reg.size], "little"))
            offset += reg.size
        return ["OK"]

    def _register(self, number_text: bytes) -> target.Register | None:
        return target.BY_NUMBER.get(parse_hex(number_text, "register number"))

    def _read_register(self, rest: bytes) -> str:
        reg = self._register(rest)
        if reg is None:
            return ERROR_GENERIC
        return le_hex(self._value(reg), reg.size)

    def _write_register(self, rest: bytes) -> list[str]:
        number, sep, value = rest.partition(b"=")
        if not sep:
            raise ProtocolError("P needs NUMBER=VALUE")
        reg = self._register(number)
        raw = hex_bytes(value)
        if reg is None or len(raw) != reg.size:
            return [ERROR_GENERIC]
        self.machine.write_register(reg.name, int.from_bytes(raw, "little"))
        return ["OK"]

    def _set_pc_from(self, addr: bytes) -> None:
        if addr:
            self.machine.write_register("pc", _address(addr))

    # --- memory -------------------------------------------------------------------------------------
    @staticmethod
    def _address_length(text: bytes) -> tuple[int, int]:
        addr, sep, length = text.partition(b",")
        if not sep:
            raise ProtocolError("expected ADDR,LENGTH")
        return _address(addr), parse_hex(length, "length")

    def _read_memory(self, rest: bytes) -> str:
        address, length = self._address_length(rest)
        length = min(length, MAX_PACKET // 2)
        if address + length > 1 << 32:
            return ERROR_MEMORY
        try:
            return self.machine.read_memory(address, length).hex()
        except BackendError:
            pass
        data = bytearray()                       # a partial read: as far as memory goes
        for a in range(address, address + length):
            try:
                data += self.machine.read_memory(a, 1)
            except BackendError:
                break
        return data.hex() if data else ERROR_MEMORY

    def _write(self, address: int, data: bytes) -> list[str]:
        if not data:
            return ["OK"]
        try:
            self.machine.write_memory(address, data)
        except BackendError as exc:
            self.log(f"gdb: {exc}")
            return [ERROR_MEMORY]
        return ["OK"]

    def _write_memory(self, packet: str, rest: bytes, decode) -> list[str]:
        """`M addr,len:hex` and `X addr,len:binary` differ only in how the data is encoded."""
        spec, sep, data = rest.partition(b":")
        if not sep:
            raise ProtocolError(f"{packet} needs ADDR,LENGTH:DATA")
        address, length = self._address_length(spec)
        raw = decode(data)
        if len(raw) != length:
            raise ProtocolError(f"{packet} announces {length} bytes and carries {len(raw)}")
        return self._write(address, raw)

    # --- breakpoints and watchpoints ------------------------------------------------------------------
    def _z_args(self, rest: bytes) -> tuple[int, int, int]:
        fields = rest.split(b";")[0].split(b",")       # ;cond / ;cmds lists are not offered
        if len(fields) != 3:
            raise ProtocolError("expected TYPE,ADDR,KIND")
        kind = parse_hex(fields[0], "breakpoint type")
        return kind, _address(fields[1]), parse_hex(fields[2], "kind/length")

    def _insert(self, rest: bytes) -> list[str]:
        kind, address, size = self._z_args(rest)
        if kind in (0, 1):
            if size not in (2, 3, 4):
                return [ERROR_GENERIC]
            kinds = self.breakpoints.setdefault(address & ~1, set())
            if not kinds:
                self.machine.add_breakpoint(address & ~1)
            kinds.add(kind)
            return ["OK"]
        if kind in _WATCH_KINDS:
            if size <= 0:
                return [ERROR_GENERIC]
            key = (address, size, _WATCH_KINDS[kind])
            if key not in self.watchpoints:
                self.machine.add_watchpoint(*key)
                self.watchpoints.add(key)
            return ["OK"]
        return [""]

    def _remove(self, rest: bytes) -> list[str]:
        kind, address, size = self._z_args(rest)
        if kind in (0, 1):
            kinds = self.breakpoints.get(address & ~1)
            if kinds is not None:
                kinds.discard(kind)
                if not kinds:
                    del self.breakpoints[address & ~1]
                    self.machine.remove_breakpoint(address & ~1)
            return ["OK"]
        if kind in _WATCH_KINDS:
            key = (address, size, _WATCH_KINDS[kind])
            if key in self.watchpoints:
                self.watchpoints.discard(key)
                self.machine.remove_watchpoint(*key)
            return ["OK"]
        return [""]

    def clear(self) -> None:
        """Remove everything this client inserted (it detached or went away)."""
        for address in list(self.breakpoints):
            self.machine.remove_breakpoint(address)
        self.breakpoints.clear()
        for key in list(self.watchpoints):
            self.machine.remove_watchpoint(*key)
        self.watchpoints.clear()

    # --- stop replies -------------------------------------------------------------------------------
    def stop_reply(self, signal: int, *, breakpoint: int | None = None, watch: tuple[str, int] | None = None) -> str:
        """`T05thread:1;0f:<pc>;0d:<sp>;19:<xpsr>;` plus the reason GDB can use: the kind of
        breakpoint it inserted at the PC, or the watchpoint and its data address."""
        fields = [f"T{signal:02x}thread:{THREAD}"]
        for reg in (target.PC, target.SP, target.XPSR):
            fields.append(f"{reg.number:02x}:{le_hex(self._value(reg), reg.size)}")
        if watch is not None:
            kind, address = watch
            fields.append(f"{_WATCH_FIELDS[kind]}:{address:x}")
        elif breakpoint is not None:
            kinds = self.breakpoints.get(breakpoint, set())
            if 0 in kinds and self.swbreak:
                fields.append("swbreak:")
            elif 1 in kinds and self.hwbreak:
                fields.append("hwbreak:")
        return ";".join(fields) + ";"
