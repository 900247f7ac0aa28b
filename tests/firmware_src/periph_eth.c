/* Ethernet MAC + DMA + PHY driven the way ST's HAL and the reference firmware do it:
 * - DMABMR.SR set and polled with a timeout (it only clears when the PHY's reference clock runs),
 * - the PHY found by ST's SMR address scan, reset through BMCR, link and AN polled over MDIO,
 *   speed/duplex read from PHYSCSR (register 31),
 * - enhanced descriptors in CHAINED (default) or RING (-DRING=1) mode, TX buffers of 1024 bytes so
 *   longer frames span two descriptors, TX checksum insertion CIC = 11 on frames whose checksum
 *   fields are zero (and one TCP frame each with CIC = 00, 01 and 10), RX buffers of 512 bytes
 *   so long frames span several descriptors,
 * - RX with DFRF = 1: when the Python side injects more frames than there are free descriptors the
 *   DMA suspends with RBUS; the driver returns the descriptors, clears RBUS and writes DMARPDR,
 *   and the waiting frames arrive. Every received frame is echoed back (MACs swapped, IP and
 *   TCP/UDP/ICMP checksums zeroed so the MAC has to recompute them).
 * The Python side (tests/peripherals/test_firmware_periph.py) injects frames at eth_rx_point(). */
#include <string.h>
#include "test.h"
#include "cm4.h"

#ifndef RING
#define RING 0
#endif

#define RCC_AHB1ENR  REG32(0x40023830u)
#define RCC_APB2ENR  REG32(0x40023844u)
#define SYSCFG_PMC   REG32(0x40013804u)

#define ETH_MACCR    REG32(0x40028000u)
#define ETH_MACFFR   REG32(0x40028004u)
#define ETH_MACMIIAR REG32(0x40028010u)
#define ETH_MACMIIDR REG32(0x40028014u)
#define ETH_MACA0HR  REG32(0x40028040u)
#define ETH_MACA0LR  REG32(0x40028044u)
#define ETH_MMCRIMR  REG32(0x4002810Cu)
#define ETH_MMCTIMR  REG32(0x40028110u)
#define ETH_MMCTGFCR REG32(0x40028168u)
#define ETH_MMCRGUFCR REG32(0x400281C4u)
#define ETH_DMABMR   REG32(0x40029000u)
#define ETH_DMATPDR  REG32(0x40029004u)
#define ETH_DMARPDR  REG32(0x40029008u)
#define ETH_DMARDLAR REG32(0x4002900Cu)
#define ETH_DMATDLAR REG32(0x40029010u)
#define ETH_DMASR    REG32(0x40029014u)
#define ETH_DMAOMR   REG32(0x40029018u)
#define ETH_DMAIER   REG32(0x4002901Cu)
#define ETH_DMAMFBOCR REG32(0x40029020u)
#define ETH_IRQ 61

#define DMASR_TS   (1u << 0)
#define DMASR_TBUS (1u << 2)
#define DMASR_RS   (1u << 6)
#define DMASR_RBUS (1u << 7)
#define DMASR_NIS  (1u << 16)
#define OWN (1u << 31)
#define TDES0_IC  (1u << 30)
#define TDES0_LS  (1u << 29)
#define TDES0_FS  (1u << 28)
#define TDES0_CIC_FULL (3u << 22)
#define TDES0_TER (1u << 21)
#define TDES0_TCH (1u << 20)
#define RDES0_LS (1u << 8)
#define RDES0_ES (1u << 15)
#define RDES1_RER (1u << 15)
#define RDES1_RCH (1u << 14)

#define TX_DESCS 4
#define RX_DESCS 6
#define TX_BUF 1024
#define RX_BUF 512

typedef struct {
    volatile uint32_t des0, des1, des2, des3, des4, des5, des6, des7;
#if !RING
    uint32_t backup0, backup1;      /* like the HAL's struct: chained walks follow DES3, not size */
#endif
} eth_desc_t;

static eth_desc_t tx_desc[TX_DESCS] __attribute__((aligned(4)));
static eth_desc_t rx_desc[RX_DESCS] __attribute__((aligned(4)));
uint8_t eth_tx_buffers[TX_DESCS][TX_BUF] __attribute__((aligned(4)));
uint8_t eth_rx_buffers[RX_DESCS][RX_BUF] __attribute__((aligned(4)));
static uint32_t tx_ctrl[TX_DESCS];
static uint32_t tx_cur, rx_cur;
static volatile uint32_t rs_irqs, ts_irqs;
static uint8_t frame[1600];

static const uint8_t station[6] = {0x02, 0x00, 0x00, 0x00, 0x0f, 0x07};

