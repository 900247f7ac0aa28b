"""Our register tables against ST's own description of the STM32F40x: the SVD file that the
`cmsis-svd` 0.4 package ships (cmsis_svd/data/STMicro/STM32F40x.svd).

Every model the platform file instantiates is built from its .repl entry and compared with the
SVD peripheral at the entry's address: the base address, every register's offset and reset
value, every field's bit position and width, and that no SVD register of a modelled block is
left out. ST's SVD has known errors; where it disagrees with the reference manual the models
follow RM0090, and each such place is listed below with the RM0090 section. The comparison must
produce exactly these differences: a new one, or a listed one that went away, fails the test.
"""

from __future__ import annotations

import pytest

from sim.machine.peripherals import MODEL_TYPES
from sim.platform import DEFAULT_REPL, load_platform

from periphkit import FakeMachine

try:
    from cmsis_svd.parser import SVDParser
except ImportError as exc:                                  # a missing test dependency: say what to do
    raise ImportError("the register-table test needs ST's SVD from the cmsis-svd 0.4 package: "
                      "pip install -e '.[test]' (or pip install 'cmsis-svd==0.4')") from exc

# .repl entry -> {SVD peripheral: its offset inside our model's window}
BLOCKS = {
    "rcc": {"RCC": 0}, "flash_controller": {"FLASH": 0}, "pwr": {"PWR": 0}, "exti": {"EXTI": 0},
    "rng": {"RNG": 0}, "rtc": {"RTC": 0},
    "ethernet": {"Ethernet_MAC": 0, "Ethernet_MMC": 0x100, "Ethernet_PTP": 0x700, "Ethernet_DMA": 0x1000},
    **{f"usart{n}": {f"USART{n}": 0} for n in (1, 2, 3, 6)},
    **{f"gpioPort{port}": {f"GPIO{port}": 0} for port in "ABCDEFGHI"},
    **{f"timer{n}": {f"TIM{n}": 0} for n in range(2, 8)},
}

# Registers the SVD names by one of two views (RM0090 §18.4.7-18.4.8 calls them CCMR1/CCMR2).
SVD_REGISTER_NAMES = {"CCMR1_Output": "CCMR1", "CCMR2_Output": "CCMR2"}

# Names that differ only in spelling: ours are RM0090's (and ST's C header's).
SVD_NAMES = {
    ("rcc", "APB1RSTR", "USART2RST"): "UART2RST", ("rcc", "APB1RSTR", "USART3RST"): "UART3RST",
    ("rcc", "CSR", "PINRSTF"): "PADRSTF", ("rcc", "CSR", "IWDGRSTF"): "WDGRSTF",
    ("rcc", "PLLI2SCFGR", "PLLI2SN"): "PLLI2SNx", ("rcc", "PLLI2SCFGR", "PLLI2SR"): "PLLI2SRx",
    ("ethernet", "MACFFR", "PAM"): "RAM", ("ethernet", "MACMIIDR", "MD"): "TD",
    ("ethernet", "MACFCR", "FCB_BPA"): "FCB", ("ethernet", "MACA1LR", "MACA1L"): "MACA1LR",
    ("ethernet", "MACA2HR", "MACA2H"): "MAC2AH", ("ethernet", "MACA3LR", "MACA3L"): "MBCA3L",
    ("ethernet", "DMASR", "RWTS"): "PWTS", ("rtc", "CR", "WUCKSEL"): "WCKSEL",
    **{(f"timer{n}", "CCMR2", "OC4CE"): "O24CE" for n in (2, 3, 4, 5)},
    ("timer5", "OR", "TI4_RMP"): "IT4_RMP",
}

_SR_RESET = ("reset", 0x0000_00C0, 0x00C0_0000)
_DBGR = ("MMRPEA", "MSFRWCS", "RFWRA", "RFRCS", "RFFL", "MMTEA", "MTFCS", "MTP", "TFRS", "TFWA", "TFNE", "TFF")

