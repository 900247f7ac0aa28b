/* USART1 driven like the reference firmware: interrupt-driven TX (TXE), RX by RXNE interrupt,
 * then an overrun provoked with RXNEIE off and cleared by the SR-then-DR sequence.
 * The Python side (tests/peripherals/test_firmware_periph.py) injects bytes when the firmware
 * reaches uart_rx_point() / uart_overrun_point() (hooks) and checks the transcript. */
#include "test.h"
#include "cm4.h"

#define RCC_APB2ENR   REG32(0x40023844u)
#define USART1_SR     REG32(0x40011000u)
#define USART1_DR     REG32(0x40011004u)
#define USART1_BRR    REG32(0x40011008u)
#define USART1_CR1    REG32(0x4001100Cu)
#define SR_ORE  (1u << 3)
#define SR_RXNE (1u << 5)
#define SR_TC   (1u << 6)
#define SR_TXE  (1u << 7)
#define CR1_RE (1u << 2)
#define CR1_TE (1u << 3)
#define CR1_RXNEIE (1u << 5)
#define CR1_TXEIE (1u << 7)
#define CR1_UE (1u << 13)
#define USART1_IRQ 37

static const char message[] = "hello from usart1\r\n";
static volatile uint32_t tx_pos, tx_irqs, rx_irqs, rx_len;
static volatile uint8_t rx_buf[32];

void USART1_IRQHandler(void)
{
    uint32_t sr = USART1_SR;
    if (sr & (SR_RXNE | SR_ORE)) {
        uint8_t c = (uint8_t)USART1_DR;          /* SR then DR: also clears ORE */
        if (rx_len < sizeof rx_buf)
            rx_buf[rx_len++] = c;
        rx_irqs++;
    }
    if ((USART1_CR1 & CR1_TXEIE) && (sr & SR_TXE)) {
        tx_irqs++;
        if (message[tx_pos])
            USART1_DR = (uint8_t)message[tx_pos++];
        else
            USART1_CR1 &= ~CR1_TXEIE;
    }
}

/* The Python side hooks these to inject bytes on the line at the right moment. */
void __attribute__((noinline, used)) uart_rx_point(void) { __asm volatile ("" ::: "memory"); }
void __attribute__((noinline, used)) uart_overrun_point(void) { __asm volatile ("" ::: "memory"); }

static void spin(uint32_t n) { for (volatile uint32_t i = 0; i < n; i++) { } }

int main(void)
{
    RCC_APB2ENR |= 1u << 4;                      /* USART1EN */
    CHECK(USART1_SR == 0xC0u);                   /* TXE | TC at reset */
    USART1_BRR = 0x2D9;                          /* 115200 from PCLK2 = 84 MHz */
    USART1_CR1 = CR1_UE | CR1_TE | CR1_RE | CR1_RXNEIE;
    nvic_set_priority(USART1_IRQ, 0x80);
    nvic_enable(USART1_IRQ);
    enable_irq();

    USART1_CR1 |= CR1_TXEIE;
    while (message[tx_pos])
        wfi();                                   /* TXE interrupts wake us for each byte */
    while (!(USART1_SR & SR_TC))
        ;                                        /* TC has no interrupt enabled: poll, a WFI here
                                                    would sleep forever (as on silicon) */
    RECORD(0, tx_pos);
    RECORD(1, tx_irqs);

    uart_rx_point();                             /* Python writes "ping\n" */
    while (rx_len < 5)
        wfi();
    RECORD(2, rx_len);
    RECORD(3, rx_buf[0] | rx_buf[1] << 8 | rx_buf[2] << 16 | rx_buf[3] << 24);
    RECORD(4, rx_irqs);

    /* overrun: nobody reads while three bytes arrive */
    USART1_CR1 &= ~CR1_RXNEIE;
    uart_overrun_point();                        /* Python writes "XYZ" */
    spin(40000);                                 /* > 3 character times */
    uint32_t sr = USART1_SR;
    RECORD(5, sr);
    RECORD(6, USART1_DR);                        /* SR then DR: clears ORE, returns 'X' */
    RECORD(7, USART1_SR);
    return 0;
}
