"""What GDB is told about the CPU: the target description (M-profile core, VFP d0-d15 + fpscr,
M-profile system registers) and the register numbering and `g` packet layout it implies.

The order of features and registers in the XML is the numbering (GDB manual, "Target
Description Format": a register without `regnum` takes the previous number + 1):
r0-r15 are 0-15, `regnum="25"` puts xpsr at 25 as GDB's ARM code expects, so d0-d15 are 26-41,
fpscr 42 and msp, psp, primask, basepri, faultmask, control 43-48. A `g` block is every register
in that order with no gaps: 224 bytes. The s registers are GDB pseudo-registers over d0-d15, so
`p $s0` reads d0 on the wire.

`<osabi>none</osabi>` switches Debian's gdb-multiarch from its default GNU/Linux OS ABI (Linux
breakpoint instructions, kind-3 breakpoints) to bare metal once it has read the description.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Register:
    name: str          # the backend's register name (sim.backend.*_REGISTERS)
    number: int        # remote register number (`p`/`P`)
    size: int          # bytes
    feature: str
    xml_attrs: str = ""


def _build() -> tuple[Register, ...]:
    regs: list[Register] = []
    core = "org.gnu.gdb.arm.m-profile"
    for i in range(13):
        regs.append(Register(f"r{i}", i, 4, core))
    regs += [Register("sp", 13, 4, core, 'type="data_ptr"'),
             Register("lr", 14, 4, core),
             Register("pc", 15, 4, core, 'type="code_ptr"'),
             Register("xpsr", 25, 4, core, 'regnum="25"')]
    vfp = "org.gnu.gdb.arm.vfp"
    regs += [Register(f"d{i}", 26 + i, 8, vfp, 'type="ieee_double"') for i in range(16)]
    regs.append(Register("fpscr", 42, 4, vfp, 'type="int" group="float"'))
    system = "org.gnu.gdb.arm.m-system"
    for n, name in enumerate(("msp", "psp", "primask", "basepri", "faultmask", "control")):
        regs.append(Register(name, 43 + n, 4, system, 'type="data_ptr"' if name.endswith("sp") else 'type="int"'))
    return tuple(regs)


REGISTERS = _build()
BY_NUMBER = {r.number: r for r in REGISTERS}
G_SIZE = sum(r.size for r in REGISTERS)          # 224 bytes
PC, SP, XPSR = BY_NUMBER[15], BY_NUMBER[13], BY_NUMBER[25]


def target_xml() -> str:
    """One self-contained document (no xi:include, so GDB needs a single qXfer read)."""
    parts = ['<?xml version="1.0"?>', '<!DOCTYPE target SYSTEM "gdb-target.dtd">',
             '<target version="1.0">', "<architecture>arm</architecture>", "<osabi>none</osabi>"]
    feature = None
    for reg in REGISTERS:
        if reg.feature != feature:
            if feature is not None:
                parts.append("</feature>")
            feature = reg.feature
            parts.append(f'<feature name="{feature}">')
        attrs = f" {reg.xml_attrs}" if reg.xml_attrs else ""
        parts.append(f'<reg name="{reg.name}" bitsize="{reg.size * 8}"{attrs}/>')
    parts += ["</feature>", "</target>"]
    return "\n".join(parts) + "\n"


TARGET_XML = target_xml().encode()
