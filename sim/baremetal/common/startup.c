/* Startup code shared by the small bare-metal images (sim.baremetal): the full STM32F407 vector
 * table (16 system entries + 82 IRQs, every handler weak so an image defines only what it needs),
 * .data copy, .bss/.ccm zeroing, FPU enable, then main(). An exception nobody handles lands in
 * Default_Handler, which records it in test_result and ends the image instead of hanging.
 * Written by hand from RM0090 section 12.1.3, Table 62 (the STM32F405xx/07xx vector table). */
#include <stdint.h>
#include "test.h"

extern uint32_t _estack, _sidata, _sdata, _edata, _sbss, _ebss, _sccm, _eccm;
int main(void);
void Reset_Handler(void);
void Default_Handler(void);

void NMI_Handler(void) __attribute__((weak, alias("Default_Handler")));
void HardFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void MemManage_Handler(void) __attribute__((weak, alias("Default_Handler")));
void BusFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void UsageFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SVC_Handler(void) __attribute__((weak, alias("Default_Handler")));
void DebugMon_Handler(void) __attribute__((weak, alias("Default_Handler")));
void PendSV_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SysTick_Handler(void) __attribute__((weak, alias("Default_Handler")));
void WWDG_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void PVD_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void TAMP_STAMP_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void RTC_WKUP_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void FLASH_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void RCC_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void EXTI0_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void EXTI1_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void EXTI2_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void EXTI3_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void EXTI4_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void DMA1_Stream0_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void DMA1_Stream1_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void DMA1_Stream2_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void DMA1_Stream3_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void DMA1_Stream4_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void DMA1_Stream5_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void DMA1_Stream6_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void ADC_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void CAN1_TX_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void CAN1_RX0_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void CAN1_RX1_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void CAN1_SCE_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void EXTI9_5_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void TIM1_BRK_TIM9_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void TIM1_UP_TIM10_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void TIM1_TRG_COM_TIM11_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void TIM1_CC_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void TIM2_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void TIM3_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void TIM4_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void I2C1_EV_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void I2C1_ER_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void I2C2_EV_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void I2C2_ER_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void SPI1_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void SPI2_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void USART1_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void USART2_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void USART3_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void EXTI15_10_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void RTC_Alarm_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void OTG_FS_WKUP_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void TIM8_BRK_TIM12_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void TIM8_UP_TIM13_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void TIM8_TRG_COM_TIM14_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void TIM8_CC_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void DMA1_Stream7_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void FSMC_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void SDIO_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void TIM5_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void SPI3_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void UART4_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void UART5_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void TIM6_DAC_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void TIM7_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void DMA2_Stream0_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void DMA2_Stream1_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void DMA2_Stream2_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void DMA2_Stream3_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void DMA2_Stream4_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void ETH_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void ETH_WKUP_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void CAN2_TX_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void CAN2_RX0_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void CAN2_RX1_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void CAN2_SCE_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void OTG_FS_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void DMA2_Stream5_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void DMA2_Stream6_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void DMA2_Stream7_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void USART6_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void I2C3_EV_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void I2C3_ER_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void OTG_HS_EP1_OUT_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void OTG_HS_EP1_IN_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void OTG_HS_WKUP_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void OTG_HS_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void DCMI_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void CRYP_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void RNG_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void FPU_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));

typedef void (*vector_t)(void);

