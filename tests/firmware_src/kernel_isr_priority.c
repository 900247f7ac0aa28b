/* The FreeRTOS interrupt-priority rule, on a kernel built with the firmware's own
 * FreeRTOSConfig.h (firmware/common): an ISR may call a FromISR API only if its NVIC priority is at
 * or below configMAX_SYSCALL_INTERRUPT_PRIORITY (numerically >=), and PRIGROUP must leave every
 * implemented priority bit a preemption bit. With configASSERT defined, the port checks both on
 * every FromISR call and asserts otherwise.
 *
 * Written against the FreeRTOS API only, so the same source runs on fw-kernel (firmware/kernel)
 * and on FreeRTOS-Kernel (tests/firmware/kernel_image.py builds either). The Python side sets
 * `isr_priority` (the 8-bit NVIC_IPR value) and `prigroup` once main() is reached.
 *
 * values[0]  1 if configASSERT fired          values[1]  its __LINE__
 * values[2]  IPSR when it fired               values[3]  address of its file name string
 * values[4]  address of its expression string values[5]  1 once the ISR's give returned
 * values[6]  the task's xSemaphoreTake result values[7]  1 once the ISR was entered
 */
#include "FreeRTOS.h"
#include "semphr.h"
#include "task.h"

#include "cm4.h"
#include "test.h"

#define TEST_IRQ 81u                        /* FPU_IRQHandler: no peripheral raises it */

volatile uint8_t isr_priority = 0xF0u;
volatile uint32_t prigroup = 0;

uint32_t SystemCoreClock = 168000000u;
uint8_t ucHeap[configTOTAL_HEAP_SIZE] __attribute__((aligned(8)));
static SemaphoreHandle_t given;

void fw_assert_failed(const char *expr, const char *file, int line)
{
    uint32_t ipsr;
    __asm volatile("mrs %0, ipsr" : "=r"(ipsr));
    RECORD(0, 1);
    RECORD(1, line);
    RECORD(2, ipsr);
    RECORD(3, (uintptr_t)file);
    RECORD(4, (uintptr_t)expr);
    test_finish();
}

void FPU_IRQHandler(void)
{
    BaseType_t woken = pdFALSE;
    RECORD(7, 1);
    (void)xSemaphoreGiveFromISR(given, &woken);
    RECORD(5, 1);
    portYIELD_FROM_ISR(woken);
}

static void check_task(void *arg)
{
    (void)arg;
    NVIC_IPR8(TEST_IRQ) = isr_priority;
    nvic_enable(TEST_IRQ);
    nvic_pend(TEST_IRQ);
    RECORD(6, xSemaphoreTake(given, 50));
    test_finish();
}

void vApplicationIdleHook(void) {}
void vApplicationMallocFailedHook(void) { test_finish(); }
void vApplicationStackOverflowHook(TaskHandle_t task, char *name)
{
    (void)task;
    (void)name;
    test_finish();
}

int main(void)
{
    SCB_AIRCR = 0x05FA0000u | ((prigroup & 7u) << 8);     /* VECTKEY, PRIGROUP */
    given = xSemaphoreCreateBinary();
    CHECK(given != NULL);
    CHECK(xTaskCreate(check_task, "check", 512, NULL, 2, NULL) == pdPASS);
    vTaskStartScheduler();
    return 0;
}
