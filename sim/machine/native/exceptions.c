/* Exception entry and return in C: the common cases of sim/machine/exceptions.py (ARMv7-M ARM
 * B1.5.6 entry, B1.5.7 stack alignment, B1.5.8 return, tail-chaining), with the same register
 * writes in the same order. The NVIC state stays where the Python SCS keeps it (scs.py: pending,
 * active, enabled, levels, priority, ...), read and written here through its attributes, so
 * snapshots and the register model see one state. Anything unusual - entry from unprivileged
 * Thread mode, a stack outside RAM, a bad vector, FP with CPACR off, an invalid EXC_RETURN, a
 * fault context to clear, an entry while a write trace watches RAM - is declined (NT_DECLINED) and the Python engine does it, raising its
 * ExceptionError where the architecture faults. */
#include "native.h"

#define NPRIV 1u
#define SPSEL 2u
#define FPCA 4u
#define XPSR_T (1u << 24)
#define XPSR_ALIGN (1u << 9)
#define XPSR_KEEP_ON_ENTRY 0xF80F0000u
#define CPACR_FULL (0xFu << 20)
#define FPCCR_ASPEN (1u << 31)
#define NMI 2
#define SVCALL 11
#define PENDSV 14
#define SYSTEM_MASK ((1ull << 2) | (1ull << 3) | (1ull << 4) | (1ull << 5) | (1ull << 6) | \
                     (1ull << 11) | (1ull << 12) | (1ull << 14) | (1ull << 15))
#define EXCEPTIONS 98

typedef struct { uint64_t lo, hi; } Bits;      /* bit e: exception e (0..97) */

static int bit_of(Bits b, int e) { return e < 64 ? (b.lo >> e) & 1 : (b.hi >> (e - 64)) & 1; }

static void set_bit(Bits *b, int e, int on)
{
    uint64_t *w = e < 64 ? &b->lo : &b->hi;
    uint64_t m = 1ull << (e & 63);
    *w = on ? (*w | m) : (*w & ~m);
}

/* --- the Python state, through attributes ----------------------------------------------------- */
static int get_u64(PyObject *o, const char *name, uint64_t *out)
{
    PyObject *v = PyObject_GetAttrString(o, name);
    if (v == NULL)
        return -1;
    *out = PyLong_AsUnsignedLongLongMask(v);
    Py_DECREF(v);
    return PyErr_Occurred() ? -1 : 0;
}

static int get_i64(PyObject *o, const char *name, int64_t *out)
{
    PyObject *v = PyObject_GetAttrString(o, name);
    if (v == NULL)
        return -1;
    *out = PyLong_AsLongLong(v);
    Py_DECREF(v);
    return PyErr_Occurred() ? -1 : 0;
}

static int get_bits(PyObject *o, const char *name, Bits *out)
{
    PyObject *v = PyObject_GetAttrString(o, name);
    if (v == NULL)
        return -1;
    out->lo = PyLong_AsUnsignedLongLongMask(v);
    PyObject *shift = PyLong_FromLong(64);
    PyObject *high = shift ? PyNumber_Rshift(v, shift) : NULL;
    Py_XDECREF(shift);
    Py_DECREF(v);
    if (high == NULL)
        return -1;
    out->hi = PyLong_AsUnsignedLongLongMask(high);
    Py_DECREF(high);
    return PyErr_Occurred() ? -1 : 0;
}

static int set_bits(PyObject *o, const char *name, Bits b)
{
    PyObject *lo = PyLong_FromUnsignedLongLong(b.lo), *hi = PyLong_FromUnsignedLongLong(b.hi);
    PyObject *shift = PyLong_FromLong(64), *hs = NULL, *v = NULL;
    if (lo && hi && shift && (hs = PyNumber_Lshift(hi, shift)) != NULL)
        v = PyNumber_Or(hs, lo);
    Py_XDECREF(lo);
    Py_XDECREF(hi);
    Py_XDECREF(shift);
    Py_XDECREF(hs);
    if (v == NULL)
        return -1;
    int r = PyObject_SetAttrString(o, name, v);
    Py_DECREF(v);
    return r;
}

static int set_u64(PyObject *o, const char *name, uint64_t value)
{
    PyObject *v = PyLong_FromUnsignedLongLong(value);
    if (v == NULL)
        return -1;
    int r = PyObject_SetAttrString(o, name, v);
    Py_DECREF(v);
    return r;
}

