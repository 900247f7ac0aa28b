/* Exception entry and return: every EXC_RETURN value (F9 E9 FD ED from Thread mode on MSP/PSP
 * with and without FP context, F1 E1 from a nested handler), nested preemption order, the
 * stacked PC of an asynchronous interrupt (taken right after the store that pends it), 8-byte
 * stack alignment (xPSR bit 9), FP registers surviving a handler that clobbers them, and an
 * unprivileged Thread mode that keeps nPRIV across exceptions and gets privilege back by SVC.
 *
 * values[]: 0..5 = EXC_RETURN seen for F9 E9 F1 E1 FD ED scenarios, 6 = nesting order code,
 *           7 = stacked xPSR of the misaligned case, 8 = SVC's EXC_RETURN, 9 = CONTROL after. */
#include "test.h"
#include "cm4.h"

enum { IRQ_OUTER = 0, IRQ_INNER = 1, IRQ_FP_OUTER = 2, IRQ_FP_INNER = 3, IRQ_PROBE = 4 };

struct capture {
    uint32_t exc_return;
    uint32_t stacked_pc;
    uint32_t stacked_xpsr;
    uint32_t ipsr;
    uint32_t count;
};

static volatile struct capture probe, inner, fp_inner, svc;
static volatile uint32_t order;                /* nesting order as a sequence of digits */
static volatile uint32_t probe_clobbers_fp;
static uint32_t process_stack[256] __attribute__((aligned(8)));

static void capture(volatile struct capture *c, uint32_t exc_return, const uint32_t *frame)
{
    c->exc_return = exc_return;
    c->stacked_pc = frame[6];
    c->stacked_xpsr = frame[7];
    c->ipsr = get_ipsr();
    c->count++;
}

/* Naked entry stubs keep LR (EXC_RETURN) and the frame address for the C body. */
#define HANDLER(name, body)                                            \
    void body(uint32_t exc_return, const uint32_t *frame);             \
    __attribute__((naked)) void name(void)                             \
    {                                                                  \
        __asm volatile("mov r0, lr\n"                                  \
                       "tst lr, #4\n"                                  \
                       "ite eq\n"                                      \
                       "mrseq r1, msp\n"                               \
                       "mrsne r1, psp\n"                               \
                       "push {r0, lr}\n"                               \
                       "bl " #body "\n"                                \
                       "pop {r0, pc}\n");                              \
    }

HANDLER(TAMP_STAMP_IRQHandler, fp_outer_body)       /* IRQ 2 */
HANDLER(RTC_WKUP_IRQHandler, fp_inner_body)         /* IRQ 3 */
HANDLER(FLASH_IRQHandler, probe_body)               /* IRQ 4 */
HANDLER(WWDG_IRQHandler, outer_body)                /* IRQ 0 */
HANDLER(PVD_IRQHandler, inner_body)                 /* IRQ 1 */
HANDLER(SVC_Handler, svc_body)

void outer_body(uint32_t exc_return, const uint32_t *frame)
{
    (void)exc_return; (void)frame;
    order = order * 10 + 1;
    nvic_pend(IRQ_INNER);                 /* higher priority: preempts after the barriers */
    dsb();
    isb();
    order = order * 10 + 3;
}

void inner_body(uint32_t exc_return, const uint32_t *frame)
{
    capture(&inner, exc_return, frame);
    order = order * 10 + 2;
}

void fp_outer_body(uint32_t exc_return, const uint32_t *frame)
{
    (void)exc_return; (void)frame;
    __asm volatile("vmov s0, %0" :: "r"(0x3f800000u) : "s0");  /* FP in a handler: FPCA = 1 */
    nvic_pend(IRQ_FP_INNER);
    dsb();
    isb();
}

void fp_inner_body(uint32_t exc_return, const uint32_t *frame)
{
    capture(&fp_inner, exc_return, frame);
}

void probe_body(uint32_t exc_return, const uint32_t *frame)
{
    capture(&probe, exc_return, frame);
    if (probe_clobbers_fp)
        __asm volatile("vmov s0, %0\n vmov s15, %0" :: "r"(0xdeadbeefu) : "s0", "s15");
}

void svc_body(uint32_t exc_return, const uint32_t *frame)
{
    capture(&svc, exc_return, frame);
    /* give Thread mode its privilege back (nPRIV is writable from any handler) */
    __asm volatile("mrs r0, control\n bic r0, r0, #1\n msr control, r0\n isb" ::: "r0", "memory");
}

/* Pend IRQ_PROBE through STIR; returns the address of the instruction after the store and its
 * barriers (DSB, ISB: the architected way to have a pended interrupt taken at once), where the
 * interrupt must be taken. */
