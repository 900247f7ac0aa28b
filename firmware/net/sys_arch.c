/*
 * lwIP sys_arch for NO_SYS=0 on the FreeRTOS API: semaphores and mutexes are kernel semaphores,
 * mailboxes are queues of pointers, threads are tasks (stacksize in bytes), sys_now is the
 * 1 kHz tick, protection is a critical section (BASEPRI).
 */
#include "lwip/opt.h"
#include "lwip/sys.h"
#include "lwip/stats.h"

void sys_init(void)
{
}

u32_t sys_now(void)
{
    return (u32_t)(xTaskGetTickCount() * portTICK_PERIOD_MS);
}

sys_prot_t sys_arch_protect(void)
{
    taskENTER_CRITICAL();
    return 0;
}

void sys_arch_unprotect(sys_prot_t pval)
{
    (void)pval;
    taskEXIT_CRITICAL();
}

static TickType_t ms_to_ticks(u32_t timeout_ms)
{
    /* lwIP: 0 means wait forever; otherwise round up so a short wait is never zero */
    if (timeout_ms == 0) {
        return portMAX_DELAY;
    }
    TickType_t ticks = (TickType_t)((timeout_ms + portTICK_PERIOD_MS - 1) / portTICK_PERIOD_MS);
    return ticks ? ticks : 1;
}

static u32_t elapsed_ms(TickType_t start)
{
    return (u32_t)((xTaskGetTickCount() - start) * portTICK_PERIOD_MS);
}

err_t sys_sem_new(sys_sem_t *sem, u8_t count)
{
    sem->handle = xSemaphoreCreateCounting(0xFFFF, count);
    if (sem->handle == NULL) {
        SYS_STATS_INC(sem.err);
        return ERR_MEM;
    }
    return ERR_OK;
}

void sys_sem_free(sys_sem_t *sem)
{
    vSemaphoreDelete(sem->handle);
    sem->handle = NULL;
}

void sys_sem_signal(sys_sem_t *sem)
{
    (void)xSemaphoreGive(sem->handle);
}

u32_t sys_arch_sem_wait(sys_sem_t *sem, u32_t timeout_ms)
{
    TickType_t start = xTaskGetTickCount();
    if (xSemaphoreTake(sem->handle, ms_to_ticks(timeout_ms)) != pdPASS) {
        return SYS_ARCH_TIMEOUT;
    }
    return elapsed_ms(start);
}

err_t sys_mutex_new(sys_mutex_t *mutex)
{
    mutex->handle = xSemaphoreCreateMutex();
    if (mutex->handle == NULL) {
        SYS_STATS_INC(mutex.err);
        return ERR_MEM;
    }
    return ERR_OK;
}

void sys_mutex_free(sys_mutex_t *mutex)
{
    vSemaphoreDelete(mutex->handle);
    mutex->handle = NULL;
}

void sys_mutex_lock(sys_mutex_t *mutex)
{
    (void)xSemaphoreTake(mutex->handle, portMAX_DELAY);
}

void sys_mutex_unlock(sys_mutex_t *mutex)
{
    (void)xSemaphoreGive(mutex->handle);
}

err_t sys_mbox_new(sys_mbox_t *mbox, int size)
{
    mbox->handle = xQueueCreate((UBaseType_t)(size > 0 ? size : 1), sizeof(void *));
    if (mbox->handle == NULL) {
        SYS_STATS_INC(mbox.err);
        return ERR_MEM;
    }
    return ERR_OK;
}

void sys_mbox_free(sys_mbox_t *mbox)
{
    vQueueDelete(mbox->handle);
    mbox->handle = NULL;
}

void sys_mbox_post(sys_mbox_t *mbox, void *msg)
{
    (void)xQueueSendToBack(mbox->handle, &msg, portMAX_DELAY);
}

err_t sys_mbox_trypost(sys_mbox_t *mbox, void *msg)
{
    if (xQueueSendToBack(mbox->handle, &msg, 0) != pdPASS) {
        SYS_STATS_INC(mbox.err);
        return ERR_MEM;
    }
    return ERR_OK;
}

err_t sys_mbox_trypost_fromisr(sys_mbox_t *mbox, void *msg)
{
    BaseType_t woken = pdFALSE;
    if (xQueueSendToBackFromISR(mbox->handle, &msg, &woken) != pdPASS) {
        return ERR_MEM;
    }
    portYIELD_FROM_ISR(woken);
    return ERR_OK;
}

u32_t sys_arch_mbox_fetch(sys_mbox_t *mbox, void **msg, u32_t timeout_ms)
{
    void *dummy;
    TickType_t start = xTaskGetTickCount();
    if (xQueueReceive(mbox->handle, msg ? msg : &dummy, ms_to_ticks(timeout_ms)) != pdPASS) {
        if (msg) {
            *msg = NULL;
        }
        return SYS_ARCH_TIMEOUT;
    }
    return elapsed_ms(start);
}

u32_t sys_arch_mbox_tryfetch(sys_mbox_t *mbox, void **msg)
{
    void *dummy;
    if (xQueueReceive(mbox->handle, msg ? msg : &dummy, 0) != pdPASS) {
        return SYS_MBOX_EMPTY;
    }
    return 0;
}

sys_thread_t sys_thread_new(const char *name, lwip_thread_fn thread, void *arg, int stacksize, int prio)
{
    TaskHandle_t handle = NULL;
    BaseType_t ok = xTaskCreate(thread, name, (configSTACK_DEPTH_TYPE)((stacksize + 3) / 4), arg,
                                (UBaseType_t)prio, &handle);
    LWIP_ASSERT("sys_thread_new: task creation failed", ok == pdPASS);
    (void)ok;
    return handle;
}
