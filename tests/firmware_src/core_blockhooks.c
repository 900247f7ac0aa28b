/* Hooks served by block hooks must fire exactly once per execution, as code hooks do.
 *
 * The machine hooks an address with a (cheap) block hook where every execution of it begins a
 * translation block: function entries reached by BL, BLX or B (tail call); return addresses after
 * BL and BLX; the instruction after a not-taken conditional branch or an IT-conditional BX; a
 * function behind alignment padding, also when something jumps into the padding. Addresses that
 * can be reached by falling through (a function entered from the instruction before it, the middle
 * of a straight run) must get the exact code hook instead. The Python side hooks every bh_* label
 * below and compares what the hooks saw with what the firmware counted, with SysTick interrupting
 * every 37 cycles and under any slicing of the run.
 *
 * values[]: 0 calls of bh_callee, 1 returns to bh_ret_bl, 2 returns to bh_ret_blx, 3 bh_ft_entry,
 * 4 bh_padded, 5 bh_after_bne, 6 bh_after_it, 7 bh_mid, 8 ticks, 9 checksum in r0. */
#include "test.h"
#include "cm4.h"

#define ROUNDS 60u

static volatile uint32_t ticks;
void SysTick_Handler(void) { ticks++; }

uint32_t bh_callee(uint32_t x);
uint32_t bh_call_bl(uint32_t n, uint32_t x);
uint32_t bh_call_blx(uint32_t n, uint32_t x);
uint32_t bh_tail(uint32_t x);
uint32_t bh_before_ft(uint32_t x);
uint32_t bh_padded(uint32_t x);
uint32_t bh_pad(uint32_t x);
uint32_t bh_cond(uint32_t x);
uint32_t bh_it(uint32_t x);

__asm__(
    ".syntax unified\n"
    ".thumb\n"
    ".text\n"
    ".p2align 2\n"
    /* entered by bl, blx and a tail-calling b */
    ".global bh_callee\n .type bh_callee, %function\n"
    "bh_callee:\n"
    "    adds r0, r0, #3\n"
    "    bx lr\n"
    ".size bh_callee, .-bh_callee\n"
    /* n calls through bl; bh_ret_bl is the return address */
    ".global bh_call_bl\n .type bh_call_bl, %function\n"
    "bh_call_bl:\n"
    "    push {r4, lr}\n"
    "    mov r4, r0\n"
    "    mov r0, r1\n"
    "1:  bl bh_callee\n"
    ".global bh_ret_bl\n"
    "bh_ret_bl:\n"
    "    subs r4, r4, #1\n"
    "    bne 1b\n"
    "    pop {r4, pc}\n"
    ".size bh_call_bl, .-bh_call_bl\n"
    /* n calls through blx; bh_ret_blx is the return address */
    ".global bh_call_blx\n .type bh_call_blx, %function\n"
    "bh_call_blx:\n"
    "    push {r4, lr}\n"
    "    mov r4, r0\n"
    "    mov r0, r1\n"
    "    movw r3, #:lower16:bh_callee\n"
    "    movt r3, #:upper16:bh_callee\n"
    "1:  blx r3\n"
    ".global bh_ret_blx\n"
    "bh_ret_blx:\n"
    "    subs r4, r4, #1\n"
    "    bne 1b\n"
    "    pop {r4, pc}\n"
    ".size bh_call_blx, .-bh_call_blx\n"
    ".global bh_tail\n .type bh_tail, %function\n"
    "bh_tail:\n"
    "    adds r0, r0, #1\n"
    "    b bh_callee\n"
    ".size bh_tail, .-bh_tail\n"
    /* bh_ft_entry is a function, but bh_before_ft falls into it */
    ".global bh_before_ft\n .type bh_before_ft, %function\n"
    "bh_before_ft:\n"
    "    adds r0, r0, #5\n"
    ".size bh_before_ft, .-bh_before_ft\n"
    ".global bh_ft_entry\n .type bh_ft_entry, %function\n"
    "bh_ft_entry:\n"
    "    adds r0, r0, #7\n"
    /* bh_mid: the middle of a straight run of instructions */
    ".global bh_mid\n"
    "bh_mid:\n"
    "    eors r0, r0, r0, lsl #1\n"
    "    bx lr\n"
    ".size bh_ft_entry, .-bh_ft_entry\n"
    /* bh_padded sits behind a padding nop; bh_pad jumps into the padding */
    ".global bh_pad_prev\n .type bh_pad_prev, %function\n"
    "bh_pad_prev:\n"
    "    bx lr\n"
    ".size bh_pad_prev, .-bh_pad_prev\n"
    ".global bh_pad_nop\n"
    "bh_pad_nop:\n"
    "    nop\n"
    ".global bh_padded\n .type bh_padded, %function\n"
    "bh_padded:\n"
    "    adds r0, r0, #9\n"
    "    bx lr\n"
    ".size bh_padded, .-bh_padded\n"
    ".global bh_pad\n .type bh_pad, %function\n"
    "bh_pad:\n"
    "    b bh_pad_nop\n"
    ".size bh_pad, .-bh_pad\n"
    /* bh_after_bne: the fall-through of a not-taken bne */
    ".global bh_cond\n .type bh_cond, %function\n"
    "bh_cond:\n"
    "    tst r0, #1\n"
    "    bne 1f\n"
    ".global bh_after_bne\n"
    "bh_after_bne:\n"
    "    adds r0, r0, #11\n"
    "1:  adds r0, r0, #1\n"
    "    bx lr\n"
    ".size bh_cond, .-bh_cond\n"
    /* bh_after_it: after an IT-conditional return that was not taken */
    ".global bh_it\n .type bh_it, %function\n"
    "bh_it:\n"
    "    tst r0, #2\n"
    "    it ne\n"
    "    bxne lr\n"
    ".global bh_after_it\n"
    "bh_after_it:\n"
    "    adds r0, r0, #13\n"
    "    bx lr\n"
    ".size bh_it, .-bh_it\n");

int main(void)
{
    uint32_t x = 1, odd = 0, bit1 = 0;
    SYST_RVR = 37 - 1;
    SYST_CVR = 0;
    SYST_CSR = 7;
    for (uint32_t i = 0; i < ROUNDS; i++) {
        x = bh_call_bl(3, x);
        x = bh_call_blx(2, x);
        x = bh_tail(x);
        x = bh_before_ft(x);
        x = bh_padded(x);
        x = bh_pad(x);
        odd += x & 1;
        x = bh_cond(x);
        bit1 += (x >> 1) & 1;
        x = bh_it(x);
    }
    SYST_CSR = 0;
    RECORD(0, ROUNDS * 6);                 /* 3 bl + 2 blx + 1 tail call per round */
    RECORD(1, ROUNDS * 3);
    RECORD(2, ROUNDS * 2);
    RECORD(3, ROUNDS);
    RECORD(4, ROUNDS * 2);                 /* called directly and through the padding */
    RECORD(5, ROUNDS - odd);
    RECORD(6, ROUNDS - bit1);
    RECORD(7, ROUNDS);
    RECORD(8, ticks);
    RECORD(9, x);
    return 0;
}
