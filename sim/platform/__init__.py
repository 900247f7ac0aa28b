"""Platform files (Renode .repl syntax) -> PlatformSpec, shared by both backends."""

from .parser import load_platform, parse_platform
from .spec import (EMPTY, EnumValue, Entry, IrqConnection, Location, NewObject, PlatformError,
                   PlatformSpec, RangeValue, Reference, Registration, Tag)

__all__ = ["load_platform", "parse_platform", "PlatformSpec", "PlatformError", "Entry",
           "Registration", "IrqConnection", "Tag", "Location", "Reference", "EnumValue",
           "RangeValue", "NewObject", "EMPTY"]
