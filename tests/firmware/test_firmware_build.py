"""The firmware build: incremental, shows sizes, and stops with a clear message on bad input
(unknown variant, missing sources, missing toolchain, a wrong FREERTOS_KERNEL_PATH)."""

from __future__ import annotations

import os
import subprocess
import sys

from fw_testlib import ROOT, build_env, run_build


def make_dry_run(tmp_path, **variables) -> subprocess.CompletedProcess:
    args = ["make", "-C", str(ROOT / "firmware"), "-n", "--no-print-directory", f"BUILD_DIR={tmp_path / 'build'}"]
    args += [f"{k}={v}" for k, v in variables.items()]
    return subprocess.run(args, capture_output=True, text=True, timeout=120, env=build_env())


def fake_kernel_tree(root):
    """Empty files in the layout of a FreeRTOS-Kernel checkout (enough for the make logic)."""
    for rel in ("include/FreeRTOS.h", "include/task.h", "include/queue.h", "include/semphr.h", "tasks.c",
                "queue.c", "list.c", "portable/GCC/ARM_CM4F/port.c", "portable/GCC/ARM_CM4F/portmacro.h",
                "portable/MemMang/heap_4.c"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("")
    return root


def test_second_run_rebuilds_nothing_and_shows_sizes(firmware_elfs):
    result = run_build()
    assert result.returncode == 0, result.stderr
    built = [line for line in result.stdout.splitlines() if line.startswith(("  CC  ", "  LD  ", "  PKI  "))]
    assert built == []
    assert "text" in result.stdout and "bss" in result.stdout          # arm-none-eabi-size
    for region in ("FLASH", "SRAM", "CCM"):
        assert region in result.stdout


def test_unknown_variant_is_named(firmware_elfs):
    result = run_build("seedbug", "bogus")
    assert result.returncode != 0
    assert "unknown firmware variant 'bogus'" in result.stderr
    assert "fixed seedbug" in result.stderr


def test_missing_mbedtls_sources(tmp_path):
    missing = tmp_path / "no-mbedtls"
    result = run_build(env={"MBEDTLS_DIR": str(missing)})
    assert result.returncode != 0
    assert f"Mbed TLS sources not found in MBEDTLS_DIR={missing}" in result.stderr
    assert "scripts/setup" in result.stderr


def test_missing_lwip_sources(tmp_path):
    missing = tmp_path / "no-lwip"
    result = run_build(env={"LWIP_DIR": str(missing)})
    assert result.returncode != 0
    assert f"lwIP sources not found in LWIP_DIR={missing}" in result.stderr
    assert "scripts/setup" in result.stderr


def test_missing_toolchain(tmp_path):
    prefix = f"{tmp_path}/bin/arm-none-eabi-"
    result = run_build(env={"CROSS_COMPILE": prefix})
    assert result.returncode != 0
    assert f"cross compiler '{prefix}gcc' not found" in result.stderr
    assert "gcc-arm-none-eabi" in result.stderr


def test_wrong_freertos_kernel_path_names_what_is_missing(tmp_path):
    kernel = tmp_path / "not-a-kernel"
    kernel.mkdir()
    (kernel / "tasks.c").write_text("")
    result = run_build("fixed", env={"FREERTOS_KERNEL_PATH": str(kernel)})
    assert result.returncode != 0
    message = result.stderr
    assert f"FREERTOS_KERNEL_PATH={kernel} is not a FreeRTOS-Kernel tree" in message
    missing = message.split("missing ", 1)[1].split(" (", 1)[0].split()
    assert "include/FreeRTOS.h" in missing and "portable/GCC/ARM_CM4F/port.c" in missing
    assert "portable/MemMang/heap_4.c" in missing
    assert "tasks.c" not in missing                     # the one file that is there


def test_freertos_kernel_path_builds_from_that_kernel(tmp_path):
    """Without the real kernel at hand: a tree with the expected layout makes the build compile
    that tree's tasks.c, queue.c, list.c, ARM_CM4F port and heap_4, with its include paths,
    and nothing from firmware/kernel."""
    kernel = fake_kernel_tree(tmp_path / "FreeRTOS-Kernel")
    result = make_dry_run(tmp_path, VARIANTS="fixed seedbug", FREERTOS_KERNEL_PATH=str(kernel))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for src in ("tasks.c", "queue.c", "list.c", "portable/GCC/ARM_CM4F/port.c", "portable/MemMang/heap_4.c"):
        assert f"{kernel}/{src}" in out, src
    assert f"-I{kernel}/include" in out and f"-I{kernel}/portable/GCC/ARM_CM4F" in out
    assert str(ROOT / "firmware" / "kernel") not in out
    # its images have their own names: the fw-kernel images are never overwritten
    build = tmp_path / "build"
    for variant in ("fixed", "seedbug"):
        assert f"-o {build}/freertos/{variant}.elf" in out
        assert f"-o {build}/{variant}.elf" not in out


def test_default_build_uses_fw_kernel(tmp_path, monkeypatch):
    """Whatever the developer's shell exports: the tests' builds are the default ones."""
    monkeypatch.setenv("FREERTOS_KERNEL_PATH", str(fake_kernel_tree(tmp_path / "exported-kernel")))
    result = make_dry_run(tmp_path, VARIANTS="fixed")
    assert result.returncode == 0, result.stderr
    assert f"{ROOT}/firmware/kernel/tasks.c" in result.stdout
    assert f"{ROOT}/firmware/kernel/portable/ARM_CM4F/port.c" in result.stdout
    assert "exported-kernel" not in result.stdout
    assert f"-o {tmp_path / 'build'}/fixed.elf" in result.stdout


def test_memory_report_rejects_an_overflowing_region(tmp_path):
    src = tmp_path / "big.c"
    src.write_text("char big[200 * 1024];\nvoid _start(void) { big[0] = 1; for (;;) {} }\n")
    elf = tmp_path / "big.elf"
    subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-nostdlib", "-Wl,-Ttext=0x08000000",
                    "-Wl,-Tbss=0x20000000", "-o", str(elf), str(src)], check=True, capture_output=True)
    result = subprocess.run([sys.executable, str(ROOT / "firmware" / "tools" / "memory_report.py"), str(elf)],
                            capture_output=True, text=True, env=dict(os.environ))
    assert result.returncode == 1
    assert "SRAM overflows by" in result.stderr


