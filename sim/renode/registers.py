"""Our register names (sim.backend.CORE_REGISTERS / SYSTEM_REGISTERS) as Renode CortexM indices.

The indices are those of Renode 1.16.1's `CortexMRegisters` (renode-infrastructure,
src/Emulator/Cores/Arm-M/CortexMRegisters.cs) and what tlib stores behind them
(tlib arch/arm/cpu_registers.c):

- r0-r15 are 0-15 (r13 is the stack pointer in use), xPSR ("CPSR") 25, CONTROL 18, BASEPRI 19,
  PRIMASK 28 (reads 0 or 1), FAULTMASK 30.
- 21 ("CurrentSP") is not a stack pointer: it is tlib's `process_sp` flag, 1 while the CPU runs on
  the process stack. 22 ("OtherSP") holds the stack pointer *not* in use. So MSP and PSP are r13
  and index 22, in the order the flag says.
- tlib keeps the stack selection in that flag, not in CONTROL: an exception return to thread mode
  on the process stack (EXC_RETURN bit 2, how FreeRTOS starts its first task) leaves CONTROL's
  stored SPSEL bit at 0. Architecturally CONTROL.SPSEL follows the stack in use (ARMv7-M ARM
  B1.4.4, and B1.5.8 for exception return), so CONTROL reads with SPSEL taken from the flag.

The FPU registers are left to Renode's GDB server.
"""

from __future__ import annotations

from sim.errors import BackendError

XPSR = 25
CONTROL = 18
BASEPRI = 19
PROCESS_SP_IN_USE = 21
INACTIVE_SP = 22
PRIMASK = 28
FAULTMASK = 30
SP = 13
CONTROL_SPSEL = 0x2

DIRECT = {**{f"r{i}": i for i in range(13)}, "sp": SP, "lr": 14, "pc": 15,
          "r13": SP, "r14": 14, "r15": 15,
          "xpsr": XPSR, "basepri": BASEPRI, "primask": PRIMASK, "faultmask": FAULTMASK}
STACK_POINTERS = ("msp", "psp")
SUPPORTED = (*DIRECT, "control", *STACK_POINTERS)


def register_index(name: str) -> int:
    """Renode index of a register read and written as it is; control/msp/psp need the SP flag."""
    key = name.lower()
    if key in DIRECT:
        return DIRECT[key]
    if key in STACK_POINTERS or key == "control":
        raise BackendError(f"{name} depends on the stack in use: use stack_pointer_index() / control_value()")
    raise BackendError(
        f"register {name!r} is not exposed by Renode's CortexM register interface (it has r0-r15, "
        f"xpsr, control, basepri, primask, faultmask, msp, psp). Attach GDB with start_gdb_server() "
        f"to read the FPU registers.")


def stack_pointer_index(name: str, process_sp_in_use: int) -> int:
    """Which Renode index holds MSP or PSP now: r13 for the stack in use, 22 for the other one."""
    key = name.lower()
    if key not in STACK_POINTERS:
        raise BackendError(f"{name!r} is not a banked stack pointer (msp or psp)")
    in_use = "psp" if process_sp_in_use else "msp"
    return SP if key == in_use else INACTIVE_SP


def control_value(stored_control: int, process_sp_in_use: int) -> int:
    """CONTROL as the architecture shows it: SPSEL set exactly while the process stack is in use."""
    return (stored_control & ~CONTROL_SPSEL) | (CONTROL_SPSEL if process_sp_in_use else 0)
