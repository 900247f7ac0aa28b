/*
 * The CA certificates the TLS client trusts, parsed once at boot by tls_client_init().
 *
 * By default the test CA from build/pki/test_ca.h (one PEM string, the root the emulator's peer
 * issues its leaves under). With FW_TRUST_PRODUCTION=1 (the autopost-prod images) the two
 * "production" roots from build/pki/production_roots.h instead: R1 as a PEM string and R2 as a
 * DER array in one store, as a vendor's image might carry its current and its next root. The
 * peer has neither key (firmware/tools/production_roots.py), so it can only be trusted by these
 * images through look-alike roots written into emulated flash (docs/server-identity.md).
 */
#ifndef TRUST_STORE_H
#define TRUST_STORE_H

#include "mbedtls/x509_crt.h"

#if defined(FW_TRUST_PRODUCTION) && FW_TRUST_PRODUCTION
#include "console.h"
#include "production_roots.h"

/* Both roots into `crt`; each one that parses is logged ("tls: trusted CA <subject>"). */
static inline int trust_store_parse(mbedtls_x509_crt *crt)
{
    /* PEM: the size includes the terminating NUL, which is how Mbed TLS tells PEM from DER */
    int ret = mbedtls_x509_crt_parse(crt, (const unsigned char *)production_root_r1_pem,
                                     sizeof production_root_r1_pem);
    if (ret == 0) {
        ret = mbedtls_x509_crt_parse_der(crt, production_root_r2_der, sizeof production_root_r2_der);
    }
    for (const mbedtls_x509_crt *c = crt; ret == 0 && c != NULL && c->raw.len != 0; c = c->next) {
        char subject[128];
        if (mbedtls_x509_dn_gets(subject, sizeof subject, &c->subject) > 0) {
            con_printf("tls: trusted CA %s\n", subject);
        }
    }
    return ret;
}
#else
#include "test_ca.h"

/* PEM: the size includes the terminating NUL (see above) */
#define trust_store_parse(crt) \
    mbedtls_x509_crt_parse((crt), (const unsigned char *)test_ca_pem, sizeof test_ca_pem)
#endif

#endif
