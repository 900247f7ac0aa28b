/* A stand-in for an image that never reaches `ready` (say, its PHY never links): it sleeps in WFI
 * with nothing to wake it. Booting it must end at the virtual-time limit with a clear message. */
int main(void)
{
    for (;;) {
        __asm volatile("wfi");
    }
}