void ETH_IRQHandler(void)
{
    uint32_t sr = ETH_DMASR;
    if (sr & DMASR_RS)
        rs_irqs++;
    if (sr & DMASR_TS)
        ts_irqs++;
    ETH_DMASR = sr & (DMASR_RS | DMASR_TS | DMASR_NIS);   /* w1c, NIS included */
}

void __attribute__((noinline, used)) eth_rx_point(void) { __asm volatile ("" ::: "memory"); }

static int mdio_wait(void)
{
    for (uint32_t n = 0; n < 100000; n++)
        if (!(ETH_MACMIIAR & 1u))
            return 1;
    return 0;
}

static uint32_t mdio_read(uint32_t phy, uint32_t reg)
{
    ETH_MACMIIAR = (phy << 11) | (reg << 6) | (4u << 2) | 1u;   /* CR = 100: HCLK/102 */
    CHECK(mdio_wait());
    return ETH_MACMIIDR & 0xFFFFu;
}

static void mdio_write(uint32_t phy, uint32_t reg, uint32_t value)
{
    ETH_MACMIIDR = value;
    ETH_MACMIIAR = (phy << 11) | (reg << 6) | (4u << 2) | 2u | 1u;
    CHECK(mdio_wait());
}

static void settle(volatile uint32_t *reg, uint32_t value)   /* the write-settle re-write */
{
    *reg = value;
    (void)*reg;
    for (volatile int i = 0; i < 8; i++) { }
    *reg = value;
}

static int eth_send_cic(const uint8_t *data, uint32_t len, uint32_t cic)
{
    uint32_t n = (len + TX_BUF - 1) / TX_BUF;
    for (uint32_t k = 0; k < n; k++)
        if (tx_desc[(tx_cur + k) % TX_DESCS].des0 & OWN)
            return 0;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t i = (tx_cur + k) % TX_DESCS;
        uint32_t chunk = len - k * TX_BUF < TX_BUF ? len - k * TX_BUF : TX_BUF;
        memcpy(eth_tx_buffers[i], data + k * TX_BUF, chunk);
        tx_desc[i].des1 = chunk;
        tx_desc[i].des0 = tx_ctrl[i] | (cic << 22) | TDES0_IC
                          | (k == 0 ? TDES0_FS : 0) | (k == n - 1 ? TDES0_LS : 0);
    }
    dsb();
    for (uint32_t k = 0; k < n; k++)                       /* OWN first descriptor first */
        tx_desc[(tx_cur + k) % TX_DESCS].des0 |= OWN;
    tx_cur = (tx_cur + n) % TX_DESCS;
    dsb();
    if (ETH_DMASR & DMASR_TBUS)
        ETH_DMASR = DMASR_TBUS;
    ETH_DMATPDR = 0;
    return 1;
}

static int eth_send(const uint8_t *data, uint32_t len)
{
    return eth_send_cic(data, len, 3);
}

/* CIC = 10 wants the pseudo-header sum (not inverted) already in the TCP checksum field */
static void put_pseudo_header_sum(uint8_t *f)
{
    uint32_t sum = 0, tcp_len = ((uint32_t)f[16] << 8 | f[17]) - 20u;
    for (int i = 26; i < 34; i += 2)
        sum += (uint32_t)f[i] << 8 | f[i + 1];
    sum += 6u + tcp_len;
    while (sum >> 16)
        sum = (sum & 0xFFFFu) + (sum >> 16);
    f[50] = (uint8_t)(sum >> 8);
    f[51] = (uint8_t)sum;
}

/* One complete received frame into `out` (FCS stripped), descriptors given back. */
static uint32_t eth_receive(uint8_t *out)
{
    uint32_t used = 0, status = 0;
    for (; used < RX_DESCS; used++) {
        status = rx_desc[(rx_cur + used) % RX_DESCS].des0;
        if (status & OWN)
            return 0;
        if (status & RDES0_LS)
            break;
    }
    if (used == RX_DESCS)
        return 0;
    used++;
    uint32_t length = ((status >> 16) & 0x3FFFu) - 4u;     /* FL counts the FCS */
    CHECK(!(status & RDES0_ES));
    for (uint32_t k = 0, copied = 0; k < used; k++) {
        uint32_t chunk = length - copied < RX_BUF ? length - copied : RX_BUF;
        memcpy(out + copied, eth_rx_buffers[(rx_cur + k) % RX_DESCS], chunk);
        copied += chunk;
        if (copied >= length)
            break;
    }
    for (uint32_t k = 0; k < used; k++)
        rx_desc[(rx_cur + k) % RX_DESCS].des0 = OWN;
    rx_cur = (rx_cur + used) % RX_DESCS;
    return length;
}

