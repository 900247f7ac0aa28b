/* What queue.c needs from the scheduler (kernel-private; all calls inside a critical section
 * or with the interrupt mask raised). */
#ifndef KERNEL_INTERNAL_H
#define KERNEL_INTERNAL_H

#include "FreeRTOS.h"
#include "list.h"
#include "task.h"

/* Put the running task on event_list (by priority) and block it for ticks; pends a switch. */
void kernel_wait_on_event(list_t *event_list, TickType_t ticks);
/* Make the highest-priority waiter ready; pdTRUE if it outranks the running task. */
BaseType_t kernel_wake_from_event(list_t *event_list);
/* Mutex bookkeeping: the running task took a mutex; returns its handle. */
TaskHandle_t kernel_mutex_taken(void);
/* Raise the holder to the running task's priority if it is lower. */
void kernel_priority_inherit(TaskHandle_t holder);
/* The holder gives a mutex back; drop inherited priority; pdTRUE if a switch is due. */
BaseType_t kernel_priority_disinherit(TaskHandle_t holder);
BaseType_t kernel_scheduler_started(void);

#endif
