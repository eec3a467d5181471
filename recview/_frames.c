/* recview._frames: the index pass over framed records, and a payload gather.
 *
 * A framed file is a run of frames: a fixed-size header, then a payload whose
 * byte length is an integer field of the header plus a constant, then a
 * fixed-size trailer (a Fortran end marker). Finding frame k needs frame k-1,
 * so the walk cannot be vectorized in numpy; this loop does it at memory
 * speed, with the GIL released. recview/_frame_walk.py has its pure-Python
 * twin (the same results, used when this extension is not built) and the
 * error messages; recview/_frame_file.py the windows and madvise.
 *
 * index(buf, pos, limit, end, out, start, header, len_offset, len_size,
 *       len_signed, len_big, adjust, trailer, check_trailer)
 *   buf   : a readable buffer holding the file from byte 0 (a mapping)
 *   pos   : byte offset of the next frame's header
 *   limit : stop before starting a frame whose header begins at or after it
 *   end   : bytes of the file that exist (a frame must end at or before it)
 *   out   : a writable C-contiguous int64 buffer; payload offsets are
 *           written from out[start] on
 * returns (status, count, pos, value): count offsets written, pos the offset
 * of the first frame not indexed, and for errors the raw length or trailer.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#ifndef PREFETCH_AHEAD
#define PREFETCH_AHEAD 8192
#endif

enum { ST_LIMIT = 0, ST_FULL = 1, ST_PARTIAL = 2, ST_BADLEN = 3, ST_BADTRAILER = 4 };

/* Load an unsigned integer of 1..8 bytes in either byte order. */
static inline uint64_t load(const unsigned char *p, int size, int big)
{
    uint64_t v = 0;
    int i;
    if (big) {
        for (i = 0; i < size; i++)
            v = (v << 8) | p[i];
    } else {
        for (i = size - 1; i >= 0; i--)
            v = (v << 8) | p[i];
    }
    return v;
}

/* The payload length of the frame whose length field starts at p, or -1
 * (with *raw set) when it is impossible: negative after adjust, or too big. */
static inline int64_t frame_length(const unsigned char *p, int size, int sign, int big,
                                   int64_t adjust, int64_t *raw)
{
    uint64_t u;
    int64_t v, n;
    /* fixed-size loads compile to one move (plus a bswap) */
    if (size == 4) {
        uint32_t w;
        memcpy(&w, p, 4);
        if (big)
            w = __builtin_bswap32(w);
        v = sign ? (int64_t)(int32_t)w : (int64_t)w;
    } else if (size == 8) {
        memcpy(&u, p, 8);
        if (big)
            u = __builtin_bswap64(u);
        if (!sign && u > (uint64_t)INT64_MAX) {
            *raw = -1;
            return -1;
        }
        v = (int64_t)u;
    } else {
        u = load(p, size, big);
        if (sign && size < 8 && (u >> (8 * size - 1)))
            u |= ~(uint64_t)0 << (8 * size);
        v = (int64_t)u;
    }
    *raw = v;
    if (__builtin_add_overflow(v, adjust, &n) || n < 0)
        return -1;
    return n;
}

