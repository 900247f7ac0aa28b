"""The built images are what a Cortex-M4F STM32F407 boots: format, vector table, placement."""

from __future__ import annotations

import struct

import pytest
from elftools.elf.elffile import ELFFile

from fw_testlib import BUILD, CONSOLE, VARIANTS

FLASH = (0x08000000, 0x08000000 + 1024 * 1024)
SRAM = (0x20000000, 0x20000000 + 128 * 1024)
CCM = (0x10000000, 0x10000000 + 64 * 1024)
VECTORS = 16 + 82
EF_ARM_ABI_FLOAT_HARD = 0x400


def inside(addr: int, region: tuple[int, int]) -> bool:
    return region[0] <= addr < region[1]


@pytest.fixture(scope="module", params=VARIANTS)
def elf(request, firmware_elfs):
    with open(firmware_elfs[request.param], "rb") as f:
        image = ELFFile(f)
        symbols = {s.name: s for s in image.get_section_by_name(".symtab").iter_symbols() if s.name}
        vectors_sec = image.get_section_by_name(".isr_vector")
        yield {
            "variant": request.param,
            "elf": image,
            "symbols": symbols,
            "vectors": struct.unpack(f"<{VECTORS}I", vectors_sec.data()[:4 * VECTORS]),
            "vectors_addr": vectors_sec["sh_addr"],
            "sections": {s.name: s for s in image.iter_sections()},
        }


def test_elf32_little_endian_arm_hard_float(elf):
    header = elf["elf"].header
    assert elf["elf"].elfclass == 32
    assert elf["elf"].little_endian
    assert header["e_machine"] == "EM_ARM"
    assert header["e_type"] == "ET_EXEC"
    assert header["e_flags"] & EF_ARM_ABI_FLOAT_HARD, "not built for the hard-float ABI"


def test_entry_is_the_thumb_reset_handler_in_flash(elf):
    entry = elf["elf"].header["e_entry"]
    assert inside(entry, FLASH)
    assert entry & 1, "entry point without the Thumb bit"
    assert entry == elf["symbols"]["Reset_Handler"]["st_value"]


def test_vector_table_at_the_start_of_flash(elf):
    vectors = elf["vectors"]
    assert elf["vectors_addr"] == FLASH[0]
    sp = vectors[0]
    assert inside(sp - 4, SRAM) or inside(sp - 4, CCM), f"initial SP 0x{sp:08x} is not in RAM"
    assert sp % 8 == 0
    reset = vectors[1]
    assert inside(reset, FLASH) and reset & 1
    for index, handler in enumerate(vectors[2:], start=2):
        if index in (7, 8, 9, 10, 13):             # reserved
            assert handler == 0
            continue
        assert inside(handler & ~1, FLASH) and handler & 1, f"vector {index} = 0x{handler:08x}"


@pytest.mark.parametrize("index,name", [
    (1, "Reset_Handler"), (3, "HardFault_Handler"), (11, "SVC_Handler"), (14, "PendSV_Handler"),
    (15, "SysTick_Handler"), (16 + 61, "ETH_IRQHandler"),
])
def test_vectors_point_at_their_handlers(elf, index, name):
    assert elf["vectors"][index] == elf["symbols"][name]["st_value"] | 1


def test_the_console_usart_has_its_handler(elf):
    """USART1 (IRQ 37) for the shell images, USART2 (IRQ 38) for the autopost images (RM0090
    Table 62); the other one stays on the default handler."""
    irq, other = {"usart1": (37, 38), "usart2": (38, 37)}[CONSOLE[elf["variant"]]]
    handler = elf["symbols"][f"USART{irq - 36}_IRQHandler"]["st_value"] | 1
    assert elf["vectors"][16 + irq] == handler
    assert elf["vectors"][16 + other] == elf["symbols"]["Default_Handler"]["st_value"] | 1


def test_every_function_symbol_is_thumb(elf):
    funcs = [s for s in elf["symbols"].values() if s["st_info"]["type"] == "STT_FUNC"]
    assert len(funcs) > 500
    arm_mode = [s.name for s in funcs if not s["st_value"] & 1]
    assert arm_mode == []


