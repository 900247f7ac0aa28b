"""Platform files (Renode .repl syntax) -> PlatformSpec, shared by both backends."""

from pathlib import Path

from .parser import load_platform, parse_platform
from .spec import (EMPTY, EnumValue, Entry, IrqConnection, Location, NewObject, PlatformError,
                   PlatformSpec, RangeValue, Reference, Registration, Tag, Using)

# The STM32F407 platform every command and suite uses unless told otherwise (defined here only).
DEFAULT_REPL = Path(__file__).resolve().parents[2] / "platforms" / "stm32f407.repl"

__all__ = ["DEFAULT_REPL", "load_platform", "parse_platform", "PlatformSpec", "PlatformError", "Entry",
           "Registration", "IrqConnection", "Tag", "Location", "Reference", "EnumValue",
           "RangeValue", "NewObject", "EMPTY", "Using"]
