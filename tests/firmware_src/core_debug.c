/* Targets for breakpoints, hooks, watchpoints and single-stepping. */
#include "test.h"
#include "cm4.h"

volatile uint32_t watched;
volatile uint32_t counter;
volatile uint32_t sink;
volatile uint32_t svc_calls;

__attribute__((noinline)) void bump(void) { counter++; }
__attribute__((noinline)) void write_watched(uint32_t v) { watched = v; }
__attribute__((noinline)) uint32_t read_watched(void) { return watched; }

void SVC_Handler(void) { svc_calls++; }

int main(void)
{
    for (int i = 0; i < 10; i++)
        bump();
    write_watched(5);
    sink = read_watched();
    write_watched(7);
    __asm volatile(".global do_svc\n do_svc:\n svc #3" ::: "memory");
    CHECK(svc_calls == 1);
    RECORD(0, counter);
    RECORD(1, watched);
    return 0;
}
