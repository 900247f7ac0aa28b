#include <string.h>

#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/stats.h"
#include "lwip/tcpip.h"

#include "FreeRTOS.h"
#include "semphr.h"
#include "task.h"

#include "console.h"
#include "eth_mac.h"
#include "eth_phy.h"
#include "ethernetif.h"
#include "https.h"
#include "network.h"
#include "shell.h"
#include "util.h"

#define ETH_INPUT_TASK_PRIORITY 5

/* locally administered unicast address */
static const uint8_t mac_address[6] = {0x02, 0x00, 0x00, 0x00, 0x0f, 0x07};
static struct netif netif;
static struct eth_phy phy;
static int network_up;
static uint32_t ip_be;
static unsigned prefix_len = NET_DEFAULT_PREFIX;

static uint32_t prefix_to_mask_be(unsigned prefix)
{
    uint32_t host = prefix == 0 ? 0 : 0xFFFFFFFFu << (32 - prefix);
    return lwip_htonl(host);
}

static void tcpip_ready(void *arg)
{
    xSemaphoreGive((SemaphoreHandle_t)arg);
}

static void print_addresses(const char *prefix)
{
    char ip[16], server[16];
    con_printf("%sip %s/%u mac %02x:%02x:%02x:%02x:%02x:%02x server %s:%u\n", prefix,
               format_ipv4(ip_be, ip), prefix_len, mac_address[0], mac_address[1], mac_address[2],
               mac_address[3], mac_address[4], mac_address[5],
               format_ipv4(https_server.ip_be, server), https_server.port);
}

static void print_link(void)
{
    if (!phy.link_up) {
        con_printf("net: link down\n");
        return;
    }
    con_printf("net: link up %s %s\n", phy.speed_100 ? "100M" : "10M",
               phy.full_duplex ? "full-duplex" : "half-duplex");
}

static void apply_address(void)
{
    ip4_addr_t ip, mask, gw;
    ip4_addr_set_u32(&ip, ip_be);
    ip4_addr_set_u32(&mask, prefix_to_mask_be(prefix_len));
    ip4_addr_set_zero(&gw);
    LOCK_TCPIP_CORE();
    netif_set_addr(&netif, &ip, &mask, &gw);
    UNLOCK_TCPIP_CORE();
}

int network_start(void)
{
    (void)parse_ipv4(NET_DEFAULT_IP, &ip_be);
    (void)parse_ipv4(HTTPS_DEFAULT_SERVER, &https_server.ip_be);

    int ret = eth_mac_init();
    if (ret != ETH_OK) {
        con_printf("net: error mac reset: DMABMR.SR did not clear (no RMII reference clock from the PHY?)\n");
        return -1;
    }
    if (phy_find(&phy) != 0) {
        con_printf("net: error no PHY answers on MDIO (SMR scan of addresses 0-31)\n");
        return -1;
    }
    con_printf("net: phy %s addr %d id 0x%08lx\n", phy_name(phy.id), phy.addr, (unsigned long)phy.id);
    if (phy_reset_and_autonegotiate(&phy) != 0) {
        con_printf("net: error phy reset (BMCR.15 did not self-clear)\n");
        return -1;
    }
    while (phy_wait_link(&phy, NET_LINK_WAIT_MS) != 0) {
        con_printf("net: waiting for link (bmsr 0x%04x)\n", phy.bmsr);
    }
    print_link();
    if (eth_mac_start(mac_address, phy.speed_100, phy.full_duplex) != ETH_OK) {
        con_printf("net: error mac start: DMAOMR.FTF (TX FIFO flush) did not clear\n");
        return -1;
    }

    SemaphoreHandle_t ready = xSemaphoreCreateBinary();
    tcpip_init(tcpip_ready, ready);
    xSemaphoreTake(ready, portMAX_DELAY);
    vSemaphoreDelete(ready);

    ip4_addr_t ip, mask, gw;
    ip4_addr_set_u32(&ip, ip_be);
    ip4_addr_set_u32(&mask, prefix_to_mask_be(prefix_len));
    ip4_addr_set_zero(&gw);
    LOCK_TCPIP_CORE();
    netif_add(&netif, &ip, &mask, &gw, (void *)mac_address, ethernetif_init, tcpip_input);
    netif_set_default(&netif);
    netif_set_up(&netif);
    netif_set_link_up(&netif);
    UNLOCK_TCPIP_CORE();
    ethernetif_start_input_task(&netif, ETH_INPUT_TASK_PRIORITY);
    network_up = 1;
    print_addresses("net: ");
    return 0;
}

