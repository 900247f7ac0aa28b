"""Built-in peripheral models, one module per Renode type; importing this package fills
`base.MODEL_TYPES` (Renode type name -> model class) for the machine's bus.

    base.py          Peripheral (bus interface, register storage), MachineServices, @model
    registers.py     registers declared field by field: access modes, resets, callbacks, dumps
    timing.py        named virtual-time deadlines a model arms
    clocks.py        the clock tree models ask for their rates; counts of a clock <-> virtual time
    rcc.py flash.py pwr.py gpio.py exti.py usart.py rng.py rtc.py   the STM32F407 system blocks
    timers.py        TIM2-TIM7 (basic and general-purpose), clocked from the live APB1 clock
    timer_counter.py the counter's value, updates and compare matches as a function of its clock
    ethernet/        the Ethernet MAC: registers, MDIO, TX DMA, RX path
    phy.py           the clause-22 PHY on the MAC's MDIO bus (the cable, auto-negotiation, nINT)
    phy_catalogue.py LAN8742A, LAN8720A, DP83848, KSZ8081RNA: identifiers and vendor registers
    eth_checksum.py  the MAC's checksum offload engine
"""

from sim.machine.peripherals import (  # noqa: F401  (imported for their @model registration)
    ethernet,
    exti,
    flash,
    gpio,
    phy_catalogue,
    pwr,
    rcc,
    rng,
    rtc,
    timers,
    usart,
)
from sim.machine.peripherals.base import MODEL_TYPES, DmaError, MachineServices, Peripheral
from sim.machine.peripherals.ethernet import PhyDevice
from sim.machine.peripherals.registers import Access, Field, Register, dump, format_dump

__all__ = ["MODEL_TYPES", "Access", "DmaError", "Field", "MachineServices", "Peripheral", "PhyDevice",
           "Register", "dump", "format_dump"]
