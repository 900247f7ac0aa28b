/* A stand-in for a user's production image in device-initiated scenarios: no shell, its log on
 * USART2, and network traffic of its own from the first milliseconds after reset.
 *
 * It brings the Ethernet MAC up, asks for an address by DHCP (DISCOVER, REQUEST: RFC 2131 section
 * 4.4.1), looks up PROBE_NAME with a DNS A query (RFC 1035 section 4.1) and asks the SNTP server
 * for the time (RFC 4330 section 4), logging what each answer said, then calls probe_done() and
 * sleeps. The replies are parsed here, by the image, so a test can compare what the device
 * understood with what the scenario recorded that it served.
 *
 * Options (-D): PROBE_CONSOLE_USART1=1 logs on USART1 instead; PROBE_SILENT_UNTIL_DONE=1 prints
 * nothing before "probe: done"; PROBE_TOUCH_UNMODELLED=1 first reads TIM1 (not in the platform: an
 * advanced-control timer) and stores through a NULL pointer (into flash's boot alias), logging what
 * TIM1_CNT and FLASH_SR read. Checksums are left to the MAC (TDES0 CIC = 11, RM0090 33.6.7). */
#include <string.h>
#include "test.h"
#include "cm4.h"

#ifndef PROBE_NAME
#define PROBE_NAME "telemetry.example.net"
#endif

#define RCC_AHB1ENR  REG32(0x40023830u)
#define RCC_APB1ENR  REG32(0x40023840u)
#define RCC_APB2ENR  REG32(0x40023844u)
#define SYSCFG_PMC   REG32(0x40013804u)

#if PROBE_CONSOLE_USART1
#define USART_BASE 0x40011000u
#else
#define USART_BASE 0x40004400u
#endif
#define USART_SR  REG32(USART_BASE + 0x00u)
#define USART_DR  REG32(USART_BASE + 0x04u)
#define USART_BRR REG32(USART_BASE + 0x08u)
#define USART_CR1 REG32(USART_BASE + 0x0Cu)

#define ETH_MACCR    REG32(0x40028000u)
#define ETH_MACFFR   REG32(0x40028004u)
#define ETH_MACMIIAR REG32(0x40028010u)
#define ETH_MACMIIDR REG32(0x40028014u)
#define ETH_MACA0HR  REG32(0x40028040u)
#define ETH_MACA0LR  REG32(0x40028044u)
#define ETH_DMABMR   REG32(0x40029000u)
#define ETH_DMATPDR  REG32(0x40029004u)
#define ETH_DMARPDR  REG32(0x40029008u)
#define ETH_DMARDLAR REG32(0x4002900Cu)
#define ETH_DMATDLAR REG32(0x40029010u)
#define ETH_DMASR    REG32(0x40029014u)
#define ETH_DMAOMR   REG32(0x40029018u)
#define ETH_DMAIER   REG32(0x4002901Cu)
#define ETH_IRQ 61

#define OWN (1u << 31)
#define TDES0_IC  (1u << 30)
#define TDES0_LS  (1u << 29)
#define TDES0_FS  (1u << 28)
#define TDES0_TCH (1u << 20)
#define RDES0_LS  (1u << 8)
#define RDES1_RCH (1u << 14)
#define DMASR_RBUS (1u << 7)

#define TX_DESCS 2
#define RX_DESCS 4
#define BUF 1536

typedef struct { volatile uint32_t des0, des1, des2, des3, des4, des5, des6, des7; } eth_desc_t;

static eth_desc_t tx_desc[TX_DESCS] __attribute__((aligned(4)));
static eth_desc_t rx_desc[RX_DESCS] __attribute__((aligned(4)));
static uint8_t tx_buf[TX_DESCS][BUF] __attribute__((aligned(4)));
static uint8_t rx_buf[RX_DESCS][BUF] __attribute__((aligned(4)));
static uint32_t tx_cur, rx_cur;
static uint8_t frame[BUF];

static const uint8_t station[6] = {0x02, 0x00, 0x00, 0x00, 0x0d, 0x01};
static uint8_t router_mac[6];
static uint8_t my_ip[4], server_ip[4], dns_ip[4];

void ETH_IRQHandler(void) { ETH_DMASR = ETH_DMASR & ((1u << 16) | (1u << 6) | (1u << 0)); }

/* --- the log ------------------------------------------------------------------------------------ */
static void put(const char *s)
{
#if !PROBE_SILENT_UNTIL_DONE
    for (; *s; s++) {
        while (!(USART_SR & (1u << 7))) {}            /* TXE */
        USART_DR = (uint8_t)*s;
    }
#else
    (void)s;
#endif
}

static void put_always(const char *s)
{
    for (; *s; s++) {
        while (!(USART_SR & (1u << 7))) {}
        USART_DR = (uint8_t)*s;
    }
}

