/* Link changes learnt from the PHY's interrupt pin, for tests/peripherals/test_phy_catalogue.py:
 * the board wires the PHY's active-low interrupt output to PB14 (as the STM324xG-EVAL does with
 * its DP83848), PB14 to EXTI line 14 on the falling edge (SYSCFG_EXTICR4 selects port B; RM0090
 * §9.2.6, §12.3), EXTI15_10 to the NVIC (IRQ 40). The firmware enables the PHY's link
 * interrupts, then sleeps; each interrupt makes it read (and so clear) the PHY's flag register
 * and the link state, and report them through link_event(), which the Python side hooks to
 * unplug and replug the cable.
 *
 * PART 1/2 LAN8742A/LAN8720A: IMR (30) = link down (INT4) | AN complete (INT6), flags in ISFR (29).
 * PART 3 DP83848: MICR (0x11) = INT_OE | INTEN, MISR (0x12) bits 7:0 = LINK_INT_EN; flags in
 *        MISR bits 15:8.
 * PART 4 KSZ8081RNA: INTCS (0x1B) enables link up (bit 8) and link down (bit 10); flags in 7:0. */
#include "test.h"
#include "cm4.h"

#ifndef PART
#define PART 3
#endif

#define RCC_AHB1ENR  REG32(0x40023830u)
#define RCC_APB2ENR  REG32(0x40023844u)
#define GPIOB_MODER  REG32(0x40020400u)
#define GPIOB_PUPDR  REG32(0x4002040Cu)
#define GPIOB_IDR    REG32(0x40020410u)
#define SYSCFG_PMC     REG32(0x40013804u)
#define SYSCFG_EXTICR4 REG32(0x40013814u)
#define EXTI_IMR     REG32(0x40013C00u)
#define EXTI_FTSR    REG32(0x40013C0Cu)
#define EXTI_PR      REG32(0x40013C14u)
#define ETH_MACMIIAR REG32(0x40028010u)
#define ETH_MACMIIDR REG32(0x40028014u)
#define EXTI15_10_IRQ 40

volatile uint32_t ticks, phy_irqs;
void SysTick_Handler(void) { ticks++; }

void EXTI15_10_IRQHandler(void)
{
    EXTI_PR = 1u << 14;                       /* rc_w1 */
    phy_irqs++;
}

void __attribute__((noinline, used)) link_event(uint32_t index, uint32_t up, uint32_t flags)
{
    (void)index; (void)up; (void)flags;
    __asm volatile ("" ::: "memory");
}

static uint32_t mdio_read(uint32_t phy, uint32_t reg)
{
    ETH_MACMIIAR = (phy << 11) | (reg << 6) | (2u << 2) | 1u;
    for (uint32_t n = 0; n < 100000u && (ETH_MACMIIAR & 1u); n++) { }
    CHECK(!(ETH_MACMIIAR & 1u));
    return ETH_MACMIIDR & 0xFFFFu;
}

static void mdio_write(uint32_t phy, uint32_t reg, uint32_t value)
{
    ETH_MACMIIDR = value;
    ETH_MACMIIAR = (phy << 11) | (reg << 6) | (2u << 2) | 2u | 1u;
    for (uint32_t n = 0; n < 100000u && (ETH_MACMIIAR & 1u); n++) { }
    CHECK(!(ETH_MACMIIAR & 1u));
}

#if PART == 3
#define FLAG_REG 0x12u
#elif PART == 4
#define FLAG_REG 0x1Bu
#else
#define FLAG_REG 29u
#endif

int main(void)
{
    SYST_RVR = 16000u - 1u;                  /* 1 ms at the 16 MHz HSI */
    SYST_CVR = 0;
    SYST_CSR = 7u;
    RCC_AHB1ENR |= (1u << 1) | (1u << 25) | (1u << 26) | (1u << 27);   /* GPIOB, ETHMAC */
    RCC_APB2ENR |= 1u << 14;                 /* SYSCFG */
    SYSCFG_PMC |= 1u << 23;
    GPIOB_MODER &= ~(3u << 28);              /* PB14 input, pull-up */
    GPIOB_PUPDR = (GPIOB_PUPDR & ~(3u << 28)) | (1u << 28);
    SYSCFG_EXTICR4 = (SYSCFG_EXTICR4 & ~(0xFu << 8)) | (1u << 8);     /* EXTI14 = PB14 */
    EXTI_FTSR |= 1u << 14;
    EXTI_IMR |= 1u << 14;
    NVIC_IPR8(EXTI15_10_IRQ) = 0x80;
    nvic_enable(EXTI15_10_IRQ);
    RECORD(0, GPIOB_IDR >> 14 & 1u);         /* the pin idles high */

    uint32_t phy = PHY_ADDR;
#if PART == 3
    mdio_write(phy, 0x12, 1u << 5);          /* LINK_INT_EN */
    mdio_write(phy, 0x11, 3u);               /* INT_OE | INTEN */
#elif PART == 4
    mdio_write(phy, 0x1B, (1u << 8) | (1u << 10));
#else
    mdio_write(phy, 30, (1u << 4) | (1u << 6));
#endif
    (void)mdio_read(phy, FLAG_REG);          /* drop what was latched before */

    for (uint32_t event = 0; event < 3; event++) {
        uint32_t seen = phy_irqs, start = ticks;
        while (phy_irqs == seen && ticks - start < 5000u)
            __asm volatile ("wfi");
        CHECK(phy_irqs != seen);
        uint32_t flags = mdio_read(phy, FLAG_REG);        /* reading clears them */
        (void)mdio_read(phy, 1);
        uint32_t up = mdio_read(phy, 1) >> 2 & 1u;
        RECORD(1 + 3 * event, up);
        RECORD(2 + 3 * event, flags);
        RECORD(3 + 3 * event, GPIOB_IDR >> 14 & 1u);     /* high again once the flags are read */
        link_event(event, up, flags);
    }
    RECORD(10, phy_irqs);
    return 0;
}
