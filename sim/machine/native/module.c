/* The module sim.machine._native: the TimeBase type and its methods, and thumb_info for tests. */
#include "native.h"

static PyMethodDef TB_methods[] = {
    {"attach", (PyCFunction)TB_attach, METH_NOARGS, "register the block hook"},
    {"add_region", (PyCFunction)TB_add_region, METH_VARARGS, "(base, size, host address, writable)"},
    {"set_exact", (PyCFunction)TB_set_exact, METH_O, "per-instruction stops on/off"},
    {"run", (PyCFunction)TB_run, METH_VARARGS, "run one slice"},
    {"now", (PyCFunction)TB_now, METH_NOARGS, "virtual time inside the slice"},
    {"time_at", (PyCFunction)TB_time_at, METH_O, "time at an instruction of the current block"},
    {"enter_hook", (PyCFunction)TB_enter_hook, METH_O, "a hook at this instruction runs"},
    {"leave_hook", (PyCFunction)TB_leave_hook, METH_NOARGS, "the hook returned"},
    {"first_instruction", (PyCFunction)TB_first_instruction, METH_O, "the slice's first instruction?"},
    {"set_deadline", (PyCFunction)TB_set_deadline, METH_O, "stop at the first boundary at or after it"},
    {"stop_at_boundary", (PyCFunction)TB_stop_at_boundary, METH_NOARGS, "stop at the next boundary"},
    {"stop_before", (PyCFunction)TB_stop_before, METH_O, "stop before this instruction (code hook)"},
    {"stop_before_block", (PyCFunction)TB_stop_before_block, METH_NOARGS, "from a block hook"},
    {"stop_next_instruction", (PyCFunction)TB_stop_next_instruction, METH_NOARGS, "exact mode"},
    {"control_transfer", (PyCFunction)TB_control_transfer, METH_NOARGS, "the PC was written"},
    {"set_exception_pending", (PyCFunction)TB_set_exception_pending, METH_O, "check after mask writes"},
    {"set_callbacks", (PyCFunction)TB_set_callbacks, METH_VARARGS, "(on_site, on_mask)"},
    {"add_site", (PyCFunction)TB_add_site, METH_O, "dispatch a hook at this block start"},
    {"remove_site", (PyCFunction)TB_remove_site, METH_O, ""},
    {"forget_code", (PyCFunction)TB_forget_code, METH_NOARGS, "code bytes changed"},
    {"take_error", (PyCFunction)TB_take_error, METH_NOARGS, "the exception a callback let escape"},
    {"attach_tlb_fill", (PyCFunction)TB_attach_tlb_fill, METH_NOARGS, "the TLB fill in C"},
    {"map_mmio", (PyCFunction)TB_map_mmio, METH_VARARGS, "an MMIO region served from C"},
    {"take_mmio_count", (PyCFunction)TB_take_mmio_count, METH_NOARGS, "MMIO accesses since the last call"},
    {"bind_exceptions", (PyCFunction)TB_bind_exceptions, METH_VARARGS, "exception entry and return in C"},
    {"take_pending", (PyCFunction)TB_take_pending, METH_NOARGS, "enter the takeable exception"},
    {"takeable", (PyCFunction)TB_takeable, METH_NOARGS, "the exception that would be taken now"},
    {"wakes_from_wfi", (PyCFunction)TB_wakes_from_wfi, METH_NOARGS, "WFI ends (PRIMASK ignored)"},
    {NULL, NULL, 0, NULL},
};

PyObject *TB_get_native(TimeBase *t, void *closure)
{
    (void)t;
    (void)closure;
    Py_RETURN_TRUE;
}

static PyGetSetDef TB_getset[] = {
    {"native", (getter)TB_get_native, NULL, "the compiled time base (TLB fill and MMIO in C too)", NULL},
    {"count", (getter)TB_get_count, NULL, "instructions counted in this slice", NULL},
    {"in_slice", (getter)TB_get_in_slice, NULL, "the CPU runs", NULL},
    {"slice_start", (getter)TB_get_slice_start, NULL, "cycle at which the slice began", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject TimeBaseType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "sim.machine._native.TimeBase",
    .tp_basicsize = sizeof(TimeBase),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "virtual time counted per translated block (docs/machine.md)",
    .tp_traverse = (traverseproc)TimeBase_traverse,
    .tp_clear = (inquiry)TimeBase_clear,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)TimeBase_init,
    .tp_dealloc = (destructor)TimeBase_dealloc,
    .tp_methods = TB_methods,
    .tp_getset = TB_getset,
};

/* thumb_info(hw1, hw2) -> (size, ends_block, lowers_mask), for tests against thumb.py */
static PyObject *py_thumb_info(PyObject *self, PyObject *args)
{
    unsigned int hw1, hw2;
    int ends, lowers;
    (void)self;
    if (!PyArg_ParseTuple(args, "II", &hw1, &hw2))
        return NULL;
    int size = thumb_info(hw1 & 0xFFFF, hw2 & 0xFFFF, &ends, &lowers);
    return Py_BuildValue("iOO", size, ends ? Py_True : Py_False, lowers ? Py_True : Py_False);
}

static PyMethodDef module_methods[] = {
    {"thumb_info", py_thumb_info, METH_VARARGS, "(hw1, hw2) -> (size, ends_block, lowers_mask)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_native", "the machine's compiled helpers (docs/machine.md)", -1,
    module_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__native(void)
{
    if (PyType_Ready(&TimeBaseType) < 0 || PyType_Ready(&WindowType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&TimeBaseType);
    if (PyModule_AddObject(m, "TimeBase", (PyObject *)&TimeBaseType) < 0) {
        Py_DECREF(&TimeBaseType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
