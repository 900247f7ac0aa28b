"""`fixed` and `seedbug` are one source tree and one compile-time switch: apart from the banner's
variant name, only the TX copy loop may differ; the same holds for `autopost-fixed` and
`autopost-seedbug` and for `autopost-prod-fixed` and `autopost-prod-seedbug`, and the autopost
images' copy loops are the shell images'. Address shifts are handled by comparing each relocated
field as the symbol it points at (see fw_elfdiff)."""

from __future__ import annotations

import subprocess

import pytest

from fw_elfdiff import Image, differing_symbols, raw_differing_functions


@pytest.mark.parametrize("fixed,seedbug", [("fixed", "seedbug"), ("autopost-fixed", "autopost-seedbug"),
                                           ("autopost-prod-fixed", "autopost-prod-seedbug")])
def test_only_the_tx_copy_function_differs(firmware_elfs, fixed, seedbug):
    differ, only_fixed, only_seedbug = differing_symbols(firmware_elfs[fixed], firmware_elfs[seedbug])
    assert only_fixed == set() and only_seedbug == set()
    assert {name for kind, name in differ if kind == "func"} == {"eth_tx_copy_frame"}
    assert {name for kind, name in differ if kind == "object"} <= {"fw_variant_name"}


@pytest.mark.parametrize("variant", ["fixed", "seedbug"])
@pytest.mark.parametrize("application", ["autopost", "autopost-prod"])
def test_autopost_images_carry_the_same_tx_copy_loop(firmware_elfs, variant, application):
    """The same eth_tx_copy_frame, instruction for instruction, as the shell image: the
    autopost-seedbug and autopost-prod-seedbug defect is seedbug's, so their diagnosis must be too."""
    def copy_loop(name):
        image = Image(firmware_elfs[name])
        (sym,) = [s for s in image.symbols if s.name == "eth_tx_copy_frame"]
        return image.normalized(sym)
    assert copy_loop(f"{application}-{variant}") == copy_loop(variant)


def test_the_prod_images_trust_the_production_roots_instead_of_the_test_ca(firmware_elfs):
    _, only_autopost, only_prod = differing_symbols(firmware_elfs["autopost-fixed"], firmware_elfs["autopost-prod-fixed"])
    assert only_autopost == {("object", "test_ca_pem")}
    assert only_prod == {("object", "production_root_r1_pem"), ("object", "production_root_r2_der")}


PROGRAM = r"""
const char message[] = "shifted data";
int counter;
static __attribute__((noinline)) int helper(int x) { return x * 3 + counter; }
__attribute__((noipa)) int grow(int x)   /* as eth_tx_copy_frame: callers compile alike */
{
#ifdef BIGGER
    for (int i = 0; i < x; i++) counter += i * 7 + message[i & 7];
#endif
    return x + 1;
}
__attribute__((noinline)) int after(int x) { return helper(x) + grow(x) + message[x & 7]; }
void _start(void) { counter = after(counter); for (;;) {} }
"""


def test_comparison_sees_through_address_shifts(tmp_path):
    """Two images where one function grows and everything after it moves: a raw comparison
    flags the functions that merely moved or call moved code; the relocation-aware one flags
    only the function that changed."""
    src = tmp_path / "prog.c"
    src.write_text(PROGRAM)
    elfs = []
    for name, defines in (("small", []), ("big", ["-DBIGGER"])):
        out = tmp_path / f"{name}.elf"
        subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-O2", "-nostdlib",
                        "-ffunction-sections", "-fdata-sections", *defines, "-Wl,--emit-relocs",
                        "-Wl,-Ttext=0x08000000", "-Wl,-Tdata=0x20000000", "-o", str(out), str(src)],
                       check=True, capture_output=True)
        elfs.append(out)
    raw = raw_differing_functions(*elfs)
    assert {"grow", "after"} <= raw, raw            # after moved; its calls/literals changed
    differ, only_small, only_big = differing_symbols(*elfs)
    assert {name for kind, name in differ if kind == "func"} == {"grow"}
    assert only_small == only_big == set()
