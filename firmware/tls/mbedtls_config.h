/*
 * Mbed TLS 2.28 configuration for the firmware: a TLS 1.0-1.2 client with RSA and ECDHE-RSA key
 * exchange, AES-128/256 in CBC and GCM, SHA-1/256/384, P-256, P-384 and X25519, Encrypt-then-MAC,
 * extended master secret, SNI, max_fragment_length, CBC record splitting (on, as in the
 * library), X.509 + PEM; no file system, time or net_sockets. Entropy comes from the STM32 RNG
 * (mbedtls_hardware_poll in tls/entropy_hw.c); memory from a static buffer in CCM.
 * Selected with -DMBEDTLS_CONFIG_FILE='"mbedtls_config.h"'.
 */
#ifndef FW_MBEDTLS_CONFIG_H
#define FW_MBEDTLS_CONFIG_H

/* ---- system ---- */
#define MBEDTLS_HAVE_ASM                    /* Thumb-2 UMAAL bignum inner loops */
#define MBEDTLS_PLATFORM_C
#define MBEDTLS_PLATFORM_MEMORY
#define MBEDTLS_MEMORY_BUFFER_ALLOC_C
#define MBEDTLS_NO_PLATFORM_ENTROPY
#define MBEDTLS_ENTROPY_HARDWARE_ALT
#define MBEDTLS_DEPRECATED_REMOVED

/* ---- symmetric crypto and hashes ---- */
#define MBEDTLS_AES_C
#define MBEDTLS_AES_ROM_TABLES              /* tables in flash, not 8 KiB of RAM */
#define MBEDTLS_CIPHER_C
#define MBEDTLS_CIPHER_MODE_CBC
#define MBEDTLS_CIPHER_PADDING_PKCS7
#define MBEDTLS_GCM_C
#define MBEDTLS_MD_C
#define MBEDTLS_MD5_C                       /* TLS 1.0/1.1 PRF and signatures */
#define MBEDTLS_SHA1_C
#define MBEDTLS_SHA256_C
#define MBEDTLS_SHA512_C                    /* SHA-384 suites */
#define MBEDTLS_ENTROPY_C
#define MBEDTLS_CTR_DRBG_C

/* ---- public key ---- */
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_RSA_C
#define MBEDTLS_PKCS1_V15
#define MBEDTLS_PKCS1_V21
#define MBEDTLS_ECP_C
#define MBEDTLS_ECDH_C
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_DP_SECP384R1_ENABLED
#define MBEDTLS_ECP_DP_CURVE25519_ENABLED
#define MBEDTLS_ECP_NIST_OPTIM              /* fast reduction: handshakes run on an emulated CPU */
#define MBEDTLS_ECP_WINDOW_SIZE 4
#define MBEDTLS_ECP_FIXED_POINT_OPTIM 0     /* the group is rebuilt per handshake: no reuse */
#define MBEDTLS_ECP_MAX_BITS 384
#define MBEDTLS_MPI_MAX_SIZE 512            /* up to RSA-4096 */
#define MBEDTLS_MPI_WINDOW_SIZE 2           /* the client only does public-key RSA */
#define MBEDTLS_PK_C
#define MBEDTLS_PK_PARSE_C
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C
#define MBEDTLS_OID_C
#define MBEDTLS_BASE64_C
#define MBEDTLS_PEM_PARSE_C
#define MBEDTLS_X509_USE_C
#define MBEDTLS_X509_CRT_PARSE_C
#define MBEDTLS_X509_CHECK_KEY_USAGE
#define MBEDTLS_X509_CHECK_EXTENDED_KEY_USAGE

/* ---- TLS ---- */
#define MBEDTLS_SSL_TLS_C
#define MBEDTLS_SSL_CLI_C
#define MBEDTLS_SSL_PROTO_TLS1
#define MBEDTLS_SSL_PROTO_TLS1_1
#define MBEDTLS_SSL_PROTO_TLS1_2
#define MBEDTLS_KEY_EXCHANGE_RSA_ENABLED
#define MBEDTLS_KEY_EXCHANGE_ECDHE_RSA_ENABLED
#define MBEDTLS_SSL_ENCRYPT_THEN_MAC
#define MBEDTLS_SSL_EXTENDED_MASTER_SECRET
#define MBEDTLS_SSL_SERVER_NAME_INDICATION
#define MBEDTLS_SSL_MAX_FRAGMENT_LENGTH
#define MBEDTLS_SSL_CBC_RECORD_SPLITTING
#define MBEDTLS_SSL_SESSION_TICKETS         /* library default: the ClientHello carries it */
#define MBEDTLS_SSL_ALL_ALERT_MESSAGES
#define MBEDTLS_SSL_KEEP_PEER_CERTIFICATE
#define MBEDTLS_TLS_DEFAULT_ALLOW_SHA1_IN_KEY_EXCHANGE
#define MBEDTLS_SSL_IN_CONTENT_LEN 16384    /* a server may send full 16 KiB records */
#define MBEDTLS_SSL_OUT_CONTENT_LEN 4096

/* ---- diagnostics ---- */
#define MBEDTLS_DEBUG_C                     /* mbedtls_debug_set_threshold from the shell */
#define MBEDTLS_ERROR_C                     /* "Last error was: -0x7780 - SSL - ..." */

#include "mbedtls/check_config.h"

#endif /* FW_MBEDTLS_CONFIG_H */
