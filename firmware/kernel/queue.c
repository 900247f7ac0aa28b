/*
 * Queues, and semaphores/mutexes as queues of zero-sized items. A blocked sender or receiver
 * waits on the queue's event list (highest priority first) and, unless it waits forever, on
 * the delayed list; whichever comes first (the event or the timeout) makes it ready again,
 * and it re-checks the queue.
 */
#include <string.h>

#include "FreeRTOS.h"
#include "kernel_internal.h"
#include "queue.h"
#include "semphr.h"

typedef struct QueueDefinition {
    uint8_t *storage;
    UBaseType_t length;
    UBaseType_t item_size;
    volatile UBaseType_t count;
    UBaseType_t read_index;             /* next item to receive */
    list_t waiting_to_send;
    list_t waiting_to_receive;
    uint8_t type;
    TaskHandle_t holder;                /* mutexes only */
} Queue_t;

QueueHandle_t xQueueGenericCreate(const UBaseType_t length, const UBaseType_t item_size, const uint8_t type)
{
    configASSERT(length > 0);
    Queue_t *q = pvPortMalloc(sizeof *q + (size_t)length * item_size);
    if (q == NULL) {
        return NULL;
    }
    memset(q, 0, sizeof *q);
    q->storage = (uint8_t *)(q + 1);
    q->length = length;
    q->item_size = item_size;
    q->type = type;
    list_init(&q->waiting_to_send);
    list_init(&q->waiting_to_receive);
    return q;
}

QueueHandle_t xQueueCreateMutex(const uint8_t type)
{
    Queue_t *q = xQueueGenericCreate(1, 0, type);
    if (q != NULL) {
        q->count = 1;                   /* available */
    }
    return q;
}

QueueHandle_t xQueueCreateCountingSemaphore(const UBaseType_t max_count, const UBaseType_t initial_count)
{
    configASSERT(initial_count <= max_count);
    Queue_t *q = xQueueGenericCreate(max_count, 0, queueQUEUE_TYPE_COUNTING_SEMAPHORE);
    if (q != NULL) {
        q->count = initial_count;
    }
    return q;
}

void vQueueDelete(QueueHandle_t q)
{
    configASSERT(list_is_empty(&q->waiting_to_send) && list_is_empty(&q->waiting_to_receive));
    vPortFree(q);
}

static void copy_in(Queue_t *q, const void *item, BaseType_t position)
{
    if (q->item_size != 0 && item != NULL) {
        UBaseType_t slot;
        if (position == queueSEND_TO_FRONT) {
            q->read_index = (q->read_index + q->length - 1) % q->length;
            slot = q->read_index;
        } else {
            slot = (q->read_index + q->count) % q->length;
        }
        memcpy(q->storage + slot * q->item_size, item, q->item_size);
    }
    q->count++;
}

static void copy_out(Queue_t *q, void *buffer)
{
    if (q->item_size != 0 && buffer != NULL) {
        memcpy(buffer, q->storage + q->read_index * q->item_size, q->item_size);
        q->read_index = (q->read_index + 1) % q->length;
    }
    q->count--;
}

BaseType_t xQueueGenericSend(QueueHandle_t q, const void *const item, TickType_t ticks_to_wait,
                             const BaseType_t position)
{
    TimeOut_t timeout;
    BaseType_t timeout_set = pdFALSE;

    for (;;) {
        taskENTER_CRITICAL();
        if (q->count < q->length) {
            BaseType_t yield = pdFALSE;
            copy_in(q, item, position);
            if (q->type == queueQUEUE_TYPE_MUTEX) {
                configASSERT(q->holder == xTaskGetCurrentTaskHandle());
                yield = kernel_priority_disinherit(q->holder);
                q->holder = NULL;
            }
            if (!list_is_empty(&q->waiting_to_receive) && kernel_wake_from_event(&q->waiting_to_receive)) {
                yield = pdTRUE;
            }
            if (yield) {
                portYIELD_WITHIN_API();
            }
            taskEXIT_CRITICAL();
            return pdPASS;
        }
        if (ticks_to_wait == 0) {
            taskEXIT_CRITICAL();
            return errQUEUE_FULL;
        }
        if (!timeout_set) {
            vTaskSetTimeOutState(&timeout);
            timeout_set = pdTRUE;
        } else if (xTaskCheckForTimeOut(&timeout, &ticks_to_wait)) {
            taskEXIT_CRITICAL();
            return errQUEUE_FULL;
        }
        kernel_wait_on_event(&q->waiting_to_send, ticks_to_wait);
        taskEXIT_CRITICAL();    /* the switch happens here; we resume when ready again */
    }
}

