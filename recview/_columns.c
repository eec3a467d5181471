/* recview._columns: split records into one contiguous array per field.
 *
 * View.columns() copies every field of every record into its own array.
 * numpy can only do that one field at a time, with its strided per-element
 * loop: on the 32-byte record of benchmarks/bench_read.py that loop took
 * 43 ms of CPU per 256 MiB (source mapped, outputs touched) where one memcpy
 * of the same bytes takes 17 ms, and columns() reached 0.59 of memcpy's
 * speed (docs/benchmarks.md). Three things close the gap:
 *
 * - the word path: a record of whole 8-byte words is transposed, a block of
 *   records at a time, into one array per word (W interleaved loads per
 *   record, which the compiler turns into full-width loads and shuffles),
 *   and every field inside one word is cut out of its word's array by a
 *   shift loop, which vectorizes too (half the CPU of per-element copies);
 * - non-temporal stores for large outputs (`stream`): a plain store first
 *   reads the cache line it writes, half again the memory traffic of the
 *   copy (memcpy streams its large copies too);
 * - empty(): outputs aligned for transparent huge pages.
 *
 * The other fields (wider than 8 bytes, straddling two words, in records
 * that are not whole words) are copied by loops whose element size is a
 * compile-time constant: one load and one store per element, plus a bswap for
 * the other byte order. recview/_colsplit.py decides which fields come here
 * and copies the others (bitfields, conversions) with numpy; without this
 * extension it copies every field with numpy.
 *
 * split(src, itemsize, first, tasks, stream=False)
 *   src      a readable C-contiguous buffer of whole records
 *   itemsize bytes per record
 *   first    index, in the outputs, of src's first record
 *   tasks    a sequence of (out, offset, size, ostride, oskip, swap): copy the
 *            `size` bytes at `offset` of each record r of src to the writable
 *            buffer `out` at byte oskip + (first + r) * ostride, reversing the
 *            bytes of each `swap`-byte unit when swap > 1 (0 or 1: a plain
 *            copy). The outputs must not overlap src or each other.
 *   stream   write the fields cut from 8-byte words (below) with
 *            non-temporal stores, for outputs much larger than the caches.
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
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define NPY_NO_DEPRECATED_API NPY_1_22_API_VERSION
#define NPY_TARGET_VERSION NPY_1_22_API_VERSION
#include <numpy/arrayobject.h>

/* Records per block: the block's bytes, read once from memory by the first
 * field's loop, are in L1 for the other fields' loops (L1d is 32-48 KiB on
 * current x86-64 and arm64 cores). */
#define BLOCK_BYTES (16 * 1024)

typedef struct {
    Py_buffer view;
    char *out; /* byte oskip + first * ostride of view */
    Py_ssize_t offset, size, ostride, swap;
    int word, shift; /* a field inside one 8-byte word of the record (word >= 0) */
} task_t;

/* The word path. When the record is a whole number of 8-byte words (at most
 * MAX_WORDS), a block of records is first transposed into one array per
 * word (W interleaved loads per record: the compiler vectorizes that into
 * full-width loads and shuffles), and the fields that lie inside one word
 * are then cut out of those arrays by shift loops, which vectorize too.
 * The other fields are copied from the block by the loops further down. Only
 * on little-endian hosts (where byte k of a word is bits 8k..8k+7). Built
 * twice on x86-64 Linux (AVX2 and baseline), picked at load time. */
#define MAX_WORDS 8
#define STAGE 256 /* records per transposed block: MAX_WORDS * 2 KiB */

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__)
#define CLONES __attribute__((target_clones("avx2", "default")))
#else
#define CLONES
#endif

typedef uint64_t u64u __attribute__((aligned(1), may_alias));

#define TRANSPOSE(W)                                                                  \
    CLONES static void transpose_##W(uint64_t *restrict st, const u64u *restrict s,   \
                                     Py_ssize_t n)                                    \
    {                                                                                 \
        Py_ssize_t i;                                                                 \
        int w;                                                                        \
        for (i = 0; i < n; i++)                                                       \
            for (w = 0; w < W; w++)                                                   \
                st[w * STAGE + i] = s[i * W + w];                                     \
    }
TRANSPOSE(1)
TRANSPOSE(2)
TRANSPOSE(3)
TRANSPOSE(4)
TRANSPOSE(5)
TRANSPOSE(6)
TRANSPOSE(7)
TRANSPOSE(8)

static void transpose(int words, uint64_t *st, const char *s, Py_ssize_t n)
{
    const u64u *p = (const u64u *)s;
    switch (words) {
    case 1: transpose_1(st, p, n); return;
    case 2: transpose_2(st, p, n); return;
    case 3: transpose_3(st, p, n); return;
    case 4: transpose_4(st, p, n); return;
    case 5: transpose_5(st, p, n); return;
    case 6: transpose_6(st, p, n); return;
    case 7: transpose_7(st, p, n); return;
    case 8: transpose_8(st, p, n); return;
    }
}

