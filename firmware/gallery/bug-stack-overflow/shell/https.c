/*
 * HTTPS client commands. A POST is written with as few mbedtls_ssl_write calls as the 4096-byte
 * record allows: headers and the start of the body together, then the body in 4096-byte writes,
 * so a 903-byte POST is one record. The body is generated on the fly and hashed as it goes.
 *
 * Gallery variant bug-stack-overflow: shell/https.c whose POST body is streamed by an `upload`
 * task that builds each record on its own stack, a stack sized for the record plus 1 KiB; the TLS
 * session is allocated from the kernel heap together with that task, just below its stack.
 */
#include <stdio.h>
#include <string.h>

#include "mbedtls/sha256.h"
#include "mbedtls/ssl.h"

#include "FreeRTOS.h"
#include "semphr.h"
#include "task.h"

#include "console.h"
#include "https.h"
#include "test_ca.h"
#include "tls_client.h"
#include "util.h"

#ifndef FW_CCM_BSS
#define FW_CCM_BSS __attribute__((section(".ccm_bss")))
#endif

#define RECORD_MAX MBEDTLS_SSL_OUT_CONTENT_LEN
#define BODY_PERIOD 251u

struct https_server https_server = {
    .ip_be = 0,             /* set from HTTPS_DEFAULT_SERVER at first use */
    .port = HTTPS_DEFAULT_PORT,
};

struct response {
    int status;
    char status_line[128];
    int has_length;
    uint32_t content_length;
    uint32_t body_len;
    mbedtls_sha256_context sha;
    char body_head[256];            /* start of the body, for the POST's JSON answer */
    size_t body_head_len;
    size_t header_len;
    int header_done;
    int status_printed;
};

static unsigned char io_buf[RECORD_MAX] FW_CCM_BSS;
static char header_buf[1024] FW_CCM_BSS;
static struct response response FW_CCM_BSS;

/* The POST body goes out from its own task, so that the shell task only connects and reads the
 * answer. The session and the task are created on first use, one after the other, from the
 * kernel heap (the session block ends where the task's stack block begins). */
#define UPLOAD_PRIORITY 2
/* DEFECT: "a record (4 KiB at most) plus the 960 bytes the write path used in the lab" (its
 * high-water mark, with no margin). A full-size record takes the write path a few dozen bytes
 * deeper: when mbedtls_ssl_write_record() calls its debug hook (mbedtls_debug_print_buf(), called
 * whatever the debug level), that function's register pushes land below this task's stack, in the
 * block below it: the end of the TLS session, where the record sequence counter
 * (mbedtls_ssl_context.cur_out_ctr) is. The next record goes out under a wrong sequence number.
 * The stack check (configCHECK_FOR_STACK_OVERFLOW 2) does not see it: the 16 bytes it watches
 * are skipped. Records below 4 KiB, i.e. bodies that fit in one record with the headers, fit.
 * The fix: size the stack from the high-water mark (uxTaskGetStackHighWaterMark) of the largest
 * record with every suite, plus a margin, or build the record in a static buffer. */
#define UPLOAD_STACK_WORDS ((RECORD_MAX + 960u) / sizeof(StackType_t))

struct upload {
    uint32_t size;                  /* body bytes */
    size_t header_len;              /* request header bytes, in io_buf */
    mbedtls_sha256_context sha;     /* of the body bytes written */
    uint32_t body_sent;
    uint32_t total;                 /* bytes mbedtls_ssl_write accepted */
    int stopped_early;              /* the server answered before the body was complete */
    int ret;                        /* 0, or the failed write's error */
};

static struct tls_session *session_mem;
#define session (*session_mem)
static struct upload upload;
static SemaphoreHandle_t upload_start, upload_done;

static void upload_task(void *arg)
{
    (void)arg;
    for (;;) {
        (void)xSemaphoreTake(upload_start, portMAX_DELAY);
        struct upload *u = &upload;
        size_t fill = u->header_len;
        for (;;) {
            uint32_t chunk = u->size - u->body_sent;
            if (chunk > RECORD_MAX - fill) {
                chunk = (uint32_t)(RECORD_MAX - fill);
            }
            /* the record is built here, on this task's stack: the headers (first record only),
             * then the next piece of the body */
            uint8_t record[fill + chunk];
            memcpy(record, io_buf, fill);
            https_body_pattern(record + fill, u->body_sent, chunk);
            mbedtls_sha256_update_ret(&u->sha, record + fill, chunk);
            int ret = tls_session_write(&session, record, fill + chunk);
            if (ret < 0) {
                u->ret = ret;
                break;
            }
            u->total += (uint32_t)ret;
            u->body_sent += chunk;
            fill = 0;
            if (u->body_sent == u->size) {
                break;
            }
            /* the server does not speak before the request is complete, unless to reject it */
            if (tls_session_input_pending(&session)) {
                u->stopped_early = 1;
                break;
            }
        }
        (void)xSemaphoreGive(upload_done);
    }
}

