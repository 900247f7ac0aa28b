/* Code programmed into flash, run, reprogrammed in place and run again (a bootloader updating a
 * routine; the model does not erase, it programs the value as given): the second run must
 * execute - and be counted as - the new instructions.
 *
 * The routine at ROUTINE is first two 16-bit MOVS r0, r0 (encoding 0x0000) and BX LR, then one
 * 32-bit NOP.W (0xF3AF 0x8000) and BX LR: both versions are six bytes from the same address, so
 * they differ only in how many instructions those bytes hold (3, then 2). SysTick VAL, read at the
 * start of the straight-line blocks before and after the call, counts the cycles in between: the
 * LDR, the BLX and the routine (one cycle each at CPI 1).
 *
 * values[]: 0 = VAL difference across the first version's call, 1 = across the second one's,
 *           2 = FLASH_SR after the programming. */
#include "test.h"
#include "cm4.h"

#define FLASH_KEYR REG32(0x40023C04u)
#define FLASH_SR   REG32(0x40023C0Cu)
#define FLASH_CR   REG32(0x40023C10u)
#define ROUTINE    0x080E0000u              /* sector 11, far from this image */

static void program(uint32_t word0, uint32_t word1)
{
    FLASH_KEYR = 0x45670123u;
    FLASH_KEYR = 0xCDEF89ABu;
    FLASH_CR = (2u << 8) | 1u;              /* PSIZE x32, PG */
    REG32(ROUTINE) = word0;
    REG32(ROUTINE + 4u) = word1;
    FLASH_CR = 0x80000000u;                 /* lock */
    __asm volatile("dsb\n isb" ::: "memory");
}

static uint32_t cycles_of_call(void)
{
    uint32_t v0, v1;
    do {
        __asm volatile("b 1f\n 1: ldr %0, [%3]\n blx %2\n ldr %1, [%3]\n"
                       : "=&r"(v0), "=&r"(v1) : "r"(ROUTINE | 1u), "r"(&SYST_CVR)
                       : "r0", "lr", "memory");
    } while (v1 > v0);                      /* retry across a wrap */
    return v0 - v1;
}

int main(void)
{
    SYST_RVR = 0x00FFFFFFu;
    SYST_CVR = 0;
    SYST_CSR = 5;                           /* enable, processor clock, no interrupt */

    program(0x00000000u, 0x00004770u);      /* movs r0, r0; movs r0, r0; bx lr */
    RECORD(0, cycles_of_call());
    program(0x8000F3AFu, 0x00004770u);      /* nop.w; bx lr */
    RECORD(1, cycles_of_call());
    RECORD(2, FLASH_SR);
    return 0;
}
