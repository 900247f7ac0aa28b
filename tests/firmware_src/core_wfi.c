/* WFI idle skip: with a 10 ms SysTick and nothing else to do, five WFIs must cost a handful of
 * instructions while virtual time jumps 50 ms. WFI also wakes (without taking it) for an
 * interrupt masked by PRIMASK, which is then taken when PRIMASK is cleared.
 *
 * values[]: 0 = ticks after the WFI loop, 1 = masked IRQ taken before cpsie (must be 0),
 *           2 = taken after. */
#include "test.h"
#include "cm4.h"

#define TEN_MS (168000u * 10u)
#define IRQ 9                                       /* EXTI3 */

static volatile uint32_t ticks, irq_taken;

void SysTick_Handler(void) { ticks++; }
void EXTI3_IRQHandler(void) { irq_taken++; }

int main(void)
{
    SYST_RVR = TEN_MS - 1;
    SYST_CVR = 0;
    SYST_CSR = 7;
    while (ticks < 5)
        wfi();
    SYST_CSR = 0;
    RECORD(0, ticks);
    CHECK(ticks == 5);

    nvic_enable(IRQ);
    disable_irq();
    nvic_pend(IRQ);
    wfi();                                          /* wakes at once: IRQ pending (masked) */
    RECORD(1, irq_taken);
    CHECK(irq_taken == 0);
    enable_irq();
    RECORD(2, irq_taken);
    CHECK(irq_taken == 1);
    return 0;
}
