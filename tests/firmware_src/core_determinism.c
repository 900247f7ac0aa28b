/* A small interrupt-driven program whose output depends on the seed: RNG values printed in hex
 * on USART1 through a TXE-interrupt ring buffer, SysTick ticks, WFI idle between prints. Two
 * runs with the same seed must produce identical UART bytes, instruction counts and memory; a
 * different seed must change the bytes. */
#include "test.h"
#include "cm4.h"

#define RCC_AHB2ENR REG32(0x40023834u)
#define RCC_APB2ENR REG32(0x40023844u)
#define RNG_CR REG32(0x50060800u)
#define RNG_SR REG32(0x50060804u)
#define RNG_DR REG32(0x50060808u)
#define USART1_SR  REG32(0x40011000u)
#define USART1_DR  REG32(0x40011004u)
#define USART1_BRR REG32(0x40011008u)
#define USART1_CR1 REG32(0x4001100Cu)
#define USART1_IRQ 37

static volatile char ring[256];
static volatile uint8_t head, tail;
static volatile uint32_t ticks;

void SysTick_Handler(void) { ticks++; }

void USART1_IRQHandler(void)
{
    if (USART1_SR & (1u << 7)) {
        if (head != tail)
            USART1_DR = ring[tail++];
        else
            USART1_CR1 &= ~(1u << 7);             /* nothing left: TXE interrupt off */
    }
}

static void put(char c)
{
    while ((uint8_t)(head + 1) == tail)
        wfi();
    ring[head++] = c;
    USART1_CR1 |= 1u << 7;
}

static void put_hex(uint32_t v)
{
    for (int i = 7; i >= 0; i--)
        put("0123456789abcdef"[(v >> (4 * i)) & 0xF]);
}

int main(void)
{
    RCC_AHB2ENR |= 1u << 6;
    RCC_APB2ENR |= 1u << 4;
    USART1_BRR = 0x2D9;
    USART1_CR1 = (1u << 13) | (1u << 3);
    nvic_set_priority(USART1_IRQ, 0x80);
    nvic_enable(USART1_IRQ);
    SYST_RVR = 168000u - 1;
    SYST_CVR = 0;
    SYST_CSR = 7;
    RNG_CR = 1u << 2;
    for (int i = 0; i < 8; i++) {
        while (!(RNG_SR & 1u))
            ;
        put_hex(RNG_DR);
        put(' ');
        put_hex(ticks);
        put('\r');
        put('\n');
    }
    while (head != tail || !(USART1_SR & (1u << 6)))   /* drain: TC */
        wfi();
    SYST_CSR = 0;
    RECORD(0, ticks);
    return 0;
}
