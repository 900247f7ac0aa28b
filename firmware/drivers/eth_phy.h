/*
 * MDIO (clause 22) through MACMIIAR/MACMIIDR, and the LAN8742A PHY: found like ST's driver by
 * its SMR register, reset through BMCR, auto-negotiated, speed/duplex from PHYSCSR (reg 31).
 */
#ifndef DRIVERS_ETH_PHY_H
#define DRIVERS_ETH_PHY_H

#include <stdint.h>

#define PHY_REG_BMCR    0
#define PHY_REG_BMSR    1
#define PHY_REG_ID1     2
#define PHY_REG_ID2     3
#define PHY_REG_SMR     18      /* LAN8742A special modes: PHYAD in [4:0] */
#define PHY_REG_PHYSCSR 31      /* LAN8742A special control/status */

#define PHY_BMCR_RESET          (1u << 15)
#define PHY_BMCR_AN_ENABLE      (1u << 12)
#define PHY_BMCR_AN_RESTART     (1u << 9)
#define PHY_BMSR_LINK           (1u << 2)
#define PHY_BMSR_AN_COMPLETE    (1u << 5)
#define PHY_PHYSCSR_AUTODONE    (1u << 12)
#define PHY_PHYSCSR_10M         (1u << 2)   /* speed indication [4:2]: bit 2 = 10BASE-T */
#define PHY_PHYSCSR_FULL_DUPLEX (1u << 4)

#define LAN8742A_ID             0x0007C130u /* revision in the low nibble */
#define LAN8742A_ID_MASK        0xFFFFFFF0u

struct eth_phy {
    int addr;           /* -1: none found */
    uint32_t id;        /* PHYID1 << 16 | PHYID2 */
    int link_up;
    int speed_100;
    int full_duplex;
    uint16_t bmsr, physcsr;
};

/* Returns the register value, or -1 if the MII interface stays busy. */
int mdio_read(unsigned addr, unsigned reg);
int mdio_write(unsigned addr, unsigned reg, uint16_t value);

/* Scan addresses 0-31 for the PHY whose SMR[4:0] equals its address; fills addr and id. */
int phy_find(struct eth_phy *phy);

/* BMCR soft reset, then auto-negotiation enable + restart. 0 on success. */
int phy_reset_and_autonegotiate(struct eth_phy *phy);

/* Poll until link and auto-negotiation complete or timeout; fills link/speed/duplex. */
int phy_wait_link(struct eth_phy *phy, uint32_t timeout_ms);

const char *phy_name(uint32_t id);

#endif
