/*
 * TLS client sessions on lwIP sockets (see tls_client.h). The network callbacks map socket
 * errors onto Mbed TLS codes so that every failure reaches the shell as one hex code.
 *
 * Gallery variant bug-tcp-nocopy: tls/tls_client.c whose send callback queues Mbed TLS's output
 * buffer with lwIP's raw tcp_write() by reference (no TCP_WRITE_FLAG_COPY) and returns once the
 * segments are on the wire, long before they are acknowledged (fw_tls_send below).
 */
#include <errno.h>
#include <string.h>

#include "lwip/api.h"
#include "lwip/priv/sockets_priv.h"     /* lwip_socket_dbg_get_socket: the socket's netconn */
#include "lwip/sockets.h"
#define tcp_connect lwip_raw_tcp_connect    /* the raw API's name; this file has its own tcp_connect */
#include "lwip/tcp.h"
#undef tcp_connect
#include "lwip/tcpip.h"

#include "FreeRTOS.h"
#include "task.h"

#include "mbedtls/ctr_drbg.h"
#include "mbedtls/debug.h"
#include "mbedtls/entropy.h"
#include "mbedtls/error.h"
#include "mbedtls/memory_buffer_alloc.h"
#include "mbedtls/net_sockets.h"
#include "mbedtls/ssl.h"
#include "mbedtls/x509_crt.h"

#include "console.h"
#include "test_ca.h"
#include "tls_client.h"

#ifdef FW_APP_CONFIG
#include FW_APP_CONFIG          /* the application's compile-time TLS settings, if any */
#endif
/* the name the server certificate must carry, also sent as SNI */
#ifndef TLS_SERVER_NAME
#define TLS_SERVER_NAME TEST_SERVER_NAME
#endif

/* Mbed TLS heap: 16 KiB incoming record buffer + 4 KiB outgoing + handshake state. CPU-only
 * memory, so it goes to CCM. */
#ifndef TLS_HEAP_SIZE
#define TLS_HEAP_SIZE (48 * 1024)
#endif
#ifndef FW_CCM_BSS
#define FW_CCM_BSS __attribute__((section(".ccm_bss")))
#endif

struct tls_options tls_options = {
    .min_minor = MBEDTLS_SSL_MINOR_VERSION_1,
    .max_minor = MBEDTLS_SSL_MINOR_VERSION_3,
    .suite = 0,
    .debug_level = 1,           /* level 1 prints the report's lines (fatal alert, -0x7780) */
};

static unsigned char tls_heap[TLS_HEAP_SIZE] FW_CCM_BSS __attribute__((aligned(8)));
static mbedtls_entropy_context entropy;
static mbedtls_ctr_drbg_context drbg;
static mbedtls_x509_crt trusted_ca;
static int suite_list[2];

/* "<basename of file>:<line>: |<level>| <message>", the format of ssl_client2 and the report */
static void debug_print(void *ctx, int level, const char *file, int line, const char *str)
{
    (void)ctx;
    const char *base = file;
    for (const char *p = file; *p != '\0'; p++) {
        if (*p == '/' || *p == '\\') {
            base = p + 1;
        }
    }
    con_printf("%s:%04d: |%d| ", base, line, level);
    con_write(str, strlen(str));
}

int tls_client_init(void)
{
    mbedtls_memory_buffer_alloc_init(tls_heap, sizeof tls_heap);
    mbedtls_entropy_init(&entropy);     /* adds mbedtls_hardware_poll (the RNG) as a source */
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_x509_crt_init(&trusted_ca);
    mbedtls_debug_set_threshold(tls_options.debug_level);

    static const char personalisation[] = "stm32f407 tls-client";
    int ret = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy,
                                    (const unsigned char *)personalisation, sizeof personalisation - 1);
    if (ret != 0) {
        return ret;
    }
    /* PEM parsing wants the terminating NUL inside the length */
    return mbedtls_x509_crt_parse(&trusted_ca, (const unsigned char *)test_ca_pem, sizeof test_ca_pem);
}

static int errno_to_mbedtls(int err, int fallback)
{
    if (err == EWOULDBLOCK || err == EAGAIN) {
        return MBEDTLS_ERR_SSL_TIMEOUT;     /* SO_RCVTIMEO / SO_SNDTIMEO expired */
    }
    if (err == ECONNRESET || err == EPIPE || err == ENOTCONN) {
        return MBEDTLS_ERR_NET_CONN_RESET;
    }
    if (err == EINTR) {
        return MBEDTLS_ERR_SSL_WANT_READ;
    }
    return fallback;
}

/* The connection's TCP PCB, or NULL once lwIP has freed it (reset, abort). Core lock held. */
static struct tcp_pcb *session_pcb(struct tls_session *s)
{
    struct lwip_sock *sock = lwip_socket_dbg_get_socket(s->fd);
    return sock != NULL && sock->conn != NULL ? sock->conn->pcb.tcp : NULL;
}

/* Mbed TLS's records go to TCP through the raw API, straight from this task (the core lock of
 * LWIP_TCPIP_CORE_LOCKING makes that legal): no netconn message, no copy into the socket layer. */