@pytest.mark.parametrize("name", [
    "main", "fw_tls_send", "fw_tls_recv", "mbedtls_ssl_write", "mbedtls_ssl_read",
    "mbedtls_ssl_handshake", "mbedtls_hardware_poll", "PendSV_Handler", "SVC_Handler",
    "SysTick_Handler", "vTaskStartScheduler", "xQueueGenericSend", "xQueueGenericSendFromISR",
    "tcpip_init", "lwip_send", "lwip_recv", "eth_tx_copy_frame", "eth_tx_submit", "ETH_IRQHandler",
])
def test_expected_global_functions(elf, name):
    sym = elf["symbols"].get(name)
    assert sym is not None, f"{name} missing"
    assert sym["st_info"]["type"] == "STT_FUNC"
    assert sym["st_info"]["bind"] == "STB_GLOBAL"
    assert sym["st_size"] > 0


@pytest.mark.parametrize("name", [
    "telemetry_post_ok", "telemetry_post_failed", "dhcp_start", "sntp_init", "dns_gethostbyname",
    "lwip_getaddrinfo", "_gettimeofday",
])
def test_autopost_functions(elf, name):
    """The handlers a scenario stops at, lwIP's DHCP/DNS/SNTP clients, the clock newlib reads;
    the shell images have none of them (static address, no UDP)."""
    sym = elf["symbols"].get(name)
    if not elf["variant"].startswith("autopost-"):
        assert sym is None, name
        return
    assert sym is not None and sym["st_info"]["type"] == "STT_FUNC" and sym["st_size"] > 0, name


def test_tls_callbacks_are_real_functions_passed_by_address(elf):
    """The scenario runner hooks fw_tls_send's entry and return: it must exist out of line and
    be what Mbed TLS calls through its BIO pointer (so the address appears in a literal pool)."""
    text = elf["sections"][".text"]
    data = text.data()
    for name in ("fw_tls_send", "fw_tls_recv"):
        address = elf["symbols"][name]["st_value"]
        assert struct.pack("<I", address) in data, f"{name} is never referenced by address"


@pytest.mark.parametrize("name,size", [
    ("eth_tx_buffers", 4 * 1024), ("eth_rx_buffers", 6 * 1524), ("eth_tx_desc", 4 * 32), ("eth_rx_desc", 6 * 32),
])
def test_dma_buffers_and_descriptors_in_sram(elf, name, size):
    sym = elf["symbols"][name]
    assert sym["st_info"]["bind"] == "STB_GLOBAL"
    assert sym["st_size"] == size
    start = sym["st_value"]
    assert inside(start, SRAM) and inside(start + size - 1, SRAM), "the Ethernet DMA cannot reach CCM"
    assert start % 4 == 0


def test_tls_heap_in_ccm(elf):
    sym = elf["symbols"]["tls_heap"]
    assert inside(sym["st_value"], CCM)
    assert sym["st_size"] >= 40 * 1024


def test_sections_fit_their_regions(elf):
    used = {"flash": 0, "sram": 0, "ccm": 0}
    for sec in elf["elf"].iter_sections():
        if not sec["sh_flags"] & 0x2 or sec["sh_size"] == 0:
            continue
        start, end = sec["sh_addr"], sec["sh_addr"] + sec["sh_size"] - 1
        for key, region in (("flash", FLASH), ("sram", SRAM), ("ccm", CCM)):
            if inside(start, region):
                assert inside(end, region), f"{sec.name} crosses the end of {key}"
                used[key] += sec["sh_size"]
                break
        else:
            pytest.fail(f"section {sec.name} at 0x{start:08x} is in no memory region")
    used["flash"] += elf["sections"][".data"]["sh_size"]       # its load image
    assert used["flash"] <= FLASH[1] - FLASH[0]
    assert used["sram"] + elf["symbols"]["_main_stack_size"]["st_value"] <= SRAM[1] - SRAM[0]
    assert used["ccm"] <= CCM[1] - CCM[0]


def test_banner_names_the_variant(elf):
    sym = elf["symbols"]["fw_variant_name"]
    sec = elf["sections"][".text"]
    offset = sym["st_value"] - sec["sh_addr"]
    raw = sec.data()[offset:offset + sym["st_size"]]
    assert raw.rstrip(b"\0").decode() == elf["variant"]


def test_map_files_written(firmware_elfs):
    for variant in VARIANTS:
        text = (BUILD / f"{variant}.map").read_text()
        assert "eth_tx_copy_frame" in text and "Memory Configuration" in text
