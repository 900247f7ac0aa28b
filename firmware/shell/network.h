/* Network bring-up (MAC, PHY, link, lwIP, static IPv4) and the shell's `net` command. */
#ifndef SHELL_NETWORK_H
#define SHELL_NETWORK_H

#define NET_DEFAULT_IP "192.0.2.10"
#define NET_DEFAULT_PREFIX 24
#define NET_LINK_WAIT_MS 5000u

/* Prints the "net: ..." boot lines; 0 when the link is up and the interface configured. */
int network_start(void);

#endif
