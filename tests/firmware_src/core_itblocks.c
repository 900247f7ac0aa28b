/* IT blocks under interruption: a loop of conditional (IT) instructions preempted by a SysTick
 * every 997 cycles, so slice ends and interrupts keep landing inside IT blocks. unicorn defers a
 * stop that falls inside an IT block to the block's end; the machine must still count every
 * instruction exactly and take interrupts at architecturally valid points. The result must not
 * depend on how the run is sliced.
 * values[]: 0 = checksum of the loop, 1 = ticks. */
#include "test.h"
#include "cm4.h"

static volatile uint32_t ticks;
void SysTick_Handler(void) { ticks++; }

int main(void)
{
    uint32_t acc = 0, x = 1;
    SYST_RVR = 997 - 1;
    SYST_CVR = 0;
    SYST_CSR = 7;
    for (uint32_t i = 0; i < 20000; i++) {
        __asm volatile(
            "adds %1, %1, %1\n"
            "ite cs\n"
            "addcs %0, %0, #3\n"
            "addcc %0, %0, #5\n"
            "cmp %1, #0\n"
            "itt eq\n"
            "moveq %1, #1\n"
            "addeq %0, %0, #7\n"
            : "+r"(acc), "+r"(x) :: "cc");
    }
    SYST_CSR = 0;
    RECORD(0, acc);
    RECORD(1, ticks);
    CHECK(acc == 20000u / 32u * (31u * 5u + 3u + 7u) + (20000u % 32u) * 5u);
    return 0;
}
