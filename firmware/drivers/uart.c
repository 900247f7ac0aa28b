#include "stm32f407.h"
#include "gpio.h"
#include "uart.h"

#if FW_CONSOLE_USART == 1
#define UART_BASE USART1_BASE
#define UART_GPIO_BASE GPIOA_BASE
#define UART_GPIO_CLOCK RCC_AHB1_GPIOA
#define UART_BUS_ENR RCC_APB2ENR
#define UART_BUS_CLOCK RCC_APB2_USART1
#define UART_TX_PIN 9
#define UART_RX_PIN 10
#else
#define UART_BASE USART2_BASE
#define UART_GPIO_BASE GPIOD_BASE
#define UART_GPIO_CLOCK RCC_AHB1_GPIOD
#define UART_BUS_ENR RCC_APB1ENR
#define UART_BUS_CLOCK RCC_APB1_USART2
#define UART_TX_PIN 5
#define UART_RX_PIN 6
#endif

#include "FreeRTOS.h"
#include "queue.h"
#include "task.h"

/* Priority 7: below configMAX_SYSCALL_INTERRUPT_PRIORITY (5), so the ISR may use FromISR APIs. */
#define UART_IRQ_PRIORITY 7u
#define UART_TX_RING_SIZE 2048u     /* power of two */
#define UART_RX_QUEUE_LEN 256u

struct uart_stats uart_stats;

static char tx_ring[UART_TX_RING_SIZE];
static volatile uint32_t tx_head;   /* written by tasks (inside a critical section) */
static volatile uint32_t tx_tail;   /* written by the ISR */
static QueueHandle_t rx_queue;

void uart_init(uint32_t pclk_hz, uint32_t baud)
{
    RCC_AHB1ENR |= UART_GPIO_CLOCK;
    UART_BUS_ENR |= UART_BUS_CLOCK;
    (void)UART_BUS_ENR;

    gpio_set_af(UART_GPIO_BASE, UART_TX_PIN, 7, GPIO_PULL_NONE);  /* TX */
    gpio_set_af(UART_GPIO_BASE, UART_RX_PIN, 7, GPIO_PULL_UP);    /* RX idles high */

    rx_queue = xQueueCreate(UART_RX_QUEUE_LEN, 1);
    configASSERT(rx_queue != NULL);

    USART_CR1(UART_BASE) = 0;
    USART_CR2(UART_BASE) = 0;     /* 1 stop bit */
    USART_CR3(UART_BASE) = 0;
    /* oversampling by 16: BRR = PCLK / baud, mantissa.fraction in 12.4 (84 MHz -> 0x2D9) */
    USART_BRR(UART_BASE) = (pclk_hz + baud / 2) / baud;
    USART_CR1(UART_BASE) = USART_CR1_UE | USART_CR1_TE | USART_CR1_RE | USART_CR1_RXNEIE;

    nvic_enable_irq(UART_IRQ, UART_IRQ_PRIORITY);
}

static uint32_t tx_used(void)
{
    return tx_head - tx_tail;
}

void uart_write(const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        while (tx_used() >= UART_TX_RING_SIZE) {
            if (xTaskGetSchedulerState() == taskSCHEDULER_RUNNING) {
                vTaskDelay(1);      /* ~11 bytes leave per millisecond at 115200 baud */
            } else {
                uart_write_polled(NULL, 0);
            }
        }
        taskENTER_CRITICAL();
        tx_ring[tx_head % UART_TX_RING_SIZE] = data[i];
        tx_head = tx_head + 1;
        USART_CR1(UART_BASE) |= USART_CR1_TXEIE;
        taskEXIT_CRITICAL();
    }
}

int uart_getc(uint8_t *c, uint32_t timeout_ms)
{
    TickType_t ticks = timeout_ms == 0xFFFFFFFFu ? portMAX_DELAY : pdMS_TO_TICKS(timeout_ms);
    return xQueueReceive(rx_queue, c, ticks) == pdPASS;
}

void uart_flush(uint32_t timeout_ms)
{
    TickType_t start = xTaskGetTickCount();
    while (tx_used() != 0 || !(USART_SR(UART_BASE) & USART_SR_TC)) {
        if (xTaskGetTickCount() - start > pdMS_TO_TICKS(timeout_ms)) {
            return;
        }
        vTaskDelay(1);
    }
}

static void put_polled(char c)
{
    while (!(USART_SR(UART_BASE) & USART_SR_TXE)) {
    }
    USART_DR(UART_BASE) = (uint8_t)c;
}

void uart_write_polled(const char *data, size_t len)
{
    USART_CR1(UART_BASE) &= ~USART_CR1_TXEIE;
    while (tx_used() != 0) {
        put_polled(tx_ring[tx_tail % UART_TX_RING_SIZE]);
        tx_tail = tx_tail + 1;
    }
    for (size_t i = 0; i < len; i++) {
        put_polled(data[i]);
    }
    while (!(USART_SR(UART_BASE) & USART_SR_TC)) {
    }
}

void UART_IRQHandler(void)
{
    BaseType_t woken = pdFALSE;
    /* SR then DR: the DR read also clears ORE/FE/NF/PE (RM0090 30.6.1, USART_SR; micropython #4599) */
    uint32_t sr = USART_SR(UART_BASE);

    if (sr & (USART_SR_RXNE | USART_SR_ORE | USART_SR_FE | USART_SR_NF | USART_SR_PE)) {
        uint8_t c = (uint8_t)USART_DR(UART_BASE);
        if (sr & USART_SR_ORE) {
            uart_stats.rx_overruns++;
        }
        if (sr & (USART_SR_FE | USART_SR_NF | USART_SR_PE)) {
            uart_stats.rx_line_errors++;
        }
        if (sr & USART_SR_RXNE) {
            uart_stats.rx_bytes++;
            if (xQueueSendFromISR(rx_queue, &c, &woken) != pdPASS) {
                uart_stats.rx_dropped++;
            }
        }
    }

    if ((sr & USART_SR_TXE) && (USART_CR1(UART_BASE) & USART_CR1_TXEIE)) {
        if (tx_used() != 0) {
            USART_DR(UART_BASE) = (uint8_t)tx_ring[tx_tail % UART_TX_RING_SIZE];
            tx_tail = tx_tail + 1;
        } else {
            USART_CR1(UART_BASE) &= ~USART_CR1_TXEIE;
        }
    }
    portYIELD_FROM_ISR(woken);
}
