/* The machine's time base, compiled: virtual time counted per translated block of unicorn.
 *
 * unicorn calls one UC_HOOK_BLOCK hook before every translation block it runs. This module owns
 * that hook: it adds the block's instruction count (decoded once per block from the code bytes,
 * never from how unicorn happened to split the code), keeps the time at which the current
 * straight-line block began, and ends the slice at the first block boundary at or after its
 * deadline. docs/machine.md ("Time") gives the rules; sim/machine/pytimebase.py is the same time
 * base in Python (the fallback) and sim/machine/timebase.py the interface both implement - keep
 * the two identical.
 *
 * unicorn's C API is reached through function pointers the Python binding's library provides
 * (no link-time dependency, no unicorn headers needed); native.h declares unicorn's prototypes
 * (include/unicorn/unicorn.h, stable across 2.0 and 2.1).
 */
#include "native.h"

/* --- what the time base needs to know about a Thumb instruction (thumb.py: thumb_info) ------ */
static int is_wide(uint32_t hw1) { return (hw1 >> 11) >= 0x1D; }

static int ends_16(uint32_t hw)
{
    if ((hw & 0xF000) == 0xD000) return 1;                  /* B<cond>, UDF, SVC */
    if ((hw & 0xF800) == 0xE000) return 1;                  /* B */
    if ((hw & 0xF500) == 0xB100) return 1;                  /* CBZ, CBNZ */
    if ((hw & 0xFF00) == 0x4700 || (hw & 0xFF00) == 0xBD00 || (hw & 0xFF00) == 0xBE00)
        return 1;                                           /* BX/BLX, POP {..., PC}, BKPT */
    if ((hw & 0xFD00) == 0x4400)                            /* ADD/MOV high registers to PC */
        return (((hw >> 4) & 0x8) | (hw & 0x7)) == 15;
    if ((hw & 0xFF0F) == 0xBF00) {                          /* YIELD, WFE, WFI */
        uint32_t op = (hw >> 4) & 0xF;
        return op >= 1 && op <= 3;
    }
    return 0;
}

static void info_32(uint32_t hw1, uint32_t hw2, int *ends, int *lowers)
{
    *ends = 0;
    *lowers = 0;
    if ((hw1 & 0xF800) == 0xF000 && (hw2 & 0x8000)) {      /* branches, miscellaneous control */
        if (hw2 & 0x5000) { *ends = 1; return; }            /* B.W, BL, BLX */
        if (((hw1 >> 6) & 0xE) != 0xE) { *ends = 1; return; }   /* B<cond>.W */
        if ((hw1 & 0xFFF0) == 0xF380) {                     /* MSR */
            uint32_t sysm = hw2 & 0xFF;
            *ends = 1;
            *lowers = (hw2 & 0xFF00) == 0x8800 && (sysm == 0x10 || sysm == 0x11 || sysm == 0x13);
            return;
        }
        if ((hw1 & 0xFFF0) == 0xF3A0 && !(hw2 & 0x0700)) {  /* YIELD.W, WFE.W, WFI.W */
            uint32_t op = hw2 & 0xFF;
            *ends = op >= 1 && op <= 3;
            return;
        }
        if ((hw1 & 0xFFF0) == 0xF3B0) { *ends = ((hw2 >> 4) & 0xF) == 6; return; }   /* ISB */
        if ((hw1 & 0xFFF0) == 0xF7F0 && (hw2 & 0xF000) == 0xA000) *ends = 1;       /* UDF.W */
        return;
    }
    if ((hw1 & 0xFFF0) == 0xE8D0 && (hw2 & 0xFFE0) == 0xF000) { *ends = 1; return; }  /* TBB/TBH */
    if ((hw1 & 0xFFD0) == 0xE890 || (hw1 & 0xFFD0) == 0xE910) {   /* LDM: PC in the list */
        *ends = (hw2 & 0x8000) != 0;
        return;
    }
    if ((hw1 & 0xFFF0) == 0xF8D0 || (hw1 & 0xFFF0) == 0xF850 || (hw1 & 0xFF7F) == 0xF85F)
        *ends = (hw2 >> 12) == 15;                          /* LDR PC */
}

