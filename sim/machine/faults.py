"""Fault reports in words a firmware developer can act on: what happened, where (PC and the
nearest symbol), the registers, and for firmware fault handlers the stacked frame with CFSR and
HFSR decoded bit by bit (ARMv7-M B3.2.15-B3.2.16)."""

from __future__ import annotations

from dataclasses import dataclass

from sim.backend import FaultReport

# (bit, name, meaning)
CFSR_BITS = (
    (0, "IACCVIOL", "instruction access violation (MemManage)"),
    (1, "DACCVIOL", "data access violation (MemManage)"),
    (3, "MUNSTKERR", "MemManage fault on exception-return unstacking"),
    (4, "MSTKERR", "MemManage fault on exception-entry stacking"),
    (5, "MLSPERR", "MemManage fault during lazy FP state preservation"),
    (7, "MMARVALID", "MMFAR holds the faulting address"),
    (8, "IBUSERR", "instruction bus error (fetch from an address with no memory)"),
    (9, "PRECISERR", "precise data bus error"),
    (10, "IMPRECISERR", "imprecise data bus error"),
    (11, "UNSTKERR", "bus error on exception-return unstacking"),
    (12, "STKERR", "bus error on exception-entry stacking"),
    (13, "LSPERR", "bus error during lazy FP state preservation"),
    (15, "BFARVALID", "BFAR holds the faulting address"),
    (16, "UNDEFINSTR", "undefined instruction"),
    (17, "INVSTATE", "invalid state (Thumb bit clear or bad IT state)"),
    (18, "INVPC", "invalid PC load or EXC_RETURN"),
    (19, "NOCP", "coprocessor (FPU) access while disabled in CPACR"),
    (24, "UNALIGNED", "unaligned access"),
    (25, "DIVBYZERO", "divide by zero"),
)
HFSR_BITS = (
    (1, "VECTTBL", "bus fault on a vector table read"),
    (30, "FORCED", "a configurable fault escalated to HardFault (disabled or could not preempt)"),
    (31, "DEBUGEVT", "debug event"),
)

CFSR = {name: 1 << bit for bit, name, _ in CFSR_BITS}
HFSR = {name: 1 << bit for bit, name, _ in HFSR_BITS}

CORE_ORDER = ("r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12",
              "sp", "lr", "pc", "xpsr")


def decode_cfsr(cfsr: int, bfar: int, mmfar: int) -> list[str]:
    lines = []
    for bit, name, meaning in CFSR_BITS:
        if cfsr & (1 << bit):
            extra = ""
            if name == "PRECISERR" and cfsr & CFSR["BFARVALID"]:
                extra = f", BFAR=0x{bfar:08x}"
            if name == "DACCVIOL" and cfsr & CFSR["MMARVALID"]:
                extra = f", MMFAR=0x{mmfar:08x}"
            lines.append(f"{name}: {meaning}{extra}")
    return lines


def decode_hfsr(hfsr: int) -> list[str]:
    return [f"{name}: {meaning}" for bit, name, meaning in HFSR_BITS if hfsr & (1 << bit)]


def format_registers(regs: dict[str, int], symbolize) -> str:
    out = []
    row = []
    for name in CORE_ORDER:
        if name not in regs:
            continue
        row.append(f"{name:>4}=0x{regs[name]:08x}")
        if len(row) == 4:
            out.append("  " + "  ".join(row))
            row = []
    if row:
        out.append("  " + "  ".join(row))
    extras = [f"{n}=0x{regs[n]:08x}" for n in ("msp", "psp", "control", "primask", "basepri",
                                                 "faultmask") if n in regs]
    if extras:
        out.append("  " + "  ".join(extras))
    lr = regs.get("lr")
    if lr is not None and lr < 0xFFFF_FF00:
        sym = symbolize(lr & ~1)
        if sym:
            out.append(f"  lr is in {sym}")
    return "\n".join(out)


@dataclass
class FaultContext:
    """What the machine knew when it entered a firmware fault handler (for the report that is
    produced once the handler is seen looping)."""
    exception: int
    reason: str                 # why the fault was raised, e.g. "unmapped read of 4 bytes at ..."
    pc: int
    frame_address: int
    frame: tuple[int, ...]      # r0 r1 r2 r3 r12 lr pc xpsr
    cfsr: int
    hfsr: int
    bfar: int
    mmfar: int
    cycles: int


def firmware_fault_report(ctx: FaultContext, handler_pc: int, symbolize, seconds: float,
                          regs_text: str, handler_name: str) -> FaultReport:
    r0, r1, r2, r3, r12, lr, pc, xpsr = ctx.frame
    fault_sym = symbolize(pc) or "?"
    handler_sym = symbolize(handler_pc) or f"0x{handler_pc:08x}"
    lines = [
        f"firmware {handler_name}: {ctx.reason}",
        f"  faulting instruction: pc=0x{pc:08x} in {fault_sym}",
        f"  the firmware's handler is stuck in an endless loop at {handler_sym} "
        f"(virtual time {seconds:.6f} s)",
        f"stacked frame at 0x{ctx.frame_address:08x}:",
        f"  r0=0x{r0:08x}  r1=0x{r1:08x}  r2=0x{r2:08x}  r3=0x{r3:08x}",
        f"  r12=0x{r12:08x}  lr=0x{lr:08x}  pc=0x{pc:08x}  xpsr=0x{xpsr:08x}",
        f"CFSR=0x{ctx.cfsr:08x}" + ("" if ctx.cfsr else " (no configurable fault bits)"),
        *[f"  {line}" for line in decode_cfsr(ctx.cfsr, ctx.bfar, ctx.mmfar)],
        f"HFSR=0x{ctx.hfsr:08x}" + ("" if ctx.hfsr else " (no HardFault status bits)"),
        *[f"  {line}" for line in decode_hfsr(ctx.hfsr)],
        "registers in the handler:",
        regs_text,
    ]
    return FaultReport(kind="hardfault" if handler_name == "HardFault" else handler_name.lower(),
                       pc=pc, message="\n".join(lines),
                       address=ctx.bfar if ctx.cfsr & CFSR["BFARVALID"] else None,
                       symbol=fault_sym)
