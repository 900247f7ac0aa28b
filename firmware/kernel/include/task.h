/* Task API (FreeRTOS names and semantics). */
#ifndef INC_TASK_H
#define INC_TASK_H

#ifndef INC_FREERTOS_H
#error "include FreeRTOS.h before task.h"
#endif

#define tskKERNEL_VERSION_NUMBER "fw-kernel 1.0"
#define tskIDLE_PRIORITY ((UBaseType_t)0U)

typedef struct tskTaskControlBlock *TaskHandle_t;

#define taskSCHEDULER_SUSPENDED ((BaseType_t)0)
#define taskSCHEDULER_NOT_STARTED ((BaseType_t)1)
#define taskSCHEDULER_RUNNING ((BaseType_t)2)

#define taskYIELD() portYIELD()
#define taskENTER_CRITICAL() portENTER_CRITICAL()
#define taskEXIT_CRITICAL() portEXIT_CRITICAL()
#define taskENTER_CRITICAL_FROM_ISR() portSET_INTERRUPT_MASK_FROM_ISR()
#define taskEXIT_CRITICAL_FROM_ISR(x) portCLEAR_INTERRUPT_MASK_FROM_ISR(x)
#define taskDISABLE_INTERRUPTS() portDISABLE_INTERRUPTS()
#define taskENABLE_INTERRUPTS() portENABLE_INTERRUPTS()

typedef struct xTIME_OUT {
    TickType_t xTimeOnEntering;
} TimeOut_t;

BaseType_t xTaskCreate(TaskFunction_t code, const char *name, const configSTACK_DEPTH_TYPE stack_depth,
                       void *parameters, UBaseType_t priority, TaskHandle_t *created);
void vTaskStartScheduler(void);
void vTaskDelay(const TickType_t ticks);
TickType_t xTaskGetTickCount(void);
TickType_t xTaskGetTickCountFromISR(void);
BaseType_t xTaskGetSchedulerState(void);
TaskHandle_t xTaskGetCurrentTaskHandle(void);
char *pcTaskGetName(TaskHandle_t task);
UBaseType_t uxTaskPriorityGet(const TaskHandle_t task);
UBaseType_t uxTaskGetStackHighWaterMark(TaskHandle_t task);
void vTaskSetTimeOutState(TimeOut_t *timeout);
BaseType_t xTaskCheckForTimeOut(TimeOut_t *timeout, TickType_t *ticks_to_wait);

/* called by the port */
BaseType_t xTaskIncrementTick(void);
void vTaskSwitchContext(void);

/* application hooks */
void vApplicationIdleHook(void);
void vApplicationStackOverflowHook(TaskHandle_t task, char *name);
void vApplicationMallocFailedHook(void);

#endif /* INC_TASK_H */
