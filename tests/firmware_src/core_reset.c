/* AIRCR.SYSRESETREQ resets the system: the core restarts from the vector table with the SCS back
 * at its reset values, while RAM outside the startup's zeroed sections keeps its contents (a
 * boot counter at the top of CCM, which the startup code never touches).
 * values[]: 0 = boots counted, 1 = VTOR after the reset, 2 = SysTick CSR after the reset. */
#include "test.h"
#include "cm4.h"

#define BOOTS REG32(0x1000FFF8u)
#define MARK  REG32(0x1000FFFCu)
#define MAGIC 0xB007B007u

int main(void)
{
    if (MARK != MAGIC) {
        MARK = MAGIC;
        BOOTS = 1;
        SCB_VTOR = 0x08000000u;                    /* state the reset must clear */
        SYST_RVR = 1000;
        SYST_CSR = 5;
        dsb();
        SCB_AIRCR = 0x05FA0004u;                   /* VECTKEY | SYSRESETREQ */
        for (;;)
            ;
    }
    BOOTS = BOOTS + 1;
    RECORD(0, BOOTS);
    RECORD(1, SCB_VTOR);
    RECORD(2, SYST_CSR);
    CHECK(BOOTS == 2);
    CHECK(SCB_VTOR == 0);
    CHECK(SYST_CSR == 0);
    return 0;
}