def compiled(dry_run_output: str, source: str) -> list[str]:
    """The compile commands of `source` (a path ending) in a dry run."""
    return [line for line in dry_run_output.splitlines() if " -c " in line and line.split(" -c ")[1].split()[0].endswith(source)]


def test_variants_share_every_object_but_their_variant_files(tmp_path):
    """A clean build of the six variants: Mbed TLS once per TLS configuration (the shell
    images' and the autopost images' with a clock), the kernel once, lwIP and our code once per
    application (shell, autopost, autopost-prod), only net/ethernetif.c and common/variant.c once
    per variant; the production roots are generated for the autopost-prod objects only."""
    result = make_dry_run(tmp_path, PKI_DIR=str(tmp_path / "pki"),
                          VARIANTS="fixed seedbug autopost-fixed autopost-seedbug autopost-prod-fixed autopost-prod-seedbug")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert len(compiled(out, "/library/ssl_tls.c")) == 2
    assert len(compiled(out, "/firmware/kernel/tasks.c")) == 1
    assert len(compiled(out, "/src/core/tcp.c")) == 3
    assert len(compiled(out, "/src/apps/sntp/sntp.c")) == 2               # the autopost applications only
    assert len(compiled(out, "/firmware/drivers/eth_mac.c")) == 3
    assert len(compiled(out, "/firmware/shell/https.c")) == 1
    assert len(compiled(out, "/firmware/autopost/telemetry.c")) == 2
    tls_client = compiled(out, "/firmware/tls/tls_client.c")
    assert len(tls_client) == 3 and sum("-DFW_TRUST_PRODUCTION=1" in line for line in tls_client) == 1
    assert "firmware/tools/production_roots.py --out" in out
    ethernetif = compiled(out, "/firmware/net/ethernetif.c")
    assert len(ethernetif) == 6
    assert sum("-DFW_SEEDBUG=1" in line for line in ethernetif) == 3
    for variant in ("fixed", "seedbug", "autopost-fixed", "autopost-seedbug", "autopost-prod-fixed",
                    "autopost-prod-seedbug"):
        assert f"-o {tmp_path}/build/{variant}.elf" in out


GALLERY = {   # variant -> its own copies under firmware/gallery/<variant>/
    "bug-tcp-nocopy": ["tls/tls_client.c"], "bug-partial-send": ["tls/tls_client.c"],
    "bug-want-write-args": ["tls/tls_client.c"], "bug-two-writers": ["tls/tls_client.c"],
    "bug-stack-overflow": ["shell/https.c"], "bug-trunc-hmac": ["tls/tls_client.c"],
}


