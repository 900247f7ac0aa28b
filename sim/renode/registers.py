"""Our register names (sim.backend.CORE_REGISTERS / SYSTEM_REGISTERS) as Renode CortexM indices.

Renode's CortexM exposes r0-r15 as 0-15, CONTROL 18, BASEPRI 19, VTOR 20, the current and the
other stack pointer 21/22 and xPSR ("CPSR") 25 through `GetRegisterUnsafe`/`SetRegisterUnsafe`
(Renode's CortexMRegisters, read in renode-infrastructure; not in the facts file). PRIMASK,
FAULTMASK and the FPU registers have no index there: read them through Renode's GDB server.
"""

from __future__ import annotations

from sim.errors import BackendError

XPSR = 25
CONTROL = 18
BASEPRI = 19
CURRENT_SP = 21
OTHER_SP = 22

DIRECT = {**{f"r{i}": i for i in range(13)}, "sp": 13, "lr": 14, "pc": 15,
          "r13": 13, "r14": 14, "r15": 15,
          "xpsr": XPSR, "control": CONTROL, "basepri": BASEPRI}
BANKED = ("msp", "psp")


def register_index(name: str) -> int:
    """Renode index of a directly addressable register; msp/psp go through `banked_sp_index`."""
    key = name.lower()
    if key in DIRECT:
        return DIRECT[key]
    if key in BANKED:
        raise BackendError(f"{name} is banked: use banked_sp_index() with CONTROL and xPSR")
    raise BackendError(
        f"register {name!r} is not exposed by Renode's CortexM register interface (it has r0-r15, "
        f"xpsr, control, basepri, msp, psp). Attach GDB with start_gdb_server() to read "
        f"primask/faultmask and the FPU registers.")


def banked_sp_index(name: str, control: int, xpsr: int) -> int:
    """Which of Renode's CurrentSP/OtherSP holds MSP or PSP right now.

    Handler mode (IPSR != 0) always runs on MSP; thread mode uses PSP when CONTROL.SPSEL (bit 1)
    is set.
    """
    key = name.lower()
    if key not in BANKED:
        raise BackendError(f"{name!r} is not a banked stack pointer (msp or psp)")
    on_psp = (xpsr & 0x1FF) == 0 and bool(control & 0x2)
    current = "psp" if on_psp else "msp"
    return CURRENT_SP if key == current else OTHER_SP
