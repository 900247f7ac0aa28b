/*
 * Cortex-M4F port definitions: BASEPRI critical sections up to configMAX_SYSCALL_INTERRUPT_PRIORITY,
 * PendSV for every context switch, SysTick for the tick, SVC to start the first task.
 */
#ifndef PORTMACRO_H
#define PORTMACRO_H

#include <stdint.h>

typedef uint32_t StackType_t;
typedef long BaseType_t;
typedef unsigned long UBaseType_t;
typedef uint32_t TickType_t;

#define portMAX_DELAY ((TickType_t)0xffffffffUL)
#define portSTACK_GROWTH (-1)
#define portTICK_PERIOD_MS ((TickType_t)1000 / configTICK_RATE_HZ)
#define portBYTE_ALIGNMENT 8

#define portNVIC_INT_CTRL_REG (*(volatile uint32_t *)0xE000ED04UL)
#define portNVIC_PENDSVSET_BIT (1UL << 28UL)

/* Pend PendSV; inside a critical section the switch happens when BASEPRI drops. */
#define portYIELD()                                         \
    do {                                                    \
        portNVIC_INT_CTRL_REG = portNVIC_PENDSVSET_BIT;     \
        __asm volatile("dsb" ::: "memory");                 \
        __asm volatile("isb");                              \
    } while (0)
#define portYIELD_WITHIN_API portYIELD
#define portEND_SWITCHING_ISR(switch_required) \
    do {                                       \
        if ((switch_required) != pdFALSE) {    \
            portYIELD();                       \
        }                                      \
    } while (0)
#define portYIELD_FROM_ISR(x) portEND_SWITCHING_ISR(x)

void vPortEnterCritical(void);
void vPortExitCritical(void);

static inline __attribute__((always_inline)) void vPortRaiseBASEPRI(void)
{
    uint32_t value = configMAX_SYSCALL_INTERRUPT_PRIORITY;
    __asm volatile("msr basepri, %0 \n isb \n dsb" : : "r"(value) : "memory");
}

static inline __attribute__((always_inline)) uint32_t ulPortRaiseBASEPRI(void)
{
    uint32_t original, value = configMAX_SYSCALL_INTERRUPT_PRIORITY;
    __asm volatile("mrs %0, basepri \n msr basepri, %1 \n isb \n dsb"
                   : "=&r"(original) : "r"(value) : "memory");
    return original;
}

static inline __attribute__((always_inline)) void vPortSetBASEPRI(uint32_t value)
{
    __asm volatile("msr basepri, %0" : : "r"(value) : "memory");
}

#define portDISABLE_INTERRUPTS() vPortRaiseBASEPRI()
#define portENABLE_INTERRUPTS() vPortSetBASEPRI(0)
#define portENTER_CRITICAL() vPortEnterCritical()
#define portEXIT_CRITICAL() vPortExitCritical()
#define portSET_INTERRUPT_MASK_FROM_ISR() ulPortRaiseBASEPRI()
#define portCLEAR_INTERRUPT_MASK_FROM_ISR(x) vPortSetBASEPRI(x)
#define portNOP()

/* An ISR that calls a FromISR API must not have a priority above (numerically below)
 * configMAX_SYSCALL_INTERRUPT_PRIORITY: critical sections would not mask it. Checked, as in
 * FreeRTOS's port, whenever the application defines configASSERT. */
#ifdef configASSERT
void vPortValidateInterruptPriority(void);
#define portASSERT_IF_INTERRUPT_PRIORITY_INVALID() vPortValidateInterruptPriority()
#endif

#endif /* PORTMACRO_H */
