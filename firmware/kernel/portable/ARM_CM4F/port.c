/*
 * Cortex-M4F port, with the mechanisms of FreeRTOS's GCC/ARM_CM4F port:
 *  - SVC 0 starts the first task (MSP reset to its initial value, CONTROL cleared);
 *  - PendSV switches context: r4-r11 and EXC_RETURN on the task's stack, plus s16-s31 only when
 *    EXC_RETURN bit 4 is clear (the task used the FPU and the hardware stacked an FP frame);
 *  - SysTick at configTICK_RATE_HZ drives the tick;
 *  - critical sections raise BASEPRI to configMAX_SYSCALL_INTERRUPT_PRIORITY, so interrupts
 *    above that priority (numerically lower) are never delayed by the kernel;
 *  - lazy FP stacking on (FPCCR.ASPEN | LSPEN);
 *  - with configASSERT defined, every FromISR API asserts that the calling ISR's priority is at
 *    or below configMAX_SYSCALL_INTERRUPT_PRIORITY and that PRIGROUP leaves every implemented
 *    priority bit a preemption bit (vPortValidateInterruptPriority).
 */
#include "FreeRTOS.h"
#include "task.h"

#define SHPR3_REG (*(volatile uint32_t *)0xE000ED20UL)
#define SYSTICK_CTRL_REG (*(volatile uint32_t *)0xE000E010UL)
#define SYSTICK_LOAD_REG (*(volatile uint32_t *)0xE000E014UL)
#define SYSTICK_VAL_REG (*(volatile uint32_t *)0xE000E018UL)
#define FPCCR_REG (*(volatile uint32_t *)0xE000EF34UL)
#define ICSR_VECTACTIVE_MASK 0xFFUL
/* one priority byte per external interrupt, NVIC_IPR0 onwards (ARMv7-M ARM B3.4) */
#define NVIC_IPR_BYTES ((volatile uint8_t *)0xE000E400UL)
#define AIRCR_REG (*(volatile uint32_t *)0xE000ED0CUL)
#define AIRCR_PRIGROUP_SHIFT 8
#define AIRCR_PRIGROUP_MASK (7UL << AIRCR_PRIGROUP_SHIFT)
#define FIRST_EXTERNAL_EXCEPTION 16         /* IPSR of IRQ0 */

#define SYSTICK_CLKSOURCE_CPU (1UL << 2)
#define SYSTICK_TICKINT (1UL << 1)
#define SYSTICK_ENABLE (1UL << 0)
#define FPCCR_ASPEN_LSPEN ((1UL << 31) | (1UL << 30))

#define INITIAL_XPSR 0x01000000UL           /* Thumb state */
#define INITIAL_EXC_RETURN 0xFFFFFFFDUL     /* thread mode, PSP, basic frame */

/* Large until the scheduler starts, so critical sections used during start-up (queue and task
 * creation) leave interrupts masked until the first task runs. */
static volatile UBaseType_t critical_nesting = 0xaaaaaaaaUL;

static void task_exit_error(void)
{
    /* a task function returned: FreeRTOS tasks must delete themselves instead */
    configASSERT(0 && "a task function returned");
    portDISABLE_INTERRUPTS();
    for (;;) {
    }
}

StackType_t *pxPortInitialiseStack(StackType_t *top_of_stack, TaskFunction_t code, void *parameters)
{
    /* hardware frame, as exception entry would have stacked it: xPSR, PC, LR, r12, r3-r0 */
    *--top_of_stack = INITIAL_XPSR;
    *--top_of_stack = ((StackType_t)(uintptr_t)code) & ~1UL;
    *--top_of_stack = (StackType_t)(uintptr_t)task_exit_error;
    top_of_stack -= 4;                      /* r12, r3, r2, r1 */
    *--top_of_stack = (StackType_t)(uintptr_t)parameters;   /* r0 */
    /* software frame, as PendSV saves it: EXC_RETURN, then r11-r4 */
    *--top_of_stack = INITIAL_EXC_RETURN;
    top_of_stack -= 8;
    return top_of_stack;
}

void vPortEnterCritical(void)
{
    portDISABLE_INTERRUPTS();
    critical_nesting++;
    if (critical_nesting == 1) {
        /* only the FromISR variants may be used from an interrupt */
        configASSERT((portNVIC_INT_CTRL_REG & ICSR_VECTACTIVE_MASK) == 0);
    }
}

void vPortExitCritical(void)
{
    configASSERT(critical_nesting != 0);
    critical_nesting--;
    if (critical_nesting == 0) {
        portENABLE_INTERRUPTS();
    }
}

#ifdef configASSERT
/* Measured when the scheduler starts: configMAX_SYSCALL_INTERRUPT_PRIORITY reduced to the
 * priority bits this NVIC implements, and the largest AIRCR.PRIGROUP for which all of those bits
 * are preemption bits (no sub-priority). */
static uint8_t max_syscall_priority;
static uint32_t max_prigroup;

static void measure_interrupt_priorities(void)
{
    /* unimplemented low-order priority bits read as zero (ARMv7-M ARM B1.5.4): write all ones
     * into IRQ0's byte and count what sticks */
    volatile uint8_t *probe = &NVIC_IPR_BYTES[0];
    uint8_t saved = *probe;
    *probe = 0xFFu;
    uint8_t implemented = *probe;
    *probe = saved;

    max_syscall_priority = (uint8_t)(configMAX_SYSCALL_INTERRUPT_PRIORITY & implemented);
    /* BASEPRI 0 masks nothing, so a syscall priority that rounds to 0 protects nothing */
    configASSERT(max_syscall_priority != 0);
    configASSERT((configMAX_SYSCALL_INTERRUPT_PRIORITY & ~(uint32_t)implemented) == 0);

    uint32_t bits = 0;
    while (bits < 8 && (implemented & (0x80u >> bits)) != 0) {
        bits++;
    }
    /* PRIGROUP = n makes bits [7:n+1] the preemption priority (B1.5.4): every implemented bit
     * is one while n <= 7 - bits; with 8 bits the least significant one is always sub-priority */
    max_prigroup = bits >= 8 ? 0 : 7 - bits;
}

