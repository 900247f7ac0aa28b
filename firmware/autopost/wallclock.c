/*
 * Calendar clock from SNTP. lwIP's SNTP client calls wallclock_set_from_sntp (its
 * SNTP_SET_SYSTEM_TIME_US hook, autopost_config.h) in the tcpip thread with the server's
 * transmit timestamp as Unix seconds and microseconds; between answers the kernel tick carries
 * the time on. The C library's time() reads it through newlib's _gettimeofday hook, and Mbed
 * TLS reads time() (tls/mbedtls_config_clock.h).
 */
#include <sys/time.h>
#include <stdio.h>

#include "FreeRTOS.h"
#include "semphr.h"
#include "task.h"

#include "mbedtls/platform_util.h"

#include "console.h"
#include "wallclock.h"

static volatile uint32_t epoch_seconds;     /* Unix time at epoch_tick */
static volatile uint32_t epoch_tick_ms;     /* kernel ms when it was set (fraction included) */
static volatile int clock_set;
static SemaphoreHandle_t first_time;

static uint32_t now_ms(void)
{
    return (uint32_t)(xTaskGetTickCount() * portTICK_PERIOD_MS);
}

const char *wallclock_format(time_t t, char out[21])
{
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL) {
        snprintf(out, 21, "(invalid)");
        return out;
    }
    /* not strftime: newlib's pulls in time zones, getenv and stdio for a fixed UTC format */
    snprintf(out, 21, "%04u-%02u-%02uT%02u:%02u:%02uZ", (unsigned)(tm.tm_year + 1900) % 10000u,
             (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u, (unsigned)tm.tm_hour % 100u,
             (unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u);
    return out;
}

void wallclock_set_from_sntp(unsigned long unix_seconds, unsigned long microseconds)
{
    /* the tick at which the server's second began */
    uint32_t tick = now_ms() - (uint32_t)(microseconds / 1000u);
    taskENTER_CRITICAL();
    epoch_seconds = (uint32_t)unix_seconds;
    epoch_tick_ms = tick;
    taskEXIT_CRITICAL();
    char text[21];
    con_printf("sntp: time %s\n", wallclock_format((time_t)unix_seconds, text));
    if (!clock_set) {
        clock_set = 1;
        xSemaphoreGive(first_time);
    }
}

int wallclock_wait_set(uint32_t timeout_ms)
{
    if (!clock_set) {
        (void)xSemaphoreTake(first_time, pdMS_TO_TICKS(timeout_ms));
    }
    return clock_set;
}

/* newlib's system-call hook behind time() and gettimeofday() */
int _gettimeofday(struct timeval *tv, void *tz)
{
    (void)tz;
    if (tv != NULL) {
        taskENTER_CRITICAL();
        uint32_t seconds = epoch_seconds, tick = epoch_tick_ms;
        taskEXIT_CRITICAL();
        uint32_t elapsed = now_ms() - tick;
        tv->tv_sec = (time_t)seconds + (time_t)(elapsed / 1000u);
        tv->tv_usec = (suseconds_t)((elapsed % 1000u) * 1000u);
    }
    return 0;
}

/* Mbed TLS's calendar conversion (MBEDTLS_PLATFORM_GMTIME_R_ALT) */
struct tm *mbedtls_platform_gmtime_r(const mbedtls_time_t *tt, struct tm *tm_buf)
{
    time_t t = (time_t)*tt;
    return gmtime_r(&t, tm_buf);
}

void wallclock_init(void)
{
    first_time = xSemaphoreCreateBinary();
    configASSERT(first_time != NULL);
}
