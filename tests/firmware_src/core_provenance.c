/* Who wrote which byte (the write trace, sim/machine/provenance.py): two functions write one
 * buffer in a known order, a bit-band alias sets one bit of it, and an SVC stacks its exception
 * frame. The Python side traces `buffer` and the stack below main's SP and checks the last
 * writer of each byte against this program's order.
 *   buffer[0..11]   fill_all(), then buffer[4..5] patch_middle(); buffer[12..15] never written
 *   buffer[8]       bit 0 set through the SRAM bit-band alias after that (a CPU store that the
 *                   machine does as a read-modify-write of buffer[8..11])
 * values[]: 0 = &buffer, 1 = SP inside the SVC handler (the stacked frame is just above it). */
#include "test.h"
#include "cm4.h"

volatile uint8_t buffer[16];

__attribute__((noinline)) void fill_all(void)
{
    for (unsigned i = 0; i < 12; i++)
        buffer[i] = (uint8_t)(0xA0u + i);
}

__attribute__((noinline)) void patch_middle(void)
{
    buffer[4] = 0x55;
    buffer[5] = 0x66;
}

void SVC_Handler(void)
{
    uint32_t sp;
    __asm volatile("mov %0, sp" : "=r"(sp));
    RECORD(1, sp);
}

int main(void)
{
    RECORD(0, (uint32_t)buffer);
    fill_all();
    patch_middle();
    REG32(0x22000000u + ((uint32_t)&buffer[8] - 0x20000000u) * 32u) = 1;      /* bit 0 */
    __asm volatile("svc #0" ::: "memory");
    CHECK(buffer[4] == 0x55 && buffer[8] == 0xA9u && buffer[12] == 0);
    return 0;
}
