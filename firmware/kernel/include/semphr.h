/* Semaphore and mutex API (FreeRTOS names): semaphores are queues of zero-sized items. */
#ifndef SEMAPHORE_H
#define SEMAPHORE_H

#ifndef INC_FREERTOS_H
#error "include FreeRTOS.h before semphr.h"
#endif

#include "queue.h"

typedef QueueHandle_t SemaphoreHandle_t;

#define xSemaphoreCreateBinary() xQueueGenericCreate((UBaseType_t)1, 0, queueQUEUE_TYPE_BINARY_SEMAPHORE)
#define xSemaphoreCreateCounting(max, initial) xQueueCreateCountingSemaphore((max), (initial))
#define xSemaphoreCreateMutex() xQueueCreateMutex(queueQUEUE_TYPE_MUTEX)
#define xSemaphoreTake(sem, ticks) xQueueSemaphoreTake((sem), (ticks))
#define xSemaphoreGive(sem) xQueueGenericSend((QueueHandle_t)(sem), NULL, 0, queueSEND_TO_BACK)
#define xSemaphoreGiveFromISR(sem, woken) xQueueGiveFromISR((QueueHandle_t)(sem), (woken))
#define xSemaphoreTakeFromISR(sem, woken) xQueueReceiveFromISR((QueueHandle_t)(sem), NULL, (woken))
#define vSemaphoreDelete(sem) vQueueDelete((QueueHandle_t)(sem))
#define uxSemaphoreGetCount(sem) uxQueueMessagesWaiting((QueueHandle_t)(sem))

#endif /* SEMAPHORE_H */
