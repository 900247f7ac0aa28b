/*
 * fw-kernel: a small preemptive kernel offering the subset of the FreeRTOS API this firmware
 * uses (tasks, delays, tick count, queues, binary/counting semaphores, mutexes with priority
 * inheritance, critical sections, FromISR variants) with the mechanisms of FreeRTOS's
 * Cortex-M4F port. Headers carry FreeRTOS's names so that building with
 * FREERTOS_KERNEL_PATH swaps in the real kernel without touching the application.
 */
#ifndef INC_FREERTOS_H
#define INC_FREERTOS_H

#include <stddef.h>
#include <stdint.h>

#include "FreeRTOSConfig.h"
#include "portmacro.h"
#include "projdefs.h"

#ifndef configASSERT
#define configASSERT(x)
#endif
#ifndef portASSERT_IF_INTERRUPT_PRIORITY_INVALID
#define portASSERT_IF_INTERRUPT_PRIORITY_INVALID()
#endif
#ifndef configUSE_IDLE_HOOK
#define configUSE_IDLE_HOOK 0
#endif
#ifndef configUSE_MALLOC_FAILED_HOOK
#define configUSE_MALLOC_FAILED_HOOK 0
#endif
#ifndef configCHECK_FOR_STACK_OVERFLOW
#define configCHECK_FOR_STACK_OVERFLOW 0
#endif
#ifndef configUSE_TIME_SLICING
#define configUSE_TIME_SLICING 1
#endif
#ifndef configAPPLICATION_ALLOCATED_HEAP
#define configAPPLICATION_ALLOCATED_HEAP 0
#endif
#ifndef configMAX_TASK_NAME_LEN
#define configMAX_TASK_NAME_LEN 16
#endif
#ifndef configSTACK_DEPTH_TYPE
#define configSTACK_DEPTH_TYPE uint16_t
#endif
#ifndef configIDLE_SHOULD_YIELD
#define configIDLE_SHOULD_YIELD 1
#endif

#if !defined(configMAX_SYSCALL_INTERRUPT_PRIORITY) || (configMAX_SYSCALL_INTERRUPT_PRIORITY == 0)
#error "configMAX_SYSCALL_INTERRUPT_PRIORITY must be set (non-zero): it is the BASEPRI critical sections use"
#endif
#if !defined(configTOTAL_HEAP_SIZE) || !defined(configMAX_PRIORITIES) || !defined(configTICK_RATE_HZ) || !defined(configCPU_CLOCK_HZ) || !defined(configMINIMAL_STACK_SIZE)
#error "FreeRTOSConfig.h must define configTOTAL_HEAP_SIZE, configMAX_PRIORITIES, configTICK_RATE_HZ, configCPU_CLOCK_HZ and configMINIMAL_STACK_SIZE"
#endif
#if configUSE_PREEMPTION != 1
#error "fw-kernel is preemptive only: set configUSE_PREEMPTION to 1"
#endif

/* port layer (portable.h in FreeRTOS) */
BaseType_t xPortStartScheduler(void);
StackType_t *pxPortInitialiseStack(StackType_t *top_of_stack, TaskFunction_t code, void *parameters);

/* heap */
void *pvPortMalloc(size_t size);
void vPortFree(void *block);
size_t xPortGetFreeHeapSize(void);
size_t xPortGetMinimumEverFreeHeapSize(void);

#endif /* INC_FREERTOS_H */
