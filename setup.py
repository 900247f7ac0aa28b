"""The compiled part of tls-fw-sim: the machine's helpers in C (sim/machine/native/: the time base,
the TLB fill and MMIO dispatch, exception entry and return).

Everything else is declared in pyproject.toml. The extension is optional: where no C compiler or
no Python headers are present the install still succeeds, and the machine runs the same time base
in Python (sim/machine/pytimebase.py), slower, after a one-line warning.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "sim.machine._native",
            sources=[f"sim/machine/native/{name}.c" for name in ("timebase", "memory", "exceptions", "module")],
            depends=["sim/machine/native/native.h"],
            extra_compile_args=["-O2"],
            optional=True,
        ),
    ],
)
