/* Smoke test of the shared test-firmware infrastructure: startup ran (.data copied, .bss and .ccm
 * zeroed), CHECK/RECORD work, and test_finish() is reached. */
#include "test.h"

static volatile uint32_t initialised = 0x12345678u;   /* .data: copied from flash */
static volatile uint32_t zeroed;                      /* .bss */
static volatile uint32_t in_ccm __attribute__((section(".ccm")));

int main(void)
{
    CHECK(initialised == 0x12345678u);
    CHECK(zeroed == 0);
    CHECK(in_ccm == 0);
    in_ccm = 7;
    RECORD(0, in_ccm * 6);
    RECORD(1, (uint32_t)&in_ccm);
    return 0;
}
