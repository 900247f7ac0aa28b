/*
 * HTTPS GET and POST over one TLS connection each, printing the shell protocol's lines:
 * handshake result, status line, and a final "get: ..." / "post: ..." status line.
 */
#ifndef SHELL_HTTPS_H
#define SHELL_HTTPS_H

#include <stdint.h>

#define HTTPS_DEFAULT_SERVER "192.0.2.1"
#define HTTPS_DEFAULT_PORT 443u
#define HTTPS_POST_MAX (16u * 1024u * 1024u)

struct https_server {
    uint32_t ip_be;         /* network byte order */
    uint16_t port;
};
extern struct https_server https_server;

/* The POST body: body[i] = i % 251 (251 is prime, so a shifted copy never matches itself). */
void https_body_pattern(uint8_t *out, uint32_t offset, uint32_t len);

void https_get(const char *path);
void https_post(const char *path, uint32_t size);

#endif