static void zero_checksums(uint8_t *f, uint32_t len)
{
    if (len < 34 || f[12] != 0x08 || f[13] != 0x00)
        return;
    uint32_t ihl = (f[14] & 0xFu) * 4u;
    f[24] = f[25] = 0;
    uint32_t l4 = 14 + ihl, at = 0;
    if (f[23] == 6) at = l4 + 16;        /* TCP */
    else if (f[23] == 17) at = l4 + 6;   /* UDP */
    else if (f[23] == 1) at = l4 + 2;    /* ICMP */
    if (at && at + 2 <= len)
        f[at] = f[at + 1] = 0;
}

static uint32_t build_frame(uint8_t proto, uint32_t payload)
{
    static const uint8_t peer[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0xaa};
    uint32_t l4len = (proto == 6 ? 20u : 8u) + payload, ip_len = 20u + l4len;
    memset(frame, 0, sizeof frame);
    memcpy(frame, peer, 6);
    memcpy(frame + 6, station, 6);
    frame[12] = 0x08;
    uint8_t *ip = frame + 14, *l4 = ip + 20;
    ip[0] = 0x45; ip[2] = (uint8_t)(ip_len >> 8); ip[3] = (uint8_t)ip_len; ip[5] = 1;
    ip[8] = 64; ip[9] = proto;
    ip[12] = 192; ip[13] = 0; ip[14] = 2; ip[15] = 10;
    ip[16] = 192; ip[17] = 0; ip[18] = 2; ip[19] = 1;
    if (proto == 6) {
        l4[0] = 0xC0; l4[1] = 0x00; l4[2] = 0x01; l4[3] = 0xBB;   /* 49152 -> 443 */
        l4[7] = 1; l4[12] = 0x50; l4[13] = 0x18; l4[14] = 0x16; l4[15] = 0xD0;
    } else if (proto == 17) {
        l4[0] = 0x13; l4[1] = 0x88; l4[2] = 0x17; l4[3] = 0x70;
        l4[4] = (uint8_t)(l4len >> 8); l4[5] = (uint8_t)l4len;
    } else {
        l4[0] = 8;                                                 /* ICMP echo request */
        l4[5] = 1; l4[7] = 1;
    }
    uint8_t *data = l4 + (proto == 6 ? 20 : 8);
    for (uint32_t i = 0; i < payload; i++)
        data[i] = (uint8_t)(i * 7 + proto);
    return 14 + ip_len;
}

