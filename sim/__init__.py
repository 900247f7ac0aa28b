"""Boot STM32F407 TLS firmware in an emulator and explain what happens on its Ethernet link."""

__version__ = "0.1.0"
