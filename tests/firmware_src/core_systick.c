/* SysTick in virtual time: the period is exactly LOAD+1 processor clocks (CLKSOURCE=1) or
 * 8*(LOAD+1) with the STM32's HCLK/8 reference (CLKSOURCE=0); VAL counts down one per cycle
 * (read at the start of two straight-line blocks five instructions apart: a peripheral sees the
 * time at which the current block began);
 * COUNTFLAG is set by a wrap and cleared by reading CSR. The Python side hooks SysTick_Handler
 * and checks the cycle count between entries.
 *
 * values[]: 0 = VAL difference across 4 single-cycle instructions, 1 = COUNTFLAG after a wrap,
 *           2 = COUNTFLAG on the second read, 3 = ticks in phase 1, 4 = ticks in phase 2. */
#include "test.h"
#include "cm4.h"

static volatile uint32_t ticks;
void SysTick_Handler(void) { ticks++; }

int main(void)
{
    uint32_t v0, v1;

    /* VAL decreases by one per cycle (CPI = 1) */
    SYST_RVR = 0x00FFFFFFu;
    SYST_CVR = 0;
    SYST_CSR = 5;                                   /* enable, processor clock, no interrupt */
    do {
        __asm volatile("b 1f\n 1: ldr %0, [%2]\n nop\n nop\n nop\n b 2f\n 2: ldr %1, [%2]\n"
                       : "=&r"(v0), "=&r"(v1) : "r"(&SYST_CVR) : "memory");
    } while (v1 > v0);                              /* retry across a wrap */
    RECORD(0, v0 - v1);
    CHECK(v0 - v1 == 5);

    /* COUNTFLAG: set by a wrap, cleared by the read */
    SYST_CSR = 0;
    SYST_RVR = 99;
    SYST_CVR = 0;
    SYST_CSR = 5;
    for (volatile int i = 0; i < 100; i++)
        ;
    v0 = SYST_CSR;
    v1 = SYST_CSR;
    RECORD(1, (v0 >> 16) & 1);
    RECORD(2, (v1 >> 16) & 1);
    CHECK(v0 & (1u << 16));
    CHECK(!(v1 & (1u << 16)));

    /* phase 1: 1 ms from the processor clock */
    SYST_CSR = 0;
    SYST_RVR = 168000u - 1;
    SYST_CVR = 0;
    ticks = 0;
    SYST_CSR = 7;
    while (ticks < 10)
        ;
    SYST_CSR = 0;
    RECORD(3, ticks);

    /* phase 2: 1 ms from the HCLK/8 reference */
    SYST_RVR = 21000u - 1;
    SYST_CVR = 0;
    ticks = 0;
    SYST_CSR = 3;
    while (ticks < 5)
        ;
    SYST_CSR = 0;
    RECORD(4, ticks);
    return 0;
}