#define CUT(NAME, T, EXPR)                                                            \
    CLONES static void cut_##NAME(char *restrict d, const uint64_t *restrict w, int sh, \
                                  Py_ssize_t n)                                       \
    {                                                                                 \
        Py_ssize_t i;                                                                 \
        for (i = 0; i < n; i++) {                                                     \
            T v = (T)(w[i] >> sh);                                                    \
            v = EXPR;                                                                 \
            memcpy(d + i * sizeof(T), &v, sizeof(T));                                 \
        }                                                                             \
    }
CUT(1, uint8_t, v)
CUT(2, uint16_t, v)
CUT(2s, uint16_t, __builtin_bswap16(v))
CUT(4, uint32_t, v)
CUT(4s, uint32_t, __builtin_bswap32(v))
CUT(8s, uint64_t, __builtin_bswap64(v))

/* Copy whole 16-byte units to d (16-byte aligned) with non-temporal stores:
 * a column much larger than the caches is written without first reading
 * each of its cache lines (what memcpy does for large copies). */
static void stream_copy(char *d, const char *s, size_t nbytes)
{
#if defined(__SSE2__)
    size_t i;
    for (i = 0; i < nbytes; i += 16)
        _mm_stream_si128((__m128i *)(d + i), _mm_loadu_si128((const __m128i *)(s + i)));
#else
    memcpy(d, s, nbytes);
#endif
}

static void cut(const task_t *t, Py_ssize_t r, const uint64_t *stage, Py_ssize_t n, char *tmp,
                int stream)
{
    char *out = t->out + r * t->size;
    size_t nbytes = (size_t)(n * t->size);
    int nt = stream && (uintptr_t)out % 16 == 0 && nbytes % 16 == 0;
    char *d = nt ? tmp : out;
    const uint64_t *w = stage + (Py_ssize_t)t->word * STAGE;
    int sh = t->shift;
    switch (t->size * 2 + (t->swap != 0)) {
    case 2: cut_1(d, w, sh, n); break;
    case 4: cut_2(d, w, sh, n); break;
    case 5: cut_2s(d, w, sh, n); break;
    case 8: cut_4(d, w, sh, n); break;
    case 9: cut_4s(d, w, sh, n); break;
    case 16: d = (char *)w; if (!nt) memcpy(out, w, nbytes); break;
    case 17: cut_8s(d, w, sh, n); break;
    }
    if (nt)
        stream_copy(out, d, nbytes);
}

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
    uint64_t *stage = NULL;
    int words, stream = 0;

    if (!PyArg_ParseTuple(args, "OnnO|p:split", &srcobj, &itemsize, &first, &taskobj, &stream))
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
    words = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (itemsize % 8 == 0 && itemsize / 8 <= MAX_WORDS) {
        for (i = 0; i < ntasks; i++) {
            task_t *t = &tasks[i];
            Py_ssize_t sz = t->size;
            t->word = -1;
            if ((sz == 1 || sz == 2 || sz == 4 || sz == 8) && t->ostride == sz
                && (t->swap <= 1 || t->swap == sz) && t->offset / 8 == (t->offset + sz - 1) / 8) {
                t->word = (int)(t->offset / 8);
                t->shift = (int)(t->offset % 8) * 8;
                words = (int)(itemsize / 8);
            }
        }
    }
#endif
    if (words) {
        /* the words, then one column's block for stream_copy */
        stage = PyMem_Malloc(sizeof(uint64_t) * (MAX_WORDS + 1) * STAGE + 16);
        if (stage == NULL) {
            PyErr_NoMemory();
            goto done;
        }
    }
    Py_BEGIN_ALLOW_THREADS;
    if (words) {
        char *tmp = (char *)(((uintptr_t)(stage + MAX_WORDS * STAGE) + 15) & ~(uintptr_t)15);
        for (a = 0; a < count; a += STAGE) {
            Py_ssize_t n = count - a < STAGE ? count - a : STAGE;
            const char *blk = (const char *)src.buf + a * itemsize;
            transpose(words, stage, blk, n);
            for (i = 0; i < ntasks; i++) {
                if (tasks[i].word >= 0)
                    cut(&tasks[i], a, stage, n, tmp, stream);
                else
                    copy_block(&tasks[i], a, (const char *)src.buf, itemsize, n);
            }
        }
    } else {
        Py_ssize_t block = BLOCK_BYTES / itemsize;
        if (block < 1)
            block = 1;
        for (a = 0; a < count; a += block) {
            Py_ssize_t n = count - a < block ? count - a : block;
            for (i = 0; i < ntasks; i++)
                copy_block(&tasks[i], a, (const char *)src.buf, itemsize, n);
        }
    }
#if defined(__SSE2__)
    if (stream)
        _mm_sfence(); /* the streamed stores are visible before we return */
#endif
    Py_END_ALLOW_THREADS;
    PyMem_Free(stage);
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
     "split(src, itemsize, first, tasks, stream=False)\n--\n\n"
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