BaseType_t xQueueReceive(QueueHandle_t q, void *const buffer, TickType_t ticks_to_wait)
{
    TimeOut_t timeout;
    BaseType_t timeout_set = pdFALSE;

    for (;;) {
        taskENTER_CRITICAL();
        if (q->count > 0) {
            copy_out(q, buffer);
            if (q->type == queueQUEUE_TYPE_MUTEX) {
                q->holder = kernel_mutex_taken();
            }
            if (!list_is_empty(&q->waiting_to_send) && kernel_wake_from_event(&q->waiting_to_send)) {
                portYIELD_WITHIN_API();
            }
            taskEXIT_CRITICAL();
            return pdPASS;
        }
        if (ticks_to_wait == 0) {
            taskEXIT_CRITICAL();
            return errQUEUE_EMPTY;
        }
        if (!timeout_set) {
            vTaskSetTimeOutState(&timeout);
            timeout_set = pdTRUE;
        } else if (xTaskCheckForTimeOut(&timeout, &ticks_to_wait)) {
            taskEXIT_CRITICAL();
            return errQUEUE_EMPTY;
        }
        if (q->type == queueQUEUE_TYPE_MUTEX) {
            kernel_priority_inherit(q->holder);
        }
        kernel_wait_on_event(&q->waiting_to_receive, ticks_to_wait);
        taskEXIT_CRITICAL();
    }
}

BaseType_t xQueueSemaphoreTake(QueueHandle_t q, TickType_t ticks_to_wait)
{
    configASSERT(q->item_size == 0);
    return xQueueReceive(q, NULL, ticks_to_wait);
}

BaseType_t xQueueGenericSendFromISR(QueueHandle_t q, const void *const item,
                                    BaseType_t *const higher_priority_task_woken, const BaseType_t position)
{
    BaseType_t result = errQUEUE_FULL;
    portASSERT_IF_INTERRUPT_PRIORITY_INVALID();
    UBaseType_t mask = portSET_INTERRUPT_MASK_FROM_ISR();
    if (q->count < q->length) {
        copy_in(q, item, position);
        if (!list_is_empty(&q->waiting_to_receive) && kernel_wake_from_event(&q->waiting_to_receive) &&
            higher_priority_task_woken != NULL) {
            *higher_priority_task_woken = pdTRUE;
        }
        result = pdPASS;
    }
    portCLEAR_INTERRUPT_MASK_FROM_ISR(mask);
    return result;
}

BaseType_t xQueueGiveFromISR(QueueHandle_t q, BaseType_t *const higher_priority_task_woken)
{
    configASSERT(q->item_size == 0 && q->type != queueQUEUE_TYPE_MUTEX);
    return xQueueGenericSendFromISR(q, NULL, higher_priority_task_woken, queueSEND_TO_BACK);
}

BaseType_t xQueueReceiveFromISR(QueueHandle_t q, void *const buffer, BaseType_t *const higher_priority_task_woken)
{
    BaseType_t result = errQUEUE_EMPTY;
    portASSERT_IF_INTERRUPT_PRIORITY_INVALID();
    UBaseType_t mask = portSET_INTERRUPT_MASK_FROM_ISR();
    if (q->count > 0) {
        copy_out(q, buffer);
        if (!list_is_empty(&q->waiting_to_send) && kernel_wake_from_event(&q->waiting_to_send) &&
            higher_priority_task_woken != NULL) {
            *higher_priority_task_woken = pdTRUE;
        }
        result = pdPASS;
    }
    portCLEAR_INTERRUPT_MASK_FROM_ISR(mask);
    return result;
}

UBaseType_t uxQueueMessagesWaiting(const QueueHandle_t q)
{
    return q->count;
}

UBaseType_t uxQueueMessagesWaitingFromISR(const QueueHandle_t q)
{
    return q->count;
}

UBaseType_t uxQueueSpacesAvailable(const QueueHandle_t q)
{
    return q->length - q->count;
}
