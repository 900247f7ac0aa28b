#include <string.h>

#include "lwip/apps/sntp.h"
#include "lwip/dhcp.h"
#include "lwip/dns.h"
#include "lwip/netdb.h"
#include "lwip/netif.h"
#include "lwip/tcpip.h"

#include "FreeRTOS.h"
#include "semphr.h"
#include "task.h"

#include "autopost_config.h"
#include "console.h"
#include "eth_mac.h"
#include "eth_phy.h"
#include "ethernetif.h"
#include "network.h"
#include "util.h"

#define ETH_INPUT_TASK_PRIORITY 5
#define LINK_WAIT_MS 5000u
#define LEASE_POLL_MS 100u
#define LEASE_REPORT_MS 10000u      /* "still waiting" once in a while: lwIP retries forever */

/* locally administered unicast address, the same as the shell images' */
static const uint8_t mac_address[6] = {0x02, 0x00, 0x00, 0x00, 0x0f, 0x07};
static const char hostname[] = "autopost-device";
static struct netif netif;
static struct eth_phy phy;

static void tcpip_ready(void *arg)
{
    xSemaphoreGive((SemaphoreHandle_t)arg);
}

static int link_up(void)
{
    if (eth_mac_init() != ETH_OK) {
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
    while (phy_wait_link(&phy, LINK_WAIT_MS) != 0) {
        con_printf("net: waiting for link (bmsr 0x%04x)\n", phy.bmsr);
    }
    con_printf("net: link up %s %s\n", phy.speed_100 ? "100M" : "10M",
               phy.full_duplex ? "full-duplex" : "half-duplex");
    if (eth_mac_start(mac_address, phy.speed_100, phy.full_duplex) != ETH_OK) {
        con_printf("net: error mac start: DMAOMR.FTF (TX FIFO flush) did not clear\n");
        return -1;
    }
    return 0;
}

static unsigned prefix_length(uint32_t mask_be)
{
    uint32_t mask = lwip_ntohl(mask_be);
    unsigned n = 0;
    while (n < 32 && (mask & (0x80000000u >> n)) != 0) {
        n++;
    }
    return n;
}

static void print_lease(void)
{
    char ip[16], router[16], dns1[16], server[16];
    LOCK_TCPIP_CORE();
    uint32_t addr = ip4_addr_get_u32(netif_ip4_addr(&netif));
    uint32_t mask = ip4_addr_get_u32(netif_ip4_netmask(&netif));
    uint32_t gw = ip4_addr_get_u32(netif_ip4_gw(&netif));
    uint32_t dns = ip4_addr_get_u32(ip_2_ip4(dns_getserver(0)));
    const struct dhcp *d = netif_dhcp_data(&netif);
    uint32_t dhcp_server = ip4_addr_get_u32(ip_2_ip4(&d->server_ip_addr));
    uint32_t lease = d->offered_t0_lease;
    UNLOCK_TCPIP_CORE();
    con_printf("dhcp: lease %s/%u router %s dns %s server %s lease %lu s\n", format_ipv4(addr, ip),
               prefix_length(mask), format_ipv4(gw, router), format_ipv4(dns, dns1),
               format_ipv4(dhcp_server, server), (unsigned long)lease);
}

int network_start(void)
{
    if (link_up() != 0) {
        return -1;
    }
    SemaphoreHandle_t ready = xSemaphoreCreateBinary();
    tcpip_init(tcpip_ready, ready);
    xSemaphoreTake(ready, portMAX_DELAY);
    vSemaphoreDelete(ready);

    LOCK_TCPIP_CORE();
    netif_add(&netif, IP4_ADDR_ANY4, IP4_ADDR_ANY4, IP4_ADDR_ANY4, (void *)mac_address, ethernetif_init,
              tcpip_input);
    netif_set_hostname(&netif, hostname);
    netif_set_default(&netif);
    netif_set_up(&netif);
    netif_set_link_up(&netif);
    /* the NTP server by name until (and unless) the DHCP ACK names one in option 42 */
    sntp_setoperatingmode(SNTP_OPMODE_POLL);
    sntp_servermode_dhcp(1);
    sntp_setservername(0, FW_AUTOPOST_NTP_SERVER);
    err_t err = dhcp_start(&netif);
    UNLOCK_TCPIP_CORE();
    ethernetif_start_input_task(&netif, ETH_INPUT_TASK_PRIORITY);
    if (err != ERR_OK) {
        con_printf("dhcp: error start %d\n", (int)err);
        return -1;
    }
    con_printf("dhcp: discover mac %02x:%02x:%02x:%02x:%02x:%02x hostname %s\n", mac_address[0],
               mac_address[1], mac_address[2], mac_address[3], mac_address[4], mac_address[5], hostname);

    for (uint32_t waited = 0;; waited += LEASE_POLL_MS) {
        LOCK_TCPIP_CORE();
        int bound = dhcp_supplied_address(&netif);
        UNLOCK_TCPIP_CORE();
        if (bound) {
            break;
        }
        if (waited != 0 && waited % LEASE_REPORT_MS == 0) {
            con_printf("dhcp: no lease after %lu s, still asking\n", (unsigned long)(waited / 1000u));
        }
        vTaskDelay(pdMS_TO_TICKS(LEASE_POLL_MS));
    }
    print_lease();
    return 0;
}

void network_start_sntp(void)
{
    char server[16];
    LOCK_TCPIP_CORE();
    const char *name = sntp_getservername(0);
    uint32_t addr = ip4_addr_get_u32(ip_2_ip4(sntp_getserver(0)));
    UNLOCK_TCPIP_CORE();
    /* before the first request: its answer is logged from the tcpip thread */
    if (name != NULL) {
        con_printf("sntp: server %s\n", name);
    } else {
        con_printf("sntp: server %s (dhcp)\n", format_ipv4(addr, server));
    }
    LOCK_TCPIP_CORE();
    sntp_init();
    UNLOCK_TCPIP_CORE();
}

int network_resolve(const char *host, uint32_t *ip_be)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    int ret = lwip_getaddrinfo(host, NULL, &hints, &res);
    if (ret != 0 || res == NULL) {
        con_printf("dns: %s failed (getaddrinfo %d)\n", host, ret);
        return -1;
    }
    *ip_be = ((const struct sockaddr_in *)(const void *)res->ai_addr)->sin_addr.s_addr;
    lwip_freeaddrinfo(res);
    char ip[16];
    con_printf("dns: %s -> %s\n", host, format_ipv4(*ip_be, ip));
    return 0;
}
