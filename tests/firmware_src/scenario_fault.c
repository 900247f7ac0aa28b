/* A stand-in for a user's image that boots to `ready`, then faults on the first command: it reads
 * an address nothing is mapped at. The scenario runner must end the run at once with the fault
 * report (PC, address, symbol) and the UART tail - not wait for its time limit. */
#include <stdint.h>

#define REG(addr) (*(volatile uint32_t *)(addr))
#define RCC_APB2ENR REG(0x40023844u)
#define USART1_SR   REG(0x40011000u)
#define USART1_DR   REG(0x40011004u)
#define USART1_BRR  REG(0x40011008u)
#define USART1_CR1  REG(0x4001100Cu)

static void put(const char *s)
{
    for (; *s; s++) {
        while (!(USART1_SR & (1u << 7))) {}      /* TXE */
        USART1_DR = (uint8_t)*s;
    }
}

volatile uint32_t fault_sink;

/* Like a real image: the fault handler parks the CPU (the machine notices and reports). */
void HardFault_Handler(void)
{
    for (;;) {
    }
}

__attribute__((noinline)) void handle_command(void)
{
    fault_sink = REG(0x60000000u);               /* FSMC bank 1: not mapped on this board */
}

int main(void)
{
    RCC_APB2ENR |= 1u << 4;                      /* USART1EN */
    USART1_BRR = 0x2D9;                          /* 115200 baud at PCLK2 = 84 MHz */
    USART1_CR1 = (1u << 13) | (1u << 3) | (1u << 2);
    put("boot: scenario_fault\r\nready\r\n");
    while (!(USART1_SR & (1u << 5))) {}          /* RXNE: the first command arrives */
    (void)USART1_DR;
    handle_command();
    put("not reached\r\n");
    return 0;
}
