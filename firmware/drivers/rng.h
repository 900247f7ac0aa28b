/* STM32 true RNG (clocked by PLL48CLK): the entropy source for Mbed TLS and lwIP. */
#ifndef DRIVERS_RNG_H
#define DRIVERS_RNG_H

#include <stdint.h>

struct rng_stats {
    uint32_t words;
    uint32_t seed_errors;       /* SECS/SEIS: RNG restarted */
    uint32_t clock_errors;      /* CECS/CEIS */
    uint32_t repeats;           /* continuous test: same word twice, discarded */
    uint32_t timeouts;
};
extern struct rng_stats rng_stats;

void rng_init(void);

/* One checked 32-bit word; returns 0 on success, -1 if the RNG gives no good data. */
int rng_read(uint32_t *out);

/* For lwIP's LWIP_RAND (port numbers, TCP ISNs). */
uint32_t rng_rand32(void);

#endif
