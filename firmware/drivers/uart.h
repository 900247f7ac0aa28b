/*
 * USART1 console (PA9 TX / PA10 RX, AF7). TX is interrupt-driven from a ring buffer (TXE
 * interrupt), RX goes by RXNE interrupt into a kernel queue. Lines are sent as written; the
 * console layer above adds CR before LF.
 */
#ifndef DRIVERS_UART_H
#define DRIVERS_UART_H

#include <stddef.h>
#include <stdint.h>

#define UART_BAUD 115200u

struct uart_stats {
    uint32_t rx_bytes;
    uint32_t rx_overruns;       /* ORE seen: a byte was lost in hardware */
    uint32_t rx_dropped;        /* the RX queue was full */
    uint32_t rx_line_errors;    /* FE / NF / PE */
};
extern struct uart_stats uart_stats;

/* Before the scheduler starts: clocks, pins, BRR from pclk2, queue, NVIC. */
void uart_init(uint32_t pclk2_hz, uint32_t baud);

/* Queue bytes for transmission; waits (task context) while the ring is full. */
void uart_write(const char *data, size_t len);

/* Next received byte; returns 0 on timeout (timeout_ms 0xFFFFFFFF waits forever). */
int uart_getc(uint8_t *c, uint32_t timeout_ms);

/* Wait until every queued byte has left the shift register (before a reset). */
void uart_flush(uint32_t timeout_ms);

/* Fault path: interrupts off, drain the ring and write by polling TXE. */
void uart_write_polled(const char *data, size_t len);

#endif
