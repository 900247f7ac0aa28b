"""Paths shared by the core's tests."""

from pathlib import Path

from sim.platform import DEFAULT_REPL

ROOT = Path(__file__).resolve().parents[2]
REAL_PLATFORM = DEFAULT_REPL
CORE_PLATFORM = Path(__file__).resolve().parent / "core_only.repl"
REFERENCE_ELF = ROOT / "build" / "firmware" / "fixed.elf"
