/* Tail-chaining: when a handler returns while other exceptions are pending and can run, the
 * next one is entered straight away - no Thread-mode instruction runs in between, and every
 * handler sees the same EXC_RETURN and the same stacked return address. Among pending
 * exceptions of equal priority the lower exception number goes first.
 *
 * values[]: 0..2 = stacked PC seen by A, B, C; 3..5 = thread counter seen by A, B, C;
 *           6 = order code (digits A=1 B=2 C=3); 7 = EXC_RETURN seen by C. */
#include "test.h"
#include "cm4.h"

enum { IRQ_A = 6, IRQ_B = 7, IRQ_C = 8 };           /* EXTI0, EXTI1, EXTI2 */

struct seen { uint32_t pc, counter, exc_return; };
static volatile struct seen a, b, c;
static volatile uint32_t order;
static volatile uint32_t thread_counter;

#define HANDLER(name, body)                                            \
    void body(uint32_t exc_return, const uint32_t *frame);             \
    __attribute__((naked)) void name(void)                             \
    {                                                                  \
        __asm volatile("mov r0, lr\n mrs r1, msp\n push {r0, lr}\n"    \
                       "bl " #body "\n pop {r0, pc}\n");               \
    }

static void note(volatile struct seen *s, uint32_t exc_return, const uint32_t *frame, uint32_t digit)
{
    s->pc = frame[6];
    s->counter = thread_counter;
    s->exc_return = exc_return;
    order = order * 10 + digit;
}

HANDLER(EXTI0_IRQHandler, a_body)
HANDLER(EXTI1_IRQHandler, b_body)
HANDLER(EXTI2_IRQHandler, c_body)

void a_body(uint32_t exc_return, const uint32_t *frame)
{
    note(&a, exc_return, frame, 1);
    nvic_pend(IRQ_C);                  /* both lower priority than A: they wait for A's return */
    nvic_pend(IRQ_B);
}

void b_body(uint32_t exc_return, const uint32_t *frame) { note(&b, exc_return, frame, 2); }
void c_body(uint32_t exc_return, const uint32_t *frame) { note(&c, exc_return, frame, 3); }

int main(void)
{
    nvic_set_priority(IRQ_A, 0x40);
    nvic_set_priority(IRQ_B, 0x80);
    nvic_set_priority(IRQ_C, 0x80);
    nvic_enable(IRQ_A);
    nvic_enable(IRQ_B);
    nvic_enable(IRQ_C);
    set_control(0);
    for (int i = 0; i < 10; i++)
        thread_counter++;
    __asm volatile("ldr r1, =0xE000EF00\n movs r2, %0\n str r2, [r1]\n dsb\n isb\n"
                   ".global pended_here\n pended_here:\n"
                   "nop\n" :: "i"(IRQ_A) : "r1", "r2", "memory");
    thread_counter++;
    CHECK(order == 123);
    CHECK(a.pc == b.pc && b.pc == c.pc);
    CHECK(a.counter == 10 && b.counter == 10 && c.counter == 10);
    CHECK(c.exc_return == a.exc_return);
    RECORD(0, a.pc); RECORD(1, b.pc); RECORD(2, c.pc);
    RECORD(3, a.counter); RECORD(4, b.counter); RECORD(5, c.counter);
    RECORD(6, order);
    RECORD(7, c.exc_return);
    return 0;
}
