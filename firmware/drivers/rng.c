/*
 * RNG use per RM0090 section 24.3: check DRDY before every read, check SECS/CECS, on a seed
 * error clear SEIS and restart the generator by toggling RNGEN; FIPS 140-2 continuous test:
 * discard the first word after enabling and any word equal to its predecessor.
 */
#include "stm32f407.h"
#include "rng.h"

#include "FreeRTOS.h"
#include "task.h"

#define RNG_DRDY_WAIT_LOOPS 10000u  /* a word is ready within 40 RNG clocks; be generous */
#define RNG_ATTEMPTS 16

struct rng_stats rng_stats;
static uint32_t last_word;
static int have_last;

static void rng_restart(void)
{
    RNG_CR &= ~RNG_CR_RNGEN;
    RNG_CR |= RNG_CR_RNGEN;
    have_last = 0;
}

void rng_init(void)
{
    RCC_AHB2ENR |= RCC_AHB2_RNG;
    (void)RCC_AHB2ENR;
    RNG_CR = RNG_CR_RNGEN;
    have_last = 0;
}

static int rng_read_raw(uint32_t *out)
{
    for (uint32_t i = 0; i < RNG_DRDY_WAIT_LOOPS; i++) {
        uint32_t sr = RNG_SR;
        if (sr & (RNG_SR_SECS | RNG_SR_SEIS)) {
            rng_stats.seed_errors++;
            RNG_SR = ~RNG_SR_SEIS;      /* rc_w0: writing 1 leaves the other flags alone */
            rng_restart();
            return -1;
        }
        if (sr & (RNG_SR_CECS | RNG_SR_CEIS)) {
            rng_stats.clock_errors++;
            RNG_SR = ~RNG_SR_CEIS;
            return -1;
        }
        if (sr & RNG_SR_DRDY) {
            *out = RNG_DR;
            return 0;
        }
    }
    rng_stats.timeouts++;
    return -1;
}

static int rng_read_checked(uint32_t *out)
{
    for (int attempt = 0; attempt < RNG_ATTEMPTS; attempt++) {
        uint32_t word;
        if (rng_read_raw(&word) != 0) {
            continue;
        }
        if (!have_last) {               /* first word after (re)start: reference only */
            last_word = word;
            have_last = 1;
            continue;
        }
        if (word == last_word) {
            rng_stats.repeats++;
            continue;
        }
        last_word = word;
        rng_stats.words++;
        *out = word;
        return 0;
    }
    return -1;
}

/* Callers are the TLS task and lwIP's threads: serialise access to the generator state. */
int rng_read(uint32_t *out)
{
    taskENTER_CRITICAL();
    int ret = rng_read_checked(out);
    taskEXIT_CRITICAL();
    return ret;
}

uint32_t rng_rand32(void)
{
    uint32_t word = 0;
    if (rng_read(&word) != 0) {
        word = last_word * 1664525u + 1013904223u;  /* keeps lwIP going; counted as a failure */
        last_word = word;
    }
    return word;
}
