/*
 * Fatal-error reporting: HardFault (with the stacked frame and fault status registers), panics
 * from asserts, and reset. Output is polled on the UART because interrupts may be unusable here.
 */
#include <stdarg.h>
#include <stdio.h>

#include "stm32f407.h"
#include "board.h"
#include "uart.h"

static void panic_vprint(const char *fmt, va_list ap)
{
    char line[200];
    int n = vsnprintf(line, sizeof line, fmt, ap);
    if (n < 0) {
        return;
    }
    if ((size_t)n >= sizeof line) {
        n = sizeof line - 1;
    }
    uart_write_polled(line, (size_t)n);
}

static void panic_print(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    panic_vprint(fmt, ap);
    va_end(ap);
}

void board_panic(const char *fmt, ...)
{
    __asm volatile("cpsid i" ::: "memory");
    panic_print("\r\npanic: ");
    va_list ap;
    va_start(ap, fmt);
    panic_vprint(fmt, ap);
    va_end(ap);
    panic_print("\r\n");
    for (;;) {
    }
}

void board_reset(void)
{
    __dsb();
    SCB_AIRCR = SCB_AIRCR_SYSRESET;
    __dsb();
    for (;;) {
    }
}

/* Called with the exception frame (r0-r3, r12, lr, pc, xpsr) from whichever stack was active. */
__attribute__((noreturn, used)) void hardfault_report(const uint32_t *frame, uint32_t exc_return)
{
    panic_print("\r\nhardfault: pc=0x%08lx lr=0x%08lx xpsr=0x%08lx sp=0x%08lx (%s)\r\n",
                (unsigned long)frame[6], (unsigned long)frame[5], (unsigned long)frame[7],
                (unsigned long)(uintptr_t)frame, (exc_return & 4u) ? "psp" : "msp");
    panic_print("hardfault: r0=0x%08lx r1=0x%08lx r2=0x%08lx r3=0x%08lx r12=0x%08lx\r\n",
                (unsigned long)frame[0], (unsigned long)frame[1], (unsigned long)frame[2],
                (unsigned long)frame[3], (unsigned long)frame[4]);
    panic_print("hardfault: cfsr=0x%08lx hfsr=0x%08lx mmfar=0x%08lx bfar=0x%08lx\r\n",
                (unsigned long)SCB_CFSR, (unsigned long)SCB_HFSR, (unsigned long)SCB_MMFAR,
                (unsigned long)SCB_BFAR);
    for (;;) {
    }
}

/* Pick the stack the fault was stacked on from EXC_RETURN bit 2, then report in C. */
__attribute__((naked)) void HardFault_Handler(void)
{
    __asm volatile(
        "cpsid i              \n"
        "tst lr, #4           \n"
        "ite eq               \n"
        "mrseq r0, msp        \n"
        "mrsne r0, psp        \n"
        "mov r1, lr           \n"
        "b hardfault_report   \n");
}
