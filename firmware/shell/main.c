/*
 * Reference firmware entry: console and RNG, then the main task prints the boot banner, sets up
 * TLS and the network, prints `ready` once the link is up, and runs the shell.
 */
#include "FreeRTOS.h"
#include "task.h"

#include "lwip/init.h"
#include "mbedtls/version.h"

#include "board.h"
#include "console.h"
#include "network.h"
#include "rng.h"
#include "shell.h"
#include "tls_client.h"
#include "uart.h"
#include "variant.h"

#define MAIN_TASK_PRIORITY 2
#define MAIN_TASK_STACK_WORDS 2048      /* 8 KiB: handshakes (bignum, X.509, debug output) */

/* the kernel heap (configAPPLICATION_ALLOCATED_HEAP): task stacks, queues, semaphores */
uint8_t ucHeap[configTOTAL_HEAP_SIZE] __attribute__((aligned(8)));

static void main_task(void *arg)
{
    (void)arg;
    con_printf("boot: tls-client %s mbedtls %s lwip %s sysclk %lu\n", fw_variant_name,
               MBEDTLS_VERSION_STRING, LWIP_VERSION_STRING, (unsigned long)board_clocks.sysclk);
    con_printf("boot: kernel %s\n", tskKERNEL_VERSION_NUMBER);
    if (board_clocks.error != NULL) {
        con_printf("boot: error clock %s\n", board_clocks.error);
    }
    int ret = tls_client_init();
    if (ret != 0) {
        con_printf("tls: error init -0x%04x (entropy, DRBG or CA certificate)\n", (unsigned)-ret);
    }
    if (network_start() == 0) {
        con_printf("ready\n");
    } else {
        con_printf("boot: error network unavailable; the shell runs without it\n");
    }
    shell_run();
}

int main(void)
{
    uart_init(board_clocks.pclk2, UART_BAUD);
    rng_init();
    console_init();
    if (xTaskCreate(main_task, "main", MAIN_TASK_STACK_WORDS, NULL, MAIN_TASK_PRIORITY, NULL) != pdPASS) {
        board_panic("cannot create the main task (kernel heap too small?)");
    }
    vTaskStartScheduler();
    board_panic("the scheduler returned");
}

void cmd_reboot(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    con_printf("reboot: ok\n");
    uart_flush(200);
    board_reset();
}
