/*
 * The telemetry POST. The request is written with as few mbedtls_ssl_write calls as the
 * 4096-byte record allows, the headers and the start of the body together, so the default
 * 1400-byte body travels in one record; the body (body[i] = i % 251) is generated as it goes.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mbedtls/net_sockets.h"
#include "mbedtls/sha256.h"
#include "mbedtls/ssl.h"

#include "autopost_config.h"
#include "console.h"
#include "network.h"
#include "telemetry.h"
#include "tls_client.h"
#include "util.h"

#define FW_CCM_BSS __attribute__((section(".ccm_bss")))
#define RECORD_MAX MBEDTLS_SSL_OUT_CONTENT_LEN
#define BODY_PERIOD 251u

static struct tls_session session FW_CCM_BSS;
static unsigned char io_buf[RECORD_MAX] FW_CCM_BSS;
static char answer[1024] FW_CCM_BSS;        /* the whole HTTP response: status, headers, JSON */

static void body_pattern(uint8_t *out, uint32_t offset, uint32_t len)
{
    for (uint32_t i = 0; i < len; i++) {
        out[i] = (uint8_t)((offset + i) % BODY_PERIOD);
    }
}

static void body_digest(uint8_t digest[32])
{
    mbedtls_sha256_context sha;
    mbedtls_sha256_init(&sha);
    mbedtls_sha256_starts_ret(&sha, 0);
    for (uint32_t done = 0; done < FW_AUTOPOST_BODY_SIZE;) {
        uint32_t n = FW_AUTOPOST_BODY_SIZE - done < sizeof io_buf ? FW_AUTOPOST_BODY_SIZE - done : sizeof io_buf;
        body_pattern(io_buf, done, n);
        mbedtls_sha256_update_ret(&sha, io_buf, n);
        done += n;
    }
    mbedtls_sha256_finish_ret(&sha, digest);
    mbedtls_sha256_free(&sha);
}

__attribute__((noinline, used)) void telemetry_post_ok(unsigned n, int status, uint32_t server_length,
                                                       const char *server_sha256)
{
    con_printf("telemetry: post %u ok status=%d server_length=%lu server_sha256=%s match=yes\n", n, status,
               (unsigned long)server_length, server_sha256);
}

__attribute__((noinline, used)) void telemetry_post_failed(unsigned n, const char *where, int code,
                                                           const char *detail)
{
    if (code < 0) {
        con_printf("telemetry: post %u failed %s -0x%04x%s%s\n", n, where, (unsigned)-code, *detail ? " " : "",
                   detail);
    } else {
        con_printf("telemetry: post %u failed %s %d%s%s\n", n, where, code, *detail ? " " : "", detail);
    }
}

/* A TLS or socket failure: the Mbed TLS error line first, as the shell images print it. */
static int tls_failed(unsigned n, const char *where, int code)
{
    if (strcmp(where, "connect") == 0) {
        con_printf("net: connect failed (errno %d: %s)\n", session.last_errno, strerror(session.last_errno));
    }
    tls_print_error(code);
    telemetry_post_failed(n, where, code, "");
    return -1;
}

/* Write headers + body; 0, or a negative Mbed TLS error with *where set. */
static int send_request(uint32_t *written, const char **where)
{
    int fill = snprintf((char *)io_buf, sizeof io_buf,
                        "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/octet-stream\r\n"
                        "Content-Length: %lu\r\nConnection: close\r\n\r\n",
                        FW_AUTOPOST_PATH, FW_AUTOPOST_HOST, (unsigned long)FW_AUTOPOST_BODY_SIZE);
    if (fill < 0 || (size_t)fill >= sizeof io_buf) {
        *where = "write";               /* a path and host name longer than a record */
        return MBEDTLS_ERR_SSL_BAD_INPUT_DATA;
    }
    uint32_t sent = 0;
    *written = 0;
    for (;;) {
        uint32_t chunk = FW_AUTOPOST_BODY_SIZE - sent;
        if (chunk > RECORD_MAX - (uint32_t)fill) {
            chunk = RECORD_MAX - (uint32_t)fill;
        }
        body_pattern(io_buf + fill, sent, chunk);
        int ret = tls_session_write(&session, io_buf, (size_t)fill + chunk);
        if (ret < 0) {
            /* a server that rejected a record answers with an alert and closes: report that
             * alert (a read error) rather than the broken pipe it caused */
            if (tls_session_input_pending(&session)) {
                int alert = tls_session_read(&session, io_buf, sizeof io_buf);
                if (alert < 0) {
                    *where = "read";
                    return alert;
                }
            }
            *where = "write";
            return ret;
        }
        *written += (uint32_t)ret;
        sent += chunk;
        fill = 0;
        if (sent == FW_AUTOPOST_BODY_SIZE) {
            return 0;
        }
        if (tls_session_input_pending(&session)) {
            return 0;               /* the server answered early (to reject it): read that */
        }
    }
}

/* The header's value after `name` ("\r\ncontent-length:"), case-insensitive; NULL if absent. */
static const char *header_value(const char *headers, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = strstr(headers, "\r\n"); p != NULL; p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p, name, n) == 0) {
            p += n;
            while (*p == ' ' || *p == '\t') {
                p++;
            }
            return p;
        }
    }
    return NULL;
}

