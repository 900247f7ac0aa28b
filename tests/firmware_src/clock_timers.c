/* The clock bring-up of ST's HAL and a CubeMX project, with the timebases such projects use, for
 * tests/peripherals/test_clock_firmware.py, which measures every tick in virtual time:
 *
 * - reset state: HSI 16 MHz, SystemCoreClock = 16000000 (system_stm32f4xx.c);
 * - HAL_InitTick(): a 1 ms timebase computed from SystemCoreClock - SysTick from HCLK
 *   (TIMEBASE=1, HAL_SYSTICK_Config), SysTick from HCLK/8 (TIMEBASE=2), or TIM6 from the APB1
 *   timer clock as stm32f4xx_hal_timebase_tim_template.c does whenever FreeRTOS owns SysTick
 *   (TIMEBASE=3: PSC from the clock, ARR 999, UG, UIF cleared, UIE, CEN);
 * - SystemClock_Config() as CubeMX writes it: PWR VOS scale 1, HSE on (HSERDY polled with the
 *   tick as timeout), PLL from HSE with M = HSE_MHZ, N = 336, P = 2, Q = 7 (168 MHz, 48 MHz),
 *   HAL_RCC_ClockConfig(): 5 flash wait states read back, APB prescalers to /16, HPRE /1,
 *   SW = PLL and SWS polled, then APB1 /4, APB2 /2, SystemCoreClock = 168000000 and
 *   HAL_InitTick() again;
 * - TIMEBASE=4: no timebase but TIM2, counted in one-pulse mode (a 2.5 ms pulse, CEN polled)
 *   and in periodic mode (1 ms updates with UIE), before and after the switch.
 * The markers clock_switch_begin()/clock_switch_end() and pulse_begin()/pulse_end() are call
 * sites the Python side hooks. Register addresses and bits: RM0090 §6.3 (RCC), §3.9 (FLASH),
 * §5.4 (PWR), §18.4 and §20.4 (TIMx). */
#include "test.h"
#include "cm4.h"

#ifndef TIMEBASE
#define TIMEBASE 1
#endif
#ifndef HSE_MHZ
#define HSE_MHZ 8
#endif

#define RCC_CR       REG32(0x40023800u)
#define RCC_PLLCFGR  REG32(0x40023804u)
#define RCC_CFGR     REG32(0x40023808u)
#define RCC_APB1ENR  REG32(0x40023840u)
#define PWR_CR       REG32(0x40007000u)
#define FLASH_ACR    REG32(0x40023C00u)

#define CR_HSEON  (1u << 16)
#define CR_HSERDY (1u << 17)
#define CR_PLLON  (1u << 24)
#define CR_PLLRDY (1u << 25)

#define TIM2_BASE 0x40000000u
#define TIM6_BASE 0x40001000u
#define TIM_CR1(b)  REG32((b) + 0x00u)
#define TIM_DIER(b) REG32((b) + 0x0Cu)
#define TIM_SR(b)   REG32((b) + 0x10u)
#define TIM_EGR(b)  REG32((b) + 0x14u)
#define TIM_CNT(b)  REG32((b) + 0x24u)
#define TIM_PSC(b)  REG32((b) + 0x28u)
#define TIM_ARR(b)  REG32((b) + 0x2Cu)
#define CR1_CEN  1u
#define CR1_OPM  (1u << 3)
#define CR1_ARPE (1u << 7)
#define SR_UIF   1u

#define TIM2_IRQ 28
#define TIM6_IRQ 54

uint32_t SystemCoreClock = 16000000u;
volatile uint32_t uwTick;
volatile uint32_t tim2_updates;
static const uint8_t AHBPrescTable[16] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 6, 7, 8, 9};
static const uint8_t APBPrescTable[8] = {0, 0, 0, 0, 1, 2, 3, 4};

void __attribute__((noinline, used)) clock_switch_begin(void) { __asm volatile ("" ::: "memory"); }
void __attribute__((noinline, used)) clock_switch_end(void) { __asm volatile ("" ::: "memory"); }
void __attribute__((noinline, used)) pulse_begin(void) { __asm volatile ("" ::: "memory"); }
void __attribute__((noinline, used)) pulse_end(void) { __asm volatile ("" ::: "memory"); }