/* size (2/4), ends a block, lowers a mask */
int thumb_info(uint32_t hw1, uint32_t hw2, int *ends, int *lowers)
{
    if (!is_wide(hw1)) {
        *ends = ends_16(hw1);
        *lowers = hw1 >= 0xB661 && hw1 <= 0xB663;           /* CPSIE */
        return 2;
    }
    info_32(hw1, hw2, ends, lowers);
    return 4;
}

static const uint8_t *code_at(TimeBase *t, uint32_t pc, uint32_t size, int *writable, uint8_t *scratch)
{
    for (int i = 0; i < t->nregions; i++) {
        Region *r = &t->regions[i];
        if (pc >= r->base && (uint64_t)pc + size <= r->base + r->size) {
            *writable = r->writable;
            return r->host + (pc - r->base);
        }
    }
    *writable = 1;                          /* memory we do not hold: read it, never cache it */
    if (size > SCRATCH || t->mem_read(t->uc, pc, scratch, size) != 0)
        return NULL;
    return scratch;
}

/* decode [pc, pc+size): its instruction count and the facts of its last instruction */
static void decode_block(const uint8_t *code, uint32_t size, Block *b)
{
    uint32_t at = 0, n = 0;
    int ends = 0, lowers = 0;
    while (at < size) {
        uint32_t hw1 = code[at] | (uint32_t)code[at + 1] << 8;
        uint32_t hw2 = at + 3 < size ? (code[at + 2] | (uint32_t)code[at + 3] << 8) : 0;
        at += thumb_info(hw1, hw2, &ends, &lowers);
        n++;
    }
    b->n = n;
    b->ends = (uint8_t)(ends != 0);
    b->lowers = (uint8_t)(lowers != 0);
}

static uint32_t index_in(const uint8_t *code, uint32_t offset)
{
    uint32_t at = 0, n = 0;
    while (at < offset) {
        at += is_wide(code[at] | (uint32_t)code[at + 1] << 8) ? 4 : 2;
        n++;
    }
    return n;
}

static int maybe_site(TimeBase *t, uint32_t pc)
{
    uint32_t key = (pc >> 1) & ((1u << SITE_FILTER_BITS) - 1);
    return t->site_filter[key >> 3] & (1u << (key & 7));
}

static int site_here(TimeBase *t, uint32_t pc)
{
    if (!maybe_site(t, pc))
        return 0;
    for (int i = 0; i < t->nsites; i++)
        if (t->sites[i] == pc)
            return 1;
    return 0;
}

/* the block at pc: from the cache, or decoded (code in writable memory is never cached: the
 * firmware may rewrite it) */
static __attribute__((noinline)) const Block *decode(TimeBase *t, uint32_t pc, uint32_t size, Block *tmp)
{
    uint8_t scratch[SCRATCH];
    int writable;
    const uint8_t *code = code_at(t, pc, size, &writable, scratch);
    Block *out = writable ? tmp : &t->cache[(pc >> 1) & (CACHE_SIZE - 1)];
    out->key = KEY(pc, size) | (site_here(t, pc) ? SITE : 0);
    if (code == NULL) {                     /* cannot happen for code unicorn just translated */
        out->n = (size + 1) / 2;
        out->ends = out->lowers = 0;
    } else {
        decode_block(code, size, out);
    }
    return out;
}

static uint32_t cur_end(TimeBase *t) { return t->prev_key & ~1u; }

/* the current block began at a boundary (a continuation keeps an earlier block_count) */
static const Block *block_at(TimeBase *t, uint32_t pc, uint32_t size, Block *tmp)
{
    const Block *b = &t->cache[(pc >> 1) & (CACHE_SIZE - 1)];
    return (b->key & ~SITE) == KEY(pc, size) ? b : decode(t, pc, size, tmp);
}

/* `count` before the current block (derived: the fast path does not store it) */
static uint64_t cur_base(TimeBase *t)
{
    if (t->cur_pc == NO_BLOCK)
        return t->count;
    Block tmp;
    return t->count - block_at(t, t->cur_pc, cur_end(t) - t->cur_pc, &tmp)->n;
}

/* the current block began at a boundary (a continuation keeps an earlier block_count) */
static int cur_boundary(TimeBase *t) { return t->cur_pc != NO_BLOCK && t->block_count == cur_base(t); }