static int add_one(PyObject *o, const char *name)
{
    int64_t n;
    if (get_i64(o, name, &n) < 0)
        return -1;
    return set_u64(o, name, (uint64_t)(n + 1));
}

static int get_flag(PyObject *o, const char *name)
{
    PyObject *v = PyObject_GetAttrString(o, name);
    if (v == NULL)
        return -1;
    int r = PyObject_IsTrue(v);
    Py_DECREF(v);
    return r;
}

/* the NVIC as scs.py holds it (priorities are read from its list when needed) */
typedef struct {
    Bits pending, active, enabled;
    int64_t group_mask, priority_mask;
    PyObject *priority;                         /* borrowed from the read's own reference */
    int64_t cache[EXCEPTIONS];
    Bits cached;
} Nvic;

static int read_nvic(TimeBase *t, Nvic *n)
{
    PyObject *scs = t->scs;
    n->cached.lo = n->cached.hi = 0;
    n->priority = NULL;
    if (get_bits(scs, "pending", &n->pending) < 0 || get_bits(scs, "active", &n->active) < 0 ||
        get_bits(scs, "enabled", &n->enabled) < 0 || get_i64(scs, "group_mask", &n->group_mask) < 0 ||
        get_i64(scs, "priority_mask", &n->priority_mask) < 0)
        return -1;
    PyObject *prio = PyObject_GetAttrString(scs, "priority");
    if (prio == NULL)
        return -1;
    if (!PyList_Check(prio) || PyList_GET_SIZE(prio) != EXCEPTIONS) {
        Py_DECREF(prio);
        PyErr_SetString(PyExc_TypeError, "scs.priority: a list of 98 priorities");
        return -1;
    }
    n->priority = prio;                         /* released by done_nvic */
    return 0;
}

static void done_nvic(Nvic *n)
{
    Py_CLEAR(n->priority);
}

static int64_t priority_of(Nvic *n, int e)
{
    if (!bit_of(n->cached, e)) {
        n->cache[e] = PyLong_AsLongLong(PyList_GET_ITEM(n->priority, e));
        set_bit(&n->cached, e, 1);
    }
    return n->cache[e];
}

/* scs.candidates(): pending and enabled (system exceptions are always enabled) */
static Bits candidates(const Nvic *n)
{
    Bits c;
    c.lo = n->pending.lo & ((n->enabled.lo << 16) | SYSTEM_MASK);
    c.hi = n->pending.hi & ((n->enabled.hi << 16) | (n->enabled.lo >> 48));
    return c;
}

static int64_t group_priority(Nvic *n, int e)
{
    int64_t p = priority_of(n, e);
    return p < 0 ? p : (p & n->group_mask);
}

/* scs.execution_priority() */
static int64_t execution_priority(Nvic *n, uint32_t primask, uint32_t basepri, uint32_t faultmask)
{
    int64_t prio = 256;
    for (int e = 0; e < EXCEPTIONS; e++)
        if (bit_of(n->active, e) && group_priority(n, e) < prio)
            prio = group_priority(n, e);
    if (basepri & n->priority_mask) {
        int64_t b = basepri & n->priority_mask & n->group_mask;
        if (b < prio)
            prio = b;
    }
    if ((primask & 1) && prio > 0)
        prio = 0;
    if ((faultmask & 1) && prio > -1)
        prio = -1;
    return prio;
}

/* scs.best_pending(): the candidate with the lowest (priority, number) whose group priority is
 * below `below`; -1 if none */
static int best_pending(Nvic *n, int64_t below)
{
    Bits c = candidates(n);
    int best = -1;
    for (int e = 0; e < EXCEPTIONS; e++) {
        if (!bit_of(c, e) || group_priority(n, e) >= below)
            continue;
        if (best < 0 || priority_of(n, e) < priority_of(n, best))
            best = e;
    }
    return best;
}

/* --- registers and memory ------------------------------------------------------------------- */
enum { R_CONTROL, R_XPSR, R_MSP, R_PSP, R_R0, R_R1, R_R2, R_R3, R_R12, R_LR, R_PC, R_PRIMASK,
       R_BASEPRI, R_FAULTMASK, R_APSR_NZCV, R_S0, R_FPSCR = R_S0 + 16, R_COUNT };
_Static_assert(R_COUNT == NT_REGS, "native.h: NT_REGS");

