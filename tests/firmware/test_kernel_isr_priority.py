"""fw-kernel's ARM_CM4F port checks interrupt priorities as FreeRTOS's port does
(`vPortValidateInterruptPriority`): a FromISR API called from an ISR whose NVIC priority is above
configMAX_SYSCALL_INTERRUPT_PRIORITY (5 << 4 in firmware/common/FreeRTOSConfig.h), or with PRIGROUP
turning priority bits into sub-priority bits, ends in configASSERT; at or below it the call works.

The image (tests/firmware_src/kernel_isr_priority.c) uses only the FreeRTOS API and the
firmware's FreeRTOSConfig.h. With FREERTOS_KERNEL_PATH pointing at a FreeRTOS-Kernel checkout,
every case also runs on the real kernel, which must give the same outcome."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from fwresult import run_to_finish
from kernel_image import build_kernel_image
from sim.machine import Machine
from sim.platform import DEFAULT_REPL

TEST_IRQ = 81
MAX_SYSCALL = 5 << 4

KERNELS = ["fw-kernel"]
if os.environ.get("FREERTOS_KERNEL_PATH"):
    KERNELS.append("FreeRTOS-Kernel")


@pytest.fixture(scope="module", params=KERNELS)
def image(request, tmp_path_factory):
    kernel = None if request.param == "fw-kernel" else Path(os.environ["FREERTOS_KERNEL_PATH"])
    return build_kernel_image("kernel_isr_priority", tmp_path_factory.mktemp(request.param), kernel)


def c_string(machine, address: int) -> str:
    return machine.read_memory(address, 160).split(b"\0", 1)[0].decode()


def run(image, priority: int, prigroup: int = 0):
    m = Machine(DEFAULT_REPL, seed=1)
    m.load_elf(str(image))
    m.reset()
    stop = m.run(5_000_000, until="main")
    assert m.read_register("pc") == m.symbol_address("main") & ~1, stop
    m.write_memory(m.symbol_address("isr_priority"), bytes([priority]))
    m.write_memory(m.symbol_address("prigroup"), struct.pack("<I", prigroup))
    _, result = run_to_finish(m, max_cycles=100_000_000)
    assert result.done and result.failures == 0 and result.unexpected_vector == 0, result.describe()
    return m, result.values


@pytest.mark.parametrize("priority", [MAX_SYSCALL, 6 << 4, 15 << 4])
def test_an_isr_at_or_below_the_syscall_priority_may_give(image, priority):
    _, v = run(image, priority)
    assert v[0] == 0, "configASSERT fired"
    assert v[7] == 1 and v[5] == 1                      # the ISR ran and its give returned
    assert v[6] == 1                                    # the task took the semaphore (pdTRUE)


@pytest.mark.parametrize("priority", [MAX_SYSCALL - 0x10, 0x00])
def test_an_isr_above_the_syscall_priority_asserts(image, priority):
    m, v = run(image, priority)
    assert v[0] == 1, "no configASSERT although the ISR runs above configMAX_SYSCALL_INTERRUPT_PRIORITY"
    assert v[2] == 16 + TEST_IRQ                        # inside that ISR
    assert c_string(m, v[3]).endswith("ARM_CM4F/port.c")
    assert "AIRCR" not in c_string(m, v[4])             # the priority check, not the grouping one
    assert v[7] == 1 and v[5] == 0                      # stopped inside the give


def test_sub_priority_bits_assert(image):
    """PRIGROUP 4 splits the 4 implemented bits into 3 preemption bits and 1 sub-priority bit."""
    m, v = run(image, 15 << 4, prigroup=4)
    assert v[0] == 1
    assert c_string(m, v[3]).endswith("ARM_CM4F/port.c")
    assert "AIRCR" in c_string(m, v[4])


@pytest.mark.parametrize("prigroup", [0, 3])
def test_groupings_with_only_preemption_bits_pass(image, prigroup):
    _, v = run(image, 6 << 4, prigroup=prigroup)
    assert v[0] == 0 and v[6] == 1


def test_the_reference_images_carry_the_check(firmware_elfs):
    """The reference images are built with configASSERT, so their FromISR calls are checked."""
    from elftools.elf.elffile import ELFFile

    with open(firmware_elfs["fixed"], "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        assert symtab.get_symbol_by_name("vPortValidateInterruptPriority")