def test_gallery_variants_compile_only_their_own_files(tmp_path):
    """Each gallery variant compiles its own copies (from firmware/gallery/<variant>/) and its
    name, and links the rest from its application's objects: the shell's sources, compiled once
    for the gallery (longer variant names) and once more on the Mbed TLS build with the pre-2.7
    truncated HMAC, which only bug-trunc-hmac uses."""
    result = make_dry_run(tmp_path, VARIANTS=" ".join(GALLERY))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert len(compiled(out, "/library/ssl_tls.c")) == 2
    (compat,) = [line for line in compiled(out, "/library/ssl_tls.c") if "mbedtls_config_trunc_hmac_compat" in line]
    assert f"-o {tmp_path}/build/obj/mbedtls/mbedtls_config_trunc_hmac_compat/ssl_tls.o" in compat
    assert len(compiled(out, "/src/core/tcp.c")) == 2 and len(compiled(out, "/firmware/shell/https.c")) == 2
    for variant, own in GALLERY.items():
        mine = [line for line in compiled(out, ".c") if f"-DFW_VARIANT_NAME='\"{variant}\"'" in line]
        sources = sorted(line.split(" -c ")[1].split()[0].rsplit("/firmware/", 1)[1] for line in mine)
        assert sources == sorted(["common/variant.c"] + [f"gallery/{variant}/{path}" for path in own])
        (link,) = [line for line in out.splitlines() if f"-o {tmp_path}/build/{variant}.elf" in line]
        app = "gallery-compat" if variant == "bug-trunc-hmac" else "gallery"
        objects = link.split()
        for path in own:
            assert f"{tmp_path}/build/obj/fwkernel/{app}/{variant}/{path[:-2]}.o" in objects
            assert f"{tmp_path}/build/obj/fwkernel/{app}/fw/{path[:-2]}.o" not in objects
        assert f"{tmp_path}/build/obj/fwkernel/{app}/fw/net/ethernetif.o" in objects
        tls = "mbedtls_config_trunc_hmac_compat" if variant == "bug-trunc-hmac" else "mbedtls_config"
        assert f"{tmp_path}/build/obj/mbedtls/{tls}/ssl_tls.o" in objects


def test_a_new_variant_costs_only_its_variant_files(tmp_path):
    """Adding a variant is a few variables: this one compiles its own eth_mac.c and variant.c,
    and links everything else from the shell images' objects."""
    result = make_dry_run(tmp_path, KNOWN_VARIANTS="fixed seedbug autopost-fixed autopost-seedbug bug-demo",
                          VARIANTS="fixed bug-demo", **{"bug-demo_APP": "shell", "bug-demo_DEFS": "-DFW_BUG_DEMO=1",
                                                        "bug-demo_FILES": "drivers/eth_mac.c common/variant.c"})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    own = [line for line in compiled(out, ".c") if "-DFW_BUG_DEMO=1" in line]
    assert sorted(line.split(" -c ")[1].split()[0].rsplit("/firmware/", 1)[1] for line in own) == \
        ["common/variant.c", "drivers/eth_mac.c"]
    (link,) = [line for line in out.splitlines() if f"-o {tmp_path}/build/bug-demo.elf" in line]
    objects = link.split()
    assert f"{tmp_path}/build/obj/fwkernel/shell/bug-demo/drivers/eth_mac.o" in objects
    assert f"{tmp_path}/build/obj/fwkernel/shell/fw/drivers/eth_mac.o" not in objects
    assert f"{tmp_path}/build/obj/fwkernel/shell/fw/net/ethernetif.o" in objects     # shared here
    assert len(compiled(out, "/library/ssl_tls.c")) == 1                              # one TLS config


def test_a_variant_without_an_application_is_named(tmp_path):
    result = make_dry_run(tmp_path, KNOWN_VARIANTS="fixed lost", VARIANTS="fixed")
    assert result.returncode != 0
    assert "variant 'lost' has no application" in result.stderr


def test_autopost_options_reach_the_autopost_objects_only(tmp_path):
    result = make_dry_run(tmp_path, VARIANTS="fixed autopost-fixed", FW_AUTOPOST_POSTS="7",
                          FW_AUTOPOST_HOST="metrics.example.org")
    assert result.returncode == 0, result.stderr
    (telemetry,) = compiled(result.stdout, "/firmware/autopost/telemetry.c")
    assert "-DFW_AUTOPOST_POSTS=7" in telemetry
    assert "-DFW_AUTOPOST_HOST='\"metrics.example.org\"'" in telemetry
    (https,) = compiled(result.stdout, "/firmware/shell/https.c")
    assert "FW_AUTOPOST" not in https
