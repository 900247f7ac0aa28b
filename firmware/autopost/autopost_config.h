/*
 * Compile-time settings of the autopost images (-DFW_APP_CONFIG='"autopost_config.h"'): what
 * they post, where, how often, and the lwIP and TLS options that go with it. Included first by
 * lwipopts.h and by tls/tls_client.c, so it holds macros and one prototype only.
 *
 * Every FW_AUTOPOST_* option can be overridden from the build:
 *   FW_AUTOPOST_POSTS=10 FW_AUTOPOST_PERIOD_MS=2000 scripts/build-firmware autopost-fixed
 */
#ifndef AUTOPOST_CONFIG_H
#define AUTOPOST_CONFIG_H

/* ---- telemetry ------------------------------------------------------------------------------- */
/* POSTs after boot, the first at once (0: forever) */
#ifndef FW_AUTOPOST_POSTS
#define FW_AUTOPOST_POSTS 3
#endif
/* virtual milliseconds from the start of one POST to the start of the next */
#ifndef FW_AUTOPOST_PERIOD_MS
#define FW_AUTOPOST_PERIOD_MS 5000
#endif
/* body bytes: body[i] = i % 251, as the shell's POST. The default is above 1020 on purpose: a
 * record that large fills a TCP segment longer than one 1024-byte TX buffer, where seedbug's
 * defect is */
#ifndef FW_AUTOPOST_BODY_SIZE
#define FW_AUTOPOST_BODY_SIZE 1400
#endif
/* the server, by name (resolved by DNS before every POST), and the request */
#ifndef FW_AUTOPOST_HOST
#define FW_AUTOPOST_HOST "telemetry.example.net"
#endif
#ifndef FW_AUTOPOST_PORT
#define FW_AUTOPOST_PORT 443
#endif
#ifndef FW_AUTOPOST_PATH
#define FW_AUTOPOST_PATH "/upload"
#endif
/* NTP server when DHCP offers none (option 42 takes precedence); resolved by DNS */
#ifndef FW_AUTOPOST_NTP_SERVER
#define FW_AUTOPOST_NTP_SERVER "pool.ntp.org"
#endif
/* how long the first POST waits for the SNTP time: without it the certificate's dates cannot
 * be checked and the handshake fails (the clock reads 1970, before notBefore) */
#ifndef FW_AUTOPOST_TIME_WAIT_MS
#define FW_AUTOPOST_TIME_WAIT_MS 20000
#endif

#if FW_AUTOPOST_BODY_SIZE < 1 || FW_AUTOPOST_BODY_SIZE > 1048576
#error "FW_AUTOPOST_BODY_SIZE must be 1..1048576 bytes"
#endif
#if FW_AUTOPOST_POSTS < 0 || FW_AUTOPOST_PERIOD_MS < 0 || FW_AUTOPOST_TIME_WAIT_MS < 0
#error "FW_AUTOPOST_POSTS, FW_AUTOPOST_PERIOD_MS and FW_AUTOPOST_TIME_WAIT_MS must not be negative"
#endif
#if FW_AUTOPOST_PORT < 1 || FW_AUTOPOST_PORT > 65535
#error "FW_AUTOPOST_PORT must be 1..65535"
#endif

/* ---- TLS (tls/tls_client.c): TLS 1.2 only (set at boot), the server's name checked against
 * its certificate and sent as SNI, ECDHE-RSA with AES-128-GCM first ------------------------- */
#define TLS_SERVER_NAME FW_AUTOPOST_HOST
#define TLS_CIPHERSUITE_PREFERENCE                                                  \
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, \
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, MBEDTLS_TLS_RSA_WITH_AES_128_GCM_SHA256

/* ---- lwIP (net/lwipopts.h keeps everything else) --------------------------------------------- */
#define LWIP_UDP                        1
#define LWIP_DHCP                       1
#define LWIP_DNS                        1
#define LWIP_NETIF_HOSTNAME             1   /* DHCP option 12 in REQUESTs */
#define LWIP_DHCP_GET_NTP_SRV           1   /* ask for option 42, hand it to SNTP */
#define DNS_MAX_SERVERS                 2
#define MEMP_NUM_UDP_PCB                4   /* DHCP, SNTP, DNS (a fresh port per query) */
/* lwIP counts its own timeouts; SNTP's runs on top (lwip/apps/sntp_opts.h) */
#define MEMP_NUM_SYS_TIMEOUT            (LWIP_NUM_SYS_TIMEOUT_INTERNAL + 1)

/* SNTP (lwip/apps/sntp_opts.h): unicast polling, the server from DHCP or by name, the first
 * request at once rather than after a random 0-5 s, the time handed to the wall clock */
#define SNTP_SERVER_DNS                 1
#define SNTP_GET_SERVERS_FROM_DHCP      1
#define SNTP_STARTUP_DELAY              0
void wallclock_set_from_sntp(unsigned long unix_seconds, unsigned long microseconds);
#define SNTP_SET_SYSTEM_TIME_US(sec, us) wallclock_set_from_sntp((sec), (us))

#endif /* AUTOPOST_CONFIG_H */
