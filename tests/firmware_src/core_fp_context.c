/* FP context across task switches, the FreeRTOS ARM_CM4F way: two tasks on PSP, started by SVC
 * from hand-built basic frames (EXC_RETURN FD), preempted by SysTick -> PendSV, which saves
 * r4-r11 and, for a task with FP context (EXC_RETURN bit 4 clear), s16-s31. s0-s15 and FPSCR are
 * saved only by the hardware's extended exception frame - so each task keeps its running sum
 * in s0/s1 across thousands of preemptions and gets the exact float result only if the machine
 * stacks extended frames. With extended frames disabled (the machine's negative control) the
 * sums mix and the CHECKs fail.
 *
 * values[]: 0/1 = task A/B result bits, 2/3 = expected, 4 = context switches, 5 = ticks,
 *           6 = EXC_RETURN values seen by PendSV (bitmask: 1 = FD, 2 = ED). */
#include "test.h"
#include "cm4.h"

#define ITERATIONS 20000u
#define TICK_CYCLES 997u                 /* odd, so preemption points wander through the loops */

struct tcb { uint32_t *sp; };
static struct tcb tasks[2];
struct tcb *volatile current;
static uint32_t stack_a[256] __attribute__((aligned(8)));
static uint32_t stack_b[256] __attribute__((aligned(8)));
static volatile uint32_t result_a, result_b, done_a, done_b;
static volatile uint32_t switches, ticks, pendsv_returns;

/* s0 accumulates s1 ITERATIONS times, all in registers (what only the FP frame protects) */
static uint32_t float_sum(uint32_t step_bits)
{
    uint32_t out;
    __asm volatile(
        "vmov s1, %1\n"
        "vsub.f32 s0, s0, s0\n"
        "mov r3, %2\n"
        "1: vadd.f32 s0, s0, s1\n"
        "subs r3, r3, #1\n"
        "bne 1b\n"
        "vmov %0, s0\n"
        : "=r"(out) : "r"(step_bits), "r"(ITERATIONS) : "r3", "s0", "s1", "cc");
    return out;
}

static void task_a(void)
{
    result_a = float_sum(0x3f800000u);         /* 1.0f */
    done_a = 1;
    for (;;)
        __asm volatile("nop");
}

static void task_b(void)
{
    result_b = float_sum(0x40400000u);         /* 3.0f */
    done_b = 1;
    while (!done_a)
        __asm volatile("nop");
    CHECK(result_a == 0x469c4000u);            /* 20000.0f */
    CHECK(result_b == 0x476a6000u);            /* 60000.0f */
    RECORD(0, result_a);
    RECORD(1, result_b);
    RECORD(2, 0x469c4000u);
    RECORD(3, 0x476a6000u);
    RECORD(4, switches);
    RECORD(5, ticks);
    RECORD(6, pendsv_returns);
    CHECK(switches > 50);
    SYST_CSR = 0;
    test_finish();
}

/* PendSV: the context switch of FreeRTOS's ARM_CM4F port (our own code) */
__attribute__((naked)) void PendSV_Handler(void)
{
    __asm volatile(
        "mrs r0, psp\n"
        "tst lr, #0x10\n"
        "it eq\n"
        "vstmdbeq r0!, {s16-s31}\n"
        "stmdb r0!, {r4-r11, lr}\n"
        "ldr r1, =current\n"
        "ldr r2, [r1]\n"
        "str r0, [r2]\n"
        "bl switch_task\n"
        "ldr r1, =current\n"
        "ldr r2, [r1]\n"
        "ldr r0, [r2]\n"
        "ldmia r0!, {r4-r11, lr}\n"
        "tst lr, #0x10\n"
        "it eq\n"
        "vldmiaeq r0!, {s16-s31}\n"
        "msr psp, r0\n"
        "bx lr\n");
}

void switch_task(void)
{
    current = (current == &tasks[0]) ? &tasks[1] : &tasks[0];
    switches++;
}

void SysTick_Handler(void)
{
    uint32_t lr = get_lr();
    ticks++;
    pendsv_returns |= (lr == 0xFFFFFFFDu) ? 1u : (lr == 0xFFFFFFEDu) ? 2u : 0u;
    SCB_ICSR = ICSR_PENDSVSET;
}

/* SVC starts the first task: restore its software frame and return to it on PSP */
__attribute__((naked)) void SVC_Handler(void)
{
    __asm volatile(
        "ldr r1, =current\n"
        "ldr r2, [r1]\n"
        "ldr r0, [r2]\n"
        "ldmia r0!, {r4-r11, lr}\n"
        "msr psp, r0\n"
        "bx lr\n");
}

static uint32_t *initial_frame(uint32_t *top, void (*entry)(void))
{
    uint32_t *sp = top;
    *--sp = 0x01000000u;                       /* xPSR: Thumb */
    *--sp = (uint32_t)entry;                   /* PC */
    *--sp = 0xFFFFFFFFu;                       /* LR: tasks never return */
    for (int i = 0; i < 5; i++)
        *--sp = 0;                             /* r12, r3..r0 */
    *--sp = 0xFFFFFFFDu;                       /* EXC_RETURN: Thread, PSP, basic frame */
    for (int i = 0; i < 8; i++)
        *--sp = 0;                             /* r11..r4 */
    return sp;
}

int main(void)
{
    tasks[0].sp = initial_frame(&stack_a[256], task_a);
    tasks[1].sp = initial_frame(&stack_b[256], task_b);
    current = &tasks[0];
    FPU_FPCCR |= 0xC0000000u;                  /* ASPEN | LSPEN, as FreeRTOS sets them */
    SCB_SHPR8(EXC_PENDSV) = 0xF0;              /* PendSV lowest, SysTick just above */
    SCB_SHPR8(EXC_SYSTICK) = 0xE0;
    SYST_RVR = TICK_CYCLES - 1;
    SYST_CVR = 0;
    SYST_CSR = 7;                              /* processor clock, interrupt, enable */
    __asm volatile("cpsie i\n svc #0" ::: "memory");
    for (;;)
        ;
}
