/* lwIP compiler/platform glue for arm-none-eabi-gcc + newlib. */
#ifndef LWIP_ARCH_CC_H
#define LWIP_ARCH_CC_H

#include <stdint.h>
#include <sys/time.h>   /* struct timeval for SO_RCVTIMEO (LWIP_TIMEVAL_PRIVATE 0) */

/* newlib defines BYTE_ORDER already */

uint32_t rng_rand32(void);
void fw_assert_failed(const char *expr, const char *file, int line);
void fw_lwip_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define LWIP_PLATFORM_DIAG(x) do { fw_lwip_diag x; } while (0)
#define LWIP_PLATFORM_ASSERT(x) fw_assert_failed((x), __FILE__, __LINE__)

#endif
