/* Mbed TLS entropy source (MBEDTLS_ENTROPY_HARDWARE_ALT): the STM32 RNG, checked per word. */
#include <string.h>

#include "mbedtls/entropy.h"
#include "mbedtls/entropy_poll.h"

#include "rng.h"

int mbedtls_hardware_poll(void *data, unsigned char *output, size_t len, size_t *olen)
{
    (void)data;
    size_t done = 0;
    while (done < len) {
        uint32_t word;
        if (rng_read(&word) != 0) {
            *olen = done;
            return MBEDTLS_ERR_ENTROPY_SOURCE_FAILED;
        }
        size_t n = len - done < sizeof word ? len - done : sizeof word;
        memcpy(output + done, &word, n);
        done += n;
    }
    *olen = done;
    return 0;
}
