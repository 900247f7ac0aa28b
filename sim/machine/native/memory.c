/* The memory side of the compiled helpers: unicorn's TLB fill (which pages are data RAM that stores
 * may reach by the fast path) and MMIO regions whose accesses call the peripheral models straight
 * from C. cpu.py (_fill_tlb) and bus.py (_direct, _dispatcher) do the same through ctypes when the
 * Python time base is in use. */
#include "native.h"

/* --- the TLB fill (UC_TLB_VIRTUAL): what cpu.py's _fill_tlb does, without Python -------------- */
#define XPSR_IT 0x0600FC00u                 /* IT[1:0] (bits 26:25) and IT[7:2] (bits 15:10) */

Region *region_of(TimeBase *t, uint64_t address)
{
    for (int i = 0; i < t->nregions; i++) {
        Region *r = &t->regions[i];
        if (address >= r->base && address < r->base + r->size)
            return r;
    }
    return NULL;
}

static int on_tlb_fill(uc_engine *uc, uint64_t vaddr, int type, uc_tlb_entry *e, void *user)
{
    TimeBase *t = (TimeBase *)user;
    (void)uc;
    e->paddr = vaddr;                   /* identity: unicorn's own map decides the rest */
    Region *r = region_of(t, vaddr);
    int ram = r != NULL && r->writable;
    uint64_t page = ram ? (vaddr - r->base) >> 10 : 0;
    if (type == t->mem_fetch) {         /* a fetch marks its page executable for good */
        if (ram)
            r->code_pages[page >> 3] |= (uint8_t)(1u << (page & 7));
        e->perms = t->prot_all;
        return 1;
    }
    /* unicorn_fill_tlb() ran cpu_restore_state(), leaving the faulting instruction's IT state in
     * the CPU state; a running block keeps it 0, so clear it (cpu.py: _clear_stale_it_state) */
    uint32_t xpsr = 0;
    t->reg_read(t->uc, t->reg_xpsr, &xpsr);
    if (xpsr & XPSR_IT) {
        xpsr &= ~XPSR_IT;
        t->reg_write(t->uc, t->reg_xpsr, &xpsr);
    }
    if (ram && !(r->code_pages[page >> 3] & (1u << (page & 7))))
        e->perms = t->prot_rw;          /* data RAM no code came from: stores take the fast path */
    else
        e->perms = t->prot_all;
    return 1;
}

PyObject *TB_attach_tlb_fill(TimeBase *t, PyObject *noargs)
{
    (void)noargs;
    if (t->hook_add(t->uc, &t->tlb_hook, t->hook_tlb_type, (void *)on_tlb_fill, t,
                    (uint64_t)1, (uint64_t)0) != 0) {
        PyErr_SetString(PyExc_RuntimeError, "uc_hook_add(UC_HOOK_TLB_FILL) failed");
        return NULL;
    }
    Py_RETURN_NONE;
}

/* --- MMIO: unicorn calls the model's read/write straight from here --------------------------- */
static PyObject *call_failed(Window *w, int write)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != NULL && value != NULL)
        PyException_SetTraceback(value, tb);
    PyObject *res = PyObject_CallFunction(w->failed, "OO", value ? value : Py_None,
                                          write ? Py_True : Py_False);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    return res;
}

static uint64_t mmio_read(uc_engine *uc, uint64_t offset, unsigned size, void *user)
{
    Window *w = (Window *)user;
    (void)uc;
    PyGILState_STATE g = PyGILState_Ensure();
    w->owner->mmio_accesses++;
    PyObject *res;
    if (offset >= w->lo && offset < w->hi) {
        PyObject *argv[2] = {PyLong_FromUnsignedLongLong(offset - w->lo), PyLong_FromUnsignedLong(size)};
        res = argv[0] && argv[1] ? PyObject_Vectorcall(w->read, argv, 2, NULL) : NULL;
        Py_XDECREF(argv[0]);
        Py_XDECREF(argv[1]);
    } else {
        res = PyObject_CallFunction(w->outside, "KIO", (unsigned long long)offset, size, Py_False);
    }
    if (res == NULL)
        res = call_failed(w, 0);
    uint64_t value = 0;
    if (res != NULL) {
        value = PyLong_AsUnsignedLongLongMask(res);
        Py_DECREF(res);
    }
    if (PyErr_Occurred())               /* not an integer, or `failed` itself raised */
        keep_error(w->owner);
    PyGILState_Release(g);
    return value;
}

