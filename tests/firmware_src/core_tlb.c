/* Memory behaviour the machine's TLB policy must not change (sim/machine/cpu.py: RAM pages are
 * read/write only until code is fetched from them, so stores take unicorn's fast path):
 *  - the first store to a page inside an IT block (a TLB miss there) leaves no IT state behind:
 *    the instructions after the block all run (values[0]);
 *  - code copied to RAM runs (values[1]), and rewriting it is seen by the next call (values[2]);
 *  - plenty of stores to RAM land where they should (values[3], a checksum).
 * Pages 0x20010000-0x20017fff are not touched before the IT-block test (this firmware's .bss
 * and stack are far from them). */
#include "test.h"
#include "cm4.h"

#define FRESH_PAGES 0x20010000u
#define PAGES 32u

static uint32_t it_block_stores(void)
{
    uint32_t after = 0;
    for (uint32_t p = 0; p < PAGES; p++) {
        volatile uint32_t *slot = (volatile uint32_t *)(FRESH_PAGES + p * 1024u);
        __asm volatile(
            "cmp %[p], %[p]\n"
            "it eq\n"
            "streq %[p], [%[slot]]\n"      /* first touch of the page: a TLB miss in an IT block */
            "movs r3, #1\n"                 /* Z = 0 from here on */
            "b 1f\n"                        /* end the block: the next one is looked up afresh */
            "1: adds %[after], %[after], #1\n"
            : [after] "+l"(after) : [p] "l"(p), [slot] "l"(slot) : "r3", "cc", "memory");
    }
    return after;
}

/* A position-independent function to copy into RAM: returns its argument plus an immediate
 * that the test patches (movs r1, #imm8 at offset 0). */
__attribute__((naked, aligned(4))) static void ram_template(void)
{
    __asm volatile("movs r1, #5\n"
                   "adds r0, r0, r1\n"
                   "bx lr\n"
                   "nop\n");
}

static uint16_t ram_code[8] __attribute__((aligned(8)));

int main(void)
{
    RECORD(0, it_block_stores());

    const uint16_t *src = (const uint16_t *)((uint32_t)ram_template & ~1u);
    for (int i = 0; i < 4; i++)
        ram_code[i] = src[i];
    __asm volatile("dsb\n isb" ::: "memory");
    uint32_t (*fn)(uint32_t) = (uint32_t (*)(uint32_t))((uint32_t)ram_code | 1u);
    RECORD(1, fn(100));
    ram_code[0] = 0x2100u | 42u;                     /* movs r1, #42 */
    __asm volatile("dsb\n isb" ::: "memory");
    RECORD(2, fn(100));

    uint32_t sum = 0;
    volatile uint32_t *buf = (volatile uint32_t *)(FRESH_PAGES + PAGES * 1024u);
    for (uint32_t i = 0; i < 4096; i++)
        buf[i] = i * 2654435761u;
    for (uint32_t i = 0; i < 4096; i += 7)
        sum += buf[i];
    RECORD(3, sum);
    return 0;
}
