"""The Renode 1.16.1 peripheral types our platform file may use, as Renode 1.16.1's sources define them.

This is the reference `repl_check` validates `sim/platform/stm32f407.repl` against. Each entry
names the C# file that defines the type (`source`, a path in the renode-infrastructure repository
at the commit Renode v1.16.1 pins as its `src/Infrastructure` submodule), the public constructor as
declared there, and, where our use of the type follows one, a platform file of the renode
repository at tag v1.16.1 (`usage`). Parameters, defaults, properties and interrupt outputs are
those of that source. Two tests hold the catalogue to Renode itself: with a Renode source tree at
hand, tests/renode/test_renode_repl.py finds each file and constructor; with a running Renode,
tests/renode/test_renode_catalogue.py compares every entry with the type Renode loads (its
constructor, properties and GPIO outputs) and loads a platform per type that uses everything the
entry documents, and one with an attribute it does not.

How Renode reads an entry (renode src/Renode/PlatformDescription/CreationDriver.cs; the error codes
are those of its ParsingError.cs):
- an attribute with a lower-case initial is a constructor parameter, one with an upper-case
  initial a property. Renode picks the one public constructor whose parameters all have a
  default or an attribute, with every attribute used, and refuses the entry otherwise (E25);
  parameters of type IMachine are filled in by Renode. An unknown property is refused (E10).
- `Name -> dest@n` drives output `Name`, a public GPIO property (E13 if there is none).
  `-> dest@n` uses the type's only GPIO property, or the one marked [DefaultInterrupt] (E15
  otherwise). `n -> dest@m` uses the numbered outputs of an INumberedGPIOOutput (E14), each of
  which must exist (E43). The destination must receive interrupts (IGPIOReceiver, E12).
- `@ sysbus 0xADDR` takes the registration's size from the model (IKnownSize); other bus
  peripherals need an explicit range, `@ sysbus <0xADDR, +0xSIZE>`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

RENODE_VERSION = "1.16.1"
RENODE_TAG = "v1.16.1"
# The renode-infrastructure commit that renode v1.16.1 pins as src/Infrastructure, and the tlib
# commit that one pins as src/Emulator/Cores/tlib.
INFRASTRUCTURE_COMMIT = "add012af003a0f620d3da52828262676f374d121"
TLIB_COMMIT = "d50c868f33fb42954d85b8d06ce6f7d5bac23dd4"

# How `source` and `usage` name their repository: "<repository> <path in it>".
REPOSITORIES = {
    "renode": "",                                   # github.com/renode/renode at RENODE_TAG
    "renode-infrastructure": "src/Infrastructure",  # its submodule at INFRASTRUCTURE_COMMIT
}


class _NoDefault:
    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT = _NoDefault()

# C# integer types and the values a .repl number may take for them.
INTEGER_RANGES: dict[str, tuple[int, int]] = {
    "byte": (0, 0xFF), "ushort": (0, 0xFFFF), "uint": (0, 0xFFFF_FFFF),
    "ulong": (0, 0xFFFF_FFFF_FFFF_FFFF),
    "short": (-0x8000, 0x7FFF), "int": (-0x8000_0000, 0x7FFF_FFFF),
    "long": (-0x8000_0000_0000_0000, 0x7FFF_FFFF_FFFF_FFFF),
}


@dataclass(frozen=True)
class Param:
    """A constructor parameter or a property, with its C# type as the source declares it
    ("uint", "ulong?", "bool", "string", "NVIC", "List<List<int>>", an enum's name)."""

    ctype: str
    default: object = NO_DEFAULT      # the constructor's default; NO_DEFAULT: the parameter is required
    choices: tuple[str, ...] = ()     # enums (and cpuType): the values, as a .repl writes them
    refs: tuple[str, ...] = ()        # references: the catalogue types the entry named may have
    alias: str | None = None          # a [NameAlias] Renode also accepts (with a warning)
    bounds: tuple[int, int] | None = None   # a range the model's constructor enforces

    @property
    def required(self) -> bool:
        return self.default is NO_DEFAULT

    @property
    def kind(self) -> str:
        """int | bool | string | ref | enum | list."""
        base = self.ctype.rstrip("?")
        if base in INTEGER_RANGES:
            return "int"
        if base in ("bool", "string"):
            return base
        if base.startswith("List<"):
            return "list"
        if self.refs:
            return "ref"
        if self.choices:
            return "enum"
        raise ValueError(f"no kind for C# type {self.ctype}")


@dataclass(frozen=True)
class RenodeType:
    name: str                                      # as a .repl writes it (under Antmicro.Renode.Peripherals)
    source: str                                    # "renode-infrastructure <path>": the file defining the class
    constructor: str                               # its public constructor, as declared there
    usage: str = ""                                # "renode <path>": the Renode platform file our use follows
    params: dict[str, Param] = field(default_factory=dict)      # constructor parameters but IMachine
    properties: dict[str, Param] = field(default_factory=dict)  # settable with a .repl literal
    all_properties: bool = True                    # False: `properties` lists only those a platform sets
    registration: str = "sysbus"                   # sysbus | cpu | none | ethernet | gpio
    outputs: tuple[str, ...] = ()                  # GPIO properties: `Name -> dest@n`
    default_output: str | None = None              # what `-> dest@n` drives (None: Renode refuses it)
    numbered_outputs: int = 0                      # INumberedGPIOOutput: outputs 0..k-1 (`[0-3] -> ...`)
    numbered_outputs_param: str | None = None      # the parameter that sets that count, if any
    irq_receiver: bool = False                     # IGPIOReceiver: may be the `dest` of a connection
    local_irq_receiver: bool = False               # ILocalGPIOReceiver: `dest#i@n`
    size: int | None = None                        # IKnownSize.Size, when fixed
    size_param: str | None = None                  # the parameter IKnownSize.Size returns
    exactly_one_of: tuple[str, ...] = ()           # the constructor needs exactly one of these

    @property
    def class_name(self) -> str:
        return self.name.rsplit(".", 1)[-1]

    @property
    def point_registration(self) -> bool:
        """Can it be registered at a bare address (`@ sysbus 0xADDR`)? Only with IKnownSize."""
        return self.size is not None or self.size_param is not None


def _t(name: str, source: str, constructor: str, **kwargs) -> RenodeType:
    return RenodeType(name=name, source=f"renode-infrastructure src/Emulator/{source}",
                      constructor=constructor, **kwargs)


STM32F4_REPL = "renode platforms/cpus/stm32f4.repl"

U32 = Param("uint")
U64 = Param("ulong")
BOOL = Param("bool")
INT32 = Param("int")

# Renode's tlib names for Cortex-M cores (tlib arch/arm/helper.c, arm_cpu_names, at TLIB_COMMIT).
# "cortex-m4f" is given the CPUID of a Cortex-M7 there; "cortex-m4" has the FPU.
CORTEX_M_TYPES = ("cortex-m0", "cortex-m0+", "cortex-m1", "cortex-m23", "cortex-m3", "cortex-m33",
                  "cortex-m4", "cortex-m4f", "cortex-m55", "cortex-m7", "cortex-m85")

# EthernetPhysicalLayer: each of these properties is one MDIO register of the PHY model.
PHY_PROPERTIES = (
    "BasicControl", "BasicStatus", "Id1", "Id2", "AutoNegotiationAdvertisement",
    "AutoNegotiationLinkPartnerBasePageAbility", "AutoNegotiationExpansion",
    "AutoNegotiationNextPageTransmit", "AutoNegotiationLinkPartnerReceivedNextPage",
    "MasterSlaveControl", "MasterSlaveStatus", "PowerSourcingEquipmentControl",
    "PowerSourcingEquipmentStatus", "MDIOManageableDeviceAccessControl",
    # sic: "Accedd" is the model's spelling
    "MDIOManageableDeviceAcceddAddressData", "ExtendedStatus",
) + tuple(f"VendorSpecific{i}" for i in range(16))

# STM32_Timer derives from LimitTimer (renode-infrastructure src/Emulator/Main/Peripherals/Timers/
# LimitTimer.cs), whose settable properties it inherits.
LIMIT_TIMER_PROPERTIES = {
    "AutoUpdate": BOOL, "Enabled": BOOL, "EventEnabled": BOOL,
    "Divider": U64, "Frequency": U64, "Limit": U64, "Value": U64,
    "Direction": Param("Direction", choices=("Direction.Ascending", "Direction.Descending")),
    "Mode": Param("WorkMode", choices=("WorkMode.OneShot", "WorkMode.Periodic")),
}

TYPES: dict[str, RenodeType] = {t.name: t for t in (
    _t("Memory.MappedMemory", "Main/Peripherals/Memory/MappedMemory.cs",
       "MappedMemory(IMachine machine, long size, int? segmentSize = null, string sharedMemoryFileRoot = null)",
       usage=STM32F4_REPL,
       params={"size": Param("long"), "segmentSize": Param("int?", None),
               "sharedMemoryFileRoot": Param("string", None)},
       properties={"ResetByte": Param("byte")}, size_param="size"),
    # cpuType: a tlib CPU name (CORTEX_M_TYPES). PerformanceInMips is declared in
    # src/Emulator/Peripherals/Peripherals/CPU/BaseCPU.cs; the CPU has some 80 more settable
    # properties (core registers, debugging switches) that a platform file has no business setting.
    _t("CPU.CortexM", "Cores/Arm-M/CortexM.cs",
       'CortexM(string cpuType, IMachine machine, NVIC nvic, [NameAlias("id")] uint cpuId = 0, '
       'Endianess endianness = Endianess.LittleEndian, uint? fpuInterruptNumber = null, '
       'uint? numberOfMPURegions = null, bool enableTrustZone = false, uint? numberOfSAURegions = null, '
       'uint? numberOfIDAURegions = null)',
       usage=STM32F4_REPL,
       params={"cpuType": Param("string", choices=CORTEX_M_TYPES),
               "nvic": Param("NVIC", refs=("IRQControllers.NVIC",)),
               "cpuId": Param("uint", 0, alias="id"),
               "endianness": Param("Endianess", "Endianess.LittleEndian",
                                   choices=("Endianess.LittleEndian", "Endianess.BigEndian")),
               "fpuInterruptNumber": Param("uint?", None),
               "numberOfMPURegions": Param("uint?", None),
               "enableTrustZone": Param("bool", False),
               "numberOfSAURegions": Param("uint?", None),
               "numberOfIDAURegions": Param("uint?", None)},
       properties={"PerformanceInMips": U32}, all_properties=False,
       registration="cpu", irq_receiver=True),
    _t("IRQControllers.NVIC", "Cores/Arm-M/NVIC.cs",
       "NVIC(IMachine machine, ulong systickFrequency = 50 * 0x800000, byte priorityMask = 0xFF, "
       "bool haltSystickOnDeepSleep = true)",
       usage=STM32F4_REPL,
       params={"systickFrequency": Param("ulong", 50 * 0x800000),
               "priorityMask": Param("byte", 0xFF),
               "haltSystickOnDeepSleep": Param("bool", True)},
       properties={"BASEPRI_S": Param("byte"), "BASEPRI_NS": Param("byte"),
                   "PauseInsteadOfReset": BOOL, "Frequency": U64, "Divider": U64,
                   "HaltSystickOnDeepSleep": BOOL, "DeepSleepEnabled": BOOL},
       outputs=("IRQ",), default_output="IRQ", irq_receiver=True, size=0x1000),
    # The baud rate is `frequency` divided by BRR: the default is 8 MHz, not the bus clock.
    _t("UART.STM32_UART", "Peripherals/Peripherals/UART/STM32_UART.cs",
       "STM32_UART(IMachine machine, uint frequency = 8000000)",
       usage=STM32F4_REPL,
       params={"frequency": Param("uint", 8_000_000)},
       outputs=("IRQ", "DMARequest"), default_output="IRQ"),
    _t("Miscellaneous.STM32F4_RCC", "Peripherals/Peripherals/Miscellaneous/STM32F4_RCC.cs",
       "STM32F4_RCC(IMachine machine, STM32F4_RTC rtcPeripheral)",
       usage=STM32F4_REPL,
       params={"rtcPeripheral": Param("STM32F4_RTC", refs=("Timers.STM32F4_RTC",))},
       outputs=("Timer9Reset",), default_output="Timer9Reset", size=0x400),
    _t("Timers.STM32F4_RTC", "Peripherals/Peripherals/Timers/STM32F4_RTC.cs",
       "STM32F4_RTC(IMachine machine, ulong wakeupTimerFrequency = DefaultWakeupTimerFrequency)",
       usage=STM32F4_REPL,
       params={"wakeupTimerFrequency": Param("ulong", 32768)},    # DefaultWakeupTimerFrequency
       properties={"WakeupTimerRegisterErrata": BOOL},
       outputs=("AlarmIRQ", "WakeupIRQ"), size=0x400),
    # Renode's stm32f4.repl also maps the option bytes (a BusMultiRegistration, region
    # "optionBytes"); our firmware never touches them.
    _t("MTD.STM32F4_FlashController", "Peripherals/Peripherals/MTD/STM32F4_FlashController.cs",
       "STM32F4_FlashController(IMachine machine, MappedMemory flash)",
       usage=STM32F4_REPL,
       params={"flash": Param("MappedMemory", refs=("Memory.MappedMemory",))}, size=0x400),
    _t("Miscellaneous.STM32_PWR", "Peripherals/Peripherals/Miscellaneous/STM32_PWR.cs",
       "STM32_PWR(IMachine machine)", usage=STM32F4_REPL, size=0x400),
    _t("GPIOPort.STM32_GPIOPort", "Peripherals/Peripherals/GPIOPort/STM32_GPIOPort.cs",
       "STM32_GPIOPort(IMachine machine, uint modeResetValue = 0, uint outputSpeedResetValue = 0, "
       "uint pullUpPullDownResetValue = 0, uint numberOfAFs = 16, List<List<int>> invertedAFPins = null)",
       usage=STM32F4_REPL,
       params={"modeResetValue": Param("uint", 0), "outputSpeedResetValue": Param("uint", 0),
               "pullUpPullDownResetValue": Param("uint", 0),
               "numberOfAFs": Param("uint", 16, bounds=(1, 16)),
               "invertedAFPins": Param("List<List<int>>", None)},
       numbered_outputs=16, irq_receiver=True, local_irq_receiver=True),
    # Its numbers come from the emulation's seeded generator (CurrentEmulation.RandomGenerator).
    _t("Miscellaneous.STM32F4_RNG", "Peripherals/Peripherals/Miscellaneous/STM32F4_RNG.cs",
       "STM32F4_RNG()", usage=STM32F4_REPL,
       outputs=("IRQ",), default_output="IRQ", size=0x400),
    _t("IRQControllers.STM32F4_EXTI", "Peripherals/Peripherals/IRQControllers/STM32F4_EXTI.cs",
       "STM32F4_EXTI(IMachine machine, int numberOfOutputLines = 14, int firstDirectLine = DefaultFirstDirectLine)",
       usage=STM32F4_REPL,
       params={"numberOfOutputLines": Param("int", 14),
               "firstDirectLine": Param("int", 23)},             # DefaultFirstDirectLine
       numbered_outputs=14, numbered_outputs_param="numberOfOutputLines",
       irq_receiver=True, size=0x400),
    _t("Miscellaneous.CombinedInput", "Main/Peripherals/Miscellaneous/CombinedInput.cs",
       "CombinedInput(int numberOfInputs)", usage=STM32F4_REPL,
       params={"numberOfInputs": Param("int")},
       registration="none", outputs=("OutputLine",), default_output="OutputLine", irq_receiver=True),
    # Its one settable property, MAC, is a MACAddress, which no .repl literal converts to.
    _t("Network.SynopsysEthernetMAC", "Peripherals/Peripherals/Network/SynopsysEthernetMAC.cs",
       "SynopsysEthernetMAC(IMachine machine, SynopsysEthernetVersion version = SynopsysEthernetVersion.STM32F4)",
       usage=STM32F4_REPL,
       params={"version": Param("SynopsysEthernetVersion", "SynopsysEthernetVersion.STM32F4",
                                choices=("SynopsysEthernetVersion.STM32F4", "SynopsysEthernetVersion.BeagleV"))},
       outputs=("IRQ",), default_output="IRQ", size=0x1400),
    # `@ ethernet 0`: registered on the MAC at an MDIO PHY address (renode
    # platforms/cpus/sifive-fu740.repl registers its PHY the same way).
    _t("Network.EthernetPhysicalLayer", "Main/Peripherals/Network/EthernetPhysicalLayer.cs",
       "EthernetPhysicalLayer()", usage="renode platforms/cpus/sifive-fu740.repl",
       properties={name: INT32 for name in PHY_PROPERTIES}, registration="ethernet"),
    _t("Timers.STM32_Timer", "Peripherals/Peripherals/Timers/STM32_Timer.cs",
       "STM32_Timer(IMachine machine, ulong frequency, uint initialLimit)",
       usage=STM32F4_REPL,
       params={"frequency": Param("ulong"), "initialLimit": Param("uint")},
       properties=LIMIT_TIMER_PROPERTIES,
       outputs=("IRQ", "BreakInterrupt", "UpdateInterrupt", "TriggerInterrupt",
                "CommutationInterrupt", "CaptureCompareInterrupt"), default_output="IRQ",
       numbered_outputs=4, irq_receiver=True, size=0x400),
    _t("Timers.STM32_IndependentWatchdog", "Peripherals/Peripherals/Timers/STM32_IndependentWatchdog.cs",
       "STM32_IndependentWatchdog(IMachine machine, ulong frequency, bool windowOption = true, uint defaultPrescaler = 0)",
       usage=STM32F4_REPL,
       params={"frequency": Param("ulong"), "windowOption": Param("bool", True),
               "defaultPrescaler": Param("uint", 0)}, size=0x400),
    _t("DMA.STM32DMA", "Peripherals/Peripherals/DMA/STM32DMA.cs",
       "STM32DMA(IMachine machine)", usage=STM32F4_REPL,
       numbered_outputs=8, irq_receiver=True, size=0x400),
    # STM32Series: renode-infrastructure src/Emulator/Peripherals/Peripherals/STM32Series.cs
    _t("CRC.STM32_CRC", "Peripherals/Peripherals/CRC/STM32_CRC.cs",
       "STM32_CRC(STM32Series series, bool configurablePoly = false)",
       usage=STM32F4_REPL,
       params={"series": Param("STM32Series", choices=("STM32Series.F0", "STM32Series.F4", "STM32Series.WBA")),
               "configurablePoly": Param("bool", False)}, size=0x400),
    _t("SPI.STM32SPI", "Peripherals/Peripherals/SPI/STM32SPI.cs",
       "STM32SPI(IMachine machine, int bufferCapacity = DefaultBufferCapacity)",
       usage=STM32F4_REPL,
       params={"bufferCapacity": Param("int", 4)},                # DefaultBufferCapacity
       outputs=("IRQ", "DMARecieve"), size=0x400),                # sic: "Recieve"
    _t("I2C.STM32F4_I2C", "Peripherals/Peripherals/I2C/STM32F4_I2C.cs",
       "STM32F4_I2C(IMachine machine)", usage=STM32F4_REPL,
       outputs=("EventInterrupt", "ErrorInterrupt"), size=0x400),
    _t("CAN.STMCAN", "Peripherals/Peripherals/CAN/STMCAN.cs",
       "STMCAN(STMCAN master = null)", usage=STM32F4_REPL,
       params={"master": Param("STMCAN", None, refs=("CAN.STMCAN",))}, numbered_outputs=4),
    _t("Miscellaneous.BitBanding", "Peripherals/Peripherals/Miscellaneous/BitBanding.cs",
       "BitBanding(IMachine machine, ulong peripheralBase)", usage=STM32F4_REPL,
       params={"peripheralBase": Param("ulong")}),
    _t("Python.PythonPeripheral", "Main/Peripherals/Python/PythonPeripheral.cs",
       "PythonPeripheral(int size, bool initable = false, string script = null, string filename = null)",
       usage="renode platforms/cpus/stm32f746.repl",
       params={"size": Param("int"), "initable": Param("bool", False),
               "script": Param("string", None), "filename": Param("string", None)},
       size_param="size", exactly_one_of=("script", "filename")),
    # `@ gpioPortD`: registered on a GPIO port (renode platforms/boards/stm32f4_discovery.repl)
    _t("Miscellaneous.LED", "Peripherals/Peripherals/Miscellaneous/LED.cs",
       "LED(bool invert = false)", usage="renode platforms/boards/stm32f4_discovery.repl",
       params={"invert": Param("bool", False)}, registration="gpio", irq_receiver=True),
    _t("Miscellaneous.Button", "Peripherals/Peripherals/Miscellaneous/Button.cs",
       "Button(bool invert = false)", usage="renode platforms/boards/stm32f4_discovery.repl",
       params={"invert": Param("bool", False)}, properties={"ReleaseOnReset": BOOL},
       registration="gpio", outputs=("IRQ",), default_output="IRQ"),
)}

# Names that exist only on Renode master (after 1.16.1), with the 1.16.1 name to use: master's
# platforms/cpus/stm32f4.repl uses them, and renode-infrastructure at INFRASTRUCTURE_COMMIT has
# neither class. A platform file with the master name does not load on 1.16.1 (E4).
MASTER_ONLY: dict[str, str] = {
    "Miscellaneous.STM32_RNG": "Miscellaneous.STM32F4_RNG (no parameters)",
    "I2C.STM32F1_I2C": "I2C.STM32F4_I2C",
}

# The sysbus methods this checker reads in a `sysbus` init block (renode-infrastructure
# src/Emulator/Main/Peripherals/Bus/SystemBus.cs): `Tag(Range range, string tag, ulong
# defaultValue = 0, bool pausing = false, bool silent = false, bool overridePeripheralAccesses =
# false)` and `ApplySVD(string path)`; renode platforms/cpus/stm32f4.repl uses both.
SYSBUS_INIT_COMMANDS = ("Tag", "ApplySVD")

# Entries every Renode machine already has (an entry without a type updates one).
BUILTIN_ENTRIES = {"sysbus": "SystemBus"}

NAMESPACE_PREFIX = "Antmicro.Renode.Peripherals."


def lookup(type_name: str) -> RenodeType | None:
    """The catalogue entry for a type as written in a .repl (with or without the namespace prefix)."""
    return TYPES.get(type_name.removeprefix(NAMESPACE_PREFIX))


def split_citation(citation: str) -> tuple[str, str]:
    """("renode-infrastructure", "src/Emulator/...") from a `source` or `usage` string."""
    repository, _, path = citation.partition(" ")
    if repository not in REPOSITORIES or not path:
        raise ValueError(f"{citation!r} does not name one of {', '.join(REPOSITORIES)} and a path")
    return repository, path


def path_in_renode_tree(citation: str) -> str:
    """Where a cited file lives in a checkout of renode at RENODE_TAG with its submodules."""
    repository, path = split_citation(citation)
    prefix = REPOSITORIES[repository]
    return f"{prefix}/{path}" if prefix else path
