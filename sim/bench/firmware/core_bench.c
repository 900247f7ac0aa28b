/* Workloads for measuring the machine (scripts/bench), selected with -DWORKLOAD=n:
 *   1 compute: an integer loop with no memory-mapped I/O and no interrupts
 *   2 exceptions: SVC in a loop, the handler returns at once (entry + return per iteration)
 *   3 mmio: loads from a System Control Space register in a loop
 *   4 interrupts: workload 1 with a SysTick interrupt every 500 cycles (asynchronous
 *     exceptions: the slice ends at the tick, entry, return)
 * Each runs ITERATIONS times, then finishes; values[0] = a checksum of the work.
 *
 * With -DSEMIHOSTING_EXIT=1 the image also runs on QEMU's netduinoplus2 (an STM32F405: the same
 * core, flash and SRAM addresses) as the benchmarks' anchor: at the end it prints the checksum
 * with the semihosting call SYS_WRITE0 and stops QEMU with SYS_EXIT (ARM "Semihosting for
 * AArch32 and AArch64", BKPT 0xAB on M-profile), so QEMU is timed without a debugger. The
 * built-in machine stops at that first BKPT as at a breakpoint, after the same instructions. */
#include "test.h"
#include "cm4.h"

#ifndef WORKLOAD
#define WORKLOAD 1
#endif
#ifndef ITERATIONS
#define ITERATIONS 1000000u
#endif

static volatile uint32_t ticks;

#if SEMIHOSTING_EXIT
#define SYS_WRITE0 0x04u
#define SYS_EXIT 0x18u
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u

static uint32_t semihost(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm volatile("bkpt #0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

/* "checksum 0x%08x\n" without a C library */
static void report_and_exit(uint32_t acc)
{
    static char line[] = "checksum 0x00000000\n";
    for (int i = 0; i < 8; i++)
        line[11 + i] = "0123456789abcdef"[(acc >> (28 - 4 * i)) & 0xFu];
    semihost(SYS_WRITE0, line);
    semihost(SYS_EXIT, (const void *)ADP_STOPPED_APPLICATION_EXIT);
    for (;;)
        ;
}

/* Read at run time: builds for different ITERATIONS then differ in this word only, and their
 * instruction counts only by the loop's iterations (the benchmark counts two short builds). */
static volatile const uint32_t iteration_count = ITERATIONS;
#define LOOP_COUNT iteration_count
#else
#define LOOP_COUNT ITERATIONS
#endif

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
    for (uint32_t i = 0, n = LOOP_COUNT; i < n; i++) {
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
#if SEMIHOSTING_EXIT
    report_and_exit(acc);
#endif
    return 0;
}
