#include "stm32f407.h"
#include "eth_phy.h"

#include "FreeRTOS.h"
#include "task.h"

#define MDIO_BUSY_LOOPS 100000u     /* one MDIO frame is ~40 us at 1.65 MHz MDC */

static int mdio_wait_idle(void)
{
    for (uint32_t i = 0; i < MDIO_BUSY_LOOPS; i++) {
        if (!(ETH_MACMIIAR & ETH_MACMIIAR_MB)) {
            return 0;
        }
    }
    return -1;
}

static uint32_t miiar_base(unsigned addr, unsigned reg)
{
    /* keep the MDC clock range; HCLK 168 MHz needs /102 */
    return ETH_MACMIIAR_PA(addr) | ETH_MACMIIAR_MR(reg) | ETH_MACMIIAR_CR_DIV102;
}

int mdio_read(unsigned addr, unsigned reg)
{
    if (mdio_wait_idle() != 0) {
        return -1;
    }
    ETH_MACMIIAR = miiar_base(addr, reg) | ETH_MACMIIAR_MB;
    if (mdio_wait_idle() != 0) {
        return -1;
    }
    return (int)(ETH_MACMIIDR & 0xFFFFu);
}

int mdio_write(unsigned addr, unsigned reg, uint16_t value)
{
    if (mdio_wait_idle() != 0) {
        return -1;
    }
    ETH_MACMIIDR = value;
    ETH_MACMIIAR = miiar_base(addr, reg) | ETH_MACMIIAR_MW | ETH_MACMIIAR_MB;
    return mdio_wait_idle();
}

int phy_find(struct eth_phy *phy)
{
    phy->addr = -1;
    for (unsigned addr = 0; addr < 32; addr++) {
        int smr = mdio_read(addr, PHY_REG_SMR);
        /* an absent address reads 0xFFFF (MDIO pull-up): SMR[4:0] would "match" at 31 */
        if (smr < 0 || smr == 0xFFFF || (unsigned)(smr & 0x1F) != addr) {
            continue;
        }
        int id1 = mdio_read(addr, PHY_REG_ID1);
        int id2 = mdio_read(addr, PHY_REG_ID2);
        if (id1 < 0 || id2 < 0 || id1 == 0xFFFF) {
            continue;
        }
        phy->addr = (int)addr;
        phy->id = ((uint32_t)id1 << 16) | (uint32_t)id2;
        return 0;
    }
    return -1;
}

int phy_reset_and_autonegotiate(struct eth_phy *phy)
{
    unsigned addr = (unsigned)phy->addr;
    if (mdio_write(addr, PHY_REG_BMCR, PHY_BMCR_RESET) != 0) {
        return -1;
    }
    /* the reset bit self-clears when the PHY is ready (IEEE 802.3 22.2.4.1.1) */
    TickType_t start = xTaskGetTickCount();
    for (;;) {
        int bmcr = mdio_read(addr, PHY_REG_BMCR);
        if (bmcr >= 0 && !(bmcr & PHY_BMCR_RESET)) {
            break;
        }
        if (xTaskGetTickCount() - start > pdMS_TO_TICKS(500)) {
            return -2;
        }
        vTaskDelay(pdMS_TO_TICKS(1));
    }
    return mdio_write(addr, PHY_REG_BMCR, PHY_BMCR_AN_ENABLE | PHY_BMCR_AN_RESTART);
}

int phy_wait_link(struct eth_phy *phy, uint32_t timeout_ms)
{
    unsigned addr = (unsigned)phy->addr;
    TickType_t start = xTaskGetTickCount();
    for (;;) {
        /* BMSR link status latches low: the first read reports a past drop, the second now */
        (void)mdio_read(addr, PHY_REG_BMSR);
        int bmsr = mdio_read(addr, PHY_REG_BMSR);
        phy->bmsr = (uint16_t)bmsr;
        if (bmsr >= 0 && (bmsr & PHY_BMSR_LINK) && (bmsr & PHY_BMSR_AN_COMPLETE)) {
            break;
        }
        if (xTaskGetTickCount() - start > pdMS_TO_TICKS(timeout_ms)) {
            phy->link_up = 0;
            return -1;
        }
        vTaskDelay(pdMS_TO_TICKS(10));
    }
    int scsr = mdio_read(addr, PHY_REG_PHYSCSR);
    phy->physcsr = (uint16_t)scsr;
    phy->link_up = 1;
    if (scsr < 0 || !(scsr & PHY_PHYSCSR_AUTODONE)) {
        /* no speed indication: assume 100M full duplex, as ST's driver does on failure */
        phy->speed_100 = 1;
        phy->full_duplex = 1;
        return 1;
    }
    phy->speed_100 = !(scsr & PHY_PHYSCSR_10M);
    phy->full_duplex = (scsr & PHY_PHYSCSR_FULL_DUPLEX) != 0;
    return 0;
}

const char *phy_name(uint32_t id)
{
    if ((id & LAN8742A_ID_MASK) == LAN8742A_ID) {
        return "lan8742a";
    }
    return "unknown";
}
