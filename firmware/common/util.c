#include <stdio.h>

#include "util.h"

int parse_u32(const char *text, uint32_t *value)
{
    uint64_t v = 0;
    if (text == NULL || *text == '\0') {
        return -1;
    }
    for (const char *p = text; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return -1;
        }
        v = v * 10u + (uint64_t)(*p - '0');
        if (v > 0xFFFFFFFFu) {
            return -1;
        }
    }
    *value = (uint32_t)v;
    return 0;
}

int parse_ipv4(const char *text, uint32_t *addr_be)
{
    uint8_t octets[4];
    const char *p = text;
    for (int i = 0; i < 4; i++) {
        unsigned v = 0;
        int digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 3) {
            v = v * 10u + (unsigned)(*p - '0');
            p++;
            digits++;
        }
        if (digits == 0 || v > 255 || (i < 3 && *p++ != '.')) {
            return -1;
        }
        octets[i] = (uint8_t)v;
    }
    if (*p != '\0') {
        return -1;
    }
    /* network byte order in memory: first octet at the lowest address */
    uint8_t *out = (uint8_t *)addr_be;
    for (int i = 0; i < 4; i++) {
        out[i] = octets[i];
    }
    return 0;
}

const char *format_ipv4(uint32_t addr_be, char out[16])
{
    const uint8_t *o = (const uint8_t *)&addr_be;
    snprintf(out, 16, "%u.%u.%u.%u", o[0], o[1], o[2], o[3]);
    return out;
}

void format_hex(const uint8_t *bytes, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 0xF];
    }
    out[2 * len] = '\0';
}
