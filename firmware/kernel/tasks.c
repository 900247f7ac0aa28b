/*
 * Scheduler: fixed priorities, round-robin time slicing among equals at each tick, a delayed
 * list ordered by wake-up tick, waits on queue events with timeouts, priority inheritance for
 * mutexes, and an idle task that sleeps (WFI, or the application's idle hook which does it).
 */
#include <string.h>

#include "FreeRTOS.h"
#include "kernel_internal.h"
#include "list.h"
#include "task.h"

#define STACK_FILL_BYTE 0xA5U

typedef struct tskTaskControlBlock {
    volatile StackType_t *top_of_stack;     /* first member: the port's assembly uses it */
    list_item_t state_item;                 /* in a ready, delayed or blocked list */
    list_item_t event_item;                 /* in a queue's waiting list, by priority */
    UBaseType_t priority;
    UBaseType_t base_priority;              /* before priority inheritance */
    UBaseType_t mutexes_held;
    StackType_t *stack;                     /* lowest address */
    configSTACK_DEPTH_TYPE stack_depth;
    char name[configMAX_TASK_NAME_LEN];
} TCB_t;

/* The port's PendSV/SVC handlers read and write it by this name. */
TCB_t *volatile pxCurrentTCB = NULL;

static list_t ready_lists[configMAX_PRIORITIES];
static list_t delayed_list;                 /* waiting with a timeout */
static list_t blocked_list;                 /* waiting without a timeout */
static volatile TickType_t tick_count;
static volatile UBaseType_t top_ready_priority;
static volatile BaseType_t scheduler_running;
static volatile BaseType_t yield_pending;
static int lists_ready;

static void init_lists(void)
{
    if (lists_ready) {
        return;
    }
    for (UBaseType_t p = 0; p < configMAX_PRIORITIES; p++) {
        list_init(&ready_lists[p]);
    }
    list_init(&delayed_list);
    list_init(&blocked_list);
    lists_ready = 1;
}

static void add_to_ready(TCB_t *task)
{
    if (task->priority > top_ready_priority) {
        top_ready_priority = task->priority;
    }
    list_insert_end(&ready_lists[task->priority], &task->state_item);
}

/* Move the running task from its ready list to the delayed or blocked list. */
static void block_current(TickType_t ticks)
{
    TCB_t *task = pxCurrentTCB;
    list_remove(&task->state_item);
    if (ticks == portMAX_DELAY) {
        list_insert_end(&blocked_list, &task->state_item);
    } else {
        task->state_item.value = tick_count + ticks;
        list_insert_by_deadline(&delayed_list, &task->state_item, tick_count);
    }
}

BaseType_t xTaskCreate(TaskFunction_t code, const char *name, const configSTACK_DEPTH_TYPE stack_depth,
                       void *parameters, UBaseType_t priority, TaskHandle_t *created)
{
    configASSERT(priority < configMAX_PRIORITIES);
    StackType_t *stack = pvPortMalloc((size_t)stack_depth * sizeof(StackType_t));
    TCB_t *task = pvPortMalloc(sizeof *task);
    if (stack == NULL || task == NULL) {
        vPortFree(stack);
        vPortFree(task);
        return errCOULD_NOT_ALLOCATE_REQUIRED_MEMORY;
    }
    memset(task, 0, sizeof *task);
    /* the fill pattern lets the overflow check and the high-water mark see untouched stack */
    memset(stack, STACK_FILL_BYTE, (size_t)stack_depth * sizeof(StackType_t));
    task->stack = stack;
    task->stack_depth = stack_depth;
    task->priority = task->base_priority = priority;
    strncpy(task->name, name ? name : "", configMAX_TASK_NAME_LEN - 1);
    list_item_init(&task->state_item, task);
    list_item_init(&task->event_item, task);
    task->event_item.value = configMAX_PRIORITIES - priority;

    StackType_t *top = (StackType_t *)(((uintptr_t)(stack + stack_depth)) & ~(uintptr_t)7);
    task->top_of_stack = pxPortInitialiseStack(top, code, parameters);

    taskENTER_CRITICAL();
    init_lists();
    if (pxCurrentTCB == NULL || (!scheduler_running && priority >= pxCurrentTCB->priority)) {
        pxCurrentTCB = task;
    }
    add_to_ready(task);
    BaseType_t preempt = scheduler_running && priority > pxCurrentTCB->priority;
    taskEXIT_CRITICAL();

    if (created != NULL) {
        *created = task;
    }
    if (preempt) {
        portYIELD();
    }
    return pdPASS;
}