__attribute__((noinline, used)) int fw_tls_send(void *ctx, const unsigned char *buf, size_t len)
{
    struct tls_session *s = ctx;
    const TickType_t start = xTaskGetTickCount();
    size_t queued = 0;
    int unsent = 1;
    while (queued < len || unsent) {
        err_t err = ERR_OK;
        LOCK_TCPIP_CORE();
        struct tcp_pcb *pcb = session_pcb(s);
        if (pcb == NULL) {
            err = ERR_CLSD;
        } else {
            size_t n = len - queued;
            if (n > tcp_sndbuf(pcb)) {
                n = tcp_sndbuf(pcb);
            }
            if (n > 0) {
                /* DEFECT: no TCP_WRITE_FLAG_COPY, so lwIP queues pbufs that point into buf, which
                 * is Mbed TLS's output buffer: the next record is built in the same place. A
                 * segment that must be sent again after this function returned goes out with
                 * whatever the buffer holds by then. The fix: tcp_write(..., TCP_WRITE_FLAG_COPY)
                 * (or keep buf untouched until tcp_sent() reports it acknowledged). */
                err = tcp_write(pcb, buf + queued, (u16_t)n, 0);
                if (err == ERR_OK) {
                    queued += n;
                }
            }
            if (err == ERR_OK || err == ERR_MEM) {
                err = tcp_output(pcb);
            }
            /* "sent" = every segment handed to the driver, which copies it into its DMA buffers */
            unsent = pcb->unsent != NULL;
        }
        UNLOCK_TCPIP_CORE();
        if (err != ERR_OK && err != ERR_MEM) {
            s->last_errno = err_to_errno(err);
            return MBEDTLS_ERR_NET_CONN_RESET;
        }
        if (queued < len || unsent) {
            if (xTaskGetTickCount() - start >= pdMS_TO_TICKS(TLS_IO_TIMEOUT_MS)) {
                s->last_errno = EWOULDBLOCK;
                return MBEDTLS_ERR_SSL_TIMEOUT;
            }
            vTaskDelay(1);          /* until ACKs free the send buffer or open the window */
        }
    }
    return (int)len;
}

__attribute__((noinline, used)) int fw_tls_recv(void *ctx, unsigned char *buf, size_t len)
{
    struct tls_session *s = ctx;
    int ret = (int)lwip_recv(s->fd, buf, len, 0);
    if (ret >= 0) {
        return ret;                         /* 0: the peer closed TCP */
    }
    s->last_errno = errno;
    return errno_to_mbedtls(s->last_errno, MBEDTLS_ERR_NET_RECV_FAILED);
}

static int set_timeouts(int fd, uint32_t timeout_ms)
{
    struct timeval tv;
    tv.tv_sec = (long)(timeout_ms / 1000u);
    tv.tv_usec = (long)((timeout_ms % 1000u) * 1000u);
    if (lwip_setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
        lwip_setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0) {
        return -1;
    }
    return 0;
}

/* Non-blocking connect + select: lwIP's blocking connect would wait for every SYN retry. */
static int tcp_connect(struct tls_session *s, uint32_t server_ip_be, uint16_t port)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = server_ip_be;

    s->fd = lwip_socket(AF_INET, SOCK_STREAM, 0);
    if (s->fd < 0) {
        s->last_errno = errno;
        return MBEDTLS_ERR_NET_SOCKET_FAILED;
    }
    int flags = lwip_fcntl(s->fd, F_GETFL, 0);
    if (flags < 0 || lwip_fcntl(s->fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        s->last_errno = errno;
        return MBEDTLS_ERR_NET_SOCKET_FAILED;
    }
    if (lwip_connect(s->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (errno != EINPROGRESS) {
            s->last_errno = errno;
            return MBEDTLS_ERR_NET_CONNECT_FAILED;
        }
        fd_set writable;
        FD_ZERO(&writable);
        FD_SET(s->fd, &writable);
        struct timeval tv = {(long)(TLS_CONNECT_TIMEOUT_MS / 1000u), 0};
        int ready = lwip_select(s->fd + 1, NULL, &writable, NULL, &tv);
        if (ready <= 0) {
            s->last_errno = ready == 0 ? ETIMEDOUT : errno;
            return MBEDTLS_ERR_NET_CONNECT_FAILED;
        }
        int so_error = 0;
        socklen_t optlen = sizeof so_error;
        if (lwip_getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &so_error, &optlen) != 0 || so_error != 0) {
            s->last_errno = so_error ? so_error : errno;
            return MBEDTLS_ERR_NET_CONNECT_FAILED;
        }
    }
    if (lwip_fcntl(s->fd, F_SETFL, flags) < 0 || set_timeouts(s->fd, TLS_IO_TIMEOUT_MS) != 0) {
        s->last_errno = errno;
        return MBEDTLS_ERR_NET_SOCKET_FAILED;
    }
    return 0;
}

