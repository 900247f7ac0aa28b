/* The shell's line editor on the UART: echo, backspace, CR / LF / CRLF line ends. */
#include <stdint.h>

#include "console.h"
#include "shell.h"
#include "uart.h"

void shell_run(void)
{
    char line[SHELL_LINE_MAX];
    size_t len = 0;
    int overflow = 0;
    int after_cr = 0;

    con_write(SHELL_PROMPT, sizeof SHELL_PROMPT - 1);
    for (;;) {
        uint8_t c;
        if (!uart_getc(&c, 0xFFFFFFFFu)) {
            continue;
        }
        if (c == '\n' && after_cr) {        /* CRLF ends one line, not two */
            after_cr = 0;
            continue;
        }
        after_cr = c == '\r';
        if (c == '\r' || c == '\n') {
            con_write("\r\n", 2);
            line[len] = '\0';
            if (overflow) {
                con_printf("shell: error line longer than %d characters\n", SHELL_LINE_MAX - 1);
            } else {
                shell_execute(line);
            }
            len = 0;
            overflow = 0;
            con_write(SHELL_PROMPT, sizeof SHELL_PROMPT - 1);
            continue;
        }
        if (c == 0x08 || c == 0x7F) {
            if (len > 0) {
                len--;
                con_write("\b \b", 3);
            }
            continue;
        }
        if (c < 0x20 || c > 0x7E) {
            continue;
        }
        if (len < sizeof line - 1) {
            line[len++] = (char)c;
            con_write((const char *)&c, 1);
        } else {
            overflow = 1;
        }
    }
}
