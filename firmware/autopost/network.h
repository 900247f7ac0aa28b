/*
 * The autopost images' network: link bring-up, the address by DHCP (lwIP's client), names by
 * DNS (the servers DHCP gave), the clock by SNTP (lwIP's app). Each step logs what a device's
 * log shows: the lease, every DNS answer, the SNTP time.
 */
#ifndef AUTOPOST_NETWORK_H
#define AUTOPOST_NETWORK_H

#include <stdint.h>

/* MAC, PHY, link, lwIP, DHCP: returns once a lease is bound (0), or -1 if the hardware failed. */
int network_start(void);

/* SNTP polling: the server from DHCP option 42, else FW_AUTOPOST_NTP_SERVER by name. */
void network_start_sntp(void);

/* host -> IPv4 (network byte order) through lwIP's resolver; 0 on success. Logs the answer. */
int network_resolve(const char *host, uint32_t *ip_be);

#endif
