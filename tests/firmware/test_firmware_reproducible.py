"""Reproducible images: the same sources give the same bytes wherever the checkout and the
third-party trees live. GCC writes the source path into every `__FILE__` (Mbed TLS debug lines,
lwIP and kernel asserts) and into the DWARF; the build maps those paths to names relative to the
checkout (`firmware/shell/main.c`) and to the libraries' releases (`mbedtls-2.28.3/...`)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from fw_testlib import BUILD, ROOT

THIRD_PARTY = ROOT / ".cache" / "third_party"


def _binary(elf, out):
    subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", str(elf), str(out)], check=True)
    return out.read_bytes()


def test_images_hold_no_path_of_the_build_machine(firmware_elfs):
    machine_paths = {str(ROOT), os.path.realpath(ROOT), str(THIRD_PARTY), os.path.realpath(THIRD_PARTY)}
    for name, elf in firmware_elfs.items():
        data = elf.read_bytes()
        for path in machine_paths:
            assert path.encode() not in data, f"{name}.elf names {path}"
        # the flash image carries the library's own name for its sources (Mbed TLS debug lines)
        assert b"mbedtls-2.28.3/library/ssl_msg.c\0" in data, name


@pytest.mark.slow
def test_a_checkout_elsewhere_builds_the_same_bytes(firmware_elfs, tmp_path):
    """`fixed` built from a copy of firmware/ in another directory, with the Mbed TLS and lwIP
    trees reached through other paths, is byte-identical to the image built here: the whole ELF
    (debug information included), not only the flash image."""
    checkout = tmp_path / "elsewhere" / "tls-fw-sim"
    shutil.copytree(ROOT / "firmware", checkout / "firmware")
    shutil.copytree(ROOT / "scripts", checkout / "scripts")
    (checkout / "sim").symlink_to(ROOT / "sim")                # the test-PKI generator
    libs = tmp_path / "libs"
    libs.mkdir()
    (libs / "mbedtls").symlink_to(THIRD_PARTY / "mbedtls-2.28.3")
    (libs / "lwip").symlink_to(THIRD_PARTY / "lwip-2.1.3")

    env = {"MBEDTLS_DIR": str(libs / "mbedtls"), "LWIP_DIR": str(libs / "lwip"), "FREERTOS_KERNEL_PATH": ""}
    result = subprocess.run([str(checkout / "scripts" / "build-firmware"), "fixed"], cwd=checkout,
                            env={**os.environ, **env}, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    here, there = BUILD / "fixed.elf", checkout / "build" / "firmware" / "fixed.elf"
    assert _binary(there, tmp_path / "there.bin") == _binary(here, tmp_path / "here.bin")
    assert there.read_bytes() == here.read_bytes()
    assert str(tmp_path).encode() not in there.read_bytes()


def test_build_names_sources_relative_to_the_checkout(firmware_elfs):
    """What the map produces, as GDB reads it: the compilation unit of a driver is named
    relative to the checkout, so `gdb` started in the checkout finds the file."""
    out = subprocess.run(["gdb-multiarch", "-nx", "-batch", "-ex", "list eth_mac_init", "-ex", "info source",
                          str(firmware_elfs["fixed"])], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "Current source file is firmware/drivers/eth_mac.c" in out.stdout, out.stdout + out.stderr
    assert "int eth_mac_init(void)" in out.stdout
