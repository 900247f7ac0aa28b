"""The Renode 1.16.1 peripheral types our platform file may use, as documented in facts/renode.md.

This is the reference `repl_check` validates `sim/platform/stm32f407.repl` against. Each entry cites
the facts section it comes from; nothing here is guessed. Renode itself is the final judge (it
rejects a constructor attribute it does not know, §1.1), but Renode cannot run here, so whatever
the facts do not document is reported instead of assumed.

Attribute rules (§1.1): a lower-case initial is a constructor parameter, an upper-case initial a
property. Renode picks the one constructor whose parameters all have a default or a matching
attribute, with every attribute used; a required parameter is one without a default.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Param:
    """A constructor parameter. `kind`: int | bool | string | ref | enum | list."""

    kind: str
    required: bool = False
    refs: tuple[str, ...] = ()        # for kind "ref": the types the referenced entry may have
    choices: tuple[str, ...] = ()     # for strings/enums: the documented values


@dataclass(frozen=True)
class RenodeType:
    name: str
    source: str                                    # where in facts/renode.md this is documented
    params: dict[str, Param] = field(default_factory=dict)
    properties: frozenset[str] = frozenset()
    registration: str = "sysbus"                   # sysbus | cpu | none | ethernet | gpio
    default_output: bool = False                   # `-> dest@n` without an output name
    named_outputs: tuple[str, ...] = ()            # `Name -> dest@n`
    numbered_outputs: int = 0                      # `[0-k] -> ...`: outputs 0..k-1
    inputs: int = 0                                # IRQ inputs it receives (0: not a receiver)
    size: int | None = None                        # IKnownSize, when the facts give it
    point_registration: bool = True                # '@ sysbus 0xADDR' documented (stm32f4.repl
                                                   # uses ranges, not points, for UARTs and GPIO)


def _t(name: str, source: str, **kwargs) -> RenodeType:
    return RenodeType(name=name, source=source, **kwargs)


INT = Param("int")
BOOL = Param("bool")

PHY_PROPERTIES = frozenset(
    {"BasicControl", "BasicStatus", "Id1", "Id2", "AutoNegotiationAdvertisement",
     "AutoNegotiationLinkPartnerBasePageAbility", "ExtendedStatus"}
    | {f"VendorSpecific{i}" for i in range(16)})

TYPES: dict[str, RenodeType] = {t.name: t for t in (
    # §1.1 ("Memory is declared as Memory.MappedMemory ... size: 0x40000"), §1.3 memory table
    _t("Memory.MappedMemory", "§1.1, §1.3 (memory)",
       params={"size": Param("int", required=True)}),
    # §1.3 "cpu | CPU.CortexM | sysbus | cpuType "cortex-m4", nvic: nvic" and the constructor
    # signature CortexM(cpuType, machine, nvic, cpuId = 0, ...); "cortex-m4f" maps to an M7 CPUID.
    # PerformanceInMips: §3.2 "cpu PerformanceInMips N sets it" (a property of the CPU).
    _t("CPU.CortexM", "§1.3 (CPU type, constructor signatures), §3.2 (PerformanceInMips)",
       params={"cpuType": Param("string", required=True, choices=("cortex-m4", "cortex-m4f")),
               "nvic": Param("ref", required=True, refs=("IRQControllers.NVIC",)),
               "cpuId": INT},
       properties=frozenset({"PerformanceInMips"}), registration="cpu", inputs=1),
    # §1.3 NVIC(machine, systickFrequency = 50*0x800000, priorityMask = 0xFF,
    # haltSystickOnDeepSleep = true); "IRQ -> cpu@0"; §8 quirk 2 (SysTick frequency)
    _t("IRQControllers.NVIC", "§1.3 (nvic row, constructor signatures), §8 quirk 2",
       params={"systickFrequency": INT, "priorityMask": INT, "haltSystickOnDeepSleep": BOOL},
       named_outputs=("IRQ",), inputs=256),
    # §1.3 STM32_UART(machine, uint frequency = 8000000); usartN -> nvic@n; §8 quirk 4
    _t("UART.STM32_UART", "§1.3 (usart rows, constructor signatures), §8 quirk 4",
       params={"frequency": INT}, default_output=True, point_registration=False),
    # §1.3 STM32F4_RCC(machine, STM32F4_RTC rtcPeripheral); "Timer9Reset -> timer9@255"
    _t("Miscellaneous.STM32F4_RCC", "§1.3 (rcc row, constructor signatures), §8 quirk 8",
       params={"rtcPeripheral": Param("ref", required=True, refs=("Timers.STM32F4_RTC",))},
       named_outputs=("Timer9Reset",)),
    # §1.3 STM32F4_RTC(machine, wakeupTimerFrequency = default); "AlarmIRQ -> nvic@41"
    _t("Timers.STM32F4_RTC", "§1.3 (rtc row, constructor signatures)",
       params={"wakeupTimerFrequency": INT}, named_outputs=("AlarmIRQ",)),
    # §1.3 STM32F4_FlashController(machine, MappedMemory flash), plus the option-byte region
    _t("MTD.STM32F4_FlashController", "§1.3 (flash_controller row), §8 quirk 7",
       params={"flash": Param("ref", required=True, refs=("Memory.MappedMemory",))}),
    # §1.3 "pwr | Miscellaneous.STM32_PWR | 0x40007000" (no parameters)
    _t("Miscellaneous.STM32_PWR", "§1.3 (pwr row)"),
    # §1.3 STM32_GPIOPort(machine, modeResetValue = 0, outputSpeedResetValue = 0,
    # pullUpPullDownResetValue = 0, ...), numberOfAFs and invertedAFPins in the gpio rows;
    # "[0-15] -> exti@[0-15]"
    _t("GPIOPort.STM32_GPIOPort", "§1.3 (gpioPort rows, constructor signatures)",
       params={"modeResetValue": INT, "outputSpeedResetValue": INT,
               "pullUpPullDownResetValue": INT, "numberOfAFs": INT,
               "invertedAFPins": Param("list")},
       numbered_outputs=16, inputs=16, point_registration=False),
    # §1.3 rng: "★(1.16.1: Miscellaneous.STM32F4_RNG, no parameters)" at 0x50060800 -> nvic@80;
    # §3.2: fed from the emulation's seeded random generator
    _t("Miscellaneous.STM32F4_RNG", "§1.3 (rng row, 1.16.1 name), §3.2 (seed)",
       default_output=True),
    # §1.3 STM32F4_EXTI(machine, numberOfOutputLines = 14, firstDirectLine = default);
    # numbered outputs up to 22 in stm32f4.repl
    _t("IRQControllers.STM32F4_EXTI", "§1.3 (exti row, constructor signatures)",
       params={"numberOfOutputLines": INT, "firstDirectLine": INT},
       numbered_outputs=32, inputs=32),
    # §1.3 "nvicInput23 | Miscellaneous.CombinedInput | @ none | numberOfInputs 5 | -> nvic@23"
    _t("Miscellaneous.CombinedInput", "§1.3 (nvicInput rows), §1.1 (@ none)",
       params={"numberOfInputs": Param("int", required=True)},
       registration="none", default_output=True, inputs=32),
    # §2.1/§2.2: derives from NetworkWithPHY, IKnownSize 0x1400, a single GPIO IRQ; stm32f4.repl
    # gives no constructor attributes ("none given (defaults; §2)"), so none are documented for
    # the 1.16.1 model (master's busWidth/version belong to the new model, §2.3).
    _t("Network.SynopsysEthernetMAC", "§1.3 (ethernet row), §2.1, §2.2",
       default_output=True, size=0x1400),
    # §2.1 "a plain table of 32 registers, each settable as a property: BasicControl,
    # BasicStatus, Id1, Id2, AutoNegotiation..., ExtendedStatus, VendorSpecific0..15";
    # §1.4 names AutoNegotiationAdvertisement and AutoNegotiationLinkPartnerBasePageAbility;
    # "@ ethernet 0: the PHY registration point; the number is the MDIO PHY address" (§1.1)
    _t("Network.EthernetPhysicalLayer", "§1.1 (@ ethernet N), §1.4, §2.1 (PHY model)",
       properties=PHY_PROPERTIES, registration="ethernet"),
    # §1.3 STM32_Timer(machine, ulong frequency, uint initialLimit); timer1/8 named outputs
    _t("Timers.STM32_Timer", "§1.3 (timers table, constructor signatures), §8 quirk 3",
       params={"frequency": Param("int", required=True),
               "initialLimit": Param("int", required=True)},
       default_output=True,
       # only these two output names are spelled out in the facts ("Trigger and Commutation",
       # "CaptureCompare" are described, not named)
       named_outputs=("BreakInterrupt", "UpdateInterrupt")),
    # §1.3 STM32_IndependentWatchdog(machine, frequency, windowOption = true, defaultPrescaler = 0)
    _t("Timers.STM32_IndependentWatchdog", "§1.3 (iwdg row, constructor signatures)",
       params={"frequency": Param("int", required=True), "windowOption": BOOL,
               "defaultPrescaler": INT}),
    # §1.3 "dma1 | DMA.STM32DMA | ... | [0-7] -> nvic@[11-17,47]"
    _t("DMA.STM32DMA", "§1.3 (dma rows)", numbered_outputs=8, inputs=8),
    # §1.3 "crc | CRC.STM32_CRC | series: STM32Series.F4" (same in 1.16.1)
    _t("CRC.STM32_CRC", "§1.3 (crc row)",
       params={"series": Param("enum", choices=("STM32Series.F4",))}),
    # §1.3 spi rows: "★1.16.1: no series"; IRQ and the misspelled DMARecieve output in 1.16.1
    _t("SPI.STM32SPI", "§1.3 (spi rows, 1.16.1 differences)",
       named_outputs=("IRQ", "DMARecieve")),
    # §1.3 i2c rows: "★(1.16.1: I2C.STM32F4_I2C)", EventInterrupt / ErrorInterrupt
    _t("I2C.STM32F4_I2C", "§1.3 (i2c rows, 1.16.1 name)",
       named_outputs=("EventInterrupt", "ErrorInterrupt")),
    # §1.3 "can2 | CAN.STMCAN | master: can1 | [0-3] -> nvic@[63-66]"
    _t("CAN.STMCAN", "§1.3 (can rows)",
       params={"master": Param("ref", refs=("CAN.STMCAN",))}, numbered_outputs=4),
    # §1.3 "bitbandPeripherals | Miscellaneous.BitBanding | <0x42000000, +0x2000000> |
    # peripheralBase 0x40000000"
    _t("Miscellaneous.BitBanding", "§1.3 (bitband rows)",
       params={"peripheralBase": INT}),
    # §1.1 Python peripherals: size:, initable:, and script: or filename:
    _t("Python.PythonPeripheral", "§1.1 (Python peripherals)",
       params={"size": Param("int", required=True), "initable": BOOL,
               "script": Param("string"), "filename": Param("string")}),
    # §1.4 board files: "UserLED: Miscellaneous.LED @ gpioPortD", "UserButton:
    # Miscellaneous.Button @ gpioPortA, with -> gpioPortA@0"
    _t("Miscellaneous.LED", "§1.4 (board files)", registration="gpio", inputs=1),
    _t("Miscellaneous.Button", "§1.4 (board files)", registration="gpio", default_output=True),
)}

# Names that exist only on Renode master (after 1.16.1), with the 1.16.1 name to use (§1.3, §8
# quirk 11). A platform file with the master name does not load on 1.16.1.
MASTER_ONLY: dict[str, str] = {
    "Miscellaneous.STM32_RNG": "Miscellaneous.STM32F4_RNG (no parameters)",
    "I2C.STM32F1_I2C": "I2C.STM32F4_I2C",
}

# Monitor statements the facts show inside a `sysbus` init block (§1.3 "The sysbus init: block",
# §8 quirk 1): `Tag <begin, end> "name" [value]` and `ApplySVD @path`.
SYSBUS_INIT_COMMANDS = ("Tag", "ApplySVD")

# Entries every Renode machine already has (§1.1: an entry without a type updates a variable).
BUILTIN_ENTRIES = {"sysbus": "SystemBus"}

NAMESPACE_PREFIX = "Antmicro.Renode.Peripherals."


def lookup(type_name: str) -> RenodeType | None:
    """The catalogue entry for a type as written in a .repl (with or without the namespace prefix)."""
    if type_name.startswith(NAMESPACE_PREFIX):
        type_name = type_name[len(NAMESPACE_PREFIX):]
    return TYPES.get(type_name)
