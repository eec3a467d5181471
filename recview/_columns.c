/* recview._columns: split records into one contiguous array per field.
 *
 * View.columns() copies every field of every record into its own array.
 * numpy can only do that one field at a time with its strided per-element
 * loop, and that loop is what the copy costs: on the 32-byte record of
 * benchmarks/bench_read.py it takes 43 ms of CPU per 256 MiB where one memcpy
 * of the same bytes takes 17 ms (docs/benchmarks.md). Here the records are
 * taken a small block at a time (so that the block stays in L1 while every
 * field is copied out of it), and each field is copied by a loop whose
 * element size is a compile-time constant: one load and one store per
 * element, plus a bswap for a field of the other byte order. recview's Python
 * side (recview/_colsplit.py) decides which fields come here and copies the
 * others (bitfields, conversions) with numpy; without this extension it
 * copies every field with numpy.
 *
 * split(src, itemsize, first, tasks)
 *   src      a readable C-contiguous buffer of whole records
 *   itemsize bytes per record
 *   first    index, in the outputs, of src's first record
 *   tasks    a sequence of (out, offset, size, ostride, oskip, swap): copy the
 *            `size` bytes at `offset` of each record r of src to the writable
 *            buffer `out` at byte oskip + (first + r) * ostride, reversing the
 *            bytes of each `swap`-byte unit when swap > 1 (0 or 1: a plain
 *            copy). The outputs must not overlap src or each other.
 * Every bound is checked before the first byte is copied (ValueError). The
 * GIL is released during the copy: src must stay valid, which the caller's
 * buffer export guarantees (a mapping cannot be closed while exported).
 *
 * empty(shape, dtype)
 *   numpy.empty(shape, dtype), but an array of 4 MiB or more starts on a
 *   2 MiB boundary (and is advised MADV_HUGEPAGE, as numpy advises its own).
 *   malloc puts a large block 16 bytes into its own mapping, at any 4 KiB
 *   offset from a 2 MiB boundary, so the first and last 2 MiB of each output
 *   are faulted in 4 KiB at a time: about 520 page faults per column, 3,600
 *   for the 7 columns of the benchmark's 256 MiB file, 6 ms of its 35 ms.
 *   The array owns its memory (through a numpy memory handler: free(),
 *   realloc() and resize() work as for any array).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define NPY_NO_DEPRECATED_API NPY_1_22_API_VERSION
#define NPY_TARGET_VERSION NPY_1_22_API_VERSION
#include <numpy/arrayobject.h>

/* Records per block: the block's bytes, read once from memory by the first
 * field's loop, are in L1 for the other fields' loops (L1d is 32-48 KiB on
 * current x86-64 and arm64 cores). */
#ifndef BLOCK_BYTES
#define BLOCK_BYTES (16 * 1024)
#endif
/* Prefetch the next block while this one is copied: the first field's loop
 * over a block would otherwise wait for memory while the other fields' loops
 * leave it idle (0 turns it off). */
#ifndef PREFETCH
#define PREFETCH 1
#endif

typedef struct {
    Py_buffer view;
    char *out; /* byte oskip + first * ostride of view */
    Py_ssize_t offset, size, ostride, swap;
} task_t;

/* Plain copies: the element size is a constant, so memcpy is one move. */
#define COPY(N)                                                                       \
    static void copy_##N(char *restrict d, Py_ssize_t ds, const char *restrict s,      \
                         Py_ssize_t ss, Py_ssize_t n)                                  \
    {                                                                                 \
        Py_ssize_t i;                                                                 \
        if (ds == N) {                                                                \
            _Pragma("GCC unroll 8")                                                   \
            for (i = 0; i < n; i++)                                                   \
                memcpy(d + i * N, s + i * ss, N);                                     \
        } else {                                                                      \
            _Pragma("GCC unroll 8")                                                   \
            for (i = 0; i < n; i++)                                                   \
                memcpy(d + i * ds, s + i * ss, N);                                    \
        }                                                                             \
    }
COPY(1)
COPY(2)
COPY(4)
COPY(8)
COPY(16)

/* Byte-swapping copies of one 2-, 4- or 8-byte unit per element. */
#define SWAP(N, T, BSWAP)                                                             \
    static void swap_##N(char *restrict d, Py_ssize_t ds, const char *restrict s,      \
                         Py_ssize_t ss, Py_ssize_t n)                                  \
    {                                                                                 \
        Py_ssize_t i;                                                                 \
        T v;                                                                          \
        for (i = 0; i < n; i++) {                                                     \
            memcpy(&v, s + i * ss, N);                                                \
            v = BSWAP(v);                                                             \
            memcpy(d + i * ds, &v, N);                                                \
        }                                                                             \
    }
