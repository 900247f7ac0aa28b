/*
 * TLS client sessions over lwIP sockets: connect with a timeout, Mbed TLS handshake verifying
 * the server against the embedded test CA (name TLS_SERVER_NAME, by default the test PKI's
 * TEST_SERVER_NAME, also sent as SNI), record I/O with timeouts, close_notify. Version, suite
 * and debug level are runtime options (the shell sets them); an application may compile in its
 * server name and an order of preferred suites (FW_APP_CONFIG: TLS_SERVER_NAME,
 * TLS_CIPHERSUITE_PREFERENCE).
 */
#ifndef TLS_TLS_CLIENT_H
#define TLS_TLS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "mbedtls/ssl.h"

#define TLS_CONNECT_TIMEOUT_MS 10000u
#define TLS_IO_TIMEOUT_MS 10000u

struct tls_options {
    int min_minor;          /* MBEDTLS_SSL_MINOR_VERSION_1 (TLS 1.0) .. _3 (TLS 1.2) */
    int max_minor;
    int suite;              /* 0 = the library's default list */
    int debug_level;        /* mbedtls_debug_set_threshold */
};
extern struct tls_options tls_options;

struct tls_session {
    int fd;
    mbedtls_ssl_config conf;
    mbedtls_ssl_context ssl;
    int last_errno;         /* socket errno behind the last network error */
};

/* Once at boot: TLS heap, entropy + CTR-DRBG, the trusted CA. Returns 0 or an Mbed TLS error. */
int tls_client_init(void);

/* TCP connect (where = "connect") and handshake (where = "handshake"). 0 or a negative code
 * (Mbed TLS error, or MBEDTLS_ERR_NET_* for socket failures); the session is closed on error. */
int tls_session_open(struct tls_session *s, uint32_t server_ip_be, uint16_t port, const char **where);

/* Write all of buf (several records if needed): len, or a negative Mbed TLS error. */
int tls_session_write(struct tls_session *s, const unsigned char *buf, size_t len);

/* Bytes read (> 0), 0 at the end of the stream (close_notify or TCP close), or an error. */
int tls_session_read(struct tls_session *s, unsigned char *buf, size_t len);

/* Has the server sent something (e.g. an alert) that we have not read yet? Non-blocking. */
int tls_session_input_pending(struct tls_session *s);

/* close_notify, free, close the socket. Safe on a session that failed to open. */
void tls_session_close(struct tls_session *s);

/* "Last error was: -0x7780 - SSL - A fatal alert message was received from our peer" */
void tls_print_error(int code);

/* The send/receive callbacks Mbed TLS calls. Global and never inlined: the scenario runner
 * hooks fw_tls_send (r1 = buf, r2 = len, return r0) to capture what TLS hands to TCP. */
int fw_tls_send(void *ctx, const unsigned char *buf, size_t len);
int fw_tls_recv(void *ctx, unsigned char *buf, size_t len);

#endif