/* instructions counted before `pc`, an instruction of the current block (else: all counted) */
static uint64_t begun_before(TimeBase *t, uint32_t pc)
{
    if (t->cur_pc == NO_BLOCK || pc < t->cur_pc || pc >= cur_end(t))
        return t->count;
    uint8_t scratch[SCRATCH];
    int writable;
    const uint8_t *code = code_at(t, t->cur_pc, cur_end(t) - t->cur_pc, &writable, scratch);
    if (code == NULL)
        return cur_base(t);
    return cur_base(t) + index_in(code, pc - t->cur_pc);
}

static void update_attention(TimeBase *t)
{
    t->attention = t->stopping || t->exc_pending;
}

void stop(TimeBase *t, int reason)
{
    t->stopping = 1;
    t->attention = 1;
    t->stop_reason = reason;
    t->emu_stop(t->uc);
}

void keep_error(TimeBase *t)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != NULL && value != NULL)
        PyException_SetTraceback(value, tb);
    if (t->error == NULL && value != NULL) {
        t->error = value;
        Py_INCREF(value);
    }
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
}

/* Call a Python callback from inside the CPU (the GIL is free while it runs). Returns its
 * result's truth, 0 if it raised (the exception is kept and the block does not run). */
int call_python(TimeBase *t, PyObject *fn, uint32_t pc, int with_pc)
{
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *res = with_pc ? PyObject_CallFunction(fn, "k", (unsigned long)pc)
                            : PyObject_CallNoArgs(fn);
    int truth = 0;
    if (res == NULL) {
        keep_error(t);
        t->stop_before_block = 1;
    } else {
        truth = PyObject_IsTrue(res) > 0;
        Py_DECREF(res);
    }
    PyGILState_Release(g);
    return truth;
}

/* A block start that needs more than counting: a stop, a pending exception, a site. */
static __attribute__((noinline)) void block_slow(TimeBase *t, uint32_t pc, uint32_t size)
{
    if (t->stopping)
        return;                     /* the exit check right after this hook ends the slice here */
    Block tmp, tmp_prev;
    const Block *b = block_at(t, pc, size, &tmp);
    int boundary = pc != t->prev_key;
    uint64_t now = t->slice_start + t->count;
    if (boundary) {
        t->block_count = t->count;
        if (t->count >= t->deadline) {
            t->stop_boundary = 1;
            stop(t, STOP_BOUNDARY);
            return;
        }
    }
    if (t->exc_pending && t->on_mask != NULL && t->cur_pc != NO_BLOCK && pc == cur_end(t) &&
        block_at(t, t->cur_pc, cur_end(t) - t->cur_pc, &tmp_prev)->lowers) {
        /* a mask was just lowered while an exception is pending: taken before this block? */
        t->in_hook = 1;
        t->exact_now = now;
        int take = call_python(t, t->on_mask, pc, 0);
        t->in_hook = 0;
        if (take || t->stop_before_block) {
            t->stop_boundary = take ? 1 : boundary;     /* the exception is taken right here */
            stop(t, take ? STOP_MASK : STOP_ERROR);
            return;
        }
    }
    if (site_here(t, pc) && t->on_site != NULL) {
        t->in_hook = 1;
        t->exact_now = now;
        call_python(t, t->on_site, pc, 1);
        t->in_hook = 0;
        if (t->stop_before_block) {
            t->stop_boundary = boundary;
            stop(t, t->error ? STOP_ERROR : STOP_BEFORE);
            return;
        }
    }
    t->cur_pc = pc;
    t->count += b->n;
    t->prev_key = pc + size + b->ends;
}

/* unicorn's UC_HOOK_BLOCK, before every translation block that runs: keep it lean, it runs
 * every four instructions or so */
static void on_block(uc_engine *uc, uint64_t address, uint32_t size, void *user)
{
    TimeBase *t = (TimeBase *)user;
    uint32_t pc = (uint32_t)address;
    const Block *b = &t->cache[(pc >> 1) & (CACHE_SIZE - 1)];
    (void)uc;
    if (__builtin_expect(b->key != KEY(pc, size) || t->attention, 0)) {
        block_slow(t, pc, size);
        return;
    }
    uint64_t c = t->count;
    if (pc != t->prev_key) {                /* a boundary: a new straight-line block begins */
        t->block_count = c;
        if (__builtin_expect(c >= t->deadline, 0)) {
            block_slow(t, pc, size);
            return;
        }
    }
    t->cur_pc = pc;
    t->count = c + b->n;
    t->prev_key = pc + size + b->ends;
}