SWAP(2, uint16_t, __builtin_bswap16)
SWAP(4, uint32_t, __builtin_bswap32)
SWAP(8, uint64_t, __builtin_bswap64)

/* Any other size or swap unit (char fields, sub-arrays copied whole,
 * complex numbers of the other byte order). */
static void copy_any(const task_t *t, char *restrict d, const char *restrict s, Py_ssize_t ss,
                     Py_ssize_t n)
{
    Py_ssize_t i, u, k, size = t->size, ds = t->ostride, w = t->swap;
    if (w <= 1) {
        for (i = 0; i < n; i++)
            memcpy(d + i * ds, s + i * ss, (size_t)size);
        return;
    }
    for (i = 0; i < n; i++) {
        const char *p = s + i * ss;
        char *q = d + i * ds;
        for (u = 0; u < size; u += w)
            for (k = 0; k < w; k++)
                q[u + k] = p[u + w - 1 - k];
    }
}

static void copy_block(const task_t *t, Py_ssize_t r, const char *src, Py_ssize_t itemsize,
                       Py_ssize_t n)
{
    char *d = t->out + r * t->ostride;
    const char *s = src + r * itemsize + t->offset;
    Py_ssize_t ds = t->ostride;
    if (t->swap <= 1) {
        switch (t->size) {
        case 1: copy_1(d, ds, s, itemsize, n); return;
        case 2: copy_2(d, ds, s, itemsize, n); return;
        case 4: copy_4(d, ds, s, itemsize, n); return;
        case 8: copy_8(d, ds, s, itemsize, n); return;
        case 16: copy_16(d, ds, s, itemsize, n); return;
        }
    } else if (t->swap == t->size) {
        switch (t->size) {
        case 2: swap_2(d, ds, s, itemsize, n); return;
        case 4: swap_4(d, ds, s, itemsize, n); return;
        case 8: swap_8(d, ds, s, itemsize, n); return;
        }
    }
    copy_any(t, d, s, itemsize, n);
}

/* a * b + c <= limit, without overflow (all arguments >= 0). */
static int fits(Py_ssize_t a, Py_ssize_t b, Py_ssize_t c, Py_ssize_t limit)
{
    Py_ssize_t p;
    if (__builtin_mul_overflow(a, b, &p) || __builtin_add_overflow(p, c, &p))
        return 0;
    return p <= limit;
}

static PyObject *split(PyObject *self, PyObject *args)
{
    PyObject *srcobj, *taskobj, *seq = NULL, *result = NULL;
    Py_ssize_t itemsize, first, count, ntasks = 0, acquired = 0, i, a;
    Py_buffer src;
    task_t *tasks = NULL;

    if (!PyArg_ParseTuple(args, "OnnO:split", &srcobj, &itemsize, &first, &taskobj))
        return NULL;
    if (itemsize < 1 || first < 0) {
        PyErr_SetString(PyExc_ValueError, "itemsize must be >= 1 and first >= 0");
        return NULL;
    }
    if (PyObject_GetBuffer(srcobj, &src, PyBUF_C_CONTIGUOUS) < 0)
        return NULL;
    if (src.len % itemsize) {
        PyErr_SetString(PyExc_ValueError, "src does not hold whole records");
        goto done;
    }
    count = src.len / itemsize;
    seq = PySequence_Fast(taskobj, "tasks must be a sequence");
    if (seq == NULL)
        goto done;
    ntasks = PySequence_Fast_GET_SIZE(seq);
    tasks = PyMem_Calloc((size_t)(ntasks ? ntasks : 1), sizeof(task_t));
    if (tasks == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (i = 0; i < ntasks; i++) {
        task_t *t = &tasks[i];
        PyObject *out;
        Py_ssize_t oskip;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "Onnnnn:task", &out, &t->offset,
                              &t->size, &t->ostride, &oskip, &t->swap))
            goto done;
        if (PyObject_GetBuffer(out, &t->view, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0)
            goto done;
        acquired++;
        if (t->offset < 0 || t->size < 1 || t->ostride < t->size || oskip < 0 || t->swap < 0
            || t->offset > itemsize - t->size || (t->swap > 1 && t->size % t->swap)) {
            PyErr_Format(PyExc_ValueError, "task %zd: bad offset, size, stride or swap", i);
            goto done;
        }
        /* the last record's bytes end inside out */
        if (count
            && !fits(first + count - 1, t->ostride, oskip + t->size, t->view.len)) {
            PyErr_Format(PyExc_ValueError, "task %zd: out is too small", i);
            goto done;
        }
        t->out = (char *)t->view.buf + oskip + first * t->ostride;
    }
    Py_BEGIN_ALLOW_THREADS;
    {
        Py_ssize_t block = BLOCK_BYTES / itemsize;
        if (block < 1)
            block = 1;
        for (a = 0; a < count; a += block) {
            Py_ssize_t n = count - a < block ? count - a : block;
            const char *next = (const char *)src.buf + (a + n) * itemsize;
            Py_ssize_t ahead = (count - a - n < block ? count - a - n : block) * itemsize;
            Py_ssize_t share = ntasks ? (ahead / ntasks + 63) & ~(Py_ssize_t)63 : 0;
            for (i = 0; i < ntasks; i++) {
                if (PREFETCH) {
                    Py_ssize_t p, lo = i * share, hi = lo + share < ahead ? lo + share : ahead;
                    for (p = lo; p < hi; p += 64)
                        __builtin_prefetch(next + p);
                }
                copy_block(&tasks[i], a, (const char *)src.buf, itemsize, n);
            }
        }
    }
    Py_END_ALLOW_THREADS;
    result = Py_NewRef(Py_None);
done:
    for (i = 0; i < acquired; i++)
        PyBuffer_Release(&tasks[i].view);
    PyMem_Free(tasks);
    Py_XDECREF(seq);
    PyBuffer_Release(&src);
    return result;
}

