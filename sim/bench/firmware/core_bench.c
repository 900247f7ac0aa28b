/* Workloads for measuring the machine (scripts/bench), selected with -DWORKLOAD=n:
 *   1 compute: an integer loop with no memory-mapped I/O and no interrupts
 *   2 exceptions: SVC in a loop, the handler returns at once (entry + return per iteration)
 *   3 mmio: loads from a System Control Space register in a loop
 *   4 interrupts: workload 1 with a SysTick interrupt every 500 cycles (asynchronous
 *     exceptions: the slice ends at the tick, entry, return)
 * Each runs ITERATIONS times, then finishes; values[0] = a checksum of the work. */
#include "test.h"
#include "cm4.h"

#ifndef WORKLOAD
#define WORKLOAD 1
#endif
#ifndef ITERATIONS
#define ITERATIONS 1000000u
#endif

static volatile uint32_t ticks;

void SysTick_Handler(void) { ticks++; }

__attribute__((naked)) void SVC_Handler(void)
{
    __asm volatile("bx lr");
}

int main(void)
{
    uint32_t acc = 0x12345678u;
#if WORKLOAD == 4
    SYST_RVR = 500 - 1;
    SYST_CVR = 0;
    SYST_CSR = 7;
#endif
#if WORKLOAD == 1 || WORKLOAD == 4
    for (uint32_t i = 0; i < ITERATIONS; i++) {
        acc ^= acc << 13;
        acc ^= acc >> 17;
        acc ^= acc << 5;
        acc += i;
    }
#elif WORKLOAD == 2
    for (uint32_t i = 0; i < ITERATIONS; i++)
        __asm volatile("svc #0" ::: "memory");
#elif WORKLOAD == 3
    for (uint32_t i = 0; i < ITERATIONS; i++)
        acc += SCB_CPUID;
#endif
    SYST_CSR = 0;
    RECORD(0, acc);
    RECORD(1, ticks);
    return 0;
}