/* Decimal digits at p (after blanks and one ':' or '"'); 0 when there was a number. */
static int number_at(const char *p, uint32_t *value)
{
    while (*p == ' ' || *p == ':' || *p == '\t') {
        p++;
    }
    uint32_t v = 0;
    int digits = 0;
    for (; *p >= '0' && *p <= '9' && digits < 10; p++, digits++) {
        v = v * 10u + (uint32_t)(*p - '0');
    }
    *value = v;
    return digits > 0 ? 0 : -1;
}

/* Reads the response into `answer` until Content-Length is complete or the server closes.
 * Returns its length, or a negative Mbed TLS error. */
static int read_answer(void)
{
    size_t len = 0;
    for (;;) {
        const char *end = strstr(answer, "\r\n\r\n");
        uint32_t body;
        if (end != NULL) {
            const char *cl = header_value(answer, "\r\ncontent-length:");
            if (cl != NULL && number_at(cl, &body) == 0 && len >= (size_t)(end + 4 - answer) + body) {
                return (int)len;
            }
        }
        if (len == sizeof answer - 1) {
            return (int)len;        /* more than a telemetry answer needs: judge what we have */
        }
        int n = tls_session_read(&session, (unsigned char *)answer + len, sizeof answer - 1 - len);
        if (n < 0) {
            return n;
        }
        if (n == 0) {
            return (int)len;
        }
        len += (size_t)n;
        answer[len] = '\0';
    }
}

/* {"length": <n>, "sha256": "<hex>"} from the body; 0 when both are there. */
static int parse_json(const char *body, uint32_t *length, char hex[65])
{
    const char *l = strstr(body, "\"length\"");
    const char *h = strstr(body, "\"sha256\"");
    if (l == NULL || h == NULL || number_at(l + 8, length) != 0) {
        return -1;
    }
    h += 8;
    while (*h == ' ' || *h == ':' || *h == '"') {
        h++;
    }
    size_t n = 0;
    for (; n < 64; n++) {
        char c = h[n];
        if (c >= 'A' && c <= 'F') {
            c = (char)(c + 32);
        }
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            break;
        }
        hex[n] = c;
    }
    hex[n] = '\0';
    return n == 64 ? 0 : -1;
}

/* "HTTP/1.x NNN ..." -> NNN; 0 if the status line is malformed. */
static int status_code(const char *line)
{
    uint32_t status;
    if (strncmp(line, "HTTP/1.", 7) != 0 || line[8] != ' ' || number_at(line + 9, &status) != 0 ||
        status < 100 || status > 999) {
        return 0;
    }
    return (int)status;
}

int telemetry_post(unsigned n)
{
    uint8_t digest[32];
    char hex[65], ip[16];
    body_digest(digest);
    format_hex(digest, sizeof digest, hex);
    con_printf("telemetry: post %u body length=%lu sha256=%s\n", n, (unsigned long)FW_AUTOPOST_BODY_SIZE, hex);

    uint32_t server_ip;
    if (network_resolve(FW_AUTOPOST_HOST, &server_ip) != 0) {
        telemetry_post_failed(n, "dns", MBEDTLS_ERR_NET_UNKNOWN_HOST, FW_AUTOPOST_HOST);
        return -1;
    }
    con_printf("tls: connect %s:%u %s\n", format_ipv4(server_ip, ip), (unsigned)FW_AUTOPOST_PORT, FW_AUTOPOST_HOST);
    const char *where;
    int ret = tls_session_open(&session, server_ip, FW_AUTOPOST_PORT, &where);
    if (ret != 0) {
        return tls_failed(n, where, ret);
    }
    con_printf("tls: handshake ok %s %s\n", mbedtls_ssl_get_version(&session.ssl),
               mbedtls_ssl_get_ciphersuite(&session.ssl));

    uint32_t written;
    ret = send_request(&written, &where);
    if (ret < 0) {
        tls_session_close(&session);
        return tls_failed(n, where, ret);
    }
    con_printf("Write to server: %lu bytes written\n", (unsigned long)written);

    memset(answer, 0, sizeof answer);
    ret = read_answer();
    tls_session_close(&session);
    if (ret < 0) {
        return tls_failed(n, "read", ret);
    }
    char *eol = strstr(answer, "\r\n");
    int status = eol != NULL ? status_code(answer) : 0;
    if (status == 0) {
        telemetry_post_failed(n, "http", 0, "malformed-response");
        return -1;
    }
    *eol = '\0';
    con_printf("%s\n", answer);             /* the status line */
    *eol = '\r';
    if (status != 200) {
        telemetry_post_failed(n, "http", status, "");
        return -1;
    }
    uint32_t server_length;
    char server_hex[65];
    const char *body = strstr(answer, "\r\n\r\n");
    if (body == NULL || parse_json(body + 4, &server_length, server_hex) != 0) {
        telemetry_post_failed(n, "http", status, "malformed-json");
        return -1;
    }
    if (server_length != FW_AUTOPOST_BODY_SIZE || strcmp(server_hex, hex) != 0) {
        char detail[120];
        snprintf(detail, sizeof detail, "server_length=%lu server_sha256=%s match=no", (unsigned long)server_length,
                 server_hex);
        telemetry_post_failed(n, "http", status, detail);
        return -1;
    }
    telemetry_post_ok(n, status, server_length, server_hex);
    return 0;
}
