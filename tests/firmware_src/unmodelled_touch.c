/* A stand-in for a user image that touches hardware the platform does not model, and stores into
 * flash outside a programming sequence (a NULL-pointer store lands in the boot alias of flash):
 * - reads TIM1's CR1 and polls its SR (the advanced-control TIM1 is not in the platform file),
 * - writes the FSMC's first bank (nothing mapped there) and reads it back,
 * - reads past the end of USART1's register window (the page is mapped, no register there),
 * - stores through a NULL pointer, and copies 4 words into flash with a post-increment loop,
 * - unlocks the flash interface, programs one word with PG and PSIZE x32, and reads it back.
 * With on_unmapped="warn" it reaches test_finish(); RECORD()s say what each access gave. */
#include "test.h"

#define REG32(a) (*(volatile uint32_t *)(a))
#define TIM1_CR1  REG32(0x40010000u)
#define TIM1_SR   REG32(0x40010010u)
#define FSMC_BANK REG32(0x60000004u)
#define USART1_GAP REG32(0x40011200u)
#define FLASH_KEYR REG32(0x40023C04u)
#define FLASH_SR   REG32(0x40023C0Cu)
#define FLASH_CR   REG32(0x40023C10u)

static volatile uint32_t *volatile null_pointer;

__attribute__((noinline)) static void copy_to_flash(volatile uint32_t *dst, const uint32_t *src, int n)
{
    while (n--)
        *dst++ = *src++;                       /* a store with address writeback */
}

int main(void)
{
    static const uint32_t words[4] = {0x11111111u, 0x22222222u, 0x33333333u, 0x44444444u};
    volatile uint32_t *flash_word = (volatile uint32_t *)0x08080000u;
    volatile uint32_t *target = (volatile uint32_t *)0x080C0000u;

    RECORD(0, TIM1_CR1);
    uint32_t polls = 0;
    while (!(TIM1_SR & 1u) && polls < 100)
        polls++;                               /* never set: an unmodelled timer never ticks */
    RECORD(1, polls);
    FSMC_BANK = 0xCAFEF00Du;
    RECORD(2, FSMC_BANK);
    RECORD(3, USART1_GAP);

    uint32_t before = *flash_word;
    *null_pointer = 0xDEADBEEFu;               /* NULL: flash's boot alias at 0x0 */
    RECORD(4, FLASH_SR);                       /* PGSERR | PGPERR expected */
    FLASH_SR = 0xF3u;                          /* clear the error flags (rc_w1) */
    copy_to_flash(flash_word, words, 4);
    RECORD(5, *flash_word == before);          /* not performed */
    RECORD(6, FLASH_SR);
    RECORD(7, *(volatile uint32_t *)0 == *(volatile uint32_t *)0x08000000u);   /* vector table intact */

    FLASH_SR = 0xF3u;
    FLASH_KEYR = 0x45670123u;
    FLASH_KEYR = 0xCDEF89ABu;
    FLASH_CR = (2u << 8) | 1u;                 /* PSIZE x32, PG */
    *target = 0x5A5AA5A5u;
    FLASH_CR = 0x80000000u;                    /* lock again */
    RECORD(8, *target);
    RECORD(9, FLASH_SR);
    return 0;
}