/* The session and the upload task, once. 0, or -1 if the kernel heap is too small. */
static int ensure_session(void)
{
    if (session_mem != NULL) {
        return 0;
    }
    upload_start = xSemaphoreCreateBinary();
    upload_done = xSemaphoreCreateBinary();
    session_mem = pvPortMalloc(sizeof *session_mem);
    if (upload_start == NULL || upload_done == NULL || session_mem == NULL ||
        xTaskCreate(upload_task, "upload", UPLOAD_STACK_WORDS, NULL, UPLOAD_PRIORITY, NULL) != pdPASS) {
        return -1;
    }
    memset(session_mem, 0, sizeof *session_mem);
    return 0;
}

void https_body_pattern(uint8_t *out, uint32_t offset, uint32_t len)
{
    uint32_t v = offset % BODY_PERIOD;
    for (uint32_t i = 0; i < len; i++) {
        out[i] = (uint8_t)v;
        if (++v == BODY_PERIOD) {
            v = 0;
        }
    }
}

static void body_digest(uint32_t size, uint8_t digest[32])
{
    uint8_t period[BODY_PERIOD];
    mbedtls_sha256_context sha;
    https_body_pattern(period, 0, BODY_PERIOD);
    mbedtls_sha256_init(&sha);
    mbedtls_sha256_starts_ret(&sha, 0);
    for (uint32_t done = 0; done < size;) {
        uint32_t n = size - done < BODY_PERIOD ? size - done : BODY_PERIOD;
        mbedtls_sha256_update_ret(&sha, period, n);
        done += n;
    }
    mbedtls_sha256_finish_ret(&sha, digest);
    mbedtls_sha256_free(&sha);
}

static void ensure_default_server(void)
{
    if (https_server.ip_be == 0) {
        (void)parse_ipv4(HTTPS_DEFAULT_SERVER, &https_server.ip_be);
    }
}

static void report_failure(const char *cmd, const char *where, int code)
{
    if (strcmp(where, "connect") == 0) {
        char ip[16];
        con_printf("net: connect to %s:%u failed (errno %d: %s)\n", format_ipv4(https_server.ip_be, ip),
                   https_server.port, session.last_errno, strerror(session.last_errno));
    }
    tls_print_error(code);
    con_printf("%s: error %s -0x%04x\n", cmd, where, (unsigned)-code);
}

static int open_session(const char *cmd)
{
    const char *where;
    if (ensure_session() != 0) {
        con_printf("%s: error memory kernel heap\n", cmd);
        return -1;
    }
    ensure_default_server();
    int ret = tls_session_open(&session, https_server.ip_be, https_server.port, &where);
    if (ret != 0) {
        report_failure(cmd, where, ret);
        return -1;
    }
    con_printf("tls: handshake ok %s %s\n", mbedtls_ssl_get_version(&session.ssl),
               mbedtls_ssl_get_ciphersuite(&session.ssl));
    return 0;
}

/* Leading decimal digits (at most 10) after optional blanks; -1 if there are none. */
static int leading_u32(const char *p, uint32_t *value)
{
    uint64_t v = 0;
    int digits = 0;
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    while (*p >= '0' && *p <= '9' && digits < 10) {
        v = v * 10u + (uint64_t)(*p++ - '0');
        digits++;
    }
    if (digits == 0 || v > 0xFFFFFFFFu) {
        return -1;
    }
    *value = (uint32_t)v;
    return 0;
}

static int lowercase_equal(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char x = a[i] >= 'A' && a[i] <= 'Z' ? (char)(a[i] + 32) : a[i];
        if (x != b[i]) {
            return 0;
        }
    }
    return 1;
}