static void idle_task(void *unused)
{
    (void)unused;
    for (;;) {
#if configIDLE_SHOULD_YIELD
        if (ready_lists[tskIDLE_PRIORITY].count > 1) {
            taskYIELD();
        }
#endif
#if configUSE_IDLE_HOOK
        vApplicationIdleHook();     /* FreeRTOS convention: the hook is where the CPU sleeps */
#else
        __asm volatile("dsb \n wfi \n isb" ::: "memory");
#endif
    }
}

void vTaskStartScheduler(void)
{
    BaseType_t ok = xTaskCreate(idle_task, "IDLE", configMINIMAL_STACK_SIZE, NULL, tskIDLE_PRIORITY, NULL);
    configASSERT(ok == pdPASS);
    (void)ok;
    portDISABLE_INTERRUPTS();       /* the port re-enables them when the first task starts */
    tick_count = 0;
    scheduler_running = pdTRUE;
    (void)xPortStartScheduler();
}

BaseType_t kernel_scheduler_started(void)
{
    return scheduler_running;
}

void vTaskDelay(const TickType_t ticks)
{
    if (ticks == 0) {
        taskYIELD();
        return;
    }
    taskENTER_CRITICAL();
    block_current(ticks);
    portYIELD_WITHIN_API();
    taskEXIT_CRITICAL();
}

TickType_t xTaskGetTickCount(void)
{
    return tick_count;      /* one aligned 32-bit load: atomic */
}

TickType_t xTaskGetTickCountFromISR(void)
{
    portASSERT_IF_INTERRUPT_PRIORITY_INVALID();
    return tick_count;
}

BaseType_t xTaskGetSchedulerState(void)
{
    return scheduler_running ? taskSCHEDULER_RUNNING : taskSCHEDULER_NOT_STARTED;
}

TaskHandle_t xTaskGetCurrentTaskHandle(void)
{
    return pxCurrentTCB;
}

char *pcTaskGetName(TaskHandle_t task)
{
    return (task ? task : pxCurrentTCB)->name;
}

UBaseType_t uxTaskPriorityGet(const TaskHandle_t task)
{
    return (task ? task : pxCurrentTCB)->priority;
}

UBaseType_t uxTaskGetStackHighWaterMark(TaskHandle_t task)
{
    const TCB_t *t = task ? task : pxCurrentTCB;
    const uint8_t *p = (const uint8_t *)t->stack;
    size_t untouched = 0;
    while (untouched < t->stack_depth * sizeof(StackType_t) && p[untouched] == STACK_FILL_BYTE) {
        untouched++;
    }
    return (UBaseType_t)(untouched / sizeof(StackType_t));
}

void vTaskSetTimeOutState(TimeOut_t *timeout)
{
    timeout->xTimeOnEntering = tick_count;
}

BaseType_t xTaskCheckForTimeOut(TimeOut_t *timeout, TickType_t *ticks_to_wait)
{
    if (*ticks_to_wait == portMAX_DELAY) {
        return pdFALSE;
    }
    TickType_t now = tick_count;
    TickType_t elapsed = now - timeout->xTimeOnEntering;
    if (elapsed < *ticks_to_wait) {
        *ticks_to_wait -= elapsed;
        timeout->xTimeOnEntering = now;
        return pdFALSE;
    }
    *ticks_to_wait = 0;
    return pdTRUE;
}