static char *fmt_u(char *p, uint32_t v)
{
    char tmp[10];
    int n = 0;
    do { tmp[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (n) *p++ = tmp[--n];
    return p;
}

static char *fmt_ip(char *p, const uint8_t *ip)
{
    for (int i = 0; i < 4; i++) {
        p = fmt_u(p, ip[i]);
        if (i < 3) *p++ = '.';
    }
    return p;
}

static char *fmt_s(char *p, const char *s) { while (*s) *p++ = *s++; return p; }

/* --- the MAC ------------------------------------------------------------------------------------ */
static void mac_init(void)
{
    RCC_AHB1ENR |= 0x7u;
    RCC_APB2ENR |= 1u << 14;
    SYSCFG_PMC |= 1u << 23;                                /* RMII before the MAC reset */
    RCC_AHB1ENR |= (1u << 25) | (1u << 26) | (1u << 27);
    ETH_DMABMR |= 1u;
    while (ETH_DMABMR & 1u) {}
    ETH_MACCR = (1u << 14) | (1u << 11);                   /* 100 Mb/s, full duplex */
    ETH_MACFFR = 0;
    ETH_MACA0HR = (uint32_t)station[5] << 8 | station[4];
    ETH_MACA0LR = (uint32_t)station[3] << 24 | (uint32_t)station[2] << 16 | (uint32_t)station[1] << 8 | station[0];
    ETH_DMAOMR = (1u << 25) | (1u << 21);                  /* RSF TSF */
    for (uint32_t i = 0; i < TX_DESCS; i++) {
        tx_desc[i].des0 = TDES0_TCH;
        tx_desc[i].des2 = (uint32_t)tx_buf[i];
        tx_desc[i].des3 = (uint32_t)&tx_desc[(i + 1) % TX_DESCS];
    }
    for (uint32_t i = 0; i < RX_DESCS; i++) {
        rx_desc[i].des1 = BUF | RDES1_RCH;
        rx_desc[i].des2 = (uint32_t)rx_buf[i];
        rx_desc[i].des3 = (uint32_t)&rx_desc[(i + 1) % RX_DESCS];
        rx_desc[i].des0 = OWN;
    }
    ETH_DMATDLAR = (uint32_t)tx_desc;
    ETH_DMARDLAR = (uint32_t)rx_desc;
    ETH_DMAIER = (1u << 16) | (1u << 6);                   /* NISE, RIE: wake from WFI on RX */
    nvic_enable(ETH_IRQ);
    enable_irq();
    ETH_MACCR |= (1u << 3) | (1u << 2);                    /* TE RE */
    ETH_DMAOMR |= (1u << 13) | (1u << 1);                  /* ST SR */
}

/* IEEE 802.3 clause 22 over the MAC's SMI (RM0090 §33.4.4): MACMIIAR PA/MR/CR/MB, data in MACMIIDR */
static uint32_t mdio_read(uint32_t phy, uint32_t reg)
{
    ETH_MACMIIAR = (phy << 11) | (reg << 6) | (4u << 2) | 1u;     /* CR 4: HCLK 150-168 MHz */
    while (ETH_MACMIIAR & 1u) {}
    return ETH_MACMIIDR & 0xFFFFu;
}

/* a frame sent before auto-negotiation completes is lost on the wire, as on a board */
static void wait_for_link(void)
{
    while (!(mdio_read(0, 1) & (1u << 2))) {}                  /* BSR link status (latching low) */
}

static void eth_send(uint32_t len)
{
    eth_desc_t *d = &tx_desc[tx_cur];
    while (d->des0 & OWN) {}
    memcpy(tx_buf[tx_cur], frame, len);
    d->des1 = len;
    d->des0 = TDES0_TCH | TDES0_FS | TDES0_LS | TDES0_IC | (3u << 22);
    dsb();
    d->des0 |= OWN;
    dsb();
    tx_cur = (tx_cur + 1) % TX_DESCS;
    ETH_DMATPDR = 0;
}

static uint32_t eth_receive(void)
{
    for (;;) {
        eth_desc_t *d = &rx_desc[rx_cur];
        if (!(d->des0 & OWN)) {
            uint32_t status = d->des0, len = 0;
            if (status & RDES0_LS)
                len = ((status >> 16) & 0x3FFFu) - 4u;
            if (len > BUF) len = 0;
            memcpy(frame, rx_buf[rx_cur], len);
            d->des0 = OWN;
            rx_cur = (rx_cur + 1) % RX_DESCS;
            if (ETH_DMASR & DMASR_RBUS) {
                ETH_DMASR = DMASR_RBUS;
                ETH_DMARPDR = 0;
            }
            if (len)
                return len;
            continue;
        }
        wfi();
    }
}

/* --- IPv4/UDP ------------------------------------------------------------------------------------ */
static uint8_t *udp_frame(const uint8_t *dst_mac, const uint8_t *src, const uint8_t *dst,
                          uint16_t sport, uint16_t dport, uint32_t payload)
{
    uint32_t udp_len = 8u + payload, ip_len = 20u + udp_len;
    memset(frame, 0, 42);
    memcpy(frame, dst_mac, 6);
    memcpy(frame + 6, station, 6);
    frame[12] = 0x08;
    uint8_t *ip = frame + 14, *udp = ip + 20;
    ip[0] = 0x45; ip[2] = (uint8_t)(ip_len >> 8); ip[3] = (uint8_t)ip_len;
    ip[8] = 64; ip[9] = 17;
    memcpy(ip + 12, src, 4);
    memcpy(ip + 16, dst, 4);
    udp[0] = (uint8_t)(sport >> 8); udp[1] = (uint8_t)sport;
    udp[2] = (uint8_t)(dport >> 8); udp[3] = (uint8_t)dport;
    udp[4] = (uint8_t)(udp_len >> 8); udp[5] = (uint8_t)udp_len;
    return udp + 8;
}

/* A UDP datagram to `port` (with the frame's payload at *payload), or 0 when the frame is not one. */
static uint32_t udp_payload(uint32_t len, uint16_t port, uint8_t **payload)
{
    if (len < 42 || frame[12] != 0x08 || frame[13] != 0x00 || frame[23] != 17)
        return 0;
    uint32_t ihl = (frame[14] & 0xFu) * 4u;
    uint8_t *udp = frame + 14 + ihl;
    if ((uint32_t)(udp[2] << 8 | udp[3]) != port)
        return 0;
    *payload = udp + 8;
    return (uint32_t)(udp[4] << 8 | udp[5]) - 8u;
}

/* --- DHCP ---------------------------------------------------------------------------------------- */
static const uint8_t broadcast_mac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t any_ip[4] = {0, 0, 0, 0}, all_ip[4] = {255, 255, 255, 255};

static void dhcp_send(uint8_t type)
{
    uint8_t *m = udp_frame(broadcast_mac, any_ip, all_ip, 68, 67, 300);
    memset(m, 0, 300);
    m[0] = 1; m[1] = 1; m[2] = 6;
    m[4] = 0x5e; m[5] = 0xed; m[6] = 0x00; m[7] = 0x01;    /* xid */
    memcpy(m + 28, station, 6);
    m[236] = 99; m[237] = 130; m[238] = 83; m[239] = 99;   /* magic cookie */
    uint8_t *o = m + 240;
    *o++ = 53; *o++ = 1; *o++ = type;
    if (type == 3) {
        *o++ = 50; *o++ = 4; memcpy(o, my_ip, 4); o += 4;
        *o++ = 54; *o++ = 4; memcpy(o, server_ip, 4); o += 4;
    }
    *o++ = 55; *o++ = 3; *o++ = 1; *o++ = 3; *o++ = 6;
    *o = 255;
    eth_send(14 + 20 + 8 + 300);
}

/* Wait for a DHCP reply of `type`; fills my_ip, server_ip, dns_ip and router_mac. */
static void dhcp_wait(uint8_t type)
{
    for (;;) {
        uint8_t *m;
        uint32_t n = udp_payload(eth_receive(), 68, &m);
        if (n < 244 || m[0] != 2 || m[4] != 0x5e || m[5] != 0xed)
            continue;
        uint8_t got = 0;
        for (uint32_t i = 240; i + 1 < n && m[i] != 255;) {
            if (m[i] == 0) { i++; continue; }
            uint8_t code = m[i], olen = m[i + 1];
            const uint8_t *v = m + i + 2;
            if (code == 53 && olen == 1) got = v[0];
            if (code == 54 && olen == 4) memcpy(server_ip, v, 4);
            if (code == 6 && olen >= 4) memcpy(dns_ip, v, 4);
            i += 2u + olen;
        }
        if (got == type) {
            memcpy(my_ip, m + 16, 4);
            memcpy(router_mac, frame + 6, 6);
            return;
        }
    }
}

/* --- DNS and SNTP -------------------------------------------------------------------------------- */
static void dns_query(void)
{
    uint8_t *q = udp_frame(router_mac, my_ip, dns_ip, 49001, 53, 0);
    uint8_t *p = q;
    *p++ = 0x12; *p++ = 0x34; *p++ = 0x01; *p++ = 0x00;   /* id, RD */
    *p++ = 0; *p++ = 1; *p++ = 0; *p++ = 0; *p++ = 0; *p++ = 0; *p++ = 0; *p++ = 0;
    const char *name = PROBE_NAME;
    while (*name) {
        const char *dot = name;
        while (*dot && *dot != '.') dot++;
        *p++ = (uint8_t)(dot - name);
        memcpy(p, name, (size_t)(dot - name));
        p += dot - name;
        name = *dot ? dot + 1 : dot;
    }
    *p++ = 0;
    *p++ = 0; *p++ = 1; *p++ = 0; *p++ = 1;                /* A, IN */
    uint32_t payload = (uint32_t)(p - q);
    udp_frame(router_mac, my_ip, dns_ip, 49001, 53, payload);   /* lengths, payload kept */
    eth_send(42 + payload);
}

/* The first A record's address, 0 with *rcode set otherwise. */
static int dns_answer(uint8_t *address, uint32_t *rcode)
{
    for (;;) {
        uint8_t *m;
        uint32_t n = udp_payload(eth_receive(), 49001, &m);
        if (n < 12 || m[0] != 0x12 || m[1] != 0x34)
            continue;
        *rcode = m[3] & 0xFu;
        uint32_t answers = (uint32_t)(m[6] << 8 | m[7]), i = 12;
        while (i < n && m[i]) i += m[i] + 1u;               /* the question's name */
        i += 5;                                             /* its end, QTYPE, QCLASS */
        for (uint32_t a = 0; a < answers && i + 12 <= n; a++) {
            if (m[i] & 0xC0) i += 2; else { while (i < n && m[i]) i += m[i] + 1u; i++; }
            uint32_t type = (uint32_t)(m[i] << 8 | m[i + 1]), rdlen = (uint32_t)(m[i + 8] << 8 | m[i + 9]);
            if (type == 1 && rdlen == 4) {
                memcpy(address, m + i + 10, 4);
                return 1;
            }
            i += 10u + rdlen;
        }
        return 0;
    }
}

static uint32_t sntp_time(void)
{
    uint8_t *q = udp_frame(router_mac, my_ip, server_ip, 49002, 123, 48);
    memset(q, 0, 48);
    q[0] = 0x23;                                           /* LI 0, VN 4, mode 3 (client) */
    eth_send(42 + 48);
    for (;;) {
        uint8_t *m;
        uint32_t n = udp_payload(eth_receive(), 49002, &m);
        if (n != 48 || (m[0] & 7u) != 4)
            continue;
        uint32_t ntp = (uint32_t)m[40] << 24 | (uint32_t)m[41] << 16 | (uint32_t)m[42] << 8 | m[43];
        return ntp - 2208988800u;                          /* NTP era 0 seconds to Unix seconds */
    }
}

#if PROBE_TOUCH_UNMODELLED
static volatile uint32_t *volatile null_target;
#endif

void __attribute__((noinline, used)) probe_done(void) { __asm volatile ("" ::: "memory"); }

int main(void)
{
#if PROBE_CONSOLE_USART1
    RCC_APB2ENR |= 1u << 4;
    USART_BRR = 0x2D9;                                     /* 115200 baud at PCLK2 = 84 MHz */
#else
    RCC_APB1ENR |= 1u << 17;
    USART_BRR = 0x16D;                                     /* 115200 baud at PCLK1 = 42 MHz */
#endif
    USART_CR1 = (1u << 13) | (1u << 3);
#if PROBE_TOUCH_UNMODELLED
    {
        char text[64];
        uint32_t cnt = REG32(0x40010024u);                  /* TIM1_CNT */
        *(volatile uint32_t *)null_target = 0x12345678u;    /* a NULL store: flash's boot alias */
        char *q = fmt_u(fmt_s(text, "probe: tim1 cnt "), cnt);
        q = fmt_u(fmt_s(q, " flash sr "), REG32(0x40023C0Cu));
        fmt_s(q, "\r\n")[0] = 0;
        put_always(text);
    }
#endif
    mac_init();
    wait_for_link();
    dhcp_send(1);                                          /* DISCOVER: the first frame after reset */
    put("probe: boot\r\n");
    dhcp_wait(2);
    dhcp_send(3);
    dhcp_wait(5);
    char line[96], *p = fmt_ip(fmt_s(line, "probe: lease "), my_ip);
    p = fmt_ip(fmt_s(p, " dns "), dns_ip);
    fmt_s(p, "\r\n")[0] = 0;
    put(line);

    uint8_t address[4];
    uint32_t rcode = 0;
    dns_query();
    if (dns_answer(address, &rcode))
        p = fmt_ip(fmt_s(line, "probe: dns " PROBE_NAME " = "), address);
    else
        p = fmt_u(fmt_s(line, "probe: dns " PROBE_NAME " rcode "), rcode);
    fmt_s(p, "\r\n")[0] = 0;
    put(line);

    p = fmt_u(fmt_s(line, "probe: time "), sntp_time());
    fmt_s(p, "\r\n")[0] = 0;
    put(line);

    probe_done();
    put_always("probe: done\r\n");
    for (;;)
        wfi();
}
