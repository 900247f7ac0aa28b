#include <string.h>

#include "mbedtls/debug.h"
#include "mbedtls/ssl.h"
#include "mbedtls/ssl_ciphersuites.h"

#include "console.h"
#include "https.h"
#include "shell.h"
#include "tls_client.h"
#include "util.h"

#define MAX_ARGS 6

struct command {
    const char *name;
    void (*run)(int argc, char **argv);
    const char *usage;
};

static void cmd_help(int argc, char **argv);
static void cmd_tls(int argc, char **argv);
static void cmd_get(int argc, char **argv);
static void cmd_post(int argc, char **argv);

static const struct command commands[] = {
    {"help", cmd_help, "help                         this list"},
    {"net", cmd_net, "net [ip A.B.C.D[/N] | server A.B.C.D[:PORT]]   link, addresses, counters"},
    {"tls", cmd_tls, "tls [version 1.0|1.1|1.2|any | suite NAME|any | debug 0-5]"},
    {"get", cmd_get, "get /PATH                    HTTPS GET, prints status, length, sha256"},
    {"post", cmd_post, "post /PATH SIZE              HTTPS POST of SIZE pattern bytes (i % 251)"},
    {"reboot", cmd_reboot, "reboot                       system reset"},
};

static void cmd_help(int argc, char **argv)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        con_printf("  %s\n", commands[i].usage);
    }
    con_printf("help: ok\n");
}

static const char *version_name(int minor)
{
    switch (minor) {
    case MBEDTLS_SSL_MINOR_VERSION_1: return "1.0";
    case MBEDTLS_SSL_MINOR_VERSION_2: return "1.1";
    default: return "1.2";
    }
}

static void print_tls_settings(void)
{
    const char *version = tls_options.min_minor == tls_options.max_minor
                              ? version_name(tls_options.min_minor) : "any";
    con_printf("tls: version %s suite %s debug %d\n", version,
               tls_options.suite ? mbedtls_ssl_get_ciphersuite_name(tls_options.suite) : "any",
               tls_options.debug_level);
}

static void cmd_tls(int argc, char **argv)
{
    if (argc == 1) {
        print_tls_settings();
        con_printf("tls: ok\n");
        return;
    }
    if (argc == 3 && strcmp(argv[1], "version") == 0) {
        static const struct { const char *name; int min, max; } versions[] = {
            {"1.0", MBEDTLS_SSL_MINOR_VERSION_1, MBEDTLS_SSL_MINOR_VERSION_1},
            {"1.1", MBEDTLS_SSL_MINOR_VERSION_2, MBEDTLS_SSL_MINOR_VERSION_2},
            {"1.2", MBEDTLS_SSL_MINOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3},
            {"any", MBEDTLS_SSL_MINOR_VERSION_1, MBEDTLS_SSL_MINOR_VERSION_3},
        };
        for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
            if (strcmp(argv[2], versions[i].name) == 0) {
                tls_options.min_minor = versions[i].min;
                tls_options.max_minor = versions[i].max;
                con_printf("tls: version %s ok\n", versions[i].name);
                return;
            }
        }
        con_printf("tls: error unknown version %s (use 1.0, 1.1, 1.2 or any)\n", argv[2]);
        return;
    }
    if (argc == 3 && strcmp(argv[1], "suite") == 0) {
        if (strcmp(argv[2], "any") == 0) {
            tls_options.suite = 0;
            con_printf("tls: suite any ok\n");
            return;
        }
        /* only suites compiled into the library are in its table */
        int id = mbedtls_ssl_get_ciphersuite_id(argv[2]);
        if (id == 0) {
            con_printf("tls: error unknown suite %s\n", argv[2]);
            return;
        }
        tls_options.suite = id;
        con_printf("tls: suite %s ok\n", argv[2]);
        return;
    }
    if (argc == 3 && strcmp(argv[1], "debug") == 0) {
        uint32_t level;
        if (parse_u32(argv[2], &level) != 0 || level > 5) {
            con_printf("tls: error debug level %s (use 0-5)\n", argv[2]);
            return;
        }
        tls_options.debug_level = (int)level;
        mbedtls_debug_set_threshold((int)level);
        con_printf("tls: debug %lu ok\n", (unsigned long)level);
        return;
    }
    con_printf("tls: error usage tls [version 1.0|1.1|1.2|any | suite NAME|any | debug 0-5]\n");
}

static void cmd_get(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] != '/') {
        con_printf("get: error usage get /PATH\n");
        return;
    }
    https_get(argv[1]);
}

static void cmd_post(int argc, char **argv)
{
    uint32_t size;
    if (argc != 3 || argv[1][0] != '/' || parse_u32(argv[2], &size) != 0 || size > HTTPS_POST_MAX) {
        con_printf("post: error usage post /PATH SIZE (SIZE 0-%lu)\n", (unsigned long)HTTPS_POST_MAX);
        return;
    }
    https_post(argv[1], size);
}

void shell_execute(char *line)
{
    char *argv[MAX_ARGS + 1];
    int argc = 0;
    for (char *p = line; *p != '\0' && argc <= MAX_ARGS;) {
        while (*p == ' ' || *p == '\t') {
            *p++ = '\0';
        }
        if (*p == '\0') {
            break;
        }
        argv[argc++] = p;
        while (*p != '\0' && *p != ' ' && *p != '\t') {
            p++;
        }
    }
    if (argc == 0) {
        return;
    }
    if (argc > MAX_ARGS) {
        con_printf("%s: error too many arguments\n", argv[0]);
        return;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[0], commands[i].name) == 0) {
            commands[i].run(argc, argv);
            return;
        }
    }
    con_printf("%s: error unknown command (type help)\n", argv[0]);
}
