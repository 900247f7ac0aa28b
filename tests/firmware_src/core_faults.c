/* One fault per build (-DSCENARIO=n); the Python side checks the machine's report.
 *   1 unmapped read          2 undefined instruction (UDF)    3 write to flash
 *   4 jump to unmapped code  5 invalid EXC_RETURN              6 stack overflow on entry
 *   7 run away (endless loop in Thread mode: the run must end at its limit, not hang)
 *   8 endless loop with interrupts disabled (stuck for good: reported at once)
 * With fault_mode="firmware" scenario 1 enters the firmware's HardFault_Handler (BusFault is
 * disabled, so it escalates: HFSR.FORCED) or BusFault_Handler when -DENABLE_BUSFAULT=1; those
 * handlers loop forever, which the machine must notice. -DDOUBLE_FAULT=1 makes HardFault_Handler
 * fault again (lockup). */
#include "test.h"
#include "cm4.h"

#ifndef SCENARIO
#define SCENARIO 1
#endif

volatile uint32_t sink;

__attribute__((noinline)) void fault_unmapped_read(void)
{
    sink = *(volatile uint32_t *)0x30000004u;
}

__attribute__((noinline)) void fault_undefined(void)
{
    __asm volatile("udf #7");
}

__attribute__((noinline)) void fault_flash_write(void)
{
    *(volatile uint32_t *)0x08010000u = 0x12345678u;
}

__attribute__((noinline)) void fault_jump_unmapped(void)
{
    void (*f)(void) = (void (*)(void))0x30000001u;
    f();
}

void EXTI0_IRQHandler(void)
{
    __asm volatile("ldr r0, =0xFFFFFFF5\n bx r0");    /* not a valid EXC_RETURN */
}

__attribute__((noinline)) void fault_stack_overflow(void)
{
    __asm volatile("msr msp, %0" :: "r"(0x20000010u));
    nvic_enable(6);
    nvic_pend(6);
}

__attribute__((noinline)) void run_away(void)
{
    for (;;)
        __asm volatile("nop");
}

void HardFault_Handler(void)
{
#if DOUBLE_FAULT
    sink = *(volatile uint32_t *)0x30000008u;
#endif
    for (;;)
        ;
}

void BusFault_Handler(void)
{
    for (;;)
        ;
}

int main(void)
{
#if ENABLE_BUSFAULT
    SCB_SHCSR |= 1u << 17;
#endif
    switch (SCENARIO) {
    case 1: fault_unmapped_read(); break;
    case 2: fault_undefined(); break;
    case 3: fault_flash_write(); break;
    case 4: fault_jump_unmapped(); break;
    case 5: nvic_enable(6); nvic_pend(6); break;
    case 6: fault_stack_overflow(); break;
    case 7: run_away(); break;
    case 8: disable_irq(); for (;;) ; break;
    }
    return 0;
}
