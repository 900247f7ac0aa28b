/* The machine's compiled helpers (sim.machine._native): declarations shared by timebase.c (virtual
 * time per translated block), memory.c (the TLB fill, MMIO dispatch), exceptions.c (exception
 * entry and return) and module.c (the Python types). docs/machine.md explains the design;
 * sim/machine/pytimebase.py is the time base in Python, which must behave identically. */
#ifndef TLS_FW_SIM_NATIVE_H
#define TLS_FW_SIM_NATIVE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* --- unicorn's API, as declared in include/unicorn/unicorn.h ------------------------------- */
typedef void uc_engine;
typedef size_t uc_hook;
typedef int uc_err;
typedef uc_err (*uc_hook_add_t)(uc_engine *, uc_hook *, int, void *, void *, uint64_t, uint64_t, ...);
typedef uc_err (*uc_hook_del_t)(uc_engine *, uc_hook);
typedef uc_err (*uc_emu_start_t)(uc_engine *, uint64_t, uint64_t, uint64_t, size_t);
typedef uc_err (*uc_emu_stop_t)(uc_engine *);
typedef uc_err (*uc_reg_read_t)(uc_engine *, int, void *);
typedef uc_err (*uc_mem_read_t)(uc_engine *, uint64_t, void *, size_t);
typedef uc_err (*uc_reg_write_t)(uc_engine *, int, const void *);
typedef uint64_t (*uc_cb_mmio_read_t)(uc_engine *, uint64_t, unsigned, void *);
typedef void (*uc_cb_mmio_write_t)(uc_engine *, uint64_t, unsigned, uint64_t, void *);
typedef uc_err (*uc_mmio_map_t)(uc_engine *, uint64_t, uint64_t, uc_cb_mmio_read_t, void *,
                                uc_cb_mmio_write_t, void *);
typedef struct { uint64_t paddr; int perms; } uc_tlb_entry;
typedef uc_err (*uc_reg_batch_t)(uc_engine *, int *, void **, int);

#define NT_DECLINED (-1)            /* exceptions.c: the Python engine must do it */
#define NT_FAILED (-2)              /* a Python error is set */
#define NT_REGS 32                  /* the registers exceptions.c reads and writes */

#define UNTIL_NEVER 0xFFFFFFFFu     /* odd: a Thumb PC never equals it */
#define MAX_REGIONS 16
#define CACHE_BITS 14
#define CACHE_SIZE (1u << CACHE_BITS)
#define SITE_FILTER_BITS 16
#define SCRATCH 4096
#define MAX_SITES 4096

/* why a slice ended (TimeBase.run() returns it) */
enum { STOP_NONE = 0, STOP_BOUNDARY = 1, STOP_BEFORE = 2, STOP_MASK = 3, STOP_ERROR = 4 };

/* --- the time base ---------------------------------------------------------------------------- */
typedef struct {
    uint64_t base, size;
    const uint8_t *host;
    int writable;
    uint8_t *code_pages;    /* writable memory: a bit per 1 KiB page code was fetched from */
} Region;

/* an MMIO window unicorn calls us for (read/write: the model's, called with offsets from `lo`) */
typedef struct {
    PyObject_HEAD
    PyObject *read, *write;         /* (offset, size) -> value; (offset, size, value) */
    PyObject *outside;              /* (offset from the region, size, write) -> 0: no register */
    PyObject *failed;               /* (exception, write) -> 0: a callback raised */
    uint64_t lo, hi;                /* the window within its unicorn region */
    struct TimeBase *owner;
} Window;

typedef struct {
    uint64_t key;           /* start | size << 32, | SITE when a hook is dispatched at its start;
                               0: empty */
    uint32_t n;             /* instructions */
    uint8_t ends;           /* its last instruction always ends a block */
    uint8_t lowers;         /* ... lowers an interrupt mask */
    uint16_t pad;
} Block;

#define KEY(pc, size) ((uint64_t)(pc) | (uint64_t)(size) << 32)
#define SITE (1ull << 63)       /* in a key: the fast path never matches it, the slow path does */

