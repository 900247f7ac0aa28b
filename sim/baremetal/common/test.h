/* Result reporting for the small bare-metal images (no UART needed).
 *
 * The firmware fills the global `test_result` and ends by calling test_finish(); the Python side
 * runs the machine until PC reaches `test_finish` (a breakpoint on that symbol), then reads the
 * struct by symbol. See tests/firmware_src/README.md for the layout contract. */
#ifndef TEST_H
#define TEST_H

#include <stdint.h>

#define TEST_MAGIC 0x54534554u   /* "TEST" in memory order */
#define TEST_VALUES 64

struct test_result {
    uint32_t magic;              /* TEST_MAGIC once the startup code ran */
    uint32_t done;               /* 1 when test_finish() was reached */
    uint32_t checks;             /* CHECK() evaluations */
    uint32_t failures;           /* CHECK() evaluations that were false */
    uint32_t first_failure_line; /* __LINE__ of the first failed CHECK, 0 if none */
    uint32_t unexpected_vector;  /* exception number that hit Default_Handler, 0 if none */
    uint32_t unexpected_pc;      /* stacked PC of that exception */
    uint32_t reserved;
    uint32_t values[TEST_VALUES];/* observations the Python test asserts on (test-specific) */
};

extern volatile struct test_result test_result;

void test_check(int ok, uint32_t line);
#define CHECK(cond) test_check((cond) ? 1 : 0, __LINE__)
#define RECORD(index, value) (test_result.values[(index)] = (uint32_t)(value))

/* Ends the test: sets done and halts on a BKPT forever (never returns). */
void test_finish(void) __attribute__((noreturn, noinline));

#endif
