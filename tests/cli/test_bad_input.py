"""Every bad input a careless or unlucky user gives `python -m sim boot|run` ends the same way:
exit status 2 and one line on stderr, `error: <message>`, that names what was wrong and what to
do instead - never a traceback, and for `run` never after the firmware started (nothing runs only
to lose its result)."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from sim.platform import DEFAULT_REPL
from sim.scenario import FIRMWARE_DIR

ROOT = Path(__file__).resolve().parents[2]
FIXED = FIRMWARE_DIR / "fixed.elf"


def sim(*args, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def assert_refused(p: subprocess.CompletedProcess, *names: str) -> str:
    """Exit 2, one `error:` line naming each of `names`, no traceback, no run."""
    output = p.stdout + p.stderr
    assert "Traceback" not in output, output
    assert p.returncode == 2, output
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), p.stderr
    for name in names:
        assert name in lines[0], f"{name!r} not named in: {lines[0]}"
    assert "verdict" not in p.stdout and "booted" not in p.stderr        # refused before any run
    return lines[0]


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> dict[str, Path]:
    assert FIXED.exists(), f"{FIXED} is missing: run scripts/setup"
    d = tmp_path_factory.mktemp("bad")
    elf = FIXED.read_bytes()
    out = {"dir": d / "a-directory"}
    out["dir"].mkdir()
    out["truncated"] = d / "truncated.elf"
    out["truncated"].write_bytes(elf[:2000])                 # section headers past the end of the file
    # e_shoff (ELF32 header offset 0x20) pointed into the middle of the program bytes
    corrupt = bytearray(elf)
    struct.pack_into("<I", corrupt, 0x20, 0x3F)
    struct.pack_into("<H", corrupt, 0x30, 0x7FFF)           # e_shnum: far more headers than fit
    out["corrupt"] = d / "corrupt-sections.elf"
    out["corrupt"].write_bytes(bytes(corrupt))
    # every loadable segment moved to 0x90000000, where the platform maps nothing
    moved = bytearray(elf)
    phoff, = struct.unpack_from("<I", moved, 0x1C)
    phentsize, phnum = struct.unpack_from("<HH", moved, 0x2A)
    for i in range(phnum):
        at = phoff + i * phentsize
        if struct.unpack_from("<I", moved, at)[0] == 1:                          # PT_LOAD
            vaddr, paddr = struct.unpack_from("<II", moved, at + 8)
            struct.pack_into("<II", moved, at + 8, 0x9000_0000 + (vaddr & 0xFFFFF), 0x9000_0000 + (paddr & 0xFFFFF))
    out["outside"] = d / "outside-map.elf"
    out["outside"].write_bytes(bytes(moved))
    repl = DEFAULT_REPL.read_text()
    out["syntax"] = d / "syntax.repl"
    out["syntax"].write_text("flash: Memory.MappedMemory @ sysbus 0x08000000\n    size 0x100000\n")
    out["huge"] = d / "huge-memory.repl"
    # 4 GiB from address 0: inside the 32-bit space, so only the overlap with flash and RAM refuses it
    out["huge"].write_text(repl + "\nhuge: Memory.MappedMemory @ sysbus 0x0\n    size: 0x100000000\n")
    out["mips0"] = d / "mips0.repl"
    assert "PerformanceInMips: 168" in repl
    out["mips0"].write_text(repl.replace("PerformanceInMips: 168", "PerformanceInMips: 0"))
    out["file"] = d / "a-file"
    out["file"].write_text("not a directory\n")
    return out


def run(tmp_path, *args):
    """`run` with a quick GET; `args` replace or add to the defaults."""
    base = {"--get": "/hello", "--out": str(tmp_path / "out")}
    extra = list(args)
    for flag in list(base):
        if flag in extra or (flag == "--get" and "--post" in extra):
            del base[flag]
    return sim("run", *[x for kv in base.items() for x in kv], *extra)


# --- firmware images -----------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["boot", "run"])
@pytest.mark.parametrize("image", ["truncated", "corrupt"])
def test_a_damaged_elf(images, tmp_path, command, image):
    path = images[image]
    p = sim("boot", path) if command == "boot" else run(tmp_path, "--firmware", path)
    assert_refused(p, path.name)


@pytest.mark.parametrize("command", ["boot", "run"])
def test_an_elf_linked_outside_the_memory_map(images, tmp_path, command):
    path = images["outside"]
    p = sim("boot", path) if command == "boot" else run(tmp_path, "--firmware", path)
    assert_refused(p, "0x90000000", "memory")                    # where it is linked, and the map


@pytest.mark.parametrize("command", ["boot", "run"])
def test_a_directory_as_firmware(images, tmp_path, command):
    p = sim("boot", images["dir"]) if command == "boot" else run(tmp_path, "--firmware", images["dir"])
    line = assert_refused(p, "a-directory")
    assert "directory" in line and "ELF" in line


# --- platform files ------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["boot", "run"])
def test_a_directory_as_platform_file(images, tmp_path, command):
    args = ("--repl", images["dir"])
    p = sim("boot", FIXED, *args) if command == "boot" else run(tmp_path, *args)
    line = assert_refused(p, "a-directory")
    assert "is a directory" in line and ".repl" in line


def test_run_with_a_missing_platform_file(tmp_path):
    line = assert_refused(run(tmp_path, "--repl", tmp_path / "nope.repl"), "nope.repl")
    assert "does not exist" in line


def test_run_with_a_malformed_platform_file(images, tmp_path):
    assert_refused(run(tmp_path, "--repl", images["syntax"]), f"{images['syntax']}:2:10: expected ':' after attribute size")


@pytest.mark.parametrize("command", ["boot", "run"])
def test_a_platform_memory_of_4_gib_overlapping_the_rest(images, tmp_path, command):
    args = ("--repl", images["huge"])
    p = sim("boot", FIXED, *args) if command == "boot" else run(tmp_path, *args)
    line = assert_refused(p, "huge-memory.repl", "huge")
    assert "overlaps" in line


def test_a_cpu_of_zero_mips(images, tmp_path):
    assert_refused(run(tmp_path, "--repl", images["mips0"]), "mips0.repl", "PerformanceInMips")


# --- numbers -------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["nan", "inf", "0", "-5", "ten"])
@pytest.mark.parametrize("option", ["--max-virtual", "--max-wall"])
def test_run_time_limits(tmp_path, option, value):
    line = assert_refused(run(tmp_path, option, value), option, repr(value))
    assert "seconds" in line


@pytest.mark.parametrize("value", ["nan", "inf", "0", "-5"])
def test_boot_time_limits(value):
    assert_refused(sim("boot", FIXED, "--max-virtual", value), "--max-virtual", "seconds")


@pytest.mark.parametrize("value", ["-1", "1.5", "seven", str(1 << 64)])
def test_seed(tmp_path, value):
    assert_refused(run(tmp_path, "--seed", value), "--seed", "from 0 to")


@pytest.mark.parametrize("value", ["65536", "-1", "gdb"])
def test_gdb_port(tmp_path, value):
    assert_refused(run(tmp_path, "--gdb", value), "--gdb", "65535")


@pytest.mark.parametrize("size", ["abc", "-1", "1e3", "4294967296"])
def test_post_size(tmp_path, size):
    assert_refused(run(tmp_path, "--post", "/upload", size), size)


def test_request_path_without_slash(tmp_path):
    assert_refused(run(tmp_path, "--get", "hello"), "'hello'", "starts with '/'")


# --- the artifact directory ----------------------------------------------------------------------

def test_out_naming_an_existing_file(images, tmp_path):
    line = assert_refused(run(tmp_path, "--out", images["file"]), "a-file")
    assert "existing file" in line and images["file"].read_text() == "not a directory\n"


def test_out_under_a_file(images, tmp_path):
    line = assert_refused(run(tmp_path, "--out", images["file"] / "sub"), "a-file/sub")
    assert "under a file" in line


def test_out_in_an_unwritable_place(tmp_path):
    if os.geteuid() == 0:
        place = Path("/sys/tls-fw-sim-out")          # sysfs: not even root creates directories there
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        place = locked / "out"
    line = assert_refused(run(tmp_path, "--out", place), str(place))
    assert "cannot write" in line and "choose a directory" in line


def test_out_empty(tmp_path):
    line = assert_refused(run(tmp_path, "--out", ""), "--out")
    assert "empty" in line
    assert not (ROOT / "result.json").exists()


# --- the command line itself ---------------------------------------------------------------------

def test_wait_without_gdb(tmp_path):
    assert_refused(run(tmp_path, "--wait"), "--wait", "--gdb PORT")


def test_unknown_option_and_missing_values(tmp_path):
    assert_refused(run(tmp_path, "--max-virtaul", "5"), "--max-virtaul", "--help")
    assert_refused(sim("run", "--get", "/"), "--out", "--help")
    assert_refused(sim("frobnicate"), "frobnicate", "--help")


def test_boot_until_nothing():
    assert_refused(sim("boot", FIXED, "--until", ""), "--until")


# --- device-initiated runs and the virtual network ------------------------------------------------

def device(tmp_path, *args):
    """`run --device-initiated` on the fixed image (nothing runs when the input is refused)."""
    return sim("run", "--firmware", FIXED, "--device-initiated", "--out", str(tmp_path / "out"), *args)


@pytest.mark.parametrize("args, named", [
    (("--requests", "0"), ("--requests", "'0'")),
    (("--requests", "two"), ("--requests", "'two'")),
    (("--until-uart", ""), ("--until-uart",)),
    (("--until-symbol", "no such"), ("--until-symbol", "'no such'")),
    (("--until-symbol", "Missing_Handler"), ("'Missing_Handler'", "no symbol")),
    (("--console", "usart9"), ("'usart9'", "usart1, usart2, usart3, usart6", "auto", "none")),
    (("--date", "2017-10-12"), ("--date", "Z")),
    (("--date", "1900-01-01T00:00:00Z"), ("--date", "RFC 4330")),
    (("--dns", "telemetry.example.net"), ("--dns", "NAME=ADDRESS")),
    (("--dns", "telemetry.example.net=not-an-address"), ("not-an-address",)),
    (("--dns", "a.example=192.0.2.5", "--dns-absent", "a.example"), ("a.example", "absent")),
    (("--tls-port", "70000"), ("--tls-port", "65535")),
    (("--tls", "1.2"), ("--tls", "compiled-in")),
    (("--get", "/"), ("--get", "--device-initiated")),
    (("--on-unmapped", "ignore"), ("--on-unmapped", "'ignore'")),
])
def test_device_initiated_options(tmp_path, args, named):
    assert_refused(device(tmp_path, *args), *named)


@pytest.mark.parametrize("option, value", [("--requests", "2"), ("--until-uart", "ready"),
                                           ("--until-symbol", "main"), ("--console", "usart2")])
def test_device_options_without_device_initiated(tmp_path, option, value):
    assert_refused(run(tmp_path, option, value), option, "--device-initiated")
