/* A PHY brought up over MDIO the way its vendor's driver does it, for
 * tests/peripherals/test_phy_catalogue.py; PART selects the driver:
 *
 * 1 LAN8742A, 2 LAN8720A - ST's stm32-lan8742 driver (lan8742.c, v1.0.4): the PHY is found by
 *   scanning MDIO addresses for the one whose SMR (register 18) reports it in bits 4:0;
 *   StartAutoNego sets BCR.AN_ENABLE; GetLinkState reads BSR twice (link latches low), BCR,
 *   then PHYSCSR (register 31): AUTODONE (bit 12) and the mode in bits 4:2.
 * 3 DP83848 - ST's stm32-dp83848 driver (dp83848.c, v1.0.2): the scan reads PHYCR (0x19)
 *   bits 4:0; GetLinkState reads BSR twice, BCR, then PHYSTS (0x10): AN complete (bit 4), the
 *   mode in bits 2:1 (bit 1 set = 10 Mb/s, bit 2 set = full duplex).
 * 4 KSZ8081RNA - no ST driver; as Zephyr's phy_microchip_ksz8081.c: the address from the
 *   identifier (PHYID1 0x0022), a soft reset (BMCR.15 polled), AN enable + restart, BMSR polled
 *   for the link, the mode from PHY Control 1 (0x1E) bits 2:0.
 *
 * Polls sleep 10 ms on SysTick between tries, as an RTOS thread would. The result is the mode
 * the driver decoded (0 10 half, 1 10 full, 2 100 half, 3 100 full), the address, the
 * identifier and the raw status register. Registers: RM0090 §33.8.1 (ETH_MACMIIAR/MIIDR). */
#include "test.h"
#include "cm4.h"

#ifndef PART
#define PART 1
#endif

#define RCC_AHB1ENR  REG32(0x40023830u)
#define RCC_APB2ENR  REG32(0x40023844u)
#define SYSCFG_PMC   REG32(0x40013804u)
#define ETH_MACMIIAR REG32(0x40028010u)
#define ETH_MACMIIDR REG32(0x40028014u)

enum { MODE_10HD = 0, MODE_10FD = 1, MODE_100HD = 2, MODE_100FD = 3, LINK_DOWN = 4, AN_NOT_DONE = 5 };

volatile uint32_t ticks;
void SysTick_Handler(void) { ticks++; }

static void delay_ms(uint32_t ms)
{
    uint32_t start = ticks;
    while (ticks - start < ms)
        __asm volatile ("wfi");
}

static uint32_t mdio_read(uint32_t phy, uint32_t reg)
{
    ETH_MACMIIAR = (phy << 11) | (reg << 6) | (2u << 2) | 1u;    /* CR = 010: HCLK/16 at 16 MHz */
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

static uint32_t find_phy(void)
{
#if PART == 4
    for (uint32_t a = 0; a < 32; a++)
        if (mdio_read(a, 2) == 0x0022u)
            return a;
#else
    const uint32_t scan_reg = PART == 3 ? 0x19u : 18u;          /* PHYCR / SMR */
    for (uint32_t a = 0; a < 32; a++)
        if ((mdio_read(a, scan_reg) & 0x1Fu) == a)
            return a;
#endif
    return 32;
}

static uint32_t status;          /* the vendor status register as last read */

static uint32_t link_state(uint32_t phy)
{
    (void)mdio_read(phy, 1);                 /* BSR twice: the link bit latches low */
    if (!(mdio_read(phy, 1) & 0x4u))
        return LINK_DOWN;
#if PART == 4
    status = mdio_read(phy, 0x1E);
    switch (status & 7u) {
    case 1: return MODE_10HD;
    case 5: return MODE_10FD;
    case 2: return MODE_100HD;
    case 6: return MODE_100FD;
    default: return AN_NOT_DONE;             /* 000: still negotiating */
    }
#else
    uint32_t bcr = mdio_read(phy, 0);
    if (!(bcr & 0x1000u))                    /* AN off: BCR forces the mode */
        return (bcr & 0x2000u ? 2u : 0u) | (bcr & 0x0100u ? 1u : 0u);
#if PART == 3
    status = mdio_read(phy, 0x10);
    if (!(status & 0x10u))
        return AN_NOT_DONE;
    switch (status & 0x6u) {
    case 0x4: return MODE_100FD;
    case 0x0: return MODE_100HD;
    case 0x6: return MODE_10FD;
    default: return MODE_10HD;
    }
#else
    status = mdio_read(phy, 31);
    if (!(status & 0x1000u))
        return AN_NOT_DONE;
    switch (status & 0x1Cu) {
    case 0x18: return MODE_100FD;
    case 0x08: return MODE_100HD;
    case 0x14: return MODE_10FD;
    default: return MODE_10HD;
    }
#endif
#endif
}

int main(void)
{
    SYST_RVR = 16000u - 1u;                  /* 1 ms at the 16 MHz HSI */
    SYST_CVR = 0;
    SYST_CSR = 7u;
    RCC_APB2ENR |= 1u << 14;                 /* SYSCFG: RMII */
    SYSCFG_PMC |= 1u << 23;
    RCC_AHB1ENR |= (1u << 25) | (1u << 26) | (1u << 27);   /* ETHMAC, TX, RX */

    uint32_t phy = find_phy();
    RECORD(0, phy);
    CHECK(phy < 32);
    RECORD(1, mdio_read(phy, 2) << 16 | mdio_read(phy, 3));
#if PART == 4
    mdio_write(phy, 0, 0x8000u);
    uint32_t resets = 0;
    while ((mdio_read(phy, 0) & 0x8000u) && resets++ < 500u)
        delay_ms(1);
    CHECK(resets < 500u);
    mdio_write(phy, 0, 0x1200u);             /* AN enable + restart */
#else
    mdio_write(phy, 0, mdio_read(phy, 0) | 0x1000u);    /* StartAutoNego */
#endif
    uint32_t polls = 0, state;
    while ((state = link_state(phy)) >= LINK_DOWN && polls < 1000u) {    /* up to 10 s */
        polls++;
        delay_ms(10);
    }
    RECORD(2, state);
    RECORD(3, polls);
    RECORD(4, status);
    RECORD(5, ticks);
    return 0;
}
