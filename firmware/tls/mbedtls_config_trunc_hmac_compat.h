/*
 * Mbed TLS 2.28 configuration of the bug-trunc-hmac gallery image: the firmware's configuration
 * (mbedtls_config.h) plus the truncated_hmac extension (RFC 6066 section 7) in its pre-2.7 form.
 *
 * MBEDTLS_SSL_TRUNCATED_HMAC compiles the extension in; MBEDTLS_SSL_TRUNCATED_HMAC_COMPAT makes
 * the library truncate the MAC *key* to 10 bytes as well as the MAC, and lay out the key block
 * with 10-byte MAC keys, which is what PolarSSL 1.3 and Mbed TLS 1.3-2.6 did
 * (mbedtls/library/ssl_tls.c, ssl_populate_transform(); mbedtls/include/mbedtls/config.h
 * documents the option as the non-compliant fallback). Both are stock Mbed TLS 2.28.3 options:
 * the library sources stay as Debian ships them.
 * Selected with -DMBEDTLS_CONFIG_FILE='"mbedtls_config_trunc_hmac_compat.h"'.
 */
#ifndef FW_MBEDTLS_CONFIG_TRUNC_HMAC_COMPAT_H
#define FW_MBEDTLS_CONFIG_TRUNC_HMAC_COMPAT_H

#define MBEDTLS_SSL_TRUNCATED_HMAC
#define MBEDTLS_SSL_TRUNCATED_HMAC_COMPAT

#include "mbedtls_config.h"

#endif /* FW_MBEDTLS_CONFIG_TRUNC_HMAC_COMPAT_H */