void SysTick_Handler(void) { uwTick++; }

void TIM6_DAC_IRQHandler(void)
{
    if ((TIM_SR(TIM6_BASE) & SR_UIF) && (TIM_DIER(TIM6_BASE) & 1u)) {
        TIM_SR(TIM6_BASE) = ~SR_UIF;            /* __HAL_TIM_CLEAR_IT: rc_w0 */
        uwTick++;
    }
}

void TIM2_IRQHandler(void)
{
    if (TIM_SR(TIM2_BASE) & SR_UIF) {
        TIM_SR(TIM2_BASE) = ~SR_UIF;
        tim2_updates++;
    }
}

static uint32_t hclk(void)      { return SystemCoreClock; }
static uint32_t __attribute__((unused)) apb1_timer_clock(void)   /* as HAL_InitTick (TIM) computes it */
{
    uint32_t ppre1 = (RCC_CFGR >> 10) & 7u;
    uint32_t pclk1 = hclk() >> APBPrescTable[ppre1];
    return ppre1 < 4u ? pclk1 : 2u * pclk1;
}

static void HAL_InitTick(void)
{
#if TIMEBASE == 1
    SYST_RVR = SystemCoreClock / 1000u - 1u;
    SYST_CVR = 0;
    SCB_SHPR8(EXC_SYSTICK) = 0xF0;
    SYST_CSR = 7u;                                 /* CLKSOURCE = HCLK, TICKINT, ENABLE */
#elif TIMEBASE == 2
    SYST_RVR = SystemCoreClock / 8u / 1000u - 1u;
    SYST_CVR = 0;
    SCB_SHPR8(EXC_SYSTICK) = 0xF0;
    SYST_CSR = 3u;                                 /* CLKSOURCE = HCLK/8, TICKINT, ENABLE */
#elif TIMEBASE == 3
    RCC_APB1ENR |= 1u << 4;                        /* TIM6EN */
    (void)RCC_APB1ENR;
    TIM_CR1(TIM6_BASE) &= ~CR1_ARPE;
    TIM_ARR(TIM6_BASE) = 1000u - 1u;
    TIM_PSC(TIM6_BASE) = apb1_timer_clock() / 1000000u - 1u;
    TIM_EGR(TIM6_BASE) = 1u;                       /* UG: load PSC now */
    if (TIM_SR(TIM6_BASE) & SR_UIF)
        TIM_SR(TIM6_BASE) = ~SR_UIF;
    TIM_DIER(TIM6_BASE) |= 1u;
    TIM_CR1(TIM6_BASE) |= CR1_CEN;
    NVIC_IPR8(TIM6_IRQ) = 0xF0;
    nvic_enable(TIM6_IRQ);
#endif
}

static uint32_t get_tick(void) { return uwTick; }

/* HAL-style wait with a timeout in ticks; without a timebase (TIMEBASE=4) a loop bound */
static int wait_for(volatile uint32_t *reg, uint32_t mask, uint32_t value, uint32_t timeout_ms)
{
    uint32_t start = get_tick();
    for (uint32_t loops = 0; (*reg & mask) != value; loops++) {
        if (TIMEBASE != 4 && get_tick() - start > timeout_ms)
            return 0;
        if (TIMEBASE == 4 && loops > 1000000u)
            return 0;
    }
    return 1;
}