typedef struct TimeBase {
    PyObject_HEAD
    /* --- what every block start reads and writes (one cache line) --- */
    uint64_t count;         /* instructions counted in this slice, the current block's included */
    uint64_t deadline;      /* in `count` units: stop at the first boundary at or after it */
    uint64_t block_count;   /* `count` when the current straight-line block began */
    uint32_t prev_key;      /* where a block start is no boundary: the end of the last block, if its
                               last instruction does not end blocks; else odd (NO_BLOCK or end + 1) */
    uint32_t cur_pc;        /* the current block's start; NO_BLOCK: none yet */
    int attention;          /* something needs the slow path: a stop, a pending exception */
    uint8_t *site_filter;   /* bit per halfword address (mod 2^SITE_FILTER_BITS): maybe a site */
    /* --- the rest --- */
    uint64_t slice_start;   /* absolute cycle when the slice began */
    int stopping;           /* an exit was requested: no block runs before it takes effect */
    int stop_reason, stop_boundary, code_stop, stop_before_block;
    int in_slice, exc_pending;
    int in_hook;            /* a hook at a known instruction runs: `exact_now` is the time */
    uint64_t exact_now;
    int64_t exact_left;     /* exact mode: instructions allowed to begin before the stop (-1: no limit) */
    int stop_next_insn;
    PyObject *error;        /* an exception a callback let escape (take_error re-raises it) */
    uc_engine *uc;
    uc_hook_add_t hook_add;
    uc_hook_del_t hook_del;
    uc_emu_start_t emu_start;
    uc_emu_stop_t emu_stop;
    uc_reg_read_t reg_read;
    uc_mem_read_t mem_read;
    uc_reg_write_t reg_write;
    uc_mmio_map_t mmio_map;
    int reg_pc, reg_xpsr, hook_block_type, hook_code_type, hook_tlb_type, mem_fetch;
    int prot_all, prot_rw;
    uc_hook tlb_hook, intr_hook;
    uc_reg_batch_t reg_read_batch, reg_write_batch;
    int hook_intr_type;
    int reg_ids[NT_REGS];               /* exceptions.c: unicorn's ids of its registers */
    PyObject *scs, *engine, *state, *loop;  /* the Python NVIC, engine, run state and run loop */
    PyObject *bus;                      /* its write_observers watch RAM writes that are no store */
    uint64_t mmio_accesses;             /* since the last take_mmio_count() */
    PyObject *windows;                  /* the Window objects unicorn holds pointers to */
    uc_hook block_hook, insn_hook;
    int attached, exact;
    Region regions[MAX_REGIONS];
    int nregions;
    uint32_t sites[MAX_SITES];
    int nsites;
    PyObject *on_site, *on_mask;
    uint8_t filter_bits[1u << (SITE_FILTER_BITS - 3)];
    Block cache[CACHE_SIZE];
} TimeBase;

#define NO_BLOCK 1u             /* an odd address: no Thumb block starts there */


/* timebase.c */
int thumb_info(uint32_t hw1, uint32_t hw2, int *ends, int *lowers);
void keep_error(TimeBase *t);
void stop(TimeBase *t, int reason);
int call_python(TimeBase *t, PyObject *fn, uint32_t pc, int with_pc);
int TimeBase_init(TimeBase *t, PyObject *args, PyObject *kw);
void TimeBase_dealloc(TimeBase *t);
int TimeBase_traverse(TimeBase *t, visitproc visit, void *arg);
int TimeBase_clear(TimeBase *t);
/* exceptions.c */
PyObject *TB_take_pending(TimeBase *t, PyObject *arg);
PyObject *TB_takeable(TimeBase *t, PyObject *arg);
PyObject *TB_wakes_from_wfi(TimeBase *t, PyObject *arg);
PyObject *TB_bind_exceptions(TimeBase *t, PyObject *arg);
/* memory.c */
extern PyTypeObject WindowType;
Region *region_of(TimeBase *t, uint64_t address);
PyObject *TB_attach(TimeBase *t, PyObject *arg);
PyObject *TB_add_region(TimeBase *t, PyObject *arg);
PyObject *TB_set_exact(TimeBase *t, PyObject *arg);
PyObject *TB_run(TimeBase *t, PyObject *arg);
PyObject *TB_now(TimeBase *t, PyObject *arg);
PyObject *TB_time_at(TimeBase *t, PyObject *arg);
PyObject *TB_enter_hook(TimeBase *t, PyObject *arg);
PyObject *TB_leave_hook(TimeBase *t, PyObject *arg);
PyObject *TB_first_instruction(TimeBase *t, PyObject *arg);
PyObject *TB_set_deadline(TimeBase *t, PyObject *arg);
PyObject *TB_stop_at_boundary(TimeBase *t, PyObject *arg);
PyObject *TB_stop_before(TimeBase *t, PyObject *arg);
PyObject *TB_stop_before_block(TimeBase *t, PyObject *arg);
PyObject *TB_stop_next_instruction(TimeBase *t, PyObject *arg);
PyObject *TB_control_transfer(TimeBase *t, PyObject *arg);
PyObject *TB_set_exception_pending(TimeBase *t, PyObject *arg);
PyObject *TB_set_callbacks(TimeBase *t, PyObject *arg);
PyObject *TB_add_site(TimeBase *t, PyObject *arg);
PyObject *TB_remove_site(TimeBase *t, PyObject *arg);
PyObject *TB_forget_code(TimeBase *t, PyObject *arg);
PyObject *TB_take_error(TimeBase *t, PyObject *arg);
PyObject *TB_get_count(TimeBase *t, void *closure);
PyObject *TB_get_in_slice(TimeBase *t, void *closure);
PyObject *TB_get_slice_start(TimeBase *t, void *closure);
PyObject *TB_attach_tlb_fill(TimeBase *t, PyObject *arg);
PyObject *TB_map_mmio(TimeBase *t, PyObject *arg);
PyObject *TB_take_mmio_count(TimeBase *t, PyObject *arg);
PyObject *TB_get_native(TimeBase *t, void *closure);

#endif
