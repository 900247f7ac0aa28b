/*
 * Autopost firmware: a device that reports on its own, with no shell. After boot it brings the
 * link up, takes an address by DHCP, sets its clock by SNTP, then POSTs its telemetry body to
 * FW_AUTOPOST_HOST over TLS 1.2 at once and every FW_AUTOPOST_PERIOD_MS, FW_AUTOPOST_POSTS
 * times (autopost_config.h). It logs on USART2 (115200 8N1) what a device log shows: the lease,
 * the DNS answer, the SNTP time, each connection, the handshake, the HTTP status, the digests
 * and, at Mbed TLS debug level 1, the library's error lines.
 */
#include <stdio.h>

#include "FreeRTOS.h"
#include "task.h"

#include "lwip/init.h"
#include "mbedtls/ssl.h"
#include "mbedtls/version.h"

#include "autopost_config.h"
#include "board.h"
#include "console.h"
#include "network.h"
#include "rng.h"
#include "telemetry.h"
#include "tls_client.h"
#include "uart.h"
#include "variant.h"
#include "wallclock.h"

#define MAIN_TASK_PRIORITY 2
#define MAIN_TASK_STACK_WORDS 2048      /* 8 KiB: handshakes (bignum, X.509, debug output) */

/* the kernel heap (configAPPLICATION_ALLOCATED_HEAP): task stacks, queues, semaphores */
uint8_t ucHeap[configTOTAL_HEAP_SIZE] __attribute__((aligned(8)));

/* FW_AUTOPOST_POSTS POSTs (0: forever), one every FW_AUTOPOST_PERIOD_MS */
static void report_periodically(void)
{
    const uint32_t period = pdMS_TO_TICKS(FW_AUTOPOST_PERIOD_MS);
    unsigned ok = 0, failed = 0;
    for (unsigned n = 1; FW_AUTOPOST_POSTS == 0 || n <= FW_AUTOPOST_POSTS; n++) {
        TickType_t start = xTaskGetTickCount();
        if (telemetry_post(n) == 0) {
            ok++;
        } else {
            failed++;
        }
        if (FW_AUTOPOST_POSTS != 0 && n == FW_AUTOPOST_POSTS) {
            break;
        }
        TickType_t spent = xTaskGetTickCount() - start;
        if (spent < period) {
            vTaskDelay(period - spent);
        }
    }
    con_printf("telemetry: done %u posts, %u ok, %u failed\n", ok + failed, ok, failed);
}

static void main_task(void *arg)
{
    (void)arg;
    con_printf("boot: telemetry-client %s mbedtls %s lwip %s sysclk %lu\n", fw_variant_name, MBEDTLS_VERSION_STRING,
               LWIP_VERSION_STRING, (unsigned long)board_clocks.sysclk);
    con_printf("boot: kernel %s\n", tskKERNEL_VERSION_NUMBER);
    if (board_clocks.error != NULL) {
        con_printf("boot: error clock %s\n", board_clocks.error);
    }
    char posts[16] = "forever";
    if (FW_AUTOPOST_POSTS != 0) {
        snprintf(posts, sizeof posts, "%u posts", (unsigned)FW_AUTOPOST_POSTS);
    }
    con_printf("boot: telemetry https://%s:%u%s body %lu bytes, %s every %lu ms\n", FW_AUTOPOST_HOST,
               (unsigned)FW_AUTOPOST_PORT, FW_AUTOPOST_PATH, (unsigned long)FW_AUTOPOST_BODY_SIZE, posts,
               (unsigned long)FW_AUTOPOST_PERIOD_MS);

    /* TLS 1.2 only; the suites in order of preference come from autopost_config.h */
    tls_options.min_minor = MBEDTLS_SSL_MINOR_VERSION_3;
    tls_options.max_minor = MBEDTLS_SSL_MINOR_VERSION_3;
    wallclock_init();
    int ret = tls_client_init();
    if (ret != 0) {
        con_printf("tls: error init -0x%04x (entropy, DRBG or CA certificate)\n", (unsigned)-ret);
    }
    if (network_start() != 0) {
        con_printf("boot: error network unavailable; nothing to report to\n");
        for (;;) {
            vTaskDelay(portMAX_DELAY);
        }
    }
    network_start_sntp();
    if (!wallclock_wait_set(FW_AUTOPOST_TIME_WAIT_MS)) {
        con_printf("sntp: no time after %lu ms; certificate dates will not verify until it comes\n",
                   (unsigned long)FW_AUTOPOST_TIME_WAIT_MS);
    }
    report_periodically();
    for (;;) {
        vTaskDelay(portMAX_DELAY);
    }
}

int main(void)
{
    uart_init(board_clocks.pclk1, UART_BAUD);   /* USART2 runs from APB1 */
    rng_init();
    console_init();
    if (xTaskCreate(main_task, "main", MAIN_TASK_STACK_WORDS, NULL, MAIN_TASK_PRIORITY, NULL) != pdPASS) {
        board_panic("cannot create the main task (kernel heap too small?)");
    }
    vTaskStartScheduler();
    board_panic("the scheduler returned");
}