static int read_regs(TimeBase *t, const int *which, int n, uint32_t *out)
{
    int ids[32];
    void *ptrs[32];
    for (int i = 0; i < n; i++) {
        ids[i] = t->reg_ids[which[i]];
        ptrs[i] = &out[i];
    }
    return t->reg_read_batch(t->uc, ids, ptrs, n) == 0 ? 0 : -1;
}

static int write_regs(TimeBase *t, const int *which, const uint32_t *values, int n)
{
    int ids[40];
    void *ptrs[40];
    uint32_t copy[40];
    for (int i = 0; i < n; i++) {
        ids[i] = t->reg_ids[which[i]];
        copy[i] = values[i];
        ptrs[i] = &copy[i];
    }
    return t->reg_write_batch(t->uc, ids, ptrs, n) == 0 ? 0 : -1;
}

static const int CTX[14] = {R_CONTROL, R_XPSR, R_MSP, R_PSP, R_R0, R_R1, R_R2, R_R3, R_R12, R_LR, R_PC,
                            R_PRIMASK, R_BASEPRI, R_FAULTMASK};
enum { C_CONTROL, C_XPSR, C_MSP, C_PSP, C_R0, C_R1, C_R2, C_R3, C_R12, C_LR, C_PC, C_PRIMASK,
       C_BASEPRI, C_FAULTMASK };

/* host memory for [address, address+size) in one memory region (writable: RAM only) */
static uint8_t *host_at(TimeBase *t, uint64_t address, uint64_t size, int writable)
{
    Region *r = region_of(t, address);
    if (r == NULL || address + size > r->base + r->size || (writable && !r->writable))
        return NULL;
    return (uint8_t *)r->host + (address - r->base);
}

static void put32(uint8_t *p, uint32_t v) { p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24; }
static uint32_t get32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

/* 1 if something watches writes into RAM (bus.write_observers: a write trace, provenance.py) - the
 * frame must then be written through the bus as exceptions.py does; 0 if not; -1 on an error */
static int stacking_observed(TimeBase *t)
{
    PyObject *observers = PyObject_GetAttrString(t->bus, "write_observers");
    if (observers == NULL)
        return -1;
    int on = PyObject_IsTrue(observers);
    Py_DECREF(observers);
    return on;
}

/* --- entry (exceptions.py: ExceptionEngine.enter) -------------------------------------------- */
/* Enter `exc` returning to `return_pc`, from the context `ctx` (a CTX read of this moment).
 * Returns the handler address, NT_DECLINED (nothing changed: the Python engine must do it) or
 * NT_FAILED (a Python error is set). */