void vPortValidateInterruptPriority(void)
{
    uint32_t exception;
    __asm volatile("mrs %0, ipsr" : "=r"(exception)::"memory");
    if (exception >= FIRST_EXTERNAL_EXCEPTION) {
        /* This ISR runs above configMAX_SYSCALL_INTERRUPT_PRIORITY (numerically lower), where
         * the kernel's critical sections cannot hold it off, yet it called a FromISR API: give
         * the interrupt a priority numerically >= configMAX_SYSCALL_INTERRUPT_PRIORITY. An IRQ
         * left at its reset priority 0 always fails here. */
        configASSERT(NVIC_IPR_BYTES[exception - FIRST_EXTERNAL_EXCEPTION] >= max_syscall_priority);
    }
    /* sub-priority bits would make BASEPRI masking coarser than the priorities suggest */
    configASSERT(((AIRCR_REG & AIRCR_PRIGROUP_MASK) >> AIRCR_PRIGROUP_SHIFT) <= max_prigroup);
}
#endif /* configASSERT */

__attribute__((naked)) void vPortSVCHandler(void)
{
    __asm volatile(
        "   ldr r3, =pxCurrentTCB           \n"
        "   ldr r1, [r3]                    \n"
        "   ldr r0, [r1]                    \n" /* top of the first task's stack */
        "   ldmia r0!, {r4-r11, r14}        \n" /* r4-r11 and its EXC_RETURN */
        "   msr psp, r0                     \n"
        "   isb                             \n"
        "   mov r0, #0                      \n"
        "   msr basepri, r0                 \n"
        "   bx r14                          \n" /* hardware pops r0-r3, r12, lr, pc, xpsr */
        "   .ltorg                          \n");
}

__attribute__((naked)) void xPortPendSVHandler(void)
{
    __asm volatile(
        "   mrs r0, psp                     \n"
        "   isb                             \n"
        "   ldr r3, =pxCurrentTCB           \n"
        "   ldr r2, [r3]                    \n"
        "   tst r14, #0x10                  \n" /* EXC_RETURN bit 4 clear: FP frame in use */
        "   it eq                           \n"
        "   vstmdbeq r0!, {s16-s31}         \n"
        "   stmdb r0!, {r4-r11, r14}        \n"
        "   str r0, [r2]                    \n" /* save the top of stack in the TCB */
        "   stmdb sp!, {r0, r3}             \n"
        "   mov r0, %0                      \n"
        "   msr basepri, r0                 \n"
        "   dsb                             \n"
        "   isb                             \n"
        "   bl vTaskSwitchContext           \n"
        "   mov r0, #0                      \n"
        "   msr basepri, r0                 \n"
        "   ldmia sp!, {r0, r3}             \n"
        "   ldr r1, [r3]                    \n" /* the task chosen to run next */
        "   ldr r0, [r1]                    \n"
        "   ldmia r0!, {r4-r11, r14}        \n"
        "   tst r14, #0x10                  \n"
        "   it eq                           \n"
        "   vldmiaeq r0!, {s16-s31}         \n"
        "   msr psp, r0                     \n"
        "   isb                             \n"
        "   bx r14                          \n"
        "   .ltorg                          \n"
        ::"i"(configMAX_SYSCALL_INTERRUPT_PRIORITY));
}

void xPortSysTickHandler(void)
{
    /* SysTick runs at the lowest priority; mask the kernel-aware interrupts while ticking */
    vPortRaiseBASEPRI();
    if (xTaskIncrementTick() != pdFALSE) {
        portNVIC_INT_CTRL_REG = portNVIC_PENDSVSET_BIT;
    }
    vPortSetBASEPRI(0);
}

__attribute__((naked, noreturn)) static void start_first_task(void)
{
    __asm volatile(
        "   ldr r0, =0xE000ED08             \n" /* VTOR -> vector table -> initial MSP */
        "   ldr r0, [r0]                    \n"
        "   ldr r0, [r0]                    \n"
        "   msr msp, r0                     \n" /* main()'s stack is not needed any more */
        "   mov r0, #0                      \n"
        "   msr control, r0                 \n" /* MSP, privileged, FPCA clear */
        "   cpsie i                         \n"
        "   cpsie f                         \n"
        "   dsb                             \n"
        "   isb                             \n"
        "   svc 0                           \n"
        "   nop                             \n"
        "   .ltorg                          \n");
}

BaseType_t xPortStartScheduler(void)
{
#ifdef configASSERT
    measure_interrupt_priorities();
#endif
    /* PendSV and SysTick at the lowest priority (configKERNEL_INTERRUPT_PRIORITY) */
    SHPR3_REG |= ((uint32_t)configKERNEL_INTERRUPT_PRIORITY << 16) |
                 ((uint32_t)configKERNEL_INTERRUPT_PRIORITY << 24);

    SYSTICK_CTRL_REG = 0;
    SYSTICK_VAL_REG = 0;
    SYSTICK_LOAD_REG = (configCPU_CLOCK_HZ / configTICK_RATE_HZ) - 1UL;
    SYSTICK_CTRL_REG = SYSTICK_CLKSOURCE_CPU | SYSTICK_TICKINT | SYSTICK_ENABLE;

    critical_nesting = 0;
    FPCCR_REG |= FPCCR_ASPEN_LSPEN;
    start_first_task();
    return 0;
}
