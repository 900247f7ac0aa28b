/* Board bring-up: clock tree, clock figures the drivers need, fatal-error reporting. */
#ifndef BOARD_BOARD_H
#define BOARD_BOARD_H

#include <stdint.h>

#define BOARD_HSE_HZ        8000000u    /* STM32F4-Discovery style 8 MHz crystal */
#define BOARD_SYSCLK_HZ     168000000u

/* CMSIS name: the kernel's configCPU_CLOCK_HZ reads it */
extern uint32_t SystemCoreClock;

struct board_clocks {
    uint32_t sysclk, hclk, pclk1, pclk2, pll48;
    const char *error;          /* NULL, or why we stayed on the 16 MHz HSI */
};
extern struct board_clocks board_clocks;

/* HSE -> PLL -> 168 MHz; on a clock failure stays on HSI and records the reason. */
void board_clock_init(void);

/* Print a message on the UART without interrupts, then stop (a debugger can inspect). */
__attribute__((noreturn, format(printf, 1, 2))) void board_panic(const char *fmt, ...);

/* NVIC_SystemReset */
__attribute__((noreturn)) void board_reset(void);

#endif
