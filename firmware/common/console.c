#include <stdarg.h>
#include <stdio.h>

#include "FreeRTOS.h"
#include "semphr.h"

#include "console.h"
#include "uart.h"

static SemaphoreHandle_t console_lock;

void console_init(void)
{
    console_lock = xSemaphoreCreateMutex();
    configASSERT(console_lock != NULL);
}

/* CR before every LF that lacks one: the shell protocol's lines end with "\r\n" */
static void write_crlf(const char *text, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) {
            uart_write(text + start, i - start);
            uart_write("\r\n", 2);
            start = i + 1;
        }
    }
    uart_write(text + start, len - start);
}

void con_write(const char *text, size_t len)
{
    (void)xSemaphoreTake(console_lock, portMAX_DELAY);
    write_crlf(text, len);
    (void)xSemaphoreGive(console_lock);
}

void con_printf(const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    con_write(line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}