static void SystemClock_Config(void)
{
    RCC_APB1ENR |= 1u << 28;                       /* PWREN */
    (void)RCC_APB1ENR;
    PWR_CR |= 1u << 14;                            /* VOS scale 1 */

    RCC_CR |= CR_HSEON;                            /* HAL_RCC_OscConfig */
    CHECK(wait_for(&RCC_CR, CR_HSERDY, CR_HSERDY, 100));
    RCC_CR &= ~CR_PLLON;
    CHECK(wait_for(&RCC_CR, CR_PLLRDY, 0, 2));
    RCC_PLLCFGR = (1u << 29) | (1u << 22) | HSE_MHZ | (336u << 6) | (0u << 16) | (7u << 24);
    RCC_CR |= CR_PLLON;
    CHECK(wait_for(&RCC_CR, CR_PLLRDY, CR_PLLRDY, 2));

    FLASH_ACR = (FLASH_ACR & ~7u) | 5u;            /* HAL_RCC_ClockConfig */
    CHECK((FLASH_ACR & 7u) == 5u);
    RCC_CFGR |= (7u << 10) | (7u << 13);           /* APB1, APB2 /16 while switching */
    RCC_CFGR &= ~(0xFu << 4);                      /* HPRE /1 */
    CHECK(RCC_CR & CR_PLLRDY);
    RCC_CFGR = (RCC_CFGR & ~3u) | 2u;              /* SW = PLL */
    CHECK(wait_for(&RCC_CFGR, 3u << 2, 2u << 2, 5000));
    RCC_CFGR = (RCC_CFGR & ~(7u << 10)) | (5u << 10);   /* APB1 /4: 42 MHz */
    RCC_CFGR = (RCC_CFGR & ~(7u << 13)) | (4u << 13);   /* APB2 /2: 84 MHz */
    uint32_t pllvco = (HSE_MHZ * 1000000u / HSE_MHZ) * 336u;    /* HSE_VALUE / PLLM * PLLN */
    SystemCoreClock = (pllvco / 2u) >> AHBPrescTable[(RCC_CFGR >> 4) & 0xFu];
    HAL_InitTick();
}

static void __attribute__((unused)) wait_ticks(uint32_t n)
{
    uint32_t start = get_tick();
    while (get_tick() - start < n)
        __asm volatile ("wfi");
}

#if TIMEBASE == 4
static void tim2_pulse_and_periodic(void)
{
    uint32_t psc = apb1_timer_clock() / 1000000u - 1u;   /* 1 MHz counter clock */
    TIM_CR1(TIM2_BASE) = 0;
    TIM_DIER(TIM2_BASE) = 0;
    TIM_PSC(TIM2_BASE) = psc;
    TIM_ARR(TIM2_BASE) = 2500u - 1u;               /* one pulse of 2.5 ms */
    TIM_EGR(TIM2_BASE) = 1u;
    TIM_SR(TIM2_BASE) = 0;
    TIM_CR1(TIM2_BASE) = CR1_OPM | CR1_CEN;
    pulse_begin();
    while (TIM_CR1(TIM2_BASE) & CR1_CEN) { }
    pulse_end();
    CHECK(TIM_SR(TIM2_BASE) & SR_UIF);             /* the pulse ended with an update */
    CHECK(TIM_CNT(TIM2_BASE) == 0);

    TIM_ARR(TIM2_BASE) = 1000u - 1u;               /* periodic: 1 ms updates */
    TIM_EGR(TIM2_BASE) = 1u;
    TIM_SR(TIM2_BASE) = 0;
    tim2_updates = 0;
    TIM_DIER(TIM2_BASE) = 1u;
    TIM_CR1(TIM2_BASE) = CR1_CEN;
    while (tim2_updates < 5u)
        __asm volatile ("wfi");
    TIM_CR1(TIM2_BASE) = 0;
    TIM_DIER(TIM2_BASE) = 0;
}
#endif

int main(void)
{
#if TIMEBASE == 4
    RCC_APB1ENR |= 1u << 0;                        /* TIM2EN */
    (void)RCC_APB1ENR;
    NVIC_IPR8(TIM2_IRQ) = 0x80;
    nvic_enable(TIM2_IRQ);
    RECORD(0, apb1_timer_clock());
    tim2_pulse_and_periodic();
    clock_switch_begin();
    SystemClock_Config();
    clock_switch_end();
    RECORD(1, apb1_timer_clock());
    tim2_pulse_and_periodic();
#else
    HAL_InitTick();
    wait_ticks(5);
    clock_switch_begin();
    SystemClock_Config();
    clock_switch_end();
    RECORD(0, get_tick());
    wait_ticks(5);
#endif
    RECORD(2, SystemCoreClock);
    RECORD(3, RCC_CFGR);
    return 0;
}