/* exact mode: before every instruction that runs (single steps, watchpoints) */
static void on_insn(uc_engine *uc, uint64_t address, uint32_t size, void *user)
{
    TimeBase *t = (TimeBase *)user;
    (void)uc;
    (void)size;
    if (t->stopping)
        return;
    if (t->stop_next_insn || t->exact_left == 0) {
        t->code_stop = 1;
        t->stop_boundary = (uint32_t)address == t->cur_pc && cur_boundary(t);
        stop(t, STOP_BEFORE);
        return;
    }
    if (t->exact_left > 0)
        t->exact_left--;
}

/* --- the Python type ------------------------------------------------------------------------- */
static int get_int(PyObject *dict, const char *key, unsigned long long *out)
{
    PyObject *v = PyDict_GetItemString(dict, key);
    if (v == NULL) {
        PyErr_Format(PyExc_KeyError, "the time base needs %s", key);
        return -1;
    }
    *out = PyLong_AsUnsignedLongLongMask(v);
    return PyErr_Occurred() ? -1 : 0;
}

/* TimeBase(uch, api, constants): api maps unicorn's function names to their addresses, constants
 * the register, hook, memory-type and permission numbers of the binding (unicorn_const, arm_const) */
int TimeBase_init(TimeBase *t, PyObject *args, PyObject *kw)
{
    static const char *fn[] = {"uc_hook_add", "uc_hook_del", "uc_emu_start", "uc_emu_stop",
                               "uc_reg_read", "uc_mem_read", "uc_reg_write", "uc_mmio_map",
                               "uc_reg_read_batch", "uc_reg_write_batch"};
    static const char *cn[] = {"reg_pc", "reg_xpsr", "hook_block", "hook_code", "hook_tlb_fill",
                               "mem_fetch", "prot_all", "prot_rw", "hook_intr", ""};
    unsigned long long uch, v[10], c[10];
    PyObject *api, *consts;
    (void)kw;
    if (!PyArg_ParseTuple(args, "KO!O!", &uch, &PyDict_Type, &api, &PyDict_Type, &consts))
        return -1;
    for (int i = 0; i < 10; i++)
        if (get_int(api, fn[i], &v[i]) < 0 || (i < 9 && get_int(consts, cn[i], &c[i]) < 0))
            return -1;
    t->uc = (uc_engine *)(uintptr_t)uch;
    t->hook_add = (uc_hook_add_t)(uintptr_t)v[0];
    t->hook_del = (uc_hook_del_t)(uintptr_t)v[1];
    t->emu_start = (uc_emu_start_t)(uintptr_t)v[2];
    t->emu_stop = (uc_emu_stop_t)(uintptr_t)v[3];
    t->reg_read = (uc_reg_read_t)(uintptr_t)v[4];
    t->mem_read = (uc_mem_read_t)(uintptr_t)v[5];
    t->reg_write = (uc_reg_write_t)(uintptr_t)v[6];
    t->mmio_map = (uc_mmio_map_t)(uintptr_t)v[7];
    t->reg_read_batch = (uc_reg_batch_t)(uintptr_t)v[8];
    t->reg_write_batch = (uc_reg_batch_t)(uintptr_t)v[9];
    t->hook_intr_type = (int)c[8];
    t->reg_pc = (int)c[0];
    t->reg_xpsr = (int)c[1];
    t->hook_block_type = (int)c[2];
    t->hook_code_type = (int)c[3];
    t->hook_tlb_type = (int)c[4];
    t->mem_fetch = (int)c[5];
    t->prot_all = (int)c[6];
    t->prot_rw = (int)c[7];
    t->deadline = UINT64_MAX;
    t->exact_left = -1;
    t->cur_pc = t->prev_key = NO_BLOCK;
    t->site_filter = t->filter_bits;
    Py_XSETREF(t->windows, PyList_New(0));
    if (t->windows == NULL)
        return -1;
    memset(t->cache, 0, sizeof t->cache);
    return 0;
}

