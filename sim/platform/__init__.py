"""Platform files (Renode .repl syntax) -> PlatformSpec, shared by both backends."""

import atexit
from contextlib import ExitStack
from importlib.resources import as_file, files
from pathlib import Path

from .parser import load_platform, parse_platform
from .spec import (EMPTY, EnumValue, Entry, IrqConnection, Location, NewObject, PlatformError,
                   PlatformSpec, RangeValue, Reference, Registration, Tag, Using)

# The STM32F407 platform every command and suite uses unless told otherwise (defined here only).
# It is package data; Renode loads platform files by path, so `as_file` gives a real file for the
# whole process: the installed file itself, or a temporary copy if the package is in a zip.
_resources = ExitStack()
atexit.register(_resources.close)
DEFAULT_REPL: Path = _resources.enter_context(as_file(files(__name__) / "stm32f407.repl"))

__all__ = ["DEFAULT_REPL", "load_platform", "parse_platform", "PlatformSpec", "PlatformError", "Entry",
           "Registration", "IrqConnection", "Tag", "Location", "Reference", "EnumValue",
           "RangeValue", "NewObject", "EMPTY", "Using"]
