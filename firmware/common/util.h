/* Small parsing/formatting helpers (addresses, numbers, hex digests). */
#ifndef COMMON_UTIL_H
#define COMMON_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* "A.B.C.D" -> address in network byte order; 0 on success. */
int parse_ipv4(const char *text, uint32_t *addr_be);
/* Decimal without sign, no overflow; 0 on success. */
int parse_u32(const char *text, uint32_t *value);
/* Network-order address as "A.B.C.D" into out (16 bytes). */
const char *format_ipv4(uint32_t addr_be, char out[16]);
/* Bytes as lowercase hex into out (2 * len + 1 bytes). */
void format_hex(const uint8_t *bytes, size_t len, char *out);

#endif
