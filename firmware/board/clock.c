/*
 * Clock tree: HSE 8 MHz -> PLL (M=8, N=336, P=2, Q=7) -> SYSCLK 168 MHz, PLL48CLK 48 MHz for the
 * RNG; AHB /1, APB1 /4 (42 MHz), APB2 /2 (84 MHz). Bring-up order (RM0090 sections 6.2 and 6.3,
 * 3.5.1 for the wait states, 5.4.1 for VOS; the same order as ST's STM32CubeF4 SystemClock_Config):
 * HSE, PWR VOS scale 1, PLL config while off, PLL on, flash wait states + caches, bus dividers,
 * switch. Every wait is bounded: a board without a crystal keeps running on HSI and says so.
 */
#include "stm32f407.h"
#include "board.h"

uint32_t SystemCoreClock = 16000000u;
struct board_clocks board_clocks = {16000000u, 16000000u, 16000000u, 16000000u, 0, 0};

#define CLOCK_WAIT_LOOPS 2000000u   /* > 100 ms at 16 MHz: far beyond the HSE start-up time */

static int wait_set(volatile uint32_t *reg, uint32_t mask, uint32_t value)
{
    for (uint32_t i = 0; i < CLOCK_WAIT_LOOPS; i++) {
        if ((*reg & mask) == value) {
            return 1;
        }
    }
    return 0;
}

void board_clock_init(void)
{
    RCC_CR |= RCC_CR_HSEON;
    if (!wait_set(&RCC_CR, RCC_CR_HSERDY, RCC_CR_HSERDY)) {
        RCC_CR &= ~RCC_CR_HSEON;
        board_clocks.error = "HSE did not start (HSERDY timeout), running on HSI 16 MHz";
        return;
    }

    /* VOS scale 1 allows HCLK up to 168 MHz; written while the PLL is still off */
    RCC_APB1ENR |= RCC_APB1_PWR;
    (void)RCC_APB1ENR;
    PWR_CR |= PWR_CR_VOS;

    RCC_CR &= ~RCC_CR_PLLON;
    RCC_PLLCFGR = RCC_PLLCFGR_RSVD29 | RCC_PLLCFGR_SRC_HSE | RCC_PLLCFGR_M(8) |
                  RCC_PLLCFGR_N(336) | RCC_PLLCFGR_P(2) | RCC_PLLCFGR_Q(7);
    RCC_CR |= RCC_CR_PLLON;
    if (!wait_set(&RCC_CR, RCC_CR_PLLRDY, RCC_CR_PLLRDY)) {
        RCC_CR &= ~RCC_CR_PLLON;
        board_clocks.error = "PLL did not lock (PLLRDY timeout), running on HSI 16 MHz";
        return;
    }

    /* 5 wait states for 168 MHz at 3.3 V, with caches and prefetch, before the switch */
    FLASH_ACR = FLASH_ACR_ICEN | FLASH_ACR_DCEN | FLASH_ACR_PRFTEN | 5u;
    if ((FLASH_ACR & FLASH_ACR_LATENCY_MASK) != 5u) {
        board_clocks.error = "FLASH_ACR.LATENCY did not read back 5, running on HSI 16 MHz";
        return;
    }

    RCC_CFGR = (RCC_CFGR & ~(RCC_CFGR_HPRE_MASK | RCC_CFGR_PPRE1_MASK | RCC_CFGR_PPRE2_MASK)) |
               RCC_CFGR_HPRE_DIV1 | RCC_CFGR_PPRE1_DIV4 | RCC_CFGR_PPRE2_DIV2;
    RCC_CFGR = (RCC_CFGR & ~RCC_CFGR_SW_MASK) | RCC_CFGR_SW_PLL;
    if (!wait_set(&RCC_CFGR, RCC_CFGR_SWS_MASK, RCC_CFGR_SWS_PLL)) {
        board_clocks.error = "SYSCLK did not switch to the PLL (SWS timeout)";
        return;
    }

    SystemCoreClock = BOARD_SYSCLK_HZ;
    board_clocks.sysclk = BOARD_SYSCLK_HZ;
    board_clocks.hclk = BOARD_SYSCLK_HZ;
    board_clocks.pclk1 = BOARD_SYSCLK_HZ / 4;
    board_clocks.pclk2 = BOARD_SYSCLK_HZ / 2;
    board_clocks.pll48 = BOARD_HSE_HZ / 8 * 336 / 7;
}
