/* Floating point without enabling the FPU in CPACR faults on silicon (NOCP). unicorn's FPU is
 * always on, so the machine checks CPACR when an exception stacks FP context. */
#include "test.h"
#include "cm4.h"

int main(void)
{
    SCB_CPACR = 0;                                  /* undo the startup's FPU enable */
    dsb();
    isb();
    __asm volatile("vmov s0, %0" :: "r"(0x3f800000u) : "s0");
    SCB_ICSR = ICSR_PENDSVSET;                      /* any exception entry notices */
    return 0;
}
