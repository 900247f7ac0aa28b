/* Console output on the UART: whole lines kept together between tasks, "\n" sent as "\r\n". */
#ifndef COMMON_CONSOLE_H
#define COMMON_CONSOLE_H

#include <stddef.h>

void console_init(void);
void con_write(const char *text, size_t len);
void con_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