static void print_counters(void)
{
    const struct eth_stats *e = &eth_stats;
    con_printf("net: eth tx_frames=%lu tx_bytes=%lu tx_busy=%lu rx_frames=%lu rx_bytes=%lu "
               "rx_errors=%lu rx_no_buffer=%lu irqs=%lu rx_buffer_unavailable=%lu abnormal=%lu\n",
               (unsigned long)e->tx_frames, (unsigned long)e->tx_bytes, (unsigned long)e->tx_busy,
               (unsigned long)e->rx_frames, (unsigned long)e->rx_bytes, (unsigned long)e->rx_errors,
               (unsigned long)e->rx_no_buffer, (unsigned long)e->irqs,
               (unsigned long)e->rx_buffer_unavailable, (unsigned long)e->abnormal);
#if LWIP_STATS
    con_printf("net: lwip link_xmit=%u link_recv=%u link_drop=%u ip_chkerr=%u tcp_xmit=%u "
               "tcp_recv=%u tcp_drop=%u tcp_chkerr=%u\n",
               (unsigned)lwip_stats.link.xmit, (unsigned)lwip_stats.link.recv,
               (unsigned)lwip_stats.link.drop, (unsigned)lwip_stats.ip.chkerr,
               (unsigned)lwip_stats.tcp.xmit, (unsigned)lwip_stats.tcp.recv,
               (unsigned)lwip_stats.tcp.drop, (unsigned)lwip_stats.tcp.chkerr);
#endif
    con_printf("net: memory kernel_heap_free=%lu kernel_heap_min=%lu\n",
               (unsigned long)xPortGetFreeHeapSize(), (unsigned long)xPortGetMinimumEverFreeHeapSize());
}

void cmd_net(int argc, char **argv)
{
    if (argc == 1) {
        if (phy.addr >= 0 && phy.id != 0) {
            con_printf("net: phy %s addr %d id 0x%08lx\n", phy_name(phy.id), phy.addr, (unsigned long)phy.id);
        }
        print_link();
        print_addresses("net: ");
        print_counters();
        con_printf("net: ok\n");
        return;
    }
    if (argc == 3 && strcmp(argv[1], "ip") == 0) {
        char *slash = strchr(argv[2], '/');
        uint32_t addr, prefix = prefix_len;
        if (slash != NULL) {
            *slash = '\0';
        }
        if (parse_ipv4(argv[2], &addr) != 0 ||
            (slash != NULL && (parse_u32(slash + 1, &prefix) != 0 || prefix > 32))) {
            con_printf("net: error invalid address (use net ip A.B.C.D or A.B.C.D/N)\n");
            return;
        }
        ip_be = addr;
        prefix_len = (unsigned)prefix;
        if (network_up) {
            apply_address();
        }
        char ip[16];
        con_printf("net: ip %s/%u ok\n", format_ipv4(ip_be, ip), prefix_len);
        return;
    }
    if (argc == 3 && strcmp(argv[1], "server") == 0) {
        char *colon = strchr(argv[2], ':');
        uint32_t addr, port = https_server.port;
        if (colon != NULL) {
            *colon = '\0';
        }
        if (parse_ipv4(argv[2], &addr) != 0 ||
            (colon != NULL && (parse_u32(colon + 1, &port) != 0 || port == 0 || port > 65535))) {
            con_printf("net: error invalid server (use net server A.B.C.D or A.B.C.D:PORT)\n");
            return;
        }
        https_server.ip_be = addr;
        https_server.port = (uint16_t)port;
        char ip[16];
        con_printf("net: server %s:%u ok\n", format_ipv4(addr, ip), https_server.port);
        return;
    }
    con_printf("net: error usage net [ip A.B.C.D[/N] | server A.B.C.D[:PORT]]\n");
}
