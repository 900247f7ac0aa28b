/* lwIP network interface on the STM32F4 Ethernet driver. */
#ifndef NET_ETHERNETIF_H
#define NET_ETHERNETIF_H

#include "lwip/err.h"
#include "lwip/netif.h"

#include "eth_mac.h"

/* netif_add() init callback: the MAC must already run (eth_mac_start); netif->state points
 * at the 6-byte MAC address. */
err_t ethernetif_init(struct netif *netif);

/* The task that moves received frames from the DMA ring into lwIP. */
void ethernetif_start_input_task(struct netif *netif, unsigned priority);

/* Copy a pbuf chain into consecutive TX DMA buffers from `first` on; returns the frame length
 * in bytes, or -1 if a buffer it needs is still owned by the DMA. The seedbug variant's defect
 * lives here (see firmware/README.md). */
int eth_tx_copy_frame(eth_dma_desc_t *first, const struct pbuf *p);

#endif