/* Status code, status line and Content-Length from the complete header block. */
static int parse_header_block(struct response *r)
{
    char *eol = strstr(header_buf, "\r\n");
    size_t line_len = (size_t)(eol - header_buf);
    uint32_t status;
    if (line_len < 12 || strncmp(header_buf, "HTTP/1.", 7) != 0 || header_buf[8] != ' ' ||
        leading_u32(header_buf + 9, &status) != 0 || status < 100 || status > 999) {
        return -1;
    }
    r->status = (int)status;
    if (line_len >= sizeof r->status_line) {
        line_len = sizeof r->status_line - 1;
    }
    memcpy(r->status_line, header_buf, line_len);
    r->status_line[line_len] = '\0';

    static const char key[] = "\r\ncontent-length:";
    for (const char *p = eol; p != NULL && *p != '\0'; p = strstr(p + 2, "\r\n")) {
        if (lowercase_equal(p, key, sizeof key - 1)) {
            r->has_length = leading_u32(p + sizeof key - 1, &r->content_length) == 0;
            break;
        }
    }
    return 0;
}

static void body_bytes(struct response *r, const unsigned char *data, size_t len)
{
    mbedtls_sha256_update_ret(&r->sha, data, len);
    size_t room = sizeof r->body_head - 1 - r->body_head_len;
    size_t keep = len < room ? len : room;
    memcpy(r->body_head + r->body_head_len, data, keep);
    r->body_head_len += keep;
    r->body_head[r->body_head_len] = '\0';
    r->body_len += (uint32_t)len;
}

/* Feed received bytes to the parser; returns -1 on a malformed header block. */
static int feed(struct response *r, const unsigned char *data, size_t len)
{
    if (r->header_done) {
        body_bytes(r, data, len);
        return 0;
    }
    size_t room = sizeof header_buf - 1 - r->header_len;
    size_t take = len < room ? len : room;
    memcpy(header_buf + r->header_len, data, take);
    r->header_len += take;
    header_buf[r->header_len] = '\0';
    char *end = strstr(header_buf, "\r\n\r\n");
    if (end == NULL) {
        return take == len ? 0 : -1;    /* headers larger than the buffer */
    }
    end[2] = '\0';                      /* keep the last header's CRLF for the search */
    size_t header_bytes = (size_t)(end + 4 - header_buf);
    r->header_done = 1;
    if (parse_header_block(r) != 0) {
        return -1;
    }
    /* whatever followed the blank line is body */
    size_t consumed_before = r->header_len - take;
    size_t body_start = header_bytes - consumed_before;
    if (body_start < len) {
        body_bytes(r, data + body_start, len - body_start);
    }
    return 0;
}

/* 0: complete response; < 0: Mbed TLS error while reading; 1: malformed; 2: truncated. */
static int read_response(struct response *r)
{
    memset(r, 0, sizeof *r);
    mbedtls_sha256_init(&r->sha);
    mbedtls_sha256_starts_ret(&r->sha, 0);
    for (;;) {
        if (r->header_done && r->has_length && r->body_len >= r->content_length) {
            return 0;
        }
        int n = tls_session_read(&session, io_buf, sizeof io_buf);
        if (n < 0) {
            return n;
        }
        if (n == 0) {
            if (!r->header_done) {
                return 1;
            }
            return r->has_length && r->body_len < r->content_length ? 2 : 0;
        }
        if (feed(r, io_buf, (size_t)n) != 0) {
            return 1;
        }
        if (r->header_done && !r->status_printed) {
            con_printf("%s\n", r->status_line);    /* as soon as it is known */
            r->status_printed = 1;
        }
    }
}

/* Maps read_response()'s result onto the final status line; 0 if the caller may go on. */
static int check_response(const char *cmd, int ret, struct response *r)
{
    if (ret < 0) {
        report_failure(cmd, "read", ret);
        return -1;
    }
    if (ret == 1) {
        con_printf("%s: error http malformed-response\n", cmd);
        return -1;
    }
    if (ret == 2) {
        con_printf("%s: error http truncated body=%lu content-length=%lu\n", cmd,
                   (unsigned long)r->body_len, (unsigned long)r->content_length);
        return -1;
    }
    if (r->status != 200) {
        con_printf("%s: error http %d\n", cmd, r->status);
        return -1;
    }
    return 0;
}