# Where ST's SVD is wrong and the models follow RM0090 (key -> why).
SVD_ERRORS = {
    # RM0090 §5.4.1 (PWR_CR): VOS is bit 14 and resets to 1 on the F405/F407: reset 0x0000_4000
    ("pwr", "CR", "VOS", "missing"): "VOS is not in the SVD",
    ("pwr", "CR", "reset", 0x4000, 0): "the SVD's reset value lacks VOS",
    # RM0090 §7.3 (RCC_AHB1ENR): bit 20 CCMDATARAMEN; the SVD's own reset value sets it
    ("rcc", "AHB1ENR", "CCMDATARAMEN", "missing"): "the SVD declares no bit 20",
    # RM0090 §3.9.10 (FLASH_OPTCR): reset 0x0FFF AAED, the option bytes as shipped (no sector
    # write-protected, RDP level 0, OPTLOCK set); the SVD's 0x14 has neither nWRP nor OPTLOCK
    ("flash_controller", "OPTCR", "reset", 0x0FFF_AAED, 0x14): "option bytes as shipped are loaded at reset",
    # RM0090 §30.6.1 (USART_SR): TXE (bit 7) and TC (bit 6) reset to 1 (the register diagram's
    # reset row), 0x0000_00C0; the SVD shifts them into reserved bits 23:22
    **{(f"usart{n}", "SR", *_SR_RESET): "SR reset bits shifted by 16 in the SVD" for n in (1, 2, 3, 6)},
    # RM0090 §8.4.3 (GPIOx_OSPEEDR): port A resets to 0x0C00_0000 (PA13 very high speed)
    ("gpioPortA", "OSPEEDR", "reset", 0x0C00_0000, 0): "the SVD gives 0 for port A",
    # RM0090 §33.8.1 (ETH_MACFFR): PCF [7:6], SAIF 8, SAF 9, HPF 10; the SVD shifts them down
    ("ethernet", "MACFFR", "PCF", (6, 2), (6, 1)): "PCF is 2 bits wide",
    ("ethernet", "MACFFR", "SAIF", (8, 1), (7, 1)): "SAIF is bit 8",
    ("ethernet", "MACFFR", "SAF", (9, 1), (8, 1)): "SAF is bit 9",
    ("ethernet", "MACFFR", "HPF", (10, 1), (9, 1)): "HPF is bit 10",
    # RM0090 §33.8.1: ETH_MACRWUFFR (offset 0x28) is missing from the SVD
    ("ethernet", "MACRWUFFR", "not in the SVD"): "the wake-up frame filter register exists",
    # RM0090 §33.8.1 (ETH_MACDBGR): the SVD copies MMCCR's fields here
    **{("ethernet", "MACDBGR", name, "missing"): "MACDBGR's own fields" for name in _DBGR},
    # RM0090 §33.8.1 (ETH_MACA0HR): MO (bit 31) always reads 1: reset 0x8000_FFFF
    ("ethernet", "MACA0HR", "reset", 0x8000_FFFF, 0x0010_FFFF): "MO reads 1",
    # RM0090 §33.8.1 (ETH_MACA2LR): MACA2L is [31:0]
    ("ethernet", "MACA2LR", "MACA2L", (0, 32), (0, 31)): "the SVD has 31 bits",
    # RM0090 §33.8.2 (ETH_MMCTIMR): TGFM is bit 21 (as in MMCTIR.TGFS)
    ("ethernet", "MMCTIMR", "TGFM", (21, 1), (16, 1)): "TGFM is bit 21",
    # RM0090 §33.8.3 (ETH_PTPPPSCR): PPSFREQ [3:0]; the SVD copies PTPTSSR's fields
    ("ethernet", "PTPPPSCR", "PPSFREQ", "missing"): "PPSFREQ is not in the SVD",
    # RM0090 §26.6.15 (RTC_TSTR): the time-stamp time, laid out as RTC_TR; the SVD copies TAFCR's fields
    **{("rtc", "TSTR", name, "missing"): "the SVD gives TSTR TAFCR's fields"
       for name in ("SU", "ST", "MNU", "MNT", "HU", "HT", "PM")},
    # RM0090 §18.4.10-18.4.17: the high halves of CNT, ARR and CCRx exist on TIM2 and TIM5 only;
    # the SVD gives TIM3 and TIM4 the 32-bit _H/_L layout too
    **{(f"timer{n}", reg, reg, "missing"): "16-bit on TIM3/TIM4"
       for n in (3, 4) for reg in ("CNT", "ARR", "CCR1", "CCR2", "CCR3", "CCR4")},
}

# Where the models differ from the SVD by choice (not an SVD error).
MODEL_CHOICES = {
    # the regulator is modelled as ready from the start: VOSRDY reads 1 (RM0090 §5.4.2)
    ("pwr", "CSR", "reset", 0x4000, 0): "VOSRDY set at once",
    # CRYP and HASH (AHB2 bits 4 and 5) exist on the F415/F417 only; RM0090 §7.3 documents
    # them for the family and the SVD's own AHB2LPENR reset value 0xF1 sets them
    **{("rcc", reg, f"{unit}{suffix}", "missing"): "F415/F417 units"
       for reg, suffix in (("AHB2RSTR", "RST"), ("AHB2ENR", "EN"), ("AHB2LPENR", "LPEN"))
       for unit in ("CRYP", "HASH")},
}


