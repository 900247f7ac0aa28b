/*
 * The console UART: USART1 (PA9 TX / PA10 RX) or USART2 (PD5 TX / PD6 RX), both AF7, chosen at
 * build time. TX is interrupt-driven from a ring buffer (TXE interrupt), RX goes by RXNE
 * interrupt into a kernel queue. Lines are sent as written; the console layer above adds CR
 * before LF.
 */
#ifndef DRIVERS_UART_H
#define DRIVERS_UART_H

#include <stddef.h>
#include <stdint.h>

#define UART_BAUD 115200u

/* FW_CONSOLE_USART 1 (default): USART1 on APB2, the shell images' console. 2: USART2 on APB1,
 * the autopost images' log; its PD5/PD6 pins, because PA2 (the other USART2_TX pin) is RMII's
 * MDIO. Interrupt numbers: RM0090 Table 62. */
#ifndef FW_CONSOLE_USART
#define FW_CONSOLE_USART 1
#endif
#if FW_CONSOLE_USART == 1
#define UART_IRQ IRQ_USART1
#define UART_IRQHandler USART1_IRQHandler
#elif FW_CONSOLE_USART == 2
#define UART_IRQ IRQ_USART2
#define UART_IRQHandler USART2_IRQHandler
#else
#error "FW_CONSOLE_USART must be 1 (USART1) or 2 (USART2)"
#endif

struct uart_stats {
    uint32_t rx_bytes;
    uint32_t rx_overruns;       /* ORE seen: a byte was lost in hardware */
    uint32_t rx_dropped;        /* the RX queue was full */
    uint32_t rx_line_errors;    /* FE / NF / PE */
};
extern struct uart_stats uart_stats;

/* Before the scheduler starts: clocks, pins, BRR from the USART's bus clock (PCLK2 for USART1,
 * PCLK1 for USART2), queue, NVIC. */
void uart_init(uint32_t pclk_hz, uint32_t baud);

/* Queue bytes for transmission; waits (task context) while the ring is full. */
void uart_write(const char *data, size_t len);

/* Next received byte; returns 0 on timeout (timeout_ms 0xFFFFFFFF waits forever). */
int uart_getc(uint8_t *c, uint32_t timeout_ms);

/* Wait until every queued byte has left the shift register (before a reset). */
void uart_flush(uint32_t timeout_ms);

/* Fault path: interrupts off, drain the ring and write by polling TXE. */
void uart_write_polled(const char *data, size_t len);

#endif
