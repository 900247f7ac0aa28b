/* Kernel and library hooks: where the CPU sleeps, and how fatal errors are reported. */
#include <stdarg.h>
#include <stdio.h>

#include "FreeRTOS.h"
#include "task.h"

#include "board.h"
#include "console.h"

/* FreeRTOS calls it from the idle task: sleep until the next interrupt */
void vApplicationIdleHook(void)
{
    __asm volatile("dsb \n wfi \n isb" ::: "memory");
}

void vApplicationStackOverflowHook(TaskHandle_t task, char *name)
{
    (void)task;
    board_panic("stack overflow in task %s", name);
}

void vApplicationMallocFailedHook(void)
{
    board_panic("kernel heap exhausted (configTOTAL_HEAP_SIZE %u)", (unsigned)configTOTAL_HEAP_SIZE);
}

/* configASSERT and LWIP_PLATFORM_ASSERT */
void fw_assert_failed(const char *expr, const char *file, int line)
{
    const char *base = file;
    for (const char *p = file; *p != '\0'; p++) {
        if (*p == '/') {
            base = p + 1;
        }
    }
    board_panic("assert failed: %s at %s:%d", expr, base, line);
}

/* LWIP_PLATFORM_DIAG (only with LWIP_DEBUG) */
void fw_lwip_diag(const char *fmt, ...)
{
    char line[160];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0) {
        con_printf("lwip: %s", line);
    }
}