static PyObject *frames_index(PyObject *self, PyObject *args)
{
    Py_buffer buf, out;
    Py_ssize_t pos, limit, end, start;
    int len_offset, len_size, len_signed, len_big, check_trailer;
    Py_ssize_t header, trailer;
    long long adjust;
    if (!PyArg_ParseTuple(args, "y*nnnw*nniiiiLni", &buf, &pos, &limit, &end, &out, &start,
                          &header, &len_offset, &len_size, &len_signed, &len_big, &adjust,
                          &trailer, &check_trailer))
        return NULL;
    if (end > buf.len || pos < 0 || header < 0 || trailer < 0 || len_size < 1 || len_size > 8 ||
        len_offset < 0 || len_offset + len_size > header || start < 0 ||
        start * 8 > out.len || out.len % 8 != 0) {
        PyBuffer_Release(&buf);
        PyBuffer_Release(&out);
        PyErr_SetString(PyExc_ValueError, "_frames.index: inconsistent arguments");
        return NULL;
    }
    const unsigned char *base = (const unsigned char *)buf.buf;
    int64_t *dst = (int64_t *)out.buf + start;
    Py_ssize_t cap = out.len / 8 - start;
    Py_ssize_t count = 0;
    int status = ST_LIMIT;
    int64_t value = 0;
    int64_t p = pos;
    const int64_t e = end, lim = limit, hs = header, ts = trailer;

    /* The walk is a chain of dependent loads (frame k's length gives frame
     * k + 1's place): with MTU-sized frames every header is on another cache
     * line and often another page, and each load waits for memory. Asking
     * for the lines PREFETCH_AHEAD bytes ahead of the walk, every one of them,
     * turns that chain of misses into a sequential stream, which the memory
     * system serves at bandwidth rather than at latency. */
    int64_t ahead = p;
    (void)ahead;
    Py_BEGIN_ALLOW_THREADS
    while (p < lim) {
#if PREFETCH_AHEAD > 0
        int64_t want = p + PREFETCH_AHEAD < e ? p + PREFETCH_AHEAD : e;
        for (; ahead < want; ahead += 64)
            __builtin_prefetch(base + ahead, 0, 0);
#endif
        if (count == cap) {
            status = ST_FULL;
            break;
        }
        if (e - p < hs) {
            status = ST_PARTIAL;
            break;
        }
        int64_t raw;
        int64_t n = frame_length(base + p + len_offset, len_size, len_signed, len_big,
                                 (int64_t)adjust, &raw);
        if (n < 0) {
            status = ST_BADLEN;
            value = raw;
            break;
        }
        int64_t payload = p + hs;
        /* payload + n + ts > e, written so that it cannot overflow */
        if (n > e - payload || ts > e - payload - n) {
            status = ST_PARTIAL;
            value = raw;
            break;
        }
        if (check_trailer &&
            memcmp(base + payload + n, base + p + len_offset, (size_t)len_size) != 0) {
            status = ST_BADTRAILER;
            value = (int64_t)load(base + payload + n, len_size, len_big);
            break;
        }
        dst[count++] = payload;
        p = payload + n + ts;
    }
    Py_END_ALLOW_THREADS

    PyBuffer_Release(&buf);
    PyBuffer_Release(&out);
    return Py_BuildValue("(inLL)", status, count, (long long)p, (long long)value);
}

/* gather(buf, offsets, lengths, out): out = concatenation of the payloads. */
static PyObject *frames_gather(PyObject *self, PyObject *args)
{
    Py_buffer buf, offs, lens, out;
    if (!PyArg_ParseTuple(args, "y*y*y*w*", &buf, &offs, &lens, &out))
        return NULL;
    Py_ssize_t n = offs.len / 8;
    const int64_t *o = (const int64_t *)offs.buf, *l = (const int64_t *)lens.buf;
    int ok = offs.len % 8 == 0 && lens.len == offs.len;
    Py_ssize_t total = 0, i;
    for (i = 0; ok && i < n; i++) {
        if (o[i] < 0 || l[i] < 0 || l[i] > buf.len || o[i] > buf.len - l[i])
            ok = 0;
        else
            total += l[i];
    }
    if (!ok || total > out.len) {
        PyBuffer_Release(&buf);
        PyBuffer_Release(&offs);
        PyBuffer_Release(&lens);
        PyBuffer_Release(&out);
        PyErr_SetString(PyExc_ValueError, "_frames.gather: inconsistent arguments");
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    unsigned char *d = (unsigned char *)out.buf;
    const unsigned char *s = (const unsigned char *)buf.buf;
    for (i = 0; i < n; i++) {
        memcpy(d, s + o[i], (size_t)l[i]);
        d += l[i];
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&buf);
    PyBuffer_Release(&offs);
    PyBuffer_Release(&lens);
    PyBuffer_Release(&out);
    return PyLong_FromSsize_t(total);
}

static PyMethodDef methods[] = {
    {"index", frames_index, METH_VARARGS, "Walk frames; write payload offsets (see the source)."},
    {"gather", frames_gather, METH_VARARGS, "Concatenate payloads into a writable buffer."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "recview._frames",
    .m_doc = "The index pass over framed records (see recview.frames).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__frames(void) { return PyModule_Create(&module); }