int TimeBase_traverse(TimeBase *t, visitproc visit, void *arg)
{
    Py_VISIT(t->on_site);
    Py_VISIT(t->on_mask);
    Py_VISIT(t->error);
    Py_VISIT(t->windows);
    Py_VISIT(t->scs);
    Py_VISIT(t->engine);
    Py_VISIT(t->state);
    Py_VISIT(t->loop);
    Py_VISIT(t->bus);
    return 0;
}

int TimeBase_clear(TimeBase *t)
{
    Py_CLEAR(t->on_site);
    Py_CLEAR(t->on_mask);
    Py_CLEAR(t->error);
    Py_CLEAR(t->windows);
    Py_CLEAR(t->scs);
    Py_CLEAR(t->engine);
    Py_CLEAR(t->state);
    Py_CLEAR(t->loop);
    Py_CLEAR(t->bus);
    return 0;
}

void TimeBase_dealloc(TimeBase *t)
{
    PyObject_GC_UnTrack(t);
    TimeBase_clear(t);
    for (int i = 0; i < t->nregions; i++)
        PyMem_Free(t->regions[i].code_pages);
    Py_TYPE(t)->tp_free((PyObject *)t);
}

PyObject *TB_attach(TimeBase *t, PyObject *noargs)
{
    (void)noargs;
    if (t->attached)
        Py_RETURN_NONE;
    if (t->hook_add(t->uc, &t->block_hook, t->hook_block_type, (void *)on_block, t,
                    (uint64_t)1, (uint64_t)0) != 0) {
        PyErr_SetString(PyExc_RuntimeError, "uc_hook_add(UC_HOOK_BLOCK) failed");
        return NULL;
    }
    t->attached = 1;
    Py_RETURN_NONE;
}

PyObject *TB_add_region(TimeBase *t, PyObject *args)
{
    unsigned long long base, size, host;
    int writable;
    if (!PyArg_ParseTuple(args, "KKKp", &base, &size, &host, &writable))
        return NULL;
    if (t->nregions == MAX_REGIONS) {
        PyErr_SetString(PyExc_ValueError, "too many memory regions for the time base");
        return NULL;
    }
    Region *r = &t->regions[t->nregions];
    r->code_pages = writable ? PyMem_Calloc((size >> 13) + 1, 1) : NULL;
    if (writable && r->code_pages == NULL)
        return PyErr_NoMemory();
    t->nregions++;
    r->base = base;
    r->size = size;
    r->host = (const uint8_t *)(uintptr_t)host;
    r->writable = writable;
    Py_RETURN_NONE;
}

PyObject *TB_set_exact(TimeBase *t, PyObject *arg)
{
    int on = PyObject_IsTrue(arg);
    if (on < 0)
        return NULL;
    if (on && !t->exact) {
        if (t->hook_add(t->uc, &t->insn_hook, t->hook_code_type, (void *)on_insn, t,
                        (uint64_t)1, (uint64_t)0) != 0) {
            PyErr_SetString(PyExc_RuntimeError, "uc_hook_add(UC_HOOK_CODE) failed");
            return NULL;
        }
    } else if (!on && t->exact) {
        t->hook_del(t->uc, t->insn_hook);
    }
    t->exact = on;
    Py_RETURN_NONE;
}

/* run(pc, slice_start, deadline, at_boundary, block_time, exact_left)
 *   -> (uc_err, executed, at_boundary, block_time, stop_reason, pc)
 * Times are absolute cycles; `at_boundary`: the slice starts at a block boundary (else it goes
 * on with the straight-line block that began at `block_time`). */