@pytest.fixture(scope="module")
def svd():
    device = SVDParser.for_packaged_svd("STMicro", "STM32F40x.svd").get_device()
    return {p.name: p for p in device.peripherals}


def _field_differences(entry: str, register, svd_register) -> list[tuple]:
    out = []
    svd_fields = {f.name: f for f in svd_register.fields}
    for f in register.fields:
        theirs = svd_fields.get(SVD_NAMES.get((entry, register.name, f.name), f.name))
        if theirs is None:
            # the SVD splits some fields into single bits: PLLM0..PLLM5
            bits = [svd_fields.get(f"{f.name}{i}") for i in range(f.width)]
            if f.width > 1 and all(b is not None and (b.bit_offset, b.bit_width) == (f.lsb + i, 1)
                                   for i, b in enumerate(bits)):
                continue
            # ... and 32-bit timer fields into 16-bit halves: CNT_H/CNT_L, ARR_H/ARR_L, CCR1_H/_L
            halves = svd_fields.get(f"{f.name}_L"), svd_fields.get(f"{f.name}_H")
            if f.width == 32 and all(h is not None for h in halves) and \
                    [(h.bit_offset, h.bit_width) for h in halves] == [(0, 16), (16, 16)]:
                continue
            out.append((entry, register.name, f.name, "missing"))
        elif (theirs.bit_offset, theirs.bit_width) != (f.lsb, f.width):
            out.append((entry, register.name, f.name, (f.lsb, f.width), (theirs.bit_offset, theirs.bit_width)))
    return out


def _differences(svd) -> list[tuple]:
    spec = load_platform(DEFAULT_REPL)
    out = []
    for entry_name, parts in BLOCKS.items():
        entry = spec.entries[entry_name]
        address = entry.registrations[0].address
        cls = MODEL_TYPES[entry.type].model_for(dict(entry.attributes), address)
        model = cls(FakeMachine(), entry_name, dict(entry.attributes), {}, address=address)
        first = svd[next(iter(parts))]
        assert address == first.base_address, \
            f"{entry_name} is at 0x{address:08x} in the platform file, {first.name} at 0x{first.base_address:08x}"
        theirs = {}
        for name, offset in parts.items():
            for r in svd[name].registers:
                # the SVD describes CCMRx twice (its output- and input-compare views of the same
                # bits); the models declare the output view, RM0090's first layout
                if not r.name.endswith("_Input"):
                    theirs[offset + r.address_offset] = r
        ours = {r.offset for r in cls.REGISTERS}
        for offset in sorted(set(theirs) - ours):
            out.append((entry_name, theirs[offset].name, "not modelled"))
        for register in cls.REGISTERS:
            svd_register = theirs.get(register.offset)
            if svd_register is None:
                out.append((entry_name, register.name, "not in the SVD"))
                continue
            assert SVD_REGISTER_NAMES.get(svd_register.name, svd_register.name) == register.name, \
                f"{entry_name}+0x{register.offset:x}: we call it {register.name}, the SVD {svd_register.name}"
            reset = model.values[register.name]          # after reset, .repl parameters applied
            if reset != svd_register.reset_value:
                out.append((entry_name, register.name, "reset", reset, svd_register.reset_value))
            out += _field_differences(entry_name, register, svd_register)
    return out


def test_register_tables_match_st_svd_except_its_known_errors(svd):
    found = set(_differences(svd))
    expected = set(SVD_ERRORS) | set(MODEL_CHOICES)
    unexpected = sorted(found - expected, key=str)
    gone = sorted(expected - found, key=str)
    assert not unexpected, "register tables differ from ST's SVD (fix the table or list the SVD error):\n" + \
        "\n".join(map(str, unexpected))
    assert not gone, "listed SVD differences that no longer occur:\n" + "\n".join(map(str, gone))


def test_every_modelled_block_of_the_platform_file_is_compared():
    spec = load_platform(DEFAULT_REPL)
    modelled = {name for name, e in spec.entries.items()
                if e.type in MODEL_TYPES and any(r.parent == "sysbus" for r in e.registrations)}
    assert modelled == set(BLOCKS)
