"""The ARMv7-M exception model that unicorn does not have: entry (basic and FP-extended frames,
8-byte alignment, every EXC_RETURN form), return (including nested handler returns and
tail-chaining), priority and BASEPRI/PRIMASK/FAULTMASK masking, SVCall, and the architectural
fault path (CFSR/BFAR/HFSR, escalation to HardFault, lockup).

Entry and return follow ARMv7-M ARM B1.5.6 (exception entry), B1.5.7 (stack alignment) and
B1.5.8 (exception return). The register writes are batched in an order that keeps unicorn's
banked SPs right (CONTROL.SPSEL can only change in privileged Thread mode; writing xPSR switches
mode and SP), and APSR_NZCV is rewritten after every xPSR write so unicorn rebuilds its cached
hflags (else EXC_RETURN is not recognised); docs/machine.md explains both. FP state is stacked
eagerly (LSPACT stays 0): the same result as lazy stacking for software.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from unicorn import arm_const as A

from .cpu import RegBatch
from .faults import CFSR, HFSR, FaultContext
from .scs import (CONTROL_FPCA, FPCCR_ASPEN, HARDFAULT, NMI, PENDSV, SHCSR_ENABLE, SVCALL, USAGEFAULT,
                  exception_name)

if TYPE_CHECKING:  # pragma: no cover
    from .machine import Machine

NPRIV, SPSEL = 1, 2
XPSR_T = 1 << 24
XPSR_ALIGN = 1 << 9
XPSR_KEEP_ON_ENTRY = 0xF80F_0000           # N Z C V Q and GE survive; IT/ICI are cleared
VALID_EXC_RETURN = {0xFFFF_FFF1, 0xFFFF_FFE1, 0xFFFF_FFF9, 0xFFFF_FFE9, 0xFFFF_FFFD, 0xFFFF_FFED}
CPACR_FULL = 0xF << 20                     # CP10 and CP11: full access
BASIC_FRAME = 0x20
EXTENDED_FRAME = 0x68
_FRAME8 = struct.Struct("<8I")
_FRAME26 = struct.Struct("<26I")

_MASK_REGS = (A.UC_ARM_REG_PRIMASK, A.UC_ARM_REG_BASEPRI, A.UC_ARM_REG_FAULTMASK)
# one batch read serves an exception: the registers it stacks and the masks that decide it
_CTX_REGS = (A.UC_ARM_REG_CONTROL, A.UC_ARM_REG_XPSR, A.UC_ARM_REG_MSP, A.UC_ARM_REG_PSP,
             A.UC_ARM_REG_R0, A.UC_ARM_REG_R1, A.UC_ARM_REG_R2, A.UC_ARM_REG_R3,
             A.UC_ARM_REG_R12, A.UC_ARM_REG_LR, A.UC_ARM_REG_PC) + _MASK_REGS
_FP_REGS = tuple(A.UC_ARM_REG_S0 + i for i in range(16)) + (A.UC_ARM_REG_FPSCR,)


class ExceptionError(Exception):
    """Entry or return cannot proceed architecturally (the machine turns it into a fault)."""

    def __init__(self, kind: str, message: str, pc: int, address: int | None = None,
                 cfsr: int = 0) -> None:
        super().__init__(message)
        self.kind = kind
        self.pc = pc
        self.address = address
        self.cfsr = cfsr


class ExceptionEngine:
    def __init__(self, machine: "Machine") -> None:
        self.m = machine
        self.scs = machine.scs
        uc = machine.core.uc
        self.extended_frames = True            # negative-control switch (MachineOptions)
        self.mask_interrupts = False           # DHCSR.C_MASKINTS: set by Machine.step(mask_interrupts=True)
        self.ctx = RegBatch(uc, _CTX_REGS)
        self.masks = RegBatch(uc, _MASK_REGS)
        self.fp = RegBatch(uc, _FP_REGS)
        r = A
        # entry from privileged Thread mode: clear SPSEL while still in Thread mode
        self.enter_thread = RegBatch(uc, (r.UC_ARM_REG_CONTROL, r.UC_ARM_REG_XPSR, r.UC_ARM_REG_APSR_NZCV,
                                          r.UC_ARM_REG_MSP, r.UC_ARM_REG_PSP, r.UC_ARM_REG_LR, r.UC_ARM_REG_PC))
        # entry from unprivileged Thread mode: become privileged first, then clear SPSEL
        self.enter_unpriv = RegBatch(uc, (r.UC_ARM_REG_XPSR, r.UC_ARM_REG_CONTROL, r.UC_ARM_REG_XPSR,
                                          r.UC_ARM_REG_CONTROL, r.UC_ARM_REG_XPSR, r.UC_ARM_REG_CONTROL,
                                          r.UC_ARM_REG_APSR_NZCV, r.UC_ARM_REG_MSP, r.UC_ARM_REG_PSP,
                                          r.UC_ARM_REG_LR, r.UC_ARM_REG_PC))
        # entry from Handler mode (nesting)
        self.enter_handler = RegBatch(uc, (r.UC_ARM_REG_XPSR, r.UC_ARM_REG_APSR_NZCV, r.UC_ARM_REG_CONTROL,
                                           r.UC_ARM_REG_MSP, r.UC_ARM_REG_PSP, r.UC_ARM_REG_LR, r.UC_ARM_REG_PC))
        ret = (r.UC_ARM_REG_CONTROL, r.UC_ARM_REG_FAULTMASK, r.UC_ARM_REG_XPSR, r.UC_ARM_REG_CONTROL,
               r.UC_ARM_REG_MSP, r.UC_ARM_REG_PSP, r.UC_ARM_REG_APSR_NZCV,
               r.UC_ARM_REG_R0, r.UC_ARM_REG_R1, r.UC_ARM_REG_R2, r.UC_ARM_REG_R3, r.UC_ARM_REG_R12,
               r.UC_ARM_REG_LR)
        self.return_basic = RegBatch(uc, ret + (r.UC_ARM_REG_PC, r.UC_ARM_REG_CONTROL))
        self.return_ext = RegBatch(uc, ret + _FP_REGS + (r.UC_ARM_REG_PC, r.UC_ARM_REG_CONTROL))
        self._xpsr_only = RegBatch(uc, (r.UC_ARM_REG_XPSR, r.UC_ARM_REG_APSR_NZCV))
        self._sps = RegBatch(uc, (r.UC_ARM_REG_MSP, r.UC_ARM_REG_PSP))
        self.entries = 0
        self.returns = 0
        self.tail_chains = 0
        self.fault_context: FaultContext | None = None
        self.exc_return_seen: dict[int, int] = {}       # EXC_RETURN value -> times produced

    # --- priority -------------------------------------------------------------------------------------
    def execution_priority(self, ignore_primask: bool = False) -> int:
        primask, basepri, faultmask = self.masks.read()
        return self.scs.execution_priority(0 if ignore_primask else primask, basepri, faultmask)

    def takeable(self, ctx: list[int] | None = None) -> int | None:
        """The exception that would be taken now, if any (`ctx`: a fresh self.ctx.read())."""
        if not self.scs.candidates():
            return None
        if ctx is None:
            best = self.scs.best_pending(self.execution_priority())
        else:
            best = self.scs.best_pending(self.scs.execution_priority(ctx[11], ctx[12], ctx[13]))
        if best is not None and best >= PENDSV and self.mask_interrupts:
            return None        # a debugger steps with PendSV, SysTick and IRQs held (DHCSR.C_MASKINTS)
        return best

    # --- entry ------------------------------------------------------------------------------------------
    def enter(self, exc: int, return_pc: int | None = None, ctx: list[int] | None = None) -> int:
        """Take exception `exc`, stacking a frame that returns to `return_pc` (default: the
        current PC, for an asynchronous exception). `ctx`: a self.ctx.read() of this moment.
        Returns the handler's address (the new PC)."""
        scs, m = self.scs, self.m
        control, xpsr, msp, psp, r0, r1, r2, r3, r12, lr, pc, *_masks = ctx or self.ctx.read()
        if return_pc is None:
            return_pc = pc
        thread = (xpsr & 0x1FF) == 0
        if thread and control & NPRIV:
            # unicorn reads MSP/PSP as 0 from unprivileged Thread mode: enter Handler mode
            # (privileged) first, then read the banked stack pointers
            self._xpsr_only.write(((xpsr & XPSR_KEEP_ON_ENTRY) | XPSR_T | exc, xpsr & 0xF000_0000))
            msp, psp = self._sps.read()
        if control & CONTROL_FPCA and scs.cpacr & CPACR_FULL != CPACR_FULL:
            # unicorn's FPU is always on; on silicon the first FP instruction would have faulted
            raise ExceptionError("nocp", "the firmware executed floating-point instructions while "
                                 f"CPACR=0x{scs.cpacr:08x} leaves the FPU disabled (NOCP UsageFault "
                                 "on silicon): set CPACR bits 20-23 (CP10/CP11 full access) first",
                                 return_pc, None, CFSR["NOCP"])
        use_psp = thread and bool(control & SPSEL)
        sp = psp if use_psp else msp
        extended = bool(control & CONTROL_FPCA) and bool(scs.fpccr & FPCCR_ASPEN) and self.extended_frames
        size = EXTENDED_FRAME if extended else BASIC_FRAME
        frame = (sp - size) & 0xFFFF_FFF8
        stacked_xpsr = (xpsr & ~XPSR_ALIGN) | XPSR_T | (XPSR_ALIGN if sp & 4 else 0)
        words = [r0, r1, r2, r3, r12, lr, return_pc & ~1, stacked_xpsr]
        if extended:
            words += self.fp.read() + [0]
            data = _FRAME26.pack(*words)
        else:
            data = _FRAME8.pack(*words)
        if not m.bus.write_ram(frame, data):
            raise ExceptionError("stacking-fault", f"exception entry to {exception_name(exc)} could not stack "
                                 f"{size} bytes at 0x{frame:08x} (SP=0x{sp:08x} is not in RAM: "
                                 f"stack overflow or a corrupted stack pointer)", return_pc, frame,
                                 CFSR["STKERR"])
        if extended:
            scs.fpcar = frame + 0x20
        handler = m.bus.read_word(scs.vtor + 4 * exc)
        if handler is None or not handler & 1:
            what = "cannot be read" if handler is None else f"is 0x{handler:08x} (no Thumb bit)"
            raise ExceptionError("vector-fault", f"the vector for {exception_name(exc)} at "
                                 f"0x{scs.vtor + 4 * exc:08x} {what} (VTOR=0x{scs.vtor:08x})",
                                 return_pc, scs.vtor + 4 * exc)
        exc_return = 0xFFFF_FFE1 | (0 if extended else 0x10) | ((0x8 | (0x4 if use_psp else 0)) if thread else 0)
        self.exc_return_seen[exc_return] = self.exc_return_seen.get(exc_return, 0) + 1
        new_msp = msp if use_psp else frame
        new_psp = frame if use_psp else psp
        handler_xpsr = (xpsr & XPSR_KEEP_ON_ENTRY) | XPSR_T | exc
        flags = xpsr & 0xF000_0000
        handler_control = control & ~(CONTROL_FPCA | SPSEL)
        if not thread:
            self.enter_handler.write((handler_xpsr, flags, handler_control, new_msp, new_psp,
                                      exc_return, handler | 1))
        elif not control & NPRIV:
            self.enter_thread.write((handler_control, handler_xpsr, flags, new_msp, new_psp,
                                     exc_return, handler | 1))
        else:
            priv = control & ~(NPRIV | CONTROL_FPCA)
            self.enter_unpriv.write((handler_xpsr, priv, (xpsr & XPSR_KEEP_ON_ENTRY) | XPSR_T,
                                     priv & ~SPSEL, handler_xpsr, handler_control, flags,
                                     new_msp, new_psp, exc_return, handler | 1))
        scs.pending &= ~(1 << exc)
        scs.active |= 1 << exc
        self.entries += 1
        m.exception_entered(exc)
        return handler & ~1

    # --- return -----------------------------------------------------------------------------------------
    def exception_return(self, exc_return: int | None = None) -> None:
        """Called when the CPU branched to an EXC_RETURN value in Handler mode (by default the
        value is taken from the PC, where unicorn leaves it)."""
        scs, m = self.scs, self.m
        control, xpsr, msp, psp, *_regs, pc_now, primask, basepri, old_faultmask = self.ctx.read()
        if exc_return is None:
            exc_return = pc_now | 1
        returning = xpsr & 0x1FF
        if exc_return not in VALID_EXC_RETURN:
            raise ExceptionError("invalid-exc-return", f"invalid EXC_RETURN 0x{exc_return:08x} in "
                                 f"{self.m.handler_name(returning)} (valid: F1 E1 F9 E9 FD ED)",
                                 exc_return, None, CFSR["INVPC"])
        if not scs.active & (1 << returning):
            raise ExceptionError("invalid-exc-return", f"exception return from {exception_name(returning)}, "
                                 f"which is not active", exc_return, None, CFSR["INVPC"])
        to_thread = bool(exc_return & 0x8)
        use_psp = bool(exc_return & 0x4)
        extended = not exc_return & 0x10
        others_active = scs.active & ~(1 << returning)
        if to_thread and others_active and not scs.ccr & 1:
            raise ExceptionError("invalid-exc-return", f"EXC_RETURN 0x{exc_return:08x} returns to Thread mode from "
                                 f"{exception_name(returning)} while other exceptions are still active",
                                 exc_return, None, CFSR["INVPC"])
        if not to_thread and not others_active:
            raise ExceptionError("invalid-exc-return", f"EXC_RETURN 0x{exc_return:08x} returns to Handler mode from "
                                 f"{exception_name(returning)} but no other exception is active",
                                 exc_return, None, CFSR["INVPC"])
        sp = psp if use_psp else msp
        size = EXTENDED_FRAME if extended else BASIC_FRAME
        data = m.bus.read_ram(sp, size)
        if data is None:
            raise ExceptionError("unstacking-fault", f"exception return could not unstack {size} bytes at "
                                 f"0x{sp:08x} ({'PSP' if use_psp else 'MSP'} is not in RAM)",
                                 exc_return, sp, CFSR["UNSTKERR"])
        if extended:
            words = _FRAME26.unpack(data)
        else:
            words = _FRAME8.unpack(data)
        r0, r1, r2, r3, r12, lr, pc, stacked_xpsr = words[:8]
        new_sp = sp + size + (4 if stacked_xpsr & XPSR_ALIGN else 0)
        new_msp = msp if use_psp else new_sp
        new_psp = new_sp if use_psp else psp
        ipsr = 0 if to_thread else stacked_xpsr & 0x1FF
        if not to_thread and ipsr == 0:
            raise ExceptionError("invalid-exc-return", f"EXC_RETURN 0x{exc_return:08x} returns to Handler mode "
                                 f"but the stacked xPSR at 0x{sp:08x} has IPSR=0", exc_return,
                                 None, CFSR["INVPC"])
        new_xpsr = (stacked_xpsr & ~(XPSR_ALIGN | 0x1FF)) | XPSR_T | ipsr
        fpca = CONTROL_FPCA if extended else 0
        in_handler_control = (control & ~(NPRIV | CONTROL_FPCA)) | fpca
        final_control = (control & ~(NPRIV | CONTROL_FPCA | SPSEL)) | fpca | (SPSEL if use_psp else 0)
        last_control = final_control | (control & NPRIV if to_thread else 0)
        faultmask = 0 if returning != NMI else old_faultmask
        scs.exception_returned(returning)
        head = (in_handler_control, faultmask, new_xpsr, final_control, new_msp, new_psp,
                new_xpsr & 0xF000_0000, r0, r1, r2, r3, r12, lr)
        if extended:
            self.return_ext.write(head + tuple(words[8:25]) + (pc | 1, last_control))
        else:
            self.return_basic.write(head + (pc | 1, last_control))
        self.returns += 1
        m.exception_returned(returning)
        # tail-chaining: a pending exception that can now run is entered straight away
        nxt = None
        if scs.candidates():
            nxt = scs.best_pending(scs.execution_priority(primask, basepri, faultmask))
        if nxt is not None:
            self.tail_chains += 1
            self.enter(nxt, pc)

    # --- SVCall -------------------------------------------------------------------------------------------
    def supervisor_call(self, return_pc: int | None = None) -> None:
        """SVC executed; unicorn leaves PC past it, the default return address."""
        ctx = self.ctx.read()
        if return_pc is None:
            return_pc = ctx[10]
        prio = self.scs.execution_priority(ctx[11], ctx[12], ctx[13])
        if self.scs.group_priority(SVCALL) < prio:
            self.enter(SVCALL, return_pc, ctx)
            return
        # an SVC that cannot be taken now escalates to HardFault (ARMv7-M B1.5.4)
        self.raise_fault(USAGEFAULT, 0, return_pc - 2, reason="SVC executed while SVCall could not "
                         f"preempt (execution priority {prio}): escalated", force_hard=True)

    # --- faults ---------------------------------------------------------------------------------------------
    def raise_fault(self, target: int, cfsr_bits: int, pc: int, reason: str, bfar: int | None = None,
                    mmfar: int | None = None, force_hard: bool = False) -> None:
        """Enter the firmware's fault handler the architectural way, or raise ExceptionError
        ("lockup") when even HardFault cannot be taken."""
        scs = self.scs
        scs.cfsr |= cfsr_bits
        if bfar is not None:
            scs.bfar = bfar
            scs.cfsr |= CFSR["BFARVALID"]
        if mmfar is not None:
            scs.mmfar = mmfar
            scs.cfsr |= CFSR["MMARVALID"]
        prio = self.execution_priority()
        exc = target
        enabled = target in SHCSR_ENABLE and scs.shcsr_enables & SHCSR_ENABLE[target]
        if force_hard or target == HARDFAULT or not enabled or scs.group_priority(target) >= prio:
            exc = HARDFAULT
            if target != HARDFAULT:
                scs.hfsr |= HFSR["FORCED"]
            if prio <= -1:
                raise ExceptionError("lockup", f"{reason} while the execution priority is {prio} "
                                     f"(in HardFault/NMI or with FAULTMASK set), so HardFault cannot be taken",
                                     pc, bfar)
        self.enter(exc, pc)
        # remember what led here, for the report if the handler never returns
        frame_sp = self._frame_address_after_entry()
        raw = self.m.bus.read_ram(frame_sp, BASIC_FRAME) or bytes(BASIC_FRAME)
        self.fault_context = FaultContext(exc, reason, pc, frame_sp, _FRAME8.unpack(raw), scs.cfsr,
                                          scs.hfsr, scs.bfar, scs.mmfar, self.m.cycles)

    def banked_stack_pointers(self) -> tuple[int, int]:
        """(MSP, PSP), also from unprivileged Thread mode (where unicorn reads them as 0): the
        active one is SP; the other is read from a moment in Handler mode, then mode is restored."""
        control, xpsr, msp, psp, *_ = self.ctx.read()
        if (xpsr & 0x1FF) or not control & NPRIV:
            return msp, psp
        self._xpsr_only.write((xpsr | XPSR_T | 1, xpsr & 0xF000_0000))
        msp, psp = self._sps.read()
        self._xpsr_only.write((xpsr | XPSR_T, xpsr & 0xF000_0000))
        return msp, psp

    def _frame_address_after_entry(self) -> int:
        control, xpsr, msp, psp, *_rest, lr, _pc, _pm, _bp, _fm = self.ctx.read()
        return psp if (lr & 0x4) else msp

