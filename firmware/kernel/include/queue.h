/* Queue API (FreeRTOS names and semantics). */
#ifndef QUEUE_H
#define QUEUE_H

#ifndef INC_FREERTOS_H
#error "include FreeRTOS.h before queue.h"
#endif

#include "task.h"

typedef struct QueueDefinition *QueueHandle_t;

#define queueSEND_TO_BACK ((BaseType_t)0)
#define queueSEND_TO_FRONT ((BaseType_t)1)

#define queueQUEUE_TYPE_BASE ((uint8_t)0U)
#define queueQUEUE_TYPE_MUTEX ((uint8_t)1U)
#define queueQUEUE_TYPE_COUNTING_SEMAPHORE ((uint8_t)2U)
#define queueQUEUE_TYPE_BINARY_SEMAPHORE ((uint8_t)3U)

QueueHandle_t xQueueGenericCreate(const UBaseType_t length, const UBaseType_t item_size, const uint8_t type);
QueueHandle_t xQueueCreateMutex(const uint8_t type);
QueueHandle_t xQueueCreateCountingSemaphore(const UBaseType_t max_count, const UBaseType_t initial_count);
BaseType_t xQueueGenericSend(QueueHandle_t queue, const void *const item, TickType_t ticks_to_wait,
                             const BaseType_t position);
BaseType_t xQueueGenericSendFromISR(QueueHandle_t queue, const void *const item,
                                    BaseType_t *const higher_priority_task_woken, const BaseType_t position);
BaseType_t xQueueGiveFromISR(QueueHandle_t queue, BaseType_t *const higher_priority_task_woken);
BaseType_t xQueueReceive(QueueHandle_t queue, void *const buffer, TickType_t ticks_to_wait);
BaseType_t xQueueSemaphoreTake(QueueHandle_t queue, TickType_t ticks_to_wait);
BaseType_t xQueueReceiveFromISR(QueueHandle_t queue, void *const buffer, BaseType_t *const higher_priority_task_woken);
UBaseType_t uxQueueMessagesWaiting(const QueueHandle_t queue);
UBaseType_t uxQueueMessagesWaitingFromISR(const QueueHandle_t queue);
UBaseType_t uxQueueSpacesAvailable(const QueueHandle_t queue);
void vQueueDelete(QueueHandle_t queue);

#define xQueueCreate(length, item_size) xQueueGenericCreate((length), (item_size), queueQUEUE_TYPE_BASE)
#define xQueueSend(q, item, ticks) xQueueGenericSend((q), (item), (ticks), queueSEND_TO_BACK)
#define xQueueSendToBack(q, item, ticks) xQueueGenericSend((q), (item), (ticks), queueSEND_TO_BACK)
#define xQueueSendToFront(q, item, ticks) xQueueGenericSend((q), (item), (ticks), queueSEND_TO_FRONT)
#define xQueueSendFromISR(q, item, woken) xQueueGenericSendFromISR((q), (item), (woken), queueSEND_TO_BACK)
#define xQueueSendToBackFromISR(q, item, woken) xQueueGenericSendFromISR((q), (item), (woken), queueSEND_TO_BACK)
#define xQueueSendToFrontFromISR(q, item, woken) xQueueGenericSendFromISR((q), (item), (woken), queueSEND_TO_FRONT)

#endif /* QUEUE_H */