PyObject *TB_run(TimeBase *t, PyObject *args)
{
    unsigned long long pc, slice_start, deadline, block_time;
    long long exact_left;
    int at_boundary;
    if (!PyArg_ParseTuple(args, "KKKpKL", &pc, &slice_start, &deadline, &at_boundary, &block_time,
                          &exact_left))
        return NULL;
    pc &= ~1ull;
    t->slice_start = slice_start;
    t->deadline = deadline > slice_start ? deadline - slice_start : 0;
    t->count = 0;
    t->block_count = block_time - slice_start;      /* wraps below 0: added back on the way out */
    t->prev_key = at_boundary ? NO_BLOCK : (uint32_t)pc;
    t->cur_pc = NO_BLOCK;
    t->exact_left = exact_left;
    t->stopping = t->code_stop = t->stop_before_block = t->stop_next_insn = 0;
    t->stop_reason = STOP_NONE;
    t->stop_boundary = 0;
    t->in_hook = 0;
    t->in_slice = 1;
    update_attention(t);
    uc_err err;
    Py_BEGIN_ALLOW_THREADS
    err = t->emu_start(t->uc, pc | 1, UNTIL_NEVER, 0, 0);
    Py_END_ALLOW_THREADS
    t->in_slice = 0;
    t->stopping = 0;
    update_attention(t);
    uint32_t pc_now = 0;
    t->reg_read(t->uc, t->reg_pc, &pc_now);
    pc_now &= ~1u;
    uint64_t executed = t->count;
    int boundary;
    if (t->cur_pc != NO_BLOCK && (err != 0 || t->code_stop) && pc_now >= t->cur_pc &&
        pc_now < cur_end(t)) {
        executed = begun_before(t, pc_now);     /* stopped inside the block: the rest never ran */
        boundary = pc_now == t->cur_pc && cur_boundary(t);
    } else if (t->stop_reason != STOP_NONE) {
        boundary = t->stop_boundary;
    } else {                                    /* WFI, or a fault outside the last block */
        boundary = pc_now != t->prev_key;
    }
    t->count = executed;
    return Py_BuildValue("iKiKiI", err, (unsigned long long)executed, boundary,
                         (unsigned long long)(t->slice_start + t->block_count), t->stop_reason, pc_now);
}

PyObject *TB_now(TimeBase *t, PyObject *noargs)
{
    (void)noargs;
    return PyLong_FromUnsignedLongLong(t->in_hook ? t->exact_now : t->slice_start + t->block_count);
}

PyObject *TB_time_at(TimeBase *t, PyObject *arg)
{
    unsigned long pc = PyLong_AsUnsignedLongMask(arg);
    if (PyErr_Occurred())
        return NULL;
    return PyLong_FromUnsignedLongLong(t->slice_start + begun_before(t, (uint32_t)pc & ~1u));
}

PyObject *TB_enter_hook(TimeBase *t, PyObject *arg)
{
    unsigned long pc = PyLong_AsUnsignedLongMask(arg);
    if (PyErr_Occurred())
        return NULL;
    t->exact_now = t->slice_start + begun_before(t, (uint32_t)pc & ~1u);
    t->in_hook = 1;
    return PyLong_FromUnsignedLongLong(t->exact_now);
}

PyObject *TB_leave_hook(TimeBase *t, PyObject *noargs)
{
    (void)noargs;
    t->in_hook = 0;
    Py_RETURN_NONE;
}

PyObject *TB_first_instruction(TimeBase *t, PyObject *arg)
{
    unsigned long pc = PyLong_AsUnsignedLongMask(arg);
    if (PyErr_Occurred())
        return NULL;
    return PyBool_FromLong(cur_base(t) == 0 && ((uint32_t)pc & ~1u) == t->cur_pc);
}

PyObject *TB_set_deadline(TimeBase *t, PyObject *arg)
{
    unsigned long long d = PyLong_AsUnsignedLongLong(arg);
    if (PyErr_Occurred())
        return NULL;
    d = d > t->slice_start ? d - t->slice_start : 0;
    if (d < t->deadline)
        t->deadline = d;
    Py_RETURN_NONE;
}

PyObject *TB_stop_at_boundary(TimeBase *t, PyObject *noargs)
{
    (void)noargs;
    t->deadline = 0;
    Py_RETURN_NONE;
}

PyObject *TB_stop_before(TimeBase *t, PyObject *arg)
{
    /* from a code hook (or the interrupt hook) at `pc`: end the slice before it runs */
    unsigned long pc = PyLong_AsUnsignedLongMask(arg);
    if (PyErr_Occurred())
        return NULL;
    if (!t->in_slice || t->stopping)
        Py_RETURN_NONE;
    t->code_stop = 1;
    t->stop_boundary = ((uint32_t)pc & ~1u) == t->cur_pc && cur_boundary(t);
    stop(t, STOP_BEFORE);
    Py_RETURN_NONE;
}

