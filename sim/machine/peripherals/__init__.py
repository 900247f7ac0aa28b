"""Built-in peripheral models, one module per Renode type; importing this package fills
`base.MODEL_TYPES` (Renode type name -> model class) for the machine's bus."""

from sim.machine.peripherals import (  # noqa: F401  (imported for their @model registration)
    ethernet,
    exti,
    flash,
    gpio,
    phy,
    pwr,
    rcc,
    rng,
    usart,
)
from sim.machine.peripherals.base import MODEL_TYPES

__all__ = ["MODEL_TYPES"]