static int64_t enter(TimeBase *t, Nvic *n, int exc, uint32_t return_pc, const uint32_t *ctx)
{
    uint32_t control = ctx[C_CONTROL], xpsr = ctx[C_XPSR], msp = ctx[C_MSP], psp = ctx[C_PSP];
    int thread = (xpsr & 0x1FF) == 0;
    if (thread && (control & NPRIV))
        return NT_DECLINED;                     /* unprivileged Thread mode: the Python path */
    int observed = stacking_observed(t);
    if (observed != 0)                          /* the Python engine stacks through the bus, */
        return observed < 0 ? NT_FAILED : NT_DECLINED;     /* whose observers see the frame */
    uint64_t cpacr, fpccr, vtor;
    int extended_frames = get_flag(t->engine, "extended_frames");
    if (extended_frames < 0 || get_u64(t->scs, "cpacr", &cpacr) < 0 || get_u64(t->scs, "fpccr", &fpccr) < 0 ||
        get_u64(t->scs, "vtor", &vtor) < 0)
        return NT_FAILED;
    if ((control & FPCA) && (cpacr & CPACR_FULL) != CPACR_FULL)
        return NT_DECLINED;                     /* NOCP UsageFault */
    int use_psp = thread && (control & SPSEL);
    uint32_t sp = use_psp ? psp : msp;
    int extended = (control & FPCA) && (fpccr & FPCCR_ASPEN) && extended_frames;
    uint32_t size = extended ? 0x68 : 0x20;
    uint32_t frame = (sp - size) & ~7u;
    uint8_t *out = host_at(t, frame, size, 1);
    const uint8_t *vec = host_at(t, (uint32_t)vtor + 4u * exc, 4, 0);
    if (out == NULL || vec == NULL || !(get32(vec) & 1))
        return NT_DECLINED;                     /* stacking or vector fault: the Python path */
    uint32_t handler = get32(vec);
    uint32_t words[26] = {ctx[C_R0], ctx[C_R1], ctx[C_R2], ctx[C_R3], ctx[C_R12], ctx[C_LR],
                          return_pc & ~1u, (xpsr & ~XPSR_ALIGN) | XPSR_T | ((sp & 4) ? XPSR_ALIGN : 0)};
    if (extended) {
        static const int fp[17] = {R_S0, R_S0 + 1, R_S0 + 2, R_S0 + 3, R_S0 + 4, R_S0 + 5, R_S0 + 6,
                                   R_S0 + 7, R_S0 + 8, R_S0 + 9, R_S0 + 10, R_S0 + 11, R_S0 + 12,
                                   R_S0 + 13, R_S0 + 14, R_S0 + 15, R_FPSCR};
        if (read_regs(t, fp, 17, &words[8]) < 0)
            return NT_DECLINED;
        words[25] = 0;
    }
    for (uint32_t i = 0; i < size / 4; i++)
        put32(out + 4 * i, words[i]);
    if (extended && set_u64(t->scs, "fpcar", frame + 0x20) < 0)
        return NT_FAILED;
    uint32_t exc_return = 0xFFFFFFE1u | (extended ? 0 : 0x10) | (thread ? (0x8 | (use_psp ? 0x4 : 0)) : 0);
    /* engine.exc_return_seen[exc_return] += 1 */
    PyObject *seen = PyObject_GetAttrString(t->engine, "exc_return_seen");
    PyObject *key = PyLong_FromUnsignedLong(exc_return);
    if (seen == NULL || key == NULL) {
        Py_XDECREF(seen);
        Py_XDECREF(key);
        return NT_FAILED;
    }
    PyObject *old = PyDict_GetItemWithError(seen, key), *one = PyLong_FromLong(1), *count = NULL;
    if (one != NULL && (old != NULL || !PyErr_Occurred()))
        count = old != NULL ? PyNumber_Add(old, one) : Py_NewRef(one);
    Py_XDECREF(one);
    int stored = count ? PyDict_SetItem(seen, key, count) : -1;
    Py_XDECREF(count);
    Py_DECREF(key);
    Py_DECREF(seen);
    if (stored < 0)
        return NT_FAILED;
    uint32_t new_msp = use_psp ? msp : frame, new_psp = use_psp ? frame : psp;
    uint32_t handler_xpsr = (xpsr & XPSR_KEEP_ON_ENTRY) | XPSR_T | (uint32_t)exc;
    uint32_t flags = xpsr & 0xF0000000u, handler_control = control & ~(FPCA | SPSEL);
    if (!thread) {
        static const int regs[7] = {R_XPSR, R_APSR_NZCV, R_CONTROL, R_MSP, R_PSP, R_LR, R_PC};
        uint32_t v[7] = {handler_xpsr, flags, handler_control, new_msp, new_psp, exc_return, handler | 1};
        if (write_regs(t, regs, v, 7) < 0)
            return NT_FAILED;
    } else {                                    /* privileged Thread: clear SPSEL while still there */
        static const int regs[7] = {R_CONTROL, R_XPSR, R_APSR_NZCV, R_MSP, R_PSP, R_LR, R_PC};
        uint32_t v[7] = {handler_control, handler_xpsr, flags, new_msp, new_psp, exc_return, handler | 1};
        if (write_regs(t, regs, v, 7) < 0)
            return NT_FAILED;
    }
    set_bit(&n->pending, exc, 0);
    set_bit(&n->active, exc, 1);
    if (set_bits(t->scs, "pending", n->pending) < 0 || set_bits(t->scs, "active", n->active) < 0 ||
        add_one(t->engine, "entries") < 0 || PyObject_SetAttrString(t->state, "stuck_regs", Py_None) < 0)
        return NT_FAILED;
    if (t->in_slice)
        t->prev_key |= 1;                       /* the handler begins a block (loop.control_transfer) */
    return handler & ~1u;
}

/* take_pending() -> handler address, None (nothing takeable) or -1 (declined: the Python path).
 * At a slice boundary, as RunLoop._take_pending. */
