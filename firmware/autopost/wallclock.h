/*
 * The calendar clock behind time(): unset (it reads the Unix epoch, 1970, plus the uptime) until
 * SNTP sets it, then the SNTP time plus the kernel ticks since. Mbed TLS reads it to check
 * certificate dates.
 */
#ifndef AUTOPOST_WALLCLOCK_H
#define AUTOPOST_WALLCLOCK_H

#include <stdint.h>
#include <time.h>

/* Before SNTP starts. */
void wallclock_init(void);

/* Waits up to timeout_ms for the first SNTP time; 1 once SNTP has set the clock. */
int wallclock_wait_set(uint32_t timeout_ms);

/* lwIP's SNTP hook (SNTP_SET_SYSTEM_TIME_US in autopost_config.h, which declares it too). */
void wallclock_set_from_sntp(unsigned long unix_seconds, unsigned long microseconds);

/* "2017-10-12T22:16:00Z" into out (21 bytes). */
const char *wallclock_format(time_t t, char out[21]);

#endif
