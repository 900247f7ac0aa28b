/* Test oracle: does Mbed TLS 2.28 accept LEAF under the trust store bytes in STORE, exactly as a
 * firmware that calls mbedtls_x509_crt_parse(store, sizeof store) would?
 *
 *   x509_trust_check STORE LEAF HOSTNAME|- UNIX_TIME
 *
 * STORE is passed byte for byte (a PEM store must end in its NUL, as in the firmware). The clock
 * Mbed TLS reads for validity checks (mbedtls_time = time(), MBEDTLS_HAVE_TIME_DATE) is fixed to
 * UNIX_TIME by defining time() here, so the verdict does not depend on the day the test runs.
 * Prints "parse=<ret> verify=<ret> flags=0x<flags>" and exits 0 whenever it got that far. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mbedtls/x509_crt.h"

static time_t fixed_now;

time_t time(time_t *out)
{
    if (out != NULL) {
        *out = fixed_now;
    }
    return fixed_now;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t) n + 1);
    if (buf == NULL || fread(buf, 1, (size_t) n, f) != (size_t) n) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(2);
    }
    fclose(f);
    *len = (size_t) n;
    return buf;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s STORE LEAF HOSTNAME|- UNIX_TIME\n", argv[0]);
        return 2;
    }
    fixed_now = (time_t) strtoll(argv[4], NULL, 10);
    size_t store_len, leaf_len;
    unsigned char *store = slurp(argv[1], &store_len);
    unsigned char *leaf_buf = slurp(argv[2], &leaf_len);
    mbedtls_x509_crt trusted, leaf;
    mbedtls_x509_crt_init(&trusted);
    mbedtls_x509_crt_init(&leaf);
    int parse = mbedtls_x509_crt_parse(&trusted, store, store_len);
    int leaf_ret = mbedtls_x509_crt_parse_der(&leaf, leaf_buf, leaf_len);
    if (leaf_ret != 0) {
        fprintf(stderr, "leaf does not parse: -0x%04x\n", (unsigned) -leaf_ret);
        return 2;
    }
    uint32_t flags = 0;
    const char *host = strcmp(argv[3], "-") == 0 ? NULL : argv[3];
    int verify = mbedtls_x509_crt_verify(&leaf, &trusted, NULL, host, &flags, NULL, NULL);
    printf("parse=%d verify=%d flags=0x%x\n", parse, verify, (unsigned) flags);
    mbedtls_x509_crt_free(&trusted);
    mbedtls_x509_crt_free(&leaf);
    free(store);
    free(leaf_buf);
    return 0;
}
