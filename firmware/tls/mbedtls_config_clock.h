/*
 * Mbed TLS 2.28 configuration for an image with a wall clock (the autopost images, whose clock
 * is set by SNTP): the firmware's configuration (mbedtls_config.h) plus time, so that X.509
 * validity dates are checked (MBEDTLS_HAVE_TIME_DATE) and the ClientHello carries the time in
 * its first four random bytes (MBEDTLS_HAVE_TIME, RFC 5246 section 7.4.1.2).
 *
 * The time is the C library's time() (Mbed TLS's default, MBEDTLS_PLATFORM_STD_TIME), which
 * newlib asks the application for through _gettimeofday. Calendar conversion is newlib's
 * gmtime_r, not the gmtime() that mbedtls/library/platform_util.c would call on a non-POSIX
 * target: its result buffer lives in newlib-nano's reduced per-task state, allocated on first
 * use from a heap this firmware does not give newlib (MBEDTLS_PLATFORM_GMTIME_R_ALT).
 * Selected with -DMBEDTLS_CONFIG_FILE='"mbedtls_config_clock.h"'.
 */
#ifndef FW_MBEDTLS_CONFIG_CLOCK_H
#define FW_MBEDTLS_CONFIG_CLOCK_H

#define MBEDTLS_HAVE_TIME
#define MBEDTLS_HAVE_TIME_DATE
#define MBEDTLS_PLATFORM_GMTIME_R_ALT

#include "mbedtls_config.h"

#endif /* FW_MBEDTLS_CONFIG_CLOCK_H */
