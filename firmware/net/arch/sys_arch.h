/* lwIP OS abstraction on the FreeRTOS API (semaphores, mutexes, mailboxes, threads). */
#ifndef LWIP_ARCH_SYS_ARCH_H
#define LWIP_ARCH_SYS_ARCH_H

#include "FreeRTOS.h"
#include "queue.h"
#include "semphr.h"
#include "task.h"

typedef struct { SemaphoreHandle_t handle; } sys_sem_t;
typedef struct { SemaphoreHandle_t handle; } sys_mutex_t;
typedef struct { QueueHandle_t handle; } sys_mbox_t;
typedef TaskHandle_t sys_thread_t;
typedef int sys_prot_t;

#define sys_sem_valid(sem) ((sem) != NULL && (sem)->handle != NULL)
#define sys_sem_set_invalid(sem) do { if ((sem) != NULL) { (sem)->handle = NULL; } } while (0)
#define sys_mutex_valid(m) ((m) != NULL && (m)->handle != NULL)
#define sys_mutex_set_invalid(m) do { if ((m) != NULL) { (m)->handle = NULL; } } while (0)
#define sys_mbox_valid(mbox) ((mbox) != NULL && (mbox)->handle != NULL)
#define sys_mbox_set_invalid(mbox) do { if ((mbox) != NULL) { (mbox)->handle = NULL; } } while (0)

#endif
