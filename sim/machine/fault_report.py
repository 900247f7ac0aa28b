"""From a CPU trap to a fault report: what went wrong (an unmapped access, an undefined
instruction, a fetch from nowhere), where (PC, symbol, mode, stacked frame), and what the machine
does with it - the firmware's own fault handler (`fault_mode="firmware"`, as on silicon) or a
report that ends the run (`fault_mode="report"`).

Whatever the firmware's handler then does, the report keeps the original cause: when the
handler cannot be entered (no vector, a broken stack, a fault inside HardFault) the report leads
with the fault that wanted it, then says why it could not run; when the handler runs and loops,
faults.py's report names the cause from the FaultContext kept at entry.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

import unicorn
from unicorn import arm_const as A
from unicorn import unicorn_const as U

from sim.backend import FaultReport

from .bus import BusFault
from .cpu import RegBatch
from .exceptions import ExceptionError
from .faults import CFSR, firmware_fault_report, format_registers
from .run_state import CpuFault
from .scs import BUSFAULT, USAGEFAULT, exception_name

if TYPE_CHECKING:  # pragma: no cover
    from .machine import Machine

_HINTS_16 = {0xBF10, 0xBF20, 0xBF40}                # yield, wfe, sev (unicorn: "invalid")
_HINTS_32 = {0xF3AF8001, 0xF3AF8002, 0xF3AF8004}
REPORT_REGS = ("r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12",
               "sp", "lr", "pc", "xpsr", "msp", "psp", "control", "primask", "basepri", "faultmask")
_REPORT_REG_IDS = tuple(getattr(A, f"UC_ARM_REG_{name.upper()}") for name in REPORT_REGS)
# the report kind of each CPU fault in fault_mode="report" (and of the cause in "firmware")
_KINDS = {"data_bus": "unmapped-access", "fetch_bus": "unmapped-fetch",
          "undefined": "invalid-instruction", "unaligned": "unaligned-access"}
# which configurable fault each CPU fault is on silicon, and its CFSR bit (ARMv7-M ARM B3.2.15)
_FIRMWARE_FAULTS = {"data_bus": (BUSFAULT, CFSR["PRECISERR"]), "fetch_bus": (BUSFAULT, CFSR["IBUSERR"]),
                    "undefined": (USAGEFAULT, CFSR["UNDEFINSTR"]), "unaligned": (USAGEFAULT, CFSR["UNALIGNED"])}


class FaultReporter:
    """The machine's fault room (`machine.faults`)."""

    def __init__(self, machine: "Machine") -> None:
        self.m = machine
        self.state = machine.run_state
        self.regs = RegBatch(machine.core.uc, _REPORT_REG_IDS)

    # --- unicorn callbacks: traps that become CPU faults ------------------------------------------
    def on_invalid_instruction(self, _uch, _user) -> bool:
        m, state = self.m, self.state
        try:
            pc = m.pc()
            before = m.bus.read_ram(pc - 4, 4) or b"\0\0\0\0"
            hw = before[2] | before[3] << 8
            word = (before[0] | before[1] << 8) << 16 | hw
            counted = m.core.timebase.count
            if (hw in _HINTS_16 or word in _HINTS_32) and state.last_hint != (pc, counted - 1):
                # WFE/SEV/YIELD: unicorn calls them invalid with PC already past them: a NOP here
                # (a real undefined instruction right after one arrives with one more counted)
                state.last_hint = (pc, counted)
                return True
            state.cpu_fault = CpuFault("undefined", pc, None, None, False,
                                       f"undefined instruction {self.code_at(pc)}")
        except BaseException as exc:
            m.loop.callback_failed(exc)
        return False

    def on_bad_access(self, _uch, access: int, address: int, size: int, value: int, _user) -> bool:
        m = self.m
        try:
            pc = m.pc()
            if access in (U.UC_MEM_FETCH_UNMAPPED, U.UC_MEM_FETCH_PROT):
                self.state.cpu_fault = CpuFault("fetch_bus", pc, address, size, False,
                                                f"instruction fetch from 0x{address:08x}: "
                                                f"{self.describe_address(address)}")
            else:
                write = access in (U.UC_MEM_WRITE_UNMAPPED, U.UC_MEM_WRITE_PROT)
                region = m.bus.memory_at(address)
                if access == U.UC_MEM_WRITE_PROT and region is not None and not region.writable:
                    m.bus.flash_stores.trap(region, address, size)   # replayed by the run loop
                    return False
                if access in (U.UC_MEM_READ_UNMAPPED, U.UC_MEM_WRITE_UNMAPPED) and m.bus.map_unmodelled(address):
                    return True                   # warn mode: the access is retried on a recording page
                if access == U.UC_MEM_WRITE_PROT:
                    why = "write-protected"
                else:
                    why = self.describe_address(address)
                self.state.cpu_fault = CpuFault("data_bus", pc, address, size, write,
                                                f"{'write' if write else 'read'} of {size} "
                                                f"byte{'s' if size != 1 else ''} at 0x{address:08x}: {why}")
        except BaseException as exc:
            m.loop.callback_failed(exc)
        return False

    def bus_fault(self, exc: BusFault) -> CpuFault:
        """A register window refused an access (raised by an MMIO callback)."""
        size = exc.size
        return CpuFault("data_bus", self.m.pc(), exc.address, size, exc.write,
                        f"{'write' if exc.write else 'read'} of {size} byte{'s' if size != 1 else ''} "
                        f"at 0x{exc.address:08x}: {self.describe_bus_fault(exc.address, exc.reason)}")

    def from_uc_error(self, error: unicorn.UcError) -> CpuFault:
        """emu_start ended with an error no hook had classified."""
        pc = self.m.pc()
        if error.errno in (U.UC_ERR_READ_UNALIGNED, U.UC_ERR_WRITE_UNALIGNED, U.UC_ERR_FETCH_UNALIGNED):
            return CpuFault("unaligned", pc, None, None, False, f"unaligned access ({error})")
        if error.errno == U.UC_ERR_INSN_INVALID:
            return CpuFault("undefined", pc, None, None, False, f"undefined instruction {self.code_at(pc)}")
        return CpuFault("cpu-error", pc, None, None, False, f"the CPU stopped: {error}")

    # --- what a CPU fault becomes ----------------------------------------------------------------
    def handle(self, fault: CpuFault) -> FaultReport | None:
        """In fault_mode="firmware", enter the firmware's fault handler (None: the run goes on);
        otherwise, or when no handler can be entered, the report that ends the run."""
        kind = _KINDS.get(fault.kind, fault.kind)
        if self.m.options.fault_mode != "firmware" or fault.kind not in _FIRMWARE_FAULTS:
            return self.report(kind, fault.pc, fault.reason, fault.address)
        target, bits = _FIRMWARE_FAULTS[fault.kind]
        bfar = fault.address if fault.kind == "data_bus" else None
        try:
            self.m.exceptions.raise_fault(target, bits, fault.pc, fault.reason, bfar=bfar)
            return None
        except ExceptionError as exc:
            if exc.kind == "lockup":
                return self.report(exc.kind, exc.pc, str(exc), exc.address)
            return self.report(kind, fault.pc, fault.reason, fault.address,
                               outcome=f"the firmware's fault handler could not be entered: {exc.kind}: {exc}")

    def exception_failed(self, exc: ExceptionError) -> FaultReport:
        """An exception entry or return that cannot proceed architecturally."""
        return self.report(exc.kind, exc.pc, str(exc), exc.address)

    # --- reports ---------------------------------------------------------------------------------
    def report(self, kind: str, pc: int, headline: str, address: int | None = None,
               outcome: str | None = None) -> FaultReport:
        m = self.m
        regs = self.registers()
        sym = m.symbols.symbolize(pc)
        where = f"pc=0x{pc:08x}" + (f" ({sym})" if sym else "")
        ipsr = regs["xpsr"] & 0x1FF
        mode = "thread mode" if ipsr == 0 else f"the {exception_name(ipsr)} handler"
        handling = self._handling_text()
        message = (f"{kind}: {headline}\n"
                   f"  at {where} in {mode}, virtual time {m.clock.seconds():.6f} s "
                   f"({m.clock.now} cycles, {self.state.instructions} instructions)\n"
                   f"{f'  {outcome}{chr(10)}' if outcome else ''}"
                   f"{handling}"
                   f"{self.stacked_frame_text(regs) if ipsr else ''}"
                   f"registers:\n{format_registers(regs, m.symbols.symbolize)}")
        return FaultReport(kind, pc, message, address=address, symbol=sym)

    def _handling_text(self) -> str:
        """The fault a firmware handler was already handling, if the new fault hit inside it."""
        ctx = self.m.exceptions.fault_context
        if ctx is None:
            return ""
        sym = self.m.symbols.symbolize(ctx.pc) or "?"
        return (f"  while the firmware's {exception_name(ctx.exception)} handler was handling: "
                f"{ctx.reason} (pc=0x{ctx.pc:08x} in {sym})\n")

    def stuck_report(self, how: str) -> FaultReport:
        """Code that can never continue (see RunLoop.check_stuck): in a fault handler, the report
        of the fault it handles; elsewhere a lockup report."""
        m = self.m
        regs = self.registers()
        ipsr = regs["xpsr"] & 0x1FF
        ctx = m.exceptions.fault_context
        text = format_registers(regs, m.symbols.symbolize)
        if ctx is not None:
            report = firmware_fault_report(ctx, regs["pc"], m.symbols.symbolize,
                                           m.clock.seconds(), text, exception_name(ctx.exception))
            report.message += f"\n(the handler {how})"
            return report
        where = m.symbols.symbolize(regs["pc"]) or f"0x{regs['pc']:08x}"
        frame = self.stacked_frame_text(regs) if ipsr else ""
        context = f"the {exception_name(ipsr)} handler" if ipsr else "Thread mode"
        message = (f"lockup: the firmware is stuck in {where} ({context}): it {how}\n"
                   f"  virtual time {m.clock.seconds():.6f} s, {self.state.instructions} instructions\n"
                   f"{frame}registers:\n{text}")
        return FaultReport("lockup", regs["pc"], message, symbol=where)

    def registers(self) -> dict[str, int]:
        regs = dict(zip(REPORT_REGS, self.regs.read()))
        regs["msp"], regs["psp"] = self.m.exceptions.banked_stack_pointers()
        return regs

    def stacked_frame_text(self, regs: dict[str, int]) -> str:
        lr = regs["lr"]
        if lr < 0xFFFF_FFE0:
            return ""
        sp = regs["psp"] if lr & 4 else regs["msp"]
        raw = self.m.bus.read_ram(sp, 32)
        if raw is None:
            return ""
        r0, r1, r2, r3, r12, slr, spc, sxpsr = struct.unpack("<8I", raw)
        sym = self.m.symbols.symbolize(spc) or "?"
        return (f"  interrupted code (stacked frame at 0x{sp:08x}): pc=0x{spc:08x} in {sym}, "
                f"lr=0x{slr:08x}, xpsr=0x{sxpsr:08x}\n")

    # --- words for addresses and code ------------------------------------------------------------
    def code_at(self, pc: int) -> str:
        raw = self.m.bus.read_ram(pc, 4)
        if raw is None:
            return "(not readable)"
        hw = raw[0] | raw[1] << 8
        if hw >> 11 in (0b11101, 0b11110, 0b11111):
            return f"0x{hw:04x} 0x{raw[2] | raw[3] << 8:04x}"
        return f"0x{hw:04x}"

    def describe_address(self, address: int) -> str:
        bus = self.m.bus
        best = None
        for w in bus.windows:
            gap = min(abs(address - w.start), abs(address - (w.end - 1)))
            if best is None or gap < best[0]:
                best = (gap, w)
        near = ""
        if best is not None and best[0] < 0x10000:
            w = best[1]
            near = f"; nearest block: {w.name} at 0x{w.start:08x}-0x{w.end - 1:08x}"
        return f"nothing is mapped there{near} (memories: {bus.describe_map()})"

    def describe_bus_fault(self, address: int, reason: str) -> str:
        bus = self.m.bus
        w = bus.window_at(address)
        if w is not None:
            return f"{reason} in {w.name} (0x{w.start:08x}-0x{w.end - 1:08x})"
        page = address & ~0x3FF
        for w in bus.windows:
            if w.start <= page + 0x3FF and w.end > page and address >= w.end:
                return (f"no register there: past the end of {w.name} "
                        f"(0x{w.start:08x}-0x{w.end - 1:08x})")
        return self.describe_address(address)
