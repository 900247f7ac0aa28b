/*
 * One telemetry POST over HTTPS: resolve the server, connect, handshake, send the body, read
 * the answer ({"length": n, "sha256": "hex"}) and compare it with what was sent. Every POST
 * ends in exactly one of the two handlers below, global and never inlined so that a debugger or
 * a scenario can stop there (python -m sim run ... --until-symbol telemetry_post_ok).
 */
#ifndef AUTOPOST_TELEMETRY_H
#define AUTOPOST_TELEMETRY_H

#include <stdint.h>

/* Runs POST number n (from 1); returns 0 if it ended in telemetry_post_ok. */
int telemetry_post(unsigned n);

/* The server answered 200 with the length and SHA-256 of the body we sent. */
void telemetry_post_ok(unsigned n, int status, uint32_t server_length, const char *server_sha256);

/* The POST failed at `where` (dns, connect, handshake, write, read, http) with `code`: a
 * negative Mbed TLS error, or for http the status; `detail` says more (may be ""). */
void telemetry_post_failed(unsigned n, const char *where, int code, const char *detail);

#endif
