/*
 * lwIP netif for the STM32F4 MAC: low_level_output copies the pbuf chain into the TX DMA
 * buffers (1024 bytes each; a longer frame continues in the next descriptor's buffer) and
 * hands the frame to the DMA; the input task copies received frames into PBUF_POOL chains.
 *
 * Build switch FW_SEEDBUG=1 selects the seedbug variant: eth_tx_copy_frame() then believes
 * each TX buffer holds only ETH_TX_BUF_SIZE - 4 bytes of frame ("room for the CRC"), while the
 * descriptors still declare 1024 bytes per non-final buffer. Nothing else differs.
 */
#include <string.h>

#include "lwip/etharp.h"
#include "lwip/opt.h"
#include "lwip/pbuf.h"
#include "lwip/snmp.h"
#include "lwip/stats.h"
#include "lwip/tcpip.h"
#include "netif/ethernet.h"

#include "ethernetif.h"

#include "FreeRTOS.h"
#include "task.h"

#ifndef FW_SEEDBUG
#define FW_SEEDBUG 0
#endif

#if FW_SEEDBUG
/* DEFECT (seedbug): "the MAC needs 4 bytes for the CRC" - it does not: the FCS is appended by
 * the MAC and never stored in TX buffers, and TBS1 still says ETH_TX_BUF_SIZE. */
#define TX_BUF_FRAME_BYTES (ETH_TX_BUF_SIZE - 4u)
#else
#define TX_BUF_FRAME_BYTES ETH_TX_BUF_SIZE
#endif

#define TX_WAIT_MS 20u
#define RX_POLL_MS 50u      /* the input task also polls, in case an interrupt was missed */

/* ST's legacy low_level_output copy loop, kept as a function of its own so the variants can
 * be compared function by function; noipa: never inlined or cloned, and its callers' code does
 * not depend on its body (no inter-procedural register allocation). */
__attribute__((noipa)) int eth_tx_copy_frame(eth_dma_desc_t *first, const struct pbuf *p)
{
    eth_dma_desc_t *desc = first;
    uint8_t *buffer = (uint8_t *)(uintptr_t)desc->des2;
    uint32_t buffer_offset = 0;
    uint32_t frame_length = 0;

    for (const struct pbuf *q = p; q != NULL; q = q->next) {
        if (desc->des0 & ETH_TDES0_OWN) {
            return -1;
        }
        const uint8_t *payload = q->payload;
        uint32_t left = q->len;
        uint32_t payload_offset = 0;

        /* the pbuf does not fit the rest of this buffer: fill it, continue in the next one */
        while (left + buffer_offset > TX_BUF_FRAME_BYTES) {
            uint32_t chunk = TX_BUF_FRAME_BYTES - buffer_offset;
            memcpy(buffer + buffer_offset, payload + payload_offset, chunk);
            desc = eth_desc_next(desc);
            if (desc->des0 & ETH_TDES0_OWN) {
                return -1;
            }
            buffer = (uint8_t *)(uintptr_t)desc->des2;
            left -= chunk;
            payload_offset += chunk;
            frame_length += chunk;
            buffer_offset = 0;
        }
        memcpy(buffer + buffer_offset, payload + payload_offset, left);
        buffer_offset += left;
        frame_length += left;
    }
    return (int)frame_length;
}

static err_t low_level_output(struct netif *netif, struct pbuf *p)
{
    (void)netif;
    if (p->tot_len > ETH_MAX_FRAME_LEN) {
        LINK_STATS_INC(link.lenerr);
        return ERR_BUF;
    }
    /* called with lwIP's core lock held: one sender at a time */
    if (eth_tx_reserve(p->tot_len, TX_WAIT_MS) != 0) {
        LINK_STATS_INC(link.drop);
        return ERR_USE;
    }
    int length = eth_tx_copy_frame(eth_tx_current(), p);
    if (length < 0) {
        eth_stats.tx_busy++;
        LINK_STATS_INC(link.drop);
        return ERR_USE;
    }
    eth_tx_submit((uint32_t)length);
    LINK_STATS_INC(link.xmit);
    return ERR_OK;
}

/* Copy a received frame (possibly spread over several RX buffers) into a pbuf chain. */
static struct pbuf *low_level_input(const struct eth_rx_frame *frame)
{
    struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)frame->len, PBUF_POOL);
    if (p == NULL) {
        return NULL;
    }
    const eth_dma_desc_t *desc = frame->first;
    const uint8_t *buffer = (const uint8_t *)(uintptr_t)desc->des2;
    uint32_t buffer_offset = 0;

    for (struct pbuf *q = p; q != NULL; q = q->next) {
        uint8_t *dst = q->payload;
        uint32_t left = q->len;
        uint32_t dst_offset = 0;
        while (left + buffer_offset > ETH_RX_BUF_SIZE) {
            uint32_t chunk = ETH_RX_BUF_SIZE - buffer_offset;
            memcpy(dst + dst_offset, buffer + buffer_offset, chunk);
            desc = eth_desc_next(desc);
            buffer = (const uint8_t *)(uintptr_t)desc->des2;
            left -= chunk;
            dst_offset += chunk;
            buffer_offset = 0;
        }
        memcpy(dst + dst_offset, buffer + buffer_offset, left);
        buffer_offset += left;
    }
    return p;
}

static void input_task(void *arg)
{
    struct netif *netif = arg;
    for (;;) {
        eth_rx_wait(RX_POLL_MS);
        struct eth_rx_frame frame;
        while (eth_rx_next(&frame)) {
            struct pbuf *p = low_level_input(&frame);
            eth_rx_release(&frame);
            if (p == NULL) {
                eth_stats.rx_no_buffer++;
                LINK_STATS_INC(link.memerr);
                LINK_STATS_INC(link.drop);
                continue;
            }
            LINK_STATS_INC(link.recv);
            if (netif->input(p, netif) != ERR_OK) {
                LINK_STATS_INC(link.drop);
                pbuf_free(p);
            }
        }
    }
}

void ethernetif_start_input_task(struct netif *netif, unsigned priority)
{
    BaseType_t ok = xTaskCreate(input_task, "eth_in", 320, netif, priority, NULL);
    LWIP_ASSERT("ethernetif: input task creation failed", ok == pdPASS);
    (void)ok;
}

err_t ethernetif_init(struct netif *netif)
{
    const uint8_t *mac = netif->state;
    netif->name[0] = 'e';
    netif->name[1] = 't';
    netif->output = etharp_output;
    netif->linkoutput = low_level_output;
    netif->mtu = 1500;
    netif->hwaddr_len = ETH_HWADDR_LEN;
    memcpy(netif->hwaddr, mac, ETH_HWADDR_LEN);
    netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
    return ERR_OK;
}