/* numpy's threshold for madvise(MADV_HUGEPAGE) on its own allocations */
#define HUGE_MIN ((size_t)4 << 20)
#define HUGE_ALIGN ((size_t)2 << 20)

static void *huge_malloc(void *ctx, size_t size)
{
    void *p;
    if (size < HUGE_MIN)
        return malloc(size ? size : 1);
    if (posix_memalign(&p, HUGE_ALIGN, size))
        return NULL;
#ifdef MADV_HUGEPAGE
    /* advice only: without it (THP "madvise" mode) the alignment buys nothing */
    (void)madvise(p, size, MADV_HUGEPAGE);
#endif
    return p;
}

static void *huge_calloc(void *ctx, size_t nelem, size_t elsize)
{
    return calloc(nelem ? nelem : 1, elsize ? elsize : 1);
}

static void *huge_realloc(void *ctx, void *ptr, size_t size)
{
    return realloc(ptr, size ? size : 1);
}

static void huge_free(void *ctx, void *ptr, size_t size) { free(ptr); }

static PyDataMem_Handler huge_handler = {
    "recview_columns_hugepage_aligned",
    1,
    {NULL, huge_malloc, huge_calloc, huge_realloc, huge_free},
};
static PyObject *huge_capsule;

static PyObject *empty(PyObject *self, PyObject *args)
{
    PyArray_Dims shape = {NULL, 0};
    PyArray_Descr *descr = NULL;
    PyObject *old, *arr;
    if (!PyArg_ParseTuple(args, "O&O&:empty", PyArray_IntpConverter, &shape,
                          PyArray_DescrConverter, &descr)) {
        PyDimMem_FREE(shape.ptr);
        Py_XDECREF(descr);
        return NULL;
    }
    old = PyDataMem_SetHandler(huge_capsule);
    if (old == NULL) {
        PyDimMem_FREE(shape.ptr);
        Py_DECREF(descr);
        return NULL;
    }
    arr = PyArray_Empty(shape.len, shape.ptr, descr, 0); /* steals descr */
    PyDimMem_FREE(shape.ptr);
    Py_XDECREF(PyDataMem_SetHandler(old));
    Py_DECREF(old);
    return arr;
}

static PyMethodDef methods[] = {
    {"empty", empty, METH_VARARGS,
     "empty(shape, dtype)\n--\n\n"
     "numpy.empty, but an array of 4 MiB or more starts on a 2 MiB boundary "
     "and is advised MADV_HUGEPAGE (no 4 KiB page faults at its ends)."},
    {"split", split, METH_VARARGS,
     "split(src, itemsize, first, tasks)\n--\n\n"
     "Copy fields of the records in src into per-field outputs, one pass over "
     "src. tasks: (out, offset, size, ostride, oskip, swap) per copy."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "recview._columns",
    "Split records into one contiguous array per field (see recview/_columns.c).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__columns(void)
{
    PyObject *m;
    import_array();
    huge_capsule = PyCapsule_New(&huge_handler, "mem_handler", NULL);
    if (huge_capsule == NULL)
        return NULL;
    m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    /* the module holds the handler: arrays made by empty() reference it too */
    if (PyModule_AddObjectRef(m, "_handler", huge_capsule) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