int main(void)
{
    RCC_AHB1ENR |= 0x7u;                                   /* GPIOA-C */
    RCC_APB2ENR |= 1u << 14;                               /* SYSCFG */
    SYSCFG_PMC |= 1u << 23;                                /* RMII before the MAC reset */
    RCC_AHB1ENR |= (1u << 25) | (1u << 26) | (1u << 27);   /* ETHMAC, TX, RX clocks */

    ETH_DMABMR |= 1u;
    uint32_t polls = 0;
    while ((ETH_DMABMR & 1u) && polls < 20000)
        polls++;
    RECORD(0, !(ETH_DMABMR & 1u));
    RECORD(1, polls);

    uint32_t phy = 32;                                     /* ST's scan: SMR[4:0] == address */
    for (uint32_t a = 0; a < 32 && phy == 32; a++)
        if ((mdio_read(a, 18) & 0x1Fu) == a)
            phy = a;
    RECORD(2, phy);
    RECORD(3, mdio_read(phy, 2) << 16 | mdio_read(phy, 3));
    if (ETH_DMABMR & 1u)
        return 0;                                          /* no reference clock: stop here */

    mdio_write(phy, 0, 0x8000);                            /* PHY soft reset */
    polls = 0;
    while ((mdio_read(phy, 0) & 0x8000u) && polls < 10000)
        polls++;
    RECORD(4, polls);
    mdio_write(phy, 0, 0x1200);                            /* AN enable + restart */
    polls = 0;
    while ((mdio_read(phy, 1) & 0x24u) != 0x24u && polls < 100000)
        polls++;                                           /* link + AN complete */
    RECORD(5, polls);
    RECORD(6, mdio_read(phy, 31));

    settle(&ETH_MACCR, (1u << 14) | (1u << 11));           /* 100 Mb/s, full duplex */
    settle(&ETH_MACFFR, 0);
    ETH_MACA0HR = (uint32_t)station[5] << 8 | station[4];
    ETH_MACA0LR = (uint32_t)station[3] << 24 | (uint32_t)station[2] << 16 | (uint32_t)station[1] << 8 | station[0];
    ETH_MMCRIMR = (1u << 17) | (1u << 6) | (1u << 5);      /* mask MMC interrupts (shipped bug) */
    ETH_MMCTIMR = (1u << 21) | (1u << 15) | (1u << 14);
    settle(&ETH_DMAOMR, (1u << 24) | (1u << 25) | (1u << 21) | (1u << 2));   /* DFRF RSF TSF OSF */
    settle(&ETH_DMABMR, (1u << 25) | (1u << 23) | (32u << 17) | (1u << 16) | (32u << 8) | (1u << 7));

    for (uint32_t i = 0; i < TX_DESCS; i++) {
        tx_ctrl[i] = RING ? (i == TX_DESCS - 1 ? TDES0_TER : 0) : TDES0_TCH;
        tx_desc[i].des0 = tx_ctrl[i];
        tx_desc[i].des2 = (uint32_t)eth_tx_buffers[i];
        tx_desc[i].des3 = RING ? 0 : (uint32_t)&tx_desc[(i + 1) % TX_DESCS];
    }
    for (uint32_t i = 0; i < RX_DESCS; i++) {
        rx_desc[i].des1 = RX_BUF | (RING ? (i == RX_DESCS - 1 ? RDES1_RER : 0) : RDES1_RCH);
        rx_desc[i].des2 = (uint32_t)eth_rx_buffers[i];
        rx_desc[i].des3 = RING ? 0 : (uint32_t)&rx_desc[(i + 1) % RX_DESCS];
        rx_desc[i].des0 = OWN;
    }
    ETH_DMATDLAR = (uint32_t)tx_desc;
    ETH_DMARDLAR = (uint32_t)rx_desc;
    ETH_DMAIER = (1u << 16) | (1u << 6) | (1u << 0);       /* NISE, RIE, TIE */
    nvic_set_priority(ETH_IRQ, 0x60);
    nvic_enable(ETH_IRQ);
    enable_irq();

    settle(&ETH_MACCR, ETH_MACCR | (1u << 3));             /* TE */
    settle(&ETH_MACCR, ETH_MACCR | (1u << 2));             /* RE */
    ETH_DMAOMR |= 1u << 20;                                /* flush TX FIFO */
    polls = 0;
    while ((ETH_DMAOMR & (1u << 20)) && polls < 10000)
        polls++;
    CHECK(!(ETH_DMAOMR & (1u << 20)));
    settle(&ETH_DMAOMR, ETH_DMAOMR | (1u << 13) | (1u << 1));   /* ST, SR */

    /* TX: a short UDP frame (padded by the MAC), an ICMP echo, a TCP frame over two buffers */
    CHECK(eth_send(frame, build_frame(17, 10)));
    CHECK(eth_send(frame, build_frame(1, 32)));
    CHECK(eth_send(frame, build_frame(6, 1200)));
    /* the other insertion modes on a TCP frame with zero checksum fields */
    uint32_t tcp_len = build_frame(6, 100);
    CHECK(eth_send_cic(frame, tcp_len, 0));                /* bypass */
    CHECK(eth_send_cic(frame, tcp_len, 1));                /* IPv4 header only */
    put_pseudo_header_sum(frame);
    CHECK(eth_send_cic(frame, tcp_len, 2));                /* header + payload, pseudo given */
    while (ts_irqs < 6)
        wfi();
    RECORD(7, ts_irqs);
    RECORD(8, ETH_MMCTGFCR);

    /* RX: the Python side injects its frames here */
    eth_rx_point();
    uint32_t received = 0, rbus = 0, expected = 7;
    for (uint32_t spins = 0; received < expected && spins < 200; spins++) {
        uint32_t len;
        while ((len = eth_receive(frame)) != 0) {
            RECORD(16 + received, len);
            received++;
            uint8_t tmp[6];                                /* echo: swap MACs */
            memcpy(tmp, frame, 6);
            memcpy(frame, frame + 6, 6);
            memcpy(frame + 6, tmp, 6);
            zero_checksums(frame, len);
            CHECK(eth_send(frame, len));
        }
        if (ETH_DMASR & DMASR_RBUS) {                      /* descriptors are back: resume */
            rbus++;
            ETH_DMASR = DMASR_RBUS;
            ETH_DMARPDR = 0;
        }
        if (received < expected && (rx_desc[rx_cur].des0 & OWN))
            wfi();
    }
    RECORD(9, received);
    RECORD(10, rbus);
    RECORD(11, rs_irqs);
    RECORD(12, ETH_DMAMFBOCR);
    RECORD(13, ETH_MMCRGUFCR);
    return 0;
}
