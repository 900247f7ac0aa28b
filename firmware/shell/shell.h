/*
 * UART shell. Every command ends with one status line "<command>: ok ..." or
 * "<command>: error ...", then the prompt "> ". The dispatcher (shell.c) is independent of the
 * UART; the line editor (shell_uart.c) reads, echoes and edits lines.
 */
#ifndef SHELL_SHELL_H
#define SHELL_SHELL_H

#define SHELL_PROMPT "> "
#define SHELL_LINE_MAX 160

/* Run one command line (modified in place by tokenising). */
void shell_execute(char *line);

/* Read lines from the UART and execute them; never returns. */
void shell_run(void);

/* Commands implemented next to the hardware they drive (network.c, main.c). */
void cmd_net(int argc, char **argv);
void cmd_reboot(int argc, char **argv);

#endif