static PyObject *take_pending(TimeBase *t, Nvic *n)
{
    uint32_t ctx[14];
    if (read_nvic(t, n) < 0)
        return NULL;
    Bits c = candidates(n);
    if (!c.lo && !c.hi)
        Py_RETURN_NONE;
    if (read_regs(t, CTX, 14, ctx) < 0)
        return PyLong_FromLong(-1);
    int best = best_pending(n, execution_priority(n, ctx[C_PRIMASK], ctx[C_BASEPRI], ctx[C_FAULTMASK]));
    if (best < 0)
        Py_RETURN_NONE;
    int masked = get_flag(t->engine, "mask_interrupts");
    if (masked < 0)
        return NULL;
    if (best >= PENDSV && masked)
        Py_RETURN_NONE;                         /* a debugger's step holds PendSV, SysTick, IRQs */
    int64_t handler = enter(t, n, best, ctx[C_PC], ctx);
    if (handler == NT_FAILED)
        return NULL;
    return PyLong_FromLongLong(handler == NT_DECLINED ? -1 : handler);
}

PyObject *TB_take_pending(TimeBase *t, PyObject *noargs)
{
    (void)noargs;
    Nvic n;
    PyObject *r = take_pending(t, &n);
    done_nvic(&n);
    return r;
}

/* takeable() -> the exception that would be taken now, or None (ExceptionEngine.takeable) */
static PyObject *takeable(TimeBase *t, Nvic *n)
{
    uint32_t masks[3];
    static const int which[3] = {R_PRIMASK, R_BASEPRI, R_FAULTMASK};
    if (read_nvic(t, n) < 0)
        return NULL;
    Bits c = candidates(n);
    if (!c.lo && !c.hi)
        Py_RETURN_NONE;
    if (read_regs(t, which, 3, masks) < 0) {
        PyErr_SetString(PyExc_RuntimeError, "uc_reg_read_batch failed");
        return NULL;
    }
    int best = best_pending(n, execution_priority(n, masks[0], masks[1], masks[2]));
    int masked = get_flag(t->engine, "mask_interrupts");
    if (masked < 0)
        return NULL;
    if (best < 0 || (best >= PENDSV && masked))
        Py_RETURN_NONE;
    return PyLong_FromLong(best);
}

PyObject *TB_takeable(TimeBase *t, PyObject *noargs)
{
    (void)noargs;
    Nvic n;
    PyObject *r = takeable(t, &n);
    done_nvic(&n);
    return r;
}

/* wakes_from_wfi() -> bool: an exception could preempt if PRIMASK were clear (RunLoop._wakes_from_wfi,
 * ARMv7-M ARM B1.5.19) */
PyObject *TB_wakes_from_wfi(TimeBase *t, PyObject *noargs)
{
    (void)noargs;
    Nvic n;
    uint32_t masks[3];
    static const int which[3] = {R_PRIMASK, R_BASEPRI, R_FAULTMASK};
    PyObject *r = NULL;
    if (read_nvic(t, &n) == 0) {
        if (read_regs(t, which, 3, masks) < 0)
            PyErr_SetString(PyExc_RuntimeError, "uc_reg_read_batch failed");
        else
            r = PyBool_FromLong(best_pending(&n, execution_priority(&n, 0, masks[1], masks[2])) >= 0);
    }
    done_nvic(&n);
    return r;
}

/* --- return (ExceptionEngine.exception_return) ------------------------------------------------- */
static int valid_exc_return(uint32_t v)
{
    return v == 0xFFFFFFF1u || v == 0xFFFFFFE1u || v == 0xFFFFFFF9u || v == 0xFFFFFFE9u ||
           v == 0xFFFFFFFDu || v == 0xFFFFFFEDu;
}

