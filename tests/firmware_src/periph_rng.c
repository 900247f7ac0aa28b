/* STM32F4 RNG read the way Mbed TLS's hardware poll does: DRDY checked before every DR read,
 * seed/clock error bits checked, consecutive values compared (FIPS continuous test). */
#include "test.h"
#include "cm4.h"

#define RCC_AHB2ENR REG32(0x40023834u)
#define RNG_CR  REG32(0x50060800u)
#define RNG_SR  REG32(0x50060804u)
#define RNG_DR  REG32(0x50060808u)
#define CR_RNGEN (1u << 2)
#define SR_DRDY  (1u << 0)
#define SR_ERRORS ((1u << 1) | (1u << 2) | (1u << 5) | (1u << 6))

int main(void)
{
    RCC_AHB2ENR |= 1u << 6;                      /* RNGEN clock */
    RNG_CR = CR_RNGEN;
    RECORD(0, RNG_SR);                           /* DRDY must still be 0 here */
    uint32_t polls = 0, previous = 0;
    for (int i = 0; i < 16; i++) {
        while (!(RNG_SR & SR_DRDY))
            polls++;
        CHECK((RNG_SR & SR_ERRORS) == 0);
        uint32_t value = RNG_DR;
        if (i > 0)
            CHECK(value != previous);
        previous = value;
        RECORD(8 + i, value);
    }
    RECORD(1, polls);
    return 0;
}