static void mmio_write(uc_engine *uc, uint64_t offset, unsigned size, uint64_t value, void *user)
{
    Window *w = (Window *)user;
    (void)uc;
    PyGILState_STATE g = PyGILState_Ensure();
    w->owner->mmio_accesses++;
    PyObject *res;
    if (offset >= w->lo && offset < w->hi) {
        PyObject *argv[3] = {PyLong_FromUnsignedLongLong(offset - w->lo), PyLong_FromUnsignedLong(size),
                             PyLong_FromUnsignedLongLong(value)};
        res = argv[0] && argv[1] && argv[2] ? PyObject_Vectorcall(w->write, argv, 3, NULL) : NULL;
        Py_XDECREF(argv[0]);
        Py_XDECREF(argv[1]);
        Py_XDECREF(argv[2]);
    } else {
        res = PyObject_CallFunction(w->outside, "KIO", (unsigned long long)offset, size, Py_True);
    }
    if (res == NULL)
        res = call_failed(w, 1);
    Py_XDECREF(res);
    if (PyErr_Occurred())
        keep_error(w->owner);
    PyGILState_Release(g);
}

static int Window_traverse(Window *w, visitproc visit, void *arg)
{
    Py_VISIT(w->read);
    Py_VISIT(w->write);
    Py_VISIT(w->outside);
    Py_VISIT(w->failed);
    return 0;
}

static int Window_clear(Window *w)
{
    Py_CLEAR(w->read);
    Py_CLEAR(w->write);
    Py_CLEAR(w->outside);
    Py_CLEAR(w->failed);
    return 0;
}

static void Window_dealloc(Window *w)
{
    PyObject_GC_UnTrack(w);
    Window_clear(w);
    PyObject_GC_Del(w);
}

PyTypeObject WindowType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "sim.machine._native.Window",
    .tp_basicsize = sizeof(Window),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "an MMIO region unicorn calls the compiled helper for",
    .tp_dealloc = (destructor)Window_dealloc,
    .tp_traverse = (traverseproc)Window_traverse,
    .tp_clear = (inquiry)Window_clear,
};

/* map_mmio(address, size, read, write, lo, hi, outside, failed): accesses at [lo, hi) of the
 * region go to read(offset - lo, size) / write(offset - lo, size, value), others to
 * outside(offset, size, write); an exception from either goes to failed(exception, write) */
PyObject *TB_map_mmio(TimeBase *t, PyObject *args)
{
    unsigned long long address, size, lo, hi;
    PyObject *read, *write, *outside, *failed;
    if (!PyArg_ParseTuple(args, "KKOOKKOO", &address, &size, &read, &write, &lo, &hi, &outside, &failed))
        return NULL;
    Window *w = PyObject_GC_New(Window, &WindowType);
    if (w == NULL)
        return NULL;
    w->read = Py_NewRef(read);
    w->write = Py_NewRef(write);
    w->outside = Py_NewRef(outside);
    w->failed = Py_NewRef(failed);
    w->lo = lo;
    w->hi = hi;
    w->owner = t;                       /* the windows list keeps w alive as long as t */
    PyObject_GC_Track(w);
    int added = PyList_Append(t->windows, (PyObject *)w);
    Py_DECREF(w);
    if (added < 0)
        return NULL;
    uc_err err = t->mmio_map(t->uc, address, size, mmio_read, w, mmio_write, w);
    if (err != 0) {
        PyErr_Format(PyExc_RuntimeError, "uc_mmio_map(0x%llx, 0x%llx) failed: %d", address, size, err);
        return NULL;
    }
    Py_RETURN_NONE;
}

PyObject *TB_take_mmio_count(TimeBase *t, PyObject *noargs)
{
    (void)noargs;
    uint64_t n = t->mmio_accesses;
    t->mmio_accesses = 0;
    return PyLong_FromUnsignedLongLong(n);
}

