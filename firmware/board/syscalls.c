/*
 * The two newlib system calls the link needs. newlib-nano's printf family references malloc
 * (it is never called for fixed-size buffers), and Mbed TLS's buffer allocator calls exit() if
 * its heap is corrupted. Nothing here uses newlib's heap: the kernel, lwIP and Mbed TLS each
 * have their own static pool, so _sbrk refuses.
 */
#include <errno.h>
#include <stddef.h>

#include "board.h"

void *_sbrk(ptrdiff_t increment)
{
    (void)increment;
    errno = ENOMEM;
    return (void *)-1;
}

void _exit(int status)
{
    board_panic("exit(%d) called (Mbed TLS heap corruption?)", status);
}
