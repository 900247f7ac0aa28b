"""Paths shared by the core's tests."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REAL_PLATFORM = ROOT / "platforms" / "stm32f407.repl"
CORE_PLATFORM = Path(__file__).resolve().parent / "core_only.repl"
REFERENCE_ELF = ROOT / "build" / "firmware" / "fixed.elf"