static int configure(struct tls_session *s)
{
    int ret = mbedtls_ssl_config_defaults(&s->conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                          MBEDTLS_SSL_PRESET_DEFAULT);
    if (ret != 0) {
        return ret;
    }
    mbedtls_ssl_conf_authmode(&s->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&s->conf, &trusted_ca, NULL);
    mbedtls_ssl_conf_rng(&s->conf, mbedtls_ctr_drbg_random, &drbg);
    mbedtls_ssl_conf_dbg(&s->conf, debug_print, NULL);
    mbedtls_ssl_conf_min_version(&s->conf, MBEDTLS_SSL_MAJOR_VERSION_3, tls_options.min_minor);
    mbedtls_ssl_conf_max_version(&s->conf, MBEDTLS_SSL_MAJOR_VERSION_3, tls_options.max_minor);
    if (tls_options.suite != 0) {
        suite_list[0] = tls_options.suite;
        suite_list[1] = 0;
        mbedtls_ssl_conf_ciphersuites(&s->conf, suite_list);
    }
#ifdef TLS_CIPHERSUITE_PREFERENCE
    else {
        /* the application's order of preference instead of the library's */
        static const int preferred[] = {TLS_CIPHERSUITE_PREFERENCE, 0};
        mbedtls_ssl_conf_ciphersuites(&s->conf, preferred);
    }
#endif
    mbedtls_debug_set_threshold(tls_options.debug_level);

    ret = mbedtls_ssl_setup(&s->ssl, &s->conf);
    if (ret != 0) {
        return ret;
    }
    ret = mbedtls_ssl_set_hostname(&s->ssl, TLS_SERVER_NAME);   /* SNI + name check */
    if (ret != 0) {
        return ret;
    }
    mbedtls_ssl_set_bio(&s->ssl, s, fw_tls_send, fw_tls_recv, NULL);
    return 0;
}

int tls_session_open(struct tls_session *s, uint32_t server_ip_be, uint16_t port, const char **where)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
    mbedtls_ssl_config_init(&s->conf);
    mbedtls_ssl_init(&s->ssl);

    *where = "connect";
    int ret = tcp_connect(s, server_ip_be, port);
    if (ret == 0) {
        *where = "handshake";
        ret = configure(s);
    }
    while (ret == 0 && (ret = mbedtls_ssl_handshake(&s->ssl)) != 0) {
        if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
            ret = 0;
            continue;
        }
    }
    if (ret != 0) {
        if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
            char info[160];
            mbedtls_x509_crt_verify_info(info, sizeof info, "tls: certificate: ",
                                         mbedtls_ssl_get_verify_result(&s->ssl));
            con_printf("%s", info);
        }
        tls_session_close(s);
    }
    return ret;
}

int tls_session_write(struct tls_session *s, const unsigned char *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        int ret = mbedtls_ssl_write(&s->ssl, buf + done, len - done);
        if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
            continue;
        }
        if (ret < 0) {
            return ret;
        }
        done += (size_t)ret;
    }
    return (int)done;
}

int tls_session_read(struct tls_session *s, unsigned char *buf, size_t len)
{
    for (;;) {
        int ret = mbedtls_ssl_read(&s->ssl, buf, len);
        if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
            continue;
        }
        if (ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || ret == MBEDTLS_ERR_SSL_CONN_EOF) {
            return 0;
        }
        return ret;
    }
}

int tls_session_input_pending(struct tls_session *s)
{
    if (mbedtls_ssl_check_pending(&s->ssl)) {
        return 1;
    }
    unsigned char byte;
    int ret = (int)lwip_recv(s->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return ret > 0;
}

void tls_session_close(struct tls_session *s)
{
    if (s->fd >= 0 && s->ssl.state == MBEDTLS_SSL_HANDSHAKE_OVER) {
        (void)mbedtls_ssl_close_notify(&s->ssl);
    }
    mbedtls_ssl_free(&s->ssl);
    mbedtls_ssl_config_free(&s->conf);
    if (s->fd >= 0) {
        (void)lwip_close(s->fd);
        s->fd = -1;
    }
}

/* The NET module is not compiled in (we have our own socket layer), so mbedtls_strerror does
 * not know its codes. */
static const char *net_error_text(int code)
{
    switch (code) {
    case MBEDTLS_ERR_NET_SOCKET_FAILED: return "NET - Failed to open a socket";
    case MBEDTLS_ERR_NET_CONNECT_FAILED: return "NET - The connection to the given server / port failed";
    case MBEDTLS_ERR_NET_RECV_FAILED: return "NET - Reading information from the socket failed";
    case MBEDTLS_ERR_NET_SEND_FAILED: return "NET - Sending information through the socket failed";
    case MBEDTLS_ERR_NET_CONN_RESET: return "NET - Connection was reset by peer";
    default: return NULL;
    }
}

void tls_print_error(int code)
{
    char text[100];
    const char *net = net_error_text(code);
    if (net == NULL) {
        mbedtls_strerror(code, text, sizeof text);
    }
    con_printf("tls: last error was -0x%04x - %s\n", (unsigned)-code, net ? net : text);
}