/* 0: returned (and tail-chained), NT_DECLINED: nothing changed, NT_FAILED: a Python error */
static int64_t exception_return(TimeBase *t, Nvic *n)
{
    uint32_t ctx[14];
    if (read_nvic(t, n) < 0)
        return NT_FAILED;
    PyObject *fault_context = PyObject_GetAttrString(t->engine, "fault_context");
    if (fault_context == NULL)
        return NT_FAILED;
    int clearing = fault_context != Py_None;
    Py_DECREF(fault_context);
    if (clearing || read_regs(t, CTX, 14, ctx) < 0)
        return NT_DECLINED;                     /* a fault handler returns: the Python path */
    uint32_t control = ctx[C_CONTROL], xpsr = ctx[C_XPSR], msp = ctx[C_MSP], psp = ctx[C_PSP];
    uint32_t exc_return = ctx[C_PC] | 1;
    int returning = xpsr & 0x1FF;
    if (!valid_exc_return(exc_return) || returning >= EXCEPTIONS || !bit_of(n->active, returning))
        return NT_DECLINED;
    int to_thread = (exc_return & 0x8) != 0, use_psp = (exc_return & 0x4) != 0;
    int extended = !(exc_return & 0x10);
    Bits others = n->active;
    set_bit(&others, returning, 0);
    int others_active = others.lo || others.hi;
    uint64_t ccr;
    Bits levels;
    if (get_u64(t->scs, "ccr", &ccr) < 0 || get_bits(t->scs, "levels", &levels) < 0)
        return NT_FAILED;
    if ((to_thread && others_active && !(ccr & 1)) || (!to_thread && !others_active))
        return NT_DECLINED;
    uint32_t sp = use_psp ? psp : msp;
    uint32_t size = extended ? 0x68 : 0x20;
    const uint8_t *data = host_at(t, sp, size, 0);
    if (data == NULL)
        return NT_DECLINED;                     /* unstacking fault */
    uint32_t w[26];
    for (uint32_t i = 0; i < size / 4; i++)
        w[i] = get32(data + 4 * i);
    uint32_t pc = w[6], stacked_xpsr = w[7];
    uint32_t new_sp = sp + size + ((stacked_xpsr & XPSR_ALIGN) ? 4 : 0);
    uint32_t new_msp = use_psp ? msp : new_sp, new_psp = use_psp ? new_sp : psp;
    uint32_t ipsr = to_thread ? 0 : (stacked_xpsr & 0x1FF);
    if (!to_thread && ipsr == 0)
        return NT_DECLINED;
    uint32_t new_xpsr = (stacked_xpsr & ~(XPSR_ALIGN | 0x1FFu)) | XPSR_T | ipsr;
    uint32_t fpca = extended ? FPCA : 0;
    uint32_t in_handler_control = (control & ~(NPRIV | FPCA)) | fpca;
    uint32_t final_control = (control & ~(NPRIV | FPCA | SPSEL)) | fpca | (use_psp ? SPSEL : 0);
    uint32_t last_control = final_control | (to_thread ? (control & NPRIV) : 0);
    uint32_t faultmask = returning != NMI ? 0 : ctx[C_FAULTMASK];
    /* scs.exception_returned(): inactive; a level IRQ whose line is still high pends again */
    set_bit(&n->active, returning, 0);
    if (returning >= 16 && bit_of(levels, returning - 16))
        set_bit(&n->pending, returning, 1);
    if (set_bits(t->scs, "active", n->active) < 0 || set_bits(t->scs, "pending", n->pending) < 0)
        return NT_FAILED;
    int regs[40], k = 0;
    uint32_t v[40];
    static const int head[13] = {R_CONTROL, R_FAULTMASK, R_XPSR, R_CONTROL, R_MSP, R_PSP, R_APSR_NZCV,
                                 R_R0, R_R1, R_R2, R_R3, R_R12, R_LR};
    uint32_t head_v[13] = {in_handler_control, faultmask, new_xpsr, final_control, new_msp, new_psp,
                           new_xpsr & 0xF0000000u, w[0], w[1], w[2], w[3], w[4], w[5]};
    for (int i = 0; i < 13; i++, k++) {
        regs[k] = head[i];
        v[k] = head_v[i];
    }
    if (extended) {
        for (int i = 0; i < 16; i++, k++) {
            regs[k] = R_S0 + i;
            v[k] = w[8 + i];
        }
        regs[k] = R_FPSCR;
        v[k++] = w[24];
    }
    regs[k] = R_PC;
    v[k++] = pc | 1;
    regs[k] = R_CONTROL;
    v[k++] = last_control;
    if (write_regs(t, regs, v, k) < 0 || add_one(t->engine, "returns") < 0)
        return NT_FAILED;
    if (t->in_slice)
        t->prev_key |= 1;                       /* loop.control_transfer */
    /* tail-chaining: a pending exception that can run now is entered straight away */
    Bits c = candidates(n);
    if (c.lo || c.hi) {
        int nxt = best_pending(n, execution_priority(n, ctx[C_PRIMASK], ctx[C_BASEPRI], faultmask));
        if (nxt >= 0) {
            if (add_one(t->engine, "tail_chains") < 0)
                return NT_FAILED;
            uint32_t now[14];
            int64_t handler = read_regs(t, CTX, 14, now) < 0 ? NT_DECLINED : enter(t, n, nxt, pc, now);
            if (handler == NT_FAILED)
                return NT_FAILED;
            if (handler == NT_DECLINED) {       /* the Python engine enters it (and may fault) */
                PyObject *r = PyObject_CallMethod(t->loop, "tail_chain", "iI", nxt, pc);
                if (r == NULL)
                    return NT_FAILED;
                Py_DECREF(r);
            }
        }
    }
    return 0;
}

