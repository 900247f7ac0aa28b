/*
 * Reset entry and vector table (16 system exceptions + 82 STM32F407 interrupts).
 *
 * The kernel's handlers are named SVC_Handler / PendSV_Handler / SysTick_Handler: FreeRTOSConfig.h
 * maps the port's vPortSVCHandler / xPortPendSVHandler / xPortSysTickHandler onto them, the same
 * way for our kernel and for the real FreeRTOS ARM_CM4F port.
 */
#include <stdint.h>
#include <string.h>

#include "stm32f407.h"
#include "board.h"
#include "uart.h"

extern uint32_t _estack;
extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _sccm_bss, _eccm_bss;

extern int main(void);

void Reset_Handler(void);
void NMI_Handler(void);
void HardFault_Handler(void);
void Default_Handler(void);
void SVC_Handler(void);
void PendSV_Handler(void);
void SysTick_Handler(void);
void UART_IRQHandler(void);       /* the console USART's (uart.h) */
void ETH_IRQHandler(void);

typedef void (*vector_t)(void);

#define VECTOR_COUNT (16 + IRQ_COUNT)

/* the range initialiser fills every IRQ with Default_Handler, the two after it override it */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
__attribute__((section(".isr_vector"), used))
const vector_t vector_table[VECTOR_COUNT] = {
    [0] = (vector_t)(uintptr_t)&_estack,
    [1] = Reset_Handler,
    [2] = NMI_Handler,
    [3] = HardFault_Handler,
    [4] = HardFault_Handler,        /* MemManage: not enabled in SHCSR, escalates anyway */
    [5] = HardFault_Handler,        /* BusFault */
    [6] = HardFault_Handler,        /* UsageFault */
    [7 ... 10] = 0,                 /* reserved */
    [11] = SVC_Handler,
    [12] = Default_Handler,         /* DebugMon */
    [13] = 0,                       /* reserved */
    [14] = PendSV_Handler,
    [15] = SysTick_Handler,
    [16 ... VECTOR_COUNT - 1] = Default_Handler,
    [16 + UART_IRQ] = UART_IRQHandler,
    [16 + IRQ_ETH] = ETH_IRQHandler,
};
#pragma GCC diagnostic pop

/* Runs before any C code: grant CP10/CP11 access so that compiler-generated FPU instructions
 * (the ABI is hard-float) cannot fault, then continue in C. */
__attribute__((naked, noreturn)) void Reset_Handler(void)
{
    __asm volatile(
        "ldr r0, =0xE000ED88      \n" /* SCB->CPACR */
        "ldr r1, [r0]             \n"
        "orr r1, r1, #(0xF << 20) \n" /* CP10, CP11 full access */
        "str r1, [r0]             \n"
        "dsb                      \n"
        "isb                      \n"
        "b board_reset_continue   \n");
}

__attribute__((noreturn, used)) void board_reset_continue(void)
{
    size_t data_len = (size_t)((uint8_t *)&_edata - (uint8_t *)&_sdata);
    memcpy(&_sdata, &_sidata, data_len);
    memset(&_sbss, 0, (size_t)((uint8_t *)&_ebss - (uint8_t *)&_sbss));
    /* CCM is not cleared by a reset on silicon; zero it so that every boot starts alike */
    memset(&_sccm_bss, 0, (size_t)((uint8_t *)&_eccm_bss - (uint8_t *)&_sccm_bss));

    SCB_VTOR = (uint32_t)(uintptr_t)vector_table;
    __dsb();

    board_clock_init();
    (void)main();
    for (;;) {
    }
}

void NMI_Handler(void)
{
    board_panic("NMI");
}

/* An interrupt nobody claimed: report its vector number instead of silently spinning. */
void Default_Handler(void)
{
    uint32_t ipsr;
    __asm volatile("mrs %0, ipsr" : "=r"(ipsr));
    board_panic("unexpected exception %lu (IRQ %ld)", (unsigned long)(ipsr & 0x1FFu),
                (long)(ipsr & 0x1FFu) - 16);
}