PyObject *TB_stop_before_block(TimeBase *t, PyObject *noargs)
{
    (void)noargs;
    t->stop_before_block = 1;       /* a block hook's callback: its block does not run */
    Py_RETURN_NONE;
}

PyObject *TB_stop_next_instruction(TimeBase *t, PyObject *noargs)
{
    (void)noargs;
    t->stop_next_insn = 1;          /* exact mode: before the next instruction begins */
    Py_RETURN_NONE;
}

PyObject *TB_control_transfer(TimeBase *t, PyObject *noargs)
{
    (void)noargs;
    t->prev_key |= 1;               /* the exception engine wrote the PC: a new block begins (odd:
                                       never equal to a block start; the current block's end kept) */
    Py_RETURN_NONE;
}

PyObject *TB_set_exception_pending(TimeBase *t, PyObject *arg)
{
    int on = PyObject_IsTrue(arg);
    if (on < 0)
        return NULL;
    t->exc_pending = on;
    update_attention(t);
    Py_RETURN_NONE;
}

PyObject *TB_set_callbacks(TimeBase *t, PyObject *args)
{
    PyObject *on_site, *on_mask;
    if (!PyArg_ParseTuple(args, "OO", &on_site, &on_mask))
        return NULL;
    Py_XSETREF(t->on_site, on_site == Py_None ? NULL : Py_NewRef(on_site));
    Py_XSETREF(t->on_mask, on_mask == Py_None ? NULL : Py_NewRef(on_mask));
    Py_RETURN_NONE;
}

static void rebuild_filter(TimeBase *t)
{
    memset(t->filter_bits, 0, sizeof t->filter_bits);
    for (int i = 0; i < t->nsites; i++) {
        uint32_t key = (t->sites[i] >> 1) & ((1u << SITE_FILTER_BITS) - 1);
        t->filter_bits[key >> 3] |= (uint8_t)(1u << (key & 7));
    }
}

PyObject *TB_add_site(TimeBase *t, PyObject *arg)
{
    unsigned long pc = PyLong_AsUnsignedLongMask(arg);
    if (PyErr_Occurred())
        return NULL;
    if (site_here(t, (uint32_t)pc))
        Py_RETURN_NONE;
    if (t->nsites == MAX_SITES) {
        PyErr_SetString(PyExc_ValueError, "too many block hooks");
        return NULL;
    }
    t->sites[t->nsites++] = (uint32_t)pc;
    rebuild_filter(t);
    t->cache[((uint32_t)pc >> 1) & (CACHE_SIZE - 1)].key = 0;   /* decoded again, with its site */
    Py_RETURN_NONE;
}

PyObject *TB_remove_site(TimeBase *t, PyObject *arg)
{
    unsigned long pc = PyLong_AsUnsignedLongMask(arg);
    if (PyErr_Occurred())
        return NULL;
    for (int i = 0; i < t->nsites; i++) {
        if (t->sites[i] == (uint32_t)pc) {
            t->sites[i] = t->sites[--t->nsites];
            break;
        }
    }
    rebuild_filter(t);
    t->cache[((uint32_t)pc >> 1) & (CACHE_SIZE - 1)].key = 0;
    Py_RETURN_NONE;
}

PyObject *TB_forget_code(TimeBase *t, PyObject *noargs)
{
    (void)noargs;
    memset(t->cache, 0, sizeof t->cache);   /* code bytes changed (image load, restore, writes) */
    Py_RETURN_NONE;
}

PyObject *TB_take_error(TimeBase *t, PyObject *noargs)
{
    (void)noargs;
    PyObject *e = t->error;
    t->error = NULL;
    if (e == NULL)
        Py_RETURN_NONE;
    return e;
}

PyObject *TB_get_count(TimeBase *t, void *closure)
{
    (void)closure;
    return PyLong_FromUnsignedLongLong(t->count);
}

PyObject *TB_get_in_slice(TimeBase *t, void *closure)
{
    (void)closure;
    return PyBool_FromLong(t->in_slice);
}

PyObject *TB_get_slice_start(TimeBase *t, void *closure)
{
    (void)closure;
    return PyLong_FromUnsignedLongLong(t->slice_start);
}