/* supervisor_call(): SVC executed, PC past it (ExceptionEngine.supervisor_call) */
static int64_t supervisor_call(TimeBase *t, Nvic *n)
{
    uint32_t ctx[14];
    if (read_nvic(t, n) < 0)
        return NT_FAILED;
    if (read_regs(t, CTX, 14, ctx) < 0)
        return NT_DECLINED;
    if (group_priority(n, SVCALL) >= execution_priority(n, ctx[C_PRIMASK], ctx[C_BASEPRI], ctx[C_FAULTMASK]))
        return NT_DECLINED;                     /* escalates to HardFault: the Python path */
    int64_t handler = enter(t, n, SVCALL, ctx[C_PC], ctx);
    return handler < 0 ? handler : 0;
}

/* unicorn's UC_HOOK_INTR: QEMU exception numbers (qemu/target/arm/cpu.h: EXCP_SWI 2,
 * EXCP_EXCEPTION_EXIT 8); everything else, and anything declined, goes to RunLoop.on_interrupt */
static void on_interrupt(uc_engine *uc, uint32_t intno, void *user)
{
    TimeBase *t = (TimeBase *)user;
    (void)uc;
    PyGILState_STATE g = PyGILState_Ensure();
    int64_t done = NT_DECLINED;
    Nvic n;
    n.priority = NULL;
    if (intno == 8)
        done = exception_return(t, &n);
    else if (intno == 2)
        done = supervisor_call(t, &n);
    done_nvic(&n);
    if (done == NT_DECLINED) {
        PyObject *r = PyObject_CallMethod(t->loop, "on_interrupt", "OIO", Py_None, intno, Py_None);
        if (r == NULL)
            done = NT_FAILED;
        Py_XDECREF(r);
    }
    if (done == NT_FAILED) {
        keep_error(t);
        t->deadline = 0;                        /* and stop at the next boundary */
    }
    PyGILState_Release(g);
}

/* bind_exceptions(scs, engine, run_state, loop, bus, register ids): exception entry and return in C */
PyObject *TB_bind_exceptions(TimeBase *t, PyObject *args)
{
    PyObject *scs, *engine, *state, *loop, *bus, *ids;
    static const char *names[R_COUNT] = {
        "control", "xpsr", "msp", "psp", "r0", "r1", "r2", "r3", "r12", "lr", "pc", "primask",
        "basepri", "faultmask", "apsr_nzcv", "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8",
        "s9", "s10", "s11", "s12", "s13", "s14", "s15", "fpscr"};
    if (!PyArg_ParseTuple(args, "OOOOOO!", &scs, &engine, &state, &loop, &bus, &PyDict_Type, &ids))
        return NULL;
    for (int i = 0; i < R_COUNT; i++) {
        PyObject *v = PyDict_GetItemString(ids, names[i]);
        if (v == NULL)
            return PyErr_Format(PyExc_KeyError, "register id of %s", names[i]);
        t->reg_ids[i] = (int)PyLong_AsLong(v);
    }
    Py_XSETREF(t->scs, Py_NewRef(scs));
    Py_XSETREF(t->engine, Py_NewRef(engine));
    Py_XSETREF(t->state, Py_NewRef(state));
    Py_XSETREF(t->loop, Py_NewRef(loop));
    Py_XSETREF(t->bus, Py_NewRef(bus));
    if (t->hook_add(t->uc, &t->intr_hook, t->hook_intr_type, (void *)on_interrupt, t,
                    (uint64_t)1, (uint64_t)0) != 0) {
        PyErr_SetString(PyExc_RuntimeError, "uc_hook_add(UC_HOOK_INTR) failed");
        return NULL;
    }
    Py_RETURN_NONE;
}
