/* The bus built from sim/platform/stm32f407.repl: bit-band aliases of peripherals and SRAM, tagged
 * blocks (reads give the tag value, writes are dropped), and - with -DPAST_END=1 - a read past
 * the end of USART1's register window, which must fault.
 * values[]: 0 = RCC_CR after setting HSEON through its alias, 1 = alias read back,
 *           2 = SRAM word after bit-band writes, 3 = SYSCFG_PMC after a write, 4 = CMPCR. */
#include "test.h"
#include "cm4.h"

#define RCC_CR      REG32(0x40023800u)
#define SYSCFG_PMC  REG32(0x40013804u)
#define SYSCFG_CMPCR REG32(0x40013820u)
#define BITBAND(base, alias, addr, bit) REG32((alias) + ((addr) - (base)) * 32u + (bit) * 4u)
#define PERIPH_BB(addr, bit) BITBAND(0x40000000u, 0x42000000u, addr, bit)
#define SRAM_BB(addr, bit) BITBAND(0x20000000u, 0x22000000u, addr, bit)

volatile uint32_t word;

int main(void)
{
    PERIPH_BB(0x40023800u, 16) = 1;                /* RCC_CR.HSEON, the way ST's HAL does it */
    RECORD(0, RCC_CR);
    CHECK(RCC_CR & (1u << 16));
    RECORD(1, PERIPH_BB(0x40023800u, 16));
    CHECK(PERIPH_BB(0x40023800u, 16) == 1);

    word = 0x10;
    SRAM_BB((uint32_t)&word, 3) = 1;
    SRAM_BB((uint32_t)&word, 4) = 0;
    RECORD(2, word);
    CHECK(word == 0x8);
    CHECK(SRAM_BB((uint32_t)&word, 3) == 1);

    SYSCFG_PMC = 1u << 23;
    RECORD(3, SYSCFG_PMC);
    RECORD(4, SYSCFG_CMPCR);
    CHECK(SYSCFG_CMPCR == 0x100);
#if PAST_END
    RECORD(5, REG32(0x40011104u));                 /* USART1 is <0x40011000, +0x100> */
#endif
    return 0;
}
