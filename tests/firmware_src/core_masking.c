/* Lowering an interrupt mask takes a pending interrupt immediately - right after the
 * instruction that lowers it, not at some later time slice - for BASEPRI, PRIMASK (msr and
 * cpsie) and FAULTMASK. While masked, the interrupt must not be taken; an interrupt above the
 * BASEPRI threshold must not be masked at all.
 *
 * The global labels *_lowered mark the instruction after each unmasking instruction; the handler
 * records the stacked PC, which must equal that label (values[0..4]). The Python side also hooks
 * the unmasking instructions (labels *_msr) and the handler to count instructions in between. */
#include "test.h"
#include "cm4.h"

#define IRQ 5                                       /* RCC_IRQHandler */

static volatile uint32_t taken, stacked_pc;

__attribute__((naked)) void RCC_IRQHandler(void)
{
    __asm volatile("ldr r1, =stacked_pc_ptr\n"
                   "ldr r1, [r1]\n"
                   "ldr r0, [sp, #24]\n"            /* stacked PC (MSP: thread code uses MSP) */
                   "str r0, [r1]\n"
                   "ldr r1, =taken_ptr\n"
                   "ldr r1, [r1]\n"
                   "ldr r0, [r1]\n"
                   "adds r0, r0, #1\n"
                   "str r0, [r1]\n"
                   "bx lr\n");
}
volatile uint32_t *const stacked_pc_ptr = &stacked_pc;
volatile uint32_t *const taken_ptr = &taken;

static void spin(void)
{
    for (volatile int i = 0; i < 20; i++)
        ;
}

int main(void)
{
    nvic_set_priority(IRQ, 0x40);
    nvic_enable(IRQ);

    /* BASEPRI 0x40 masks priority 0x40; writing 0 unmasks */
    set_basepri(0x40);
    nvic_pend(IRQ);
    spin();
    CHECK(taken == 0);
    __asm volatile("movs r0, #0\n"
                   ".global basepri_msr\n basepri_msr:\n"
                   "msr basepri, r0\n"
                   ".global basepri_lowered\n basepri_lowered:\n"
                   "nop\n" ::: "r0", "memory");
    CHECK(taken == 1);
    RECORD(0, stacked_pc);

    /* an interrupt of higher priority than BASEPRI is not masked: taken when pended (by the
     * ISB after the store at the latest) */
    set_basepri(0x80);
    nvic_pend(IRQ);
    dsb();
    isb();
    CHECK(taken == 2);
    set_basepri(0);

    /* PRIMASK through cpsie */
    disable_irq();
    nvic_pend(IRQ);
    spin();
    CHECK(taken == 2);
    __asm volatile(".global cpsie_msr\n cpsie_msr:\n"
                   "cpsie i\n"
                   ".global cpsie_lowered\n cpsie_lowered:\n"
                   "nop\n" ::: "memory");
    CHECK(taken == 3);
    RECORD(1, stacked_pc);

    /* PRIMASK through msr */
    disable_irq();
    nvic_pend(IRQ);
    spin();
    CHECK(taken == 3);
    __asm volatile("movs r0, #0\n"
                   ".global primask_msr\n primask_msr:\n"
                   "msr primask, r0\n"
                   ".global primask_lowered\n primask_lowered:\n"
                   "nop\n" ::: "r0", "memory");
    CHECK(taken == 4);
    RECORD(2, stacked_pc);

    /* FAULTMASK through cpsie f */
    __asm volatile("cpsid f" ::: "memory");
    nvic_pend(IRQ);
    spin();
    CHECK(taken == 4);
    __asm volatile(".global faultmask_msr\n faultmask_msr:\n"
                   "cpsie f\n"
                   ".global faultmask_lowered\n faultmask_lowered:\n"
                   "nop\n" ::: "memory");
    CHECK(taken == 5);
    RECORD(3, stacked_pc);

    /* raising BASEPRI with basepri_max never unmasks anything */
    set_basepri(0x40);
    nvic_pend(IRQ);
    __asm volatile("movs r0, #0x20\n msr basepri_max, r0\n nop" ::: "r0", "memory");
    CHECK(taken == 5);
    set_basepri(0);
    CHECK(taken == 6);
    RECORD(4, taken);
    return 0;
}