__attribute__((section(".isr_vector"), used))
const vector_t vector_table[16 + 82] = {
    (vector_t)(uintptr_t)&_estack,
    Reset_Handler,
    NMI_Handler,
    HardFault_Handler,
    MemManage_Handler,
    BusFault_Handler,
    UsageFault_Handler,
    0,
    0,
    0,
    0,
    SVC_Handler,
    DebugMon_Handler,
    0,
    PendSV_Handler,
    SysTick_Handler,
    WWDG_IRQHandler,                        /* IRQ 0 */
    PVD_IRQHandler,                         /* IRQ 1 */
    TAMP_STAMP_IRQHandler,                  /* IRQ 2 */
    RTC_WKUP_IRQHandler,                    /* IRQ 3 */
    FLASH_IRQHandler,                       /* IRQ 4 */
    RCC_IRQHandler,                         /* IRQ 5 */
    EXTI0_IRQHandler,                       /* IRQ 6 */
    EXTI1_IRQHandler,                       /* IRQ 7 */
    EXTI2_IRQHandler,                       /* IRQ 8 */
    EXTI3_IRQHandler,                       /* IRQ 9 */
    EXTI4_IRQHandler,                       /* IRQ 10 */
    DMA1_Stream0_IRQHandler,                /* IRQ 11 */
    DMA1_Stream1_IRQHandler,                /* IRQ 12 */
    DMA1_Stream2_IRQHandler,                /* IRQ 13 */
    DMA1_Stream3_IRQHandler,                /* IRQ 14 */
    DMA1_Stream4_IRQHandler,                /* IRQ 15 */
    DMA1_Stream5_IRQHandler,                /* IRQ 16 */
    DMA1_Stream6_IRQHandler,                /* IRQ 17 */
    ADC_IRQHandler,                         /* IRQ 18 */
    CAN1_TX_IRQHandler,                     /* IRQ 19 */
    CAN1_RX0_IRQHandler,                    /* IRQ 20 */
    CAN1_RX1_IRQHandler,                    /* IRQ 21 */
    CAN1_SCE_IRQHandler,                    /* IRQ 22 */
    EXTI9_5_IRQHandler,                     /* IRQ 23 */
    TIM1_BRK_TIM9_IRQHandler,               /* IRQ 24 */
    TIM1_UP_TIM10_IRQHandler,               /* IRQ 25 */
    TIM1_TRG_COM_TIM11_IRQHandler,          /* IRQ 26 */
    TIM1_CC_IRQHandler,                     /* IRQ 27 */
    TIM2_IRQHandler,                        /* IRQ 28 */
    TIM3_IRQHandler,                        /* IRQ 29 */
    TIM4_IRQHandler,                        /* IRQ 30 */
    I2C1_EV_IRQHandler,                     /* IRQ 31 */
    I2C1_ER_IRQHandler,                     /* IRQ 32 */
    I2C2_EV_IRQHandler,                     /* IRQ 33 */
    I2C2_ER_IRQHandler,                     /* IRQ 34 */
    SPI1_IRQHandler,                        /* IRQ 35 */
    SPI2_IRQHandler,                        /* IRQ 36 */
    USART1_IRQHandler,                      /* IRQ 37 */
    USART2_IRQHandler,                      /* IRQ 38 */
    USART3_IRQHandler,                      /* IRQ 39 */
    EXTI15_10_IRQHandler,                   /* IRQ 40 */
    RTC_Alarm_IRQHandler,                   /* IRQ 41 */
    OTG_FS_WKUP_IRQHandler,                 /* IRQ 42 */
    TIM8_BRK_TIM12_IRQHandler,              /* IRQ 43 */
    TIM8_UP_TIM13_IRQHandler,               /* IRQ 44 */
    TIM8_TRG_COM_TIM14_IRQHandler,          /* IRQ 45 */
    TIM8_CC_IRQHandler,                     /* IRQ 46 */
    DMA1_Stream7_IRQHandler,                /* IRQ 47 */
    FSMC_IRQHandler,                        /* IRQ 48 */
    SDIO_IRQHandler,                        /* IRQ 49 */
    TIM5_IRQHandler,                        /* IRQ 50 */
    SPI3_IRQHandler,                        /* IRQ 51 */
    UART4_IRQHandler,                       /* IRQ 52 */
    UART5_IRQHandler,                       /* IRQ 53 */
    TIM6_DAC_IRQHandler,                    /* IRQ 54 */
    TIM7_IRQHandler,                        /* IRQ 55 */
    DMA2_Stream0_IRQHandler,                /* IRQ 56 */
    DMA2_Stream1_IRQHandler,                /* IRQ 57 */
    DMA2_Stream2_IRQHandler,                /* IRQ 58 */
    DMA2_Stream3_IRQHandler,                /* IRQ 59 */
    DMA2_Stream4_IRQHandler,                /* IRQ 60 */
    ETH_IRQHandler,                         /* IRQ 61 */
    ETH_WKUP_IRQHandler,                    /* IRQ 62 */
    CAN2_TX_IRQHandler,                     /* IRQ 63 */
    CAN2_RX0_IRQHandler,                    /* IRQ 64 */
    CAN2_RX1_IRQHandler,                    /* IRQ 65 */
    CAN2_SCE_IRQHandler,                    /* IRQ 66 */
    OTG_FS_IRQHandler,                      /* IRQ 67 */
    DMA2_Stream5_IRQHandler,                /* IRQ 68 */
    DMA2_Stream6_IRQHandler,                /* IRQ 69 */
    DMA2_Stream7_IRQHandler,                /* IRQ 70 */
    USART6_IRQHandler,                      /* IRQ 71 */
    I2C3_EV_IRQHandler,                     /* IRQ 72 */
    I2C3_ER_IRQHandler,                     /* IRQ 73 */
    OTG_HS_EP1_OUT_IRQHandler,              /* IRQ 74 */
    OTG_HS_EP1_IN_IRQHandler,               /* IRQ 75 */
    OTG_HS_WKUP_IRQHandler,                 /* IRQ 76 */
    OTG_HS_IRQHandler,                      /* IRQ 77 */
    DCMI_IRQHandler,                        /* IRQ 78 */
    CRYP_IRQHandler,                        /* IRQ 79 */
    RNG_IRQHandler,                         /* IRQ 80 */
    FPU_IRQHandler,                         /* IRQ 81 */
};

volatile struct test_result test_result;

void test_check(int ok, uint32_t line)
{
    test_result.checks++;
    if (!ok) {
        if (test_result.failures == 0)
            test_result.first_failure_line = line;
        test_result.failures++;
    }
}

void test_finish(void)
{
    test_result.done = 1;
    for (;;)
        __asm volatile ("bkpt #0x42" ::: "memory");
}

__attribute__((used, noreturn)) static void default_handler_report(uint32_t ipsr, const uint32_t *frame)
{
    test_result.unexpected_vector = ipsr & 0x1FFu;
    test_result.unexpected_pc = frame[6];
    test_finish();
}

/* Naked so that LR still holds EXC_RETURN: bit 2 says which stack holds the frame. */
__attribute__((naked)) void Default_Handler(void)
{
    __asm volatile (
        "mrs r0, ipsr\n"
        "tst lr, #4\n"
        "ite eq\n"
        "mrseq r1, msp\n"
        "mrsne r1, psp\n"
        "b default_handler_report\n");
}

void Reset_Handler(void)
{
    /* CP10/CP11 full access: real silicon faults on the first FP instruction without it */
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
    __asm volatile ("dsb\n isb" ::: "memory");
    for (uint32_t *src = &_sidata, *dst = &_sdata; dst < &_edata; )
        *dst++ = *src++;
    for (uint32_t *dst = &_sbss; dst < &_ebss; )
        *dst++ = 0;
    for (uint32_t *dst = &_sccm; dst < &_eccm; )
        *dst++ = 0;
    test_result.magic = TEST_MAGIC;
    main();
    test_finish();
}
