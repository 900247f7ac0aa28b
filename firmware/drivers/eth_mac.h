/*
 * STM32F4 Ethernet MAC + DMA: RMII, enhanced descriptors (EDFE=1) in chained mode, descriptors
 * and buffers in SRAM. TX buffers are 1024 bytes (a RAM-saving choice): a frame longer than
 * that spans consecutive descriptors, FS on the first, LS on the last, TBS1 = bytes in that
 * buffer, as ST's legacy HAL_ETH_TransmitFrame splits it. The MAC inserts IPv4/TCP/UDP/ICMP
 * checksums (CIC=3) and appends the FCS. RX buffers hold a whole frame plus FCS.
 *
 * Filling the TX buffers from a pbuf chain is the lwIP port's job (net/ethernetif.c).
 */
#ifndef DRIVERS_ETH_MAC_H
#define DRIVERS_ETH_MAC_H

#include <stdint.h>

#define ETH_TX_BUF_SIZE     1024u
#define ETH_TX_DESC_COUNT   4u
#define ETH_RX_BUF_SIZE     1524u   /* 14 + 2 + 4 (VLAN) + 1500 + 4 (FCS), multiple of 4 */
#define ETH_RX_DESC_COUNT   6u
#define ETH_MAX_FRAME_LEN   1514u   /* without FCS */
#define ETH_FCS_LEN         4u

/* Enhanced (8-word) descriptor; in chained mode DES3 points at the next one. */
typedef struct eth_dma_desc {
    volatile uint32_t des0;     /* status/control, OWN */
    volatile uint32_t des1;     /* buffer sizes, RCH (RX) */
    volatile uint32_t des2;     /* buffer 1 address */
    volatile uint32_t des3;     /* next descriptor address */
    volatile uint32_t des4, des5, des6, des7;
} eth_dma_desc_t;

#define ETH_TDES0_OWN       (1u << 31)
#define ETH_TDES0_IC        (1u << 30)
#define ETH_TDES0_LS        (1u << 29)
#define ETH_TDES0_FS        (1u << 28)
#define ETH_TDES0_CIC_FULL  (3u << 22)  /* IPv4 header + TCP/UDP/ICMP incl. pseudo-header */
#define ETH_TDES0_TCH       (1u << 20)
#define ETH_TDES0_ES        (1u << 15)
#define ETH_TDES1_TBS1_MASK 0x1FFFu

#define ETH_RDES0_OWN       (1u << 31)
#define ETH_RDES0_FL_SHIFT  16
#define ETH_RDES0_FL_MASK   (0x3FFFu << ETH_RDES0_FL_SHIFT)
#define ETH_RDES0_ES        (1u << 15)
#define ETH_RDES0_FS        (1u << 9)
#define ETH_RDES0_LS        (1u << 8)
#define ETH_RDES1_RCH       (1u << 14)

/* Global on purpose: diagnosis tools name offsets into them (eth_tx_buffers+0x400). */
extern uint8_t eth_tx_buffers[ETH_TX_DESC_COUNT][ETH_TX_BUF_SIZE];
extern uint8_t eth_rx_buffers[ETH_RX_DESC_COUNT][ETH_RX_BUF_SIZE];
extern eth_dma_desc_t eth_tx_desc[ETH_TX_DESC_COUNT];
extern eth_dma_desc_t eth_rx_desc[ETH_RX_DESC_COUNT];

struct eth_stats {
    uint32_t tx_frames, tx_bytes, tx_busy;      /* busy: no free descriptor in time, dropped */
    uint32_t rx_frames, rx_bytes, rx_errors;    /* errors: descriptor error summary, bad length */
    uint32_t rx_no_buffer;                      /* the port had no pbuf: frame dropped */
    uint32_t irqs, rx_buffer_unavailable, abnormal, fatal_bus_errors;
};
extern struct eth_stats eth_stats;

enum eth_init_error {
    ETH_OK = 0,
    ETH_ERR_DMA_RESET = -1,     /* DMABMR.SR never cleared: no RMII REF_CLK? */
    ETH_ERR_TX_FLUSH = -2,      /* DMAOMR.FTF never cleared */
};

/* Pins, RMII select, clocks, MAC reset, DMA software reset, MDC range. */
int eth_mac_init(void);

/* MAC/DMA configuration for the negotiated link, descriptor rings, start TX/RX, IRQ on. */
int eth_mac_start(const uint8_t mac[6], int speed_100, int full_duplex);

/* TX. The caller (one at a time: lwIP's core lock) fills buffers from eth_tx_current(). */
eth_dma_desc_t *eth_tx_current(void);
eth_dma_desc_t *eth_desc_next(const eth_dma_desc_t *desc);
/* Wait until the descriptors a frame of frame_len bytes needs are free; 0 ok, -1 timeout. */
int eth_tx_reserve(uint32_t frame_len, uint32_t timeout_ms);
/* Hand frame_len bytes, already in the buffers from eth_tx_current() on, to the DMA. */
void eth_tx_submit(uint32_t frame_len);

/* RX. */
struct eth_rx_frame {
    eth_dma_desc_t *first;
    unsigned desc_count;
    uint32_t len;               /* without FCS */
};
/* Block until the ISR reports RX activity or timeout. */
void eth_rx_wait(uint32_t timeout_ms);
/* 1 and the next good frame, or 0 if none is complete; bad frames are dropped and counted. */
int eth_rx_next(struct eth_rx_frame *frame);
/* Give the frame's descriptors back to the DMA and resume reception. */
void eth_rx_release(const struct eth_rx_frame *frame);

#endif