__attribute__((noinline)) static uint32_t trigger_probe(void)
{
    uint32_t after;
    __asm volatile("ldr r1, =0xE000EF00\n"
                   "movs r2, %1\n"
                   "str r2, [r1]\n"
                   "dsb\n"
                   "isb\n"
                   "mov %0, pc\n"                 /* reads as this instruction + 4 */
                   : "=r"(after) : "i"(IRQ_PROBE) : "r1", "r2", "memory");
    return after - 4;
}

__attribute__((noinline)) static uint32_t trigger_probe_misaligned(void)
{
    uint32_t after;
    __asm volatile("sub sp, sp, #4\n"              /* SP = 4 mod 8 when the interrupt hits */
                   "ldr r1, =0xE000EF00\n"
                   "movs r2, %1\n"
                   "str r2, [r1]\n"
                   "dsb\n"
                   "isb\n"
                   "mov %0, pc\n"
                   "add sp, sp, #4\n"
                   : "=r"(after) : "i"(IRQ_PROBE) : "r1", "r2", "memory");
    return after - 4;
}

static void fp_touch(void)
{
    __asm volatile("vmov s0, %0\n vmov s15, %1" :: "r"(0x40490fdbu), "r"(0x402df854u) : "s0", "s15");
}

static uint32_t fp_read(int which)
{
    uint32_t v;
    if (which == 0)
        __asm volatile("vmov %0, s0" : "=r"(v));
    else
        __asm volatile("vmov %0, s15" : "=r"(v));
    return v;
}

int main(void)
{
    uint32_t sp_before, after;

    for (unsigned irq = 0; irq <= 4; irq++) {
        nvic_set_priority(irq, (irq == IRQ_INNER || irq == IRQ_FP_INNER) ? 0x40 : 0x80);
        nvic_enable(irq);
    }
    enable_irq();

    /* F9: Thread mode, MSP, no FP context (writing CONTROL clears FPCA) */
    set_control(0);
    sp_before = get_msp();
    after = trigger_probe();
    CHECK(probe.count == 1);
    CHECK(probe.stacked_pc == after);
    CHECK(probe.ipsr == 16 + IRQ_PROBE);
    CHECK(get_msp() == sp_before);
    RECORD(0, probe.exc_return);

    /* E9: Thread mode, MSP, FP context active; the handler clobbers s0/s15 */
    fp_touch();
    probe_clobbers_fp = 1;
    trigger_probe();
    probe_clobbers_fp = 0;
    CHECK(fp_read(0) == 0x40490fdbu);
    CHECK(fp_read(15) == 0x402df854u);
    RECORD(1, probe.exc_return);

    /* F1: nested, the outer handler has no FP context */
    set_control(0);
    order = 0;
    nvic_pend(IRQ_OUTER);
    dsb();
    isb();
    CHECK(order == 123);                    /* outer start, inner, outer end */
    CHECK(inner.ipsr == 16 + IRQ_INNER);
    RECORD(2, inner.exc_return);
    RECORD(6, order);

    /* E1: nested, the outer handler used the FPU */
    nvic_pend(IRQ_FP_OUTER);
    dsb();
    isb();
    CHECK(fp_inner.count == 1);
    RECORD(3, fp_inner.exc_return);

    /* FD: Thread mode on PSP, no FP context */
    set_psp((uint32_t)&process_stack[256]);
    set_control(2);
    CHECK(get_control() == 2);
    sp_before = get_psp();
    after = trigger_probe();
    CHECK(probe.stacked_pc == after);
    CHECK(get_psp() == sp_before);
    CHECK(get_control() == 2);
    RECORD(4, probe.exc_return);

    /* ED: Thread mode on PSP with FP context */
    fp_touch();
    probe_clobbers_fp = 1;
    trigger_probe();
    probe_clobbers_fp = 0;
    CHECK(fp_read(0) == 0x40490fdbu);
    RECORD(5, probe.exc_return);

    /* 8-byte alignment: SP = 4 mod 8 at the interrupt sets stacked xPSR bit 9 */
    set_control(2);
    sp_before = get_psp();
    trigger_probe_misaligned();
    CHECK(probe.stacked_xpsr & (1u << 9));
    CHECK(get_psp() == sp_before);
    RECORD(7, probe.stacked_xpsr);

    /* unprivileged Thread mode keeps nPRIV across an interrupt; SVC gives privilege back */
    set_control(3);
    CHECK(get_control() == 3);
    trigger_probe();
    CHECK(get_control() == 3);
    __asm volatile("svc #1" ::: "memory");
    RECORD(8, svc.exc_return);
    RECORD(9, get_control());
    CHECK(svc.count == 1);
    CHECK((get_control() & 1) == 0);

    set_control(0);
    return 0;
}