BaseType_t xTaskIncrementTick(void)
{
    BaseType_t switch_required = pdFALSE;
    TickType_t now = tick_count + 1;
    tick_count = now;

    while (!list_is_empty(&delayed_list)) {
        list_item_t *head = list_head(&delayed_list);
        if ((int32_t)(now - head->value) < 0) {
            break;
        }
        TCB_t *task = head->owner;
        list_remove(&task->state_item);
        list_remove(&task->event_item);     /* a timed-out wait leaves its queue */
        add_to_ready(task);
        if (task->priority >= pxCurrentTCB->priority) {
            switch_required = pdTRUE;
        }
    }
#if configUSE_TIME_SLICING
    if (ready_lists[pxCurrentTCB->priority].count > 1) {
        switch_required = pdTRUE;
    }
#endif
    if (yield_pending) {
        switch_required = pdTRUE;
    }
    return switch_required;
}

#if configCHECK_FOR_STACK_OVERFLOW > 0
static void check_stack(TCB_t *task)
{
    static const uint32_t fill = 0xA5A5A5A5UL;
    const uint32_t *bottom = (const uint32_t *)task->stack;
    if ((StackType_t *)task->top_of_stack <= task->stack || bottom[0] != fill || bottom[1] != fill ||
        bottom[2] != fill || bottom[3] != fill) {
        vApplicationStackOverflowHook(task, task->name);
    }
}
#endif

void vTaskSwitchContext(void)
{
#if configCHECK_FOR_STACK_OVERFLOW > 0
    check_stack(pxCurrentTCB);
#endif
    yield_pending = pdFALSE;
    while (list_is_empty(&ready_lists[top_ready_priority])) {
        configASSERT(top_ready_priority > 0);   /* the idle task is always ready */
        top_ready_priority--;
    }
    pxCurrentTCB = list_next_owner(&ready_lists[top_ready_priority]);
}

void kernel_wait_on_event(list_t *event_list, TickType_t ticks)
{
    TCB_t *task = pxCurrentTCB;
    configASSERT(scheduler_running);
    task->event_item.value = configMAX_PRIORITIES - task->priority;
    list_insert_sorted(event_list, &task->event_item);
    block_current(ticks);
    portYIELD_WITHIN_API();
}

BaseType_t kernel_wake_from_event(list_t *event_list)
{
    TCB_t *task = list_head(event_list)->owner;
    list_remove(&task->event_item);
    list_remove(&task->state_item);
    add_to_ready(task);
    if (pxCurrentTCB != NULL && task->priority > pxCurrentTCB->priority) {
        yield_pending = pdTRUE;
        return pdTRUE;
    }
    return pdFALSE;
}

TaskHandle_t kernel_mutex_taken(void)
{
    if (pxCurrentTCB != NULL) {
        pxCurrentTCB->mutexes_held++;
    }
    return pxCurrentTCB;
}

static void set_priority(TCB_t *task, UBaseType_t priority)
{
    if (task->state_item.container == &ready_lists[task->priority]) {
        list_remove(&task->state_item);
        task->priority = priority;
        add_to_ready(task);
    } else {
        task->priority = priority;
    }
}

void kernel_priority_inherit(TaskHandle_t holder)
{
    if (holder != NULL && holder->priority < pxCurrentTCB->priority) {
        set_priority(holder, pxCurrentTCB->priority);
    }
}

BaseType_t kernel_priority_disinherit(TaskHandle_t holder)
{
    if (holder == NULL) {
        return pdFALSE;
    }
    configASSERT(holder->mutexes_held > 0);
    holder->mutexes_held--;
    if (holder->priority != holder->base_priority && holder->mutexes_held == 0) {
        set_priority(holder, holder->base_priority);
        return pdTRUE;
    }
    return pdFALSE;
}