void https_get(const char *path)
{
    int len = snprintf((char *)io_buf, sizeof io_buf,
                       "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, TEST_SERVER_NAME);
    if (len < 0 || (size_t)len >= sizeof io_buf) {
        con_printf("get: error usage path too long\n");
        return;
    }
    if (open_session("get") != 0) {
        return;
    }
    int ret = tls_session_write(&session, io_buf, (size_t)len);
    if (ret < 0) {
        report_failure("get", "write", ret);
        tls_session_close(&session);
        return;
    }
    ret = read_response(&response);
    tls_session_close(&session);
    if (check_response("get", ret, &response) != 0) {
        return;
    }
    uint8_t digest[32];
    char hex[65];
    mbedtls_sha256_finish_ret(&response.sha, digest);
    format_hex(digest, sizeof digest, hex);
    con_printf("get: ok status=%d length=%lu sha256=%s\n", response.status,
               (unsigned long)response.body_len, hex);
}

/* {"length": <n>, "sha256": "<hex>"} */
static int json_field(const char *json, const char *key, const char **value)
{
    const char *p = strstr(json, key);
    if (p == NULL) {
        return -1;
    }
    p += strlen(key);
    while (*p == ' ' || *p == '\t' || *p == ':' || *p == '"') {
        p++;
    }
    *value = p;
    return 0;
}

void https_post(const char *path, uint32_t size)
{
    int header_len = snprintf((char *)io_buf, sizeof io_buf,
                              "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/octet-stream\r\n"
                              "Content-Length: %lu\r\nConnection: close\r\n\r\n",
                              path, TEST_SERVER_NAME, (unsigned long)size);
    if (header_len < 0 || (size_t)header_len >= sizeof io_buf) {
        con_printf("post: error usage path too long\n");
        return;
    }
    uint8_t digest[32], sent_digest[32];
    char hex[65];
    body_digest(size, digest);
    format_hex(digest, sizeof digest, hex);
    con_printf("post: body length=%lu sha256=%s\n", (unsigned long)size, hex);

    if (open_session("post") != 0) {
        return;
    }
    struct upload *u = &upload;
    memset(u, 0, sizeof *u);
    u->size = size;
    u->header_len = (size_t)header_len;
    mbedtls_sha256_init(&u->sha);
    mbedtls_sha256_starts_ret(&u->sha, 0);
    (void)xSemaphoreGive(upload_start);
    (void)xSemaphoreTake(upload_done, portMAX_DELAY);

    uint32_t body_sent = u->body_sent, total = u->total;
    int stopped_early = u->stopped_early;
    if (u->ret < 0) {
        int ret = u->ret;
        /* a server that rejected a record answers with an alert and closes: show that
         * alert (as a read error) rather than the broken pipe it caused */
        if (tls_session_input_pending(&session)) {
            int alert = tls_session_read(&session, io_buf, sizeof io_buf);
            if (alert < 0) {
                con_printf("post: write failed -0x%04x after %lu bytes; the server had sent:\n",
                           (unsigned)-ret, (unsigned long)total);
                report_failure("post", "read", alert);
                tls_session_close(&session);
                mbedtls_sha256_free(&u->sha);
                return;
            }
        }
        report_failure("post", "write", ret);
        tls_session_close(&session);
        mbedtls_sha256_free(&u->sha);
        return;
    }
    mbedtls_sha256_finish_ret(&u->sha, sent_digest);
    mbedtls_sha256_free(&u->sha);
    con_printf("Write to server: %lu bytes written\n", (unsigned long)total);
    if (stopped_early) {
        con_printf("post: the server answered after %lu of %lu body bytes; reading its answer\n",
                   (unsigned long)body_sent, (unsigned long)size);
    } else if (memcmp(digest, sent_digest, sizeof digest) != 0) {
        con_printf("post: error internal body digest changed while sending\n");
        tls_session_close(&session);
        return;
    }

    int ret = read_response(&response);
    tls_session_close(&session);
    if (check_response("post", ret, &response) != 0) {
        return;
    }
    mbedtls_sha256_free(&response.sha);

    const char *length_text, *sha_text;
    uint32_t server_length;
    char server_hex[65];
    size_t hex_len = 0;
    if (json_field(response.body_head, "\"length\"", &length_text) != 0 ||
        json_field(response.body_head, "\"sha256\"", &sha_text) != 0 ||
        leading_u32(length_text, &server_length) != 0) {
        con_printf("post: error http malformed-json\n");
        return;
    }
    for (; hex_len < 64; hex_len++) {
        char c = sha_text[hex_len];
        if (c >= 'A' && c <= 'F') {
            c = (char)(c + 32);
        }
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            break;
        }
        server_hex[hex_len] = c;
    }
    server_hex[hex_len] = '\0';
    int match = server_length == size && strcmp(server_hex, hex) == 0;
    con_printf("post: %s status=%d server_length=%lu server_sha256=%s match=%s\n",
               match ? "ok" : "error http", response.status, (unsigned long)server_length, server_hex,
               match ? "yes" : "no");
}
