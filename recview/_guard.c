/*
 * recview._guard: read-only file mappings that survive truncation.
 *
 * Touching a page of a MAP_SHARED file mapping that lies wholly past the end
 * of the file raises SIGBUS, which kills a Python process (exit 135).  This
 * extension owns the mappings recview makes and installs a SIGBUS handler
 * that repairs faults inside them:
 *
 *   - `Region(fd, offset, nbytes)` mmaps file bytes [offset, offset+nbytes)
 *     read-only (offset rounded down to the page size internally), records
 *     the address range in a fixed-size, lock-free slot table, and exposes
 *     exactly those bytes through the read-only buffer protocol.  numpy
 *     arrays made with `np.frombuffer` keep the Region alive; the range is
 *     unregistered and unmapped when the last one dies (or at `close()` when
 *     nothing views it).
 *   - The handler acts only on `si_code == BUS_ADRERR` faults whose address
 *     lies in a registered range.  It maps anonymous zero pages with
 *     MAP_FIXED from the faulting page to the end of that range (every page
 *     from there on is past the end of the file too, so one signal repairs a
 *     whole truncation instead of one signal per page), bumps the range's
 *     and the global fault counters, and returns: the faulting load retries
 *     and reads zeros.  mmap and atomics are async-signal-safe; the handler
 *     takes no lock and allocates nothing.
 *   - Any other SIGBUS goes to the handler that was installed before ours
 *     (faulthandler, a JIT, ...) or to the default action (death by SIGBUS),
 *     so we never swallow other people's faults.  A handler that repairs its
 *     own faults gets any number of them, from any number of threads at once:
 *     the loop detection (a previous handler that returns without repairing)
 *     is per thread and ends once the faulting address reads again.
 *   - `ensure()` puts our handler back on top when someone replaced it
 *     (faulthandler.enable() and signal.signal() do) and chains to whatever
 *     is there now, and unblocks SIGBUS in the calling thread: the kernel
 *     kills a process whose faulting thread blocks SIGBUS instead of running
 *     any handler.  docs/signals.md has the rules.
 *
 * The same technique is used in production by the systemd journal reader
 * (sigbus.c) and EFL's eina_mmap_safety.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Slot table: read by the signal handler, written under `table_lock`.      */
/* ------------------------------------------------------------------------ */

/* More than the default vm.max_map_count (65530) could ever hold alive at
   once together with everything else; 32 bytes a slot, in .bss (untouched
   slots cost no memory).  The handler scans only up to `slots_used`. */
#define MAX_SLOTS 16384

typedef struct {
    /* seqlock: odd while a writer changes start/end */
    atomic_uint_fast64_t seq;
    atomic_uintptr_t start; /* 0 = free */
    atomic_uintptr_t end;
    atomic_uint_fast64_t faults;
} slot_t;

static slot_t slots[MAX_SLOTS];
static char slot_busy[MAX_SLOTS]; /* writer-side only, under table_lock */
static atomic_size_t slots_used;  /* high-water mark, scanned by the handler */
static atomic_uint_fast64_t total_faults;
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static uintptr_t page_size;

static void
slot_write(slot_t *s, uintptr_t start, uintptr_t end)
{
    atomic_fetch_add(&s->seq, 1); /* odd: being written */
    atomic_store(&s->end, end);
    atomic_store(&s->start, start);
    atomic_fetch_add(&s->seq, 1); /* even: stable */
}

/* Register [start, end); returns the slot index or -1 if the table is full. */
static int
slot_register(uintptr_t start, uintptr_t end)
{
    int found = -1;
    pthread_mutex_lock(&table_lock);
    for (int i = 0; i < MAX_SLOTS; i++) {
        if (!slot_busy[i]) {
            found = i;
            break;
        }
    }
    if (found >= 0) {
        slot_busy[found] = 1;
        atomic_store(&slots[found].faults, 0);
        slot_write(&slots[found], start, end);
        if ((size_t)found + 1 > atomic_load(&slots_used)) {
            atomic_store(&slots_used, (size_t)found + 1);
        }
    }
    pthread_mutex_unlock(&table_lock);
    return found;
}

/* Unregister a slot; returns the faults it recorded. */
static uint64_t
slot_unregister(int i)
{
    uint64_t faults;
    pthread_mutex_lock(&table_lock);
    slot_write(&slots[i], 0, 0);
    faults = (uint64_t)atomic_load(&slots[i].faults);
    slot_busy[i] = 0;
    pthread_mutex_unlock(&table_lock);
    return faults;
}

/* ------------------------------------------------------------------------ */
/* The SIGBUS handler                                                       */
/* ------------------------------------------------------------------------ */

/* The handler that was installed before ours, double-buffered so that the
   handler never reads a half-copied struct while ensure() replaces it. */
static struct sigaction prev_actions[2];
static atomic_int prev_index;

/* Forwarding state, one per thread: several threads can be inside another
   library's handler at once, each repairing its own fault, and a count kept
   for the whole process would take one thread's faults for another's.
   initial-exec TLS is a plain load off the thread pointer; the default model
   for a dlopen()ed module may allocate on a thread's first access, which a
   signal handler must not do. */
#if defined(__GNUC__) || defined(__clang__)
#define GUARD_TLS __thread __attribute__((tls_model("initial-exec")))
#else
#define GUARD_TLS _Thread_local
#endif
typedef struct {
    /* Nesting: faulthandler's handler restores *its* previous handler (which
       may be ours) and re-raises the signal, and two handlers can each
       forward to the other; without a bound we would forward forever. */
    int depth;
    /* A previous handler that returns without repairing a hardware fault
       makes the faulting load retry; after a few repeats at the same address
       we take the default action (faulthandler, once disabled, returns at
       once).  Reset once a fault was handled, so that a handler that does
       repair its faults gets any number of them. */
    uintptr_t last_addr;
    int repeats;
} forward_state_t;
static GUARD_TLS forward_state_t fwd;
#define MAX_FORWARD_REPEATS 4
#define MAX_FORWARD_DEPTH 4

static void guard_handler(int sig, siginfo_t *info, void *ucontext);

static int
is_ours(const struct sigaction *act)
{
    return (act->sa_flags & SA_SIGINFO) && act->sa_sigaction == guard_handler;
}

/* Whether the byte at addr can be read now: 1 yes, 0 no, -1 unknown.  The
   kernel reads it for us and reports EFAULT instead of raising SIGBUS. */
static int
probe_readable(uintptr_t addr)
{
#ifdef __linux__
    char byte;
    struct iovec local = {&byte, 1};
    struct iovec remote = {(void *)addr, 1};
    if (process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == 1) {
        return 1;
    }
    return errno == EFAULT ? 0 : -1; /* ENOSYS, EPERM (seccomp): cannot tell */
#else
    (void)addr;
    return -1;
#endif
}

/* Reset to the default action; for a hardware fault returning re-executes
   the faulting instruction, which then kills the process with the right
   status.  A signal sent by kill()/raise() has to be raised again. */
static void
take_default_action(int sig, const siginfo_t *info)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    if (info == NULL || info->si_code <= 0) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, sig);
        pthread_sigmask(SIG_UNBLOCK, &set, NULL);
        raise(sig);
    }
}

static void
call_previous(int sig, siginfo_t *info, void *ucontext, int hardware)
{
    const struct sigaction *prev = &prev_actions[atomic_load(&prev_index)];
    if (is_ours(prev)) {
        take_default_action(sig, info);
    }
    else if (prev->sa_flags & SA_SIGINFO) {
        if (prev->sa_sigaction != NULL) {
            prev->sa_sigaction(sig, info, ucontext);
        }
        else {
            take_default_action(sig, info);
        }
    }
    else if (prev->sa_handler == SIG_DFL) {
        take_default_action(sig, info);
    }
    else if (prev->sa_handler == SIG_IGN) {
        /* A hardware fault cannot be ignored (the kernel would kill us had we
           not installed a handler); a sent signal can. */
        if (hardware) {
            take_default_action(sig, info);
        }
    }
    else {
        prev->sa_handler(sig);
    }
}

static void
forward(int sig, siginfo_t *info, void *ucontext)
{
    int hardware = info != NULL && info->si_code > 0;
    uintptr_t addr = hardware ? (uintptr_t)info->si_addr : 0;

    if (fwd.depth > 0 && (!hardware || fwd.depth >= MAX_FORWARD_DEPTH)) {
        /* a previous handler re-raised the signal, or handlers forward to
           each other in a ring: end it here */
        take_default_action(sig, info);
        return;
    }
    if (hardware) {
        if (addr == fwd.last_addr) {
            if (++fwd.repeats >= MAX_FORWARD_REPEATS) {
                fwd.last_addr = 0;
                fwd.repeats = 0;
                take_default_action(sig, info);
                return;
            }
        }
        else {
            fwd.last_addr = addr;
            fwd.repeats = 0;
        }
    }
    fwd.depth++;
    call_previous(sig, info, ucontext, hardware);
    fwd.depth--;
    /* The previous handler returned: the load retries.  When the address now
       reads (the handler mapped something there), this fault is over and the
       next one at the same address is a new one, not a loop.  Only for
       BUS_ADRERR: an alignment fault (BUS_ADRALN) at a readable address would
       repeat forever. */
    if (hardware && info->si_code == BUS_ADRERR && probe_readable(addr) == 1) {
        fwd.last_addr = 0;
        fwd.repeats = 0;
    }
}

static void
guard_handler(int sig, siginfo_t *info, void *ucontext)
{
    int saved_errno = errno;

    if (sig == SIGBUS && info != NULL && info->si_code == BUS_ADRERR) {
        uintptr_t addr = (uintptr_t)info->si_addr;
        size_t n = atomic_load(&slots_used);
        for (size_t i = 0; i < n; i++) {
            slot_t *s = &slots[i];
            uint_fast64_t seq0 = atomic_load(&s->seq);
            uintptr_t start, end;
            if (seq0 & 1) {
                continue; /* being (un)registered: not a range anyone reads */
            }
            start = atomic_load(&s->start);
            end = atomic_load(&s->end);
            if (atomic_load(&s->seq) != seq0 || start == 0 || addr < start ||
                addr >= end) {
                continue;
            }
            uintptr_t page = addr & ~(page_size - 1);
            void *r = mmap((void *)page, end - page, PROT_READ,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
            if (r != MAP_FAILED) {
#ifdef MADV_HUGEPAGE
                /* Reading the lost tail then maps the huge zero page over
                   2 MiB-aligned stretches (THP "madvise" mode): one minor
                   fault per 2 MiB instead of per 4 KiB.  A plain syscall;
                   failure (no THP) changes nothing. */
                madvise(r, end - page, MADV_HUGEPAGE);
#endif
                atomic_fetch_add(&s->faults, 1);
                atomic_fetch_add(&total_faults, 1);
                errno = saved_errno;
                return; /* the load retries and reads zeros */
            }
            break; /* cannot repair (ENOMEM...): let the process die */
        }
    }
    errno = saved_errno;
    forward(sig, info, ucontext);
    errno = saved_errno;
}

/* Install our handler unless it is already the current one.  Returns 1 when
   it was (re)installed now, 0 when it was already on top, -1 with errno
   set. */
static int
ensure_installed(void)
{
    struct sigaction cur, act;
    if (sigaction(SIGBUS, NULL, &cur) != 0) {
        return -1;
    }
    if (is_ours(&cur)) {
        return 0;
    }
    int next = 1 - atomic_load(&prev_index);
    prev_actions[next] = cur;
    atomic_store(&prev_index, next);

    memset(&act, 0, sizeof act);
    act.sa_sigaction = guard_handler;
    sigemptyset(&act.sa_mask);
    /* SA_ONSTACK: use faulthandler's alternate stack when there is one.
       SA_NODEFER: a signal re-raised while forwarding is delivered at once,
       as faulthandler does. */
    act.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    if (sigaction(SIGBUS, &act, NULL) != 0) {
        return -1;
    }
    return 1;
}

/* Unblock SIGBUS in the calling thread if it is blocked: the kernel does not
   deliver a synchronous SIGBUS that the faulting thread blocks, it kills the
   process (force_sig_fault), so the handler would never run.  Returns 1 when
   it was blocked, 0 when not, -1 with errno set. */
static int
unblock_in_this_thread(void)
{
    sigset_t cur;
    int rc = pthread_sigmask(SIG_BLOCK, NULL, &cur);
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    if (sigismember(&cur, SIGBUS) != 1) {
        return 0;
    }
    sigset_t bus;
    sigemptyset(&bus);
    sigaddset(&bus, SIGBUS);
    rc = pthread_sigmask(SIG_UNBLOCK, &bus, NULL);
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Region: one registered read-only mapping                                 */
/* ------------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    char *base;           /* page-aligned mmap address, NULL once unmapped */
    size_t maplen;        /* bytes mapped from base */
    size_t skip;          /* offset - aligned offset */
    Py_ssize_t nbytes;    /* bytes exposed, from base + skip */
    long long offset;     /* file offset of the first exposed byte */
    int slot;             /* slot index, -1 when not registered */
    int closing;          /* close() called while buffers were exported */
    Py_ssize_t exports;   /* live buffer exports */
    uint64_t final_faults; /* faults recorded when unregistered */
} Region;

static void
region_unmap(Region *self)
{
    if (self->slot >= 0) {
        /* unregister first: once unmapped the addresses may be reused by a
           mapping that is not ours, whose faults we must not repair */
        self->final_faults = slot_unregister(self->slot);
        self->slot = -1;
    }
    if (self->base != NULL) {
        munmap(self->base, self->maplen);
        self->base = NULL;
    }
}

static PyObject *
Region_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"fd", "offset", "nbytes", NULL};
    int fd;
    long long offset;
    Py_ssize_t nbytes;
    struct stat st;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "iLn:Region", kwlist, &fd, &offset,
                                     &nbytes)) {
        return NULL;
    }
    if (offset < 0) {
        PyErr_Format(PyExc_ValueError, "offset must be >= 0, got %lld", offset);
        return NULL;
    }
    if (nbytes <= 0) {
        PyErr_Format(PyExc_ValueError, "nbytes must be > 0, got %zd", nbytes);
        return NULL;
    }
    if (fstat(fd, &st) != 0) {
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    /* Same check and message as mmap.mmap: a file that shrank between the
       caller's fstat and this mmap is a ValueError, not a later SIGBUS. */
    if (S_ISREG(st.st_mode) && (long long)st.st_size - offset < (long long)nbytes) {
        PyErr_SetString(PyExc_ValueError, "mmap length is greater than file size");
        return NULL;
    }
    long long aligned = offset - (long long)(offset % (long long)page_size);
    size_t skip = (size_t)(offset - aligned);
    size_t maplen = skip + (size_t)nbytes;
    if (maplen < (size_t)nbytes) {
        PyErr_SetString(PyExc_OverflowError, "mapping too large");
        return NULL;
    }

    Region *self = (Region *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->slot = -1;
    void *base;
    Py_BEGIN_ALLOW_THREADS
    base = mmap(NULL, maplen, PROT_READ, MAP_SHARED, fd, (off_t)aligned);
    Py_END_ALLOW_THREADS
    if (base == MAP_FAILED) {
        PyErr_SetFromErrno(PyExc_OSError);
        Py_DECREF(self);
        return NULL;
    }
    self->base = base;
    self->maplen = maplen;
    self->skip = skip;
    self->nbytes = nbytes;
    self->offset = offset;
    self->slot = slot_register((uintptr_t)base, (uintptr_t)base + maplen);
    if (self->slot < 0) {
        Py_DECREF(self);
        PyErr_Format(PyExc_OSError,
                     "recview: too many guarded mappings alive at once (%d); "
                     "close views you no longer use",
                     MAX_SLOTS);
        return NULL;
    }
    return (PyObject *)self;
}

static void
Region_dealloc(Region *self)
{
    region_unmap(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int
Region_getbuffer(Region *self, Py_buffer *view, int flags)
{
    if (self->base == NULL || self->closing) {
        PyErr_SetString(PyExc_ValueError, "recview mapping is closed");
        view->obj = NULL;
        return -1;
    }
    if (PyBuffer_FillInfo(view, (PyObject *)self, self->base + self->skip, self->nbytes,
                          1, flags) != 0) {
        return -1;
    }
    self->exports++;
    return 0;
}

static void
Region_releasebuffer(Region *self, Py_buffer *view)
{
    (void)view;
    self->exports--;
    if (self->exports == 0 && self->closing) {
        region_unmap(self);
    }
}

static PyBufferProcs Region_as_buffer = {
    (getbufferproc)Region_getbuffer,
    (releasebufferproc)Region_releasebuffer,
};

static PyObject *
Region_close(Region *self, PyObject *Py_UNUSED(ignored))
{
    if (self->exports > 0) {
        /* arrays still view the bytes: unmap when the last one goes */
        self->closing = 1;
    }
    else {
        self->closing = 1;
        region_unmap(self);
    }
    Py_RETURN_NONE;
}

static PyObject *
Region_advise(Region *self, PyObject *args)
{
    Py_ssize_t start, nbytes;
    int advice;
    if (!PyArg_ParseTuple(args, "nni:advise", &start, &nbytes, &advice)) {
        return NULL;
    }
    if (start < 0 || nbytes < 0) {
        PyErr_Format(PyExc_ValueError,
                     "advise range start=%zd nbytes=%zd: both must be >= 0", start,
                     nbytes);
        return NULL;
    }
    if (self->base == NULL || start >= self->nbytes || nbytes == 0) {
        /* unmapped, or nothing of the mapping in the range: advice is only advice */
        Py_RETURN_NONE;
    }
    if (nbytes > self->nbytes - start) {
        nbytes = self->nbytes - start;
    }
    size_t lo = (self->skip + (size_t)start) & ~(size_t)(page_size - 1);
    size_t hi = self->skip + (size_t)start + (size_t)nbytes;
    hi = (hi + page_size - 1) & ~(size_t)(page_size - 1);
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = madvise(self->base + lo, hi - lo, advice);
    Py_END_ALLOW_THREADS
    if (rc != 0 && errno != EINVAL && errno != ENOSYS) {
        /* EINVAL: advice this kernel does not know; advice is only advice */
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    Py_RETURN_NONE;
}

static PyObject *
Region_get_faults(Region *self, void *closure)
{
    (void)closure;
    if (self->slot >= 0) {
        return PyLong_FromUnsignedLongLong(
            (unsigned long long)atomic_load(&slots[self->slot].faults));
    }
    return PyLong_FromUnsignedLongLong((unsigned long long)self->final_faults);
}

static PyObject *
Region_get_closed(Region *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->closing || self->base == NULL);
}

static PyObject *
Region_get_mapped(Region *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->base != NULL);
}

static PyObject *
Region_get_address(Region *self, void *closure)
{
    (void)closure;
    if (self->base == NULL) {
        Py_RETURN_NONE;
    }
    return PyLong_FromVoidPtr(self->base + self->skip);
}

static PyObject *
Region_get_offset(Region *self, void *closure)
{
    (void)closure;
    return PyLong_FromLongLong(self->offset);
}

static PyObject *
Region_get_nbytes(Region *self, void *closure)
{
    (void)closure;
    return PyLong_FromSsize_t(self->nbytes);
}

static PyObject *
Region_repr(Region *self)
{
    return PyUnicode_FromFormat("<recview._guard.Region offset=%lld nbytes=%zd%s>",
                                self->offset, self->nbytes,
                                self->base == NULL ? " unmapped" : "");
}

static PyMethodDef Region_methods[] = {
    {"close", (PyCFunction)Region_close, METH_NOARGS,
     "close()\n--\n\nRelease the mapping now, or when the last buffer viewing it is "
     "released."},
    {"advise", (PyCFunction)Region_advise, METH_VARARGS,
     "advise(start, nbytes, advice)\n--\n\nmadvise() the pages holding bytes "
     "[start, start+nbytes) (relative to offset, clipped to the mapping); advice "
     "the kernel does not know is ignored, and so is a closed mapping."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Region_getset[] = {
    {"faults", (getter)Region_get_faults, NULL,
     "SIGBUS faults repaired inside this mapping.", NULL},
    {"closed", (getter)Region_get_closed, NULL, "close() was called.", NULL},
    {"mapped", (getter)Region_get_mapped, NULL, "The memory is still mapped.", NULL},
    {"address", (getter)Region_get_address, NULL,
     "Address of the first exposed byte, or None once unmapped.", NULL},
    {"offset", (getter)Region_get_offset, NULL, "File offset of the first byte.", NULL},
    {"nbytes", (getter)Region_get_nbytes, NULL, "Bytes exposed.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject RegionType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "recview._guard.Region",
    .tp_basicsize = sizeof(Region),
    .tp_dealloc = (destructor)Region_dealloc,
    .tp_repr = (reprfunc)Region_repr,
    .tp_as_buffer = &Region_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Region(fd, offset, nbytes)\n--\n\n"
              "Read-only mapping of file bytes [offset, offset+nbytes), repaired with\n"
              "zero pages when the file is truncated under it.",
    .tp_methods = Region_methods,
    .tp_getset = Region_getset,
    .tp_new = Region_new,
};

/* ------------------------------------------------------------------------ */
/* ViewBase: the one-record fast path of recview.View (view[i])            */
/* ------------------------------------------------------------------------ */

/* view[i] by a Python int is the commonest lookup, and a Python-level
   __getitem__ costs more than numpy's own arr[i] (a frame, two attribute
   loads and a call to fault_count()). This base class of View does it in C:
   while `fast` holds the mapped records (the view layer sets it only while
   the view is open, untruncated and fully mapped) and no fault happened
   anywhere since `seen` (the guard's counter, read here without a call),
   view[i] is arr[i]. Everything else, and every error, goes to the
   Python method _getitem. */
typedef struct {
    PyObject_HEAD
    PyObject *fast;
    unsigned long long seen;
} ViewBase;

static PyObject *str_getitem; /* "_getitem", interned */

static PyObject *
ViewBase_subscript(ViewBase *self, PyObject *key)
{
    PyObject *fast = self->fast;
    if (fast != NULL && PyLong_CheckExact(key) &&
        (unsigned long long)atomic_load(&total_faults) == self->seen) {
        Py_INCREF(fast);
        PyObject *item = PyObject_GetItem(fast, key);
        Py_DECREF(fast);
        if (item != NULL) {
            return item;
        }
        if (!PyErr_ExceptionMatches(PyExc_IndexError) &&
            !PyErr_ExceptionMatches(PyExc_OverflowError)) {
            return NULL;
        }
        PyErr_Clear(); /* out of range: _getitem words the error */
    }
    return PyObject_CallMethodOneArg((PyObject *)self, str_getitem, key);
}

/* The same lookup as a method, so that View.__getitem__ carries a docstring
   (a slot wrapper's is fixed): METH_COEXIST keeps view[key] on the slot. The
   text is the view layer's, given once at import (set_getitem_doc), so that
   it is written in one place for this base and the pure-Python one. */
static PyObject *getitem_doc_owner; /* the str whose UTF-8 ml_doc points into */

static PyObject *
ViewBase_getitem_method(PyObject *self, PyObject *key)
{
    return ViewBase_subscript((ViewBase *)self, key);
}

static PyMethodDef ViewBase_methods[] = {
    {"__getitem__", (PyCFunction)ViewBase_getitem_method, METH_O | METH_COEXIST, NULL},
    {NULL, NULL, 0, NULL},
};

static PyObject *
guard_set_getitem_doc(PyObject *module, PyObject *text)
{
    (void)module;
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "set_getitem_doc: a str is required");
        return NULL;
    }
    const char *utf8 = PyUnicode_AsUTF8(text);
    if (utf8 == NULL) {
        return NULL;
    }
    Py_INCREF(text);
    Py_XSETREF(getitem_doc_owner, text);
    ViewBase_methods[0].ml_doc = utf8; /* read by the descriptor on each __doc__ */
    Py_RETURN_NONE;
}

static PyMappingMethods ViewBase_as_mapping = {
    .mp_subscript = (binaryfunc)ViewBase_subscript,
};

static PyObject *
ViewBase_get_fast(ViewBase *self, void *closure)
{
    (void)closure;
    PyObject *fast = self->fast != NULL ? self->fast : Py_None;
    Py_INCREF(fast);
    return fast;
}

static int
ViewBase_set_fast(ViewBase *self, PyObject *value, void *closure)
{
    (void)closure;
    PyObject *old = self->fast;
    if (value == NULL || value == Py_None) {
        self->fast = NULL;
    }
    else {
        Py_INCREF(value);
        self->fast = value;
    }
    Py_XDECREF(old);
    return 0;
}

static PyObject *
ViewBase_get_seen(ViewBase *self, void *closure)
{
    (void)closure;
    return PyLong_FromUnsignedLongLong(self->seen);
}

static int
ViewBase_set_seen(ViewBase *self, PyObject *value, void *closure)
{
    (void)closure;
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete _faults_seen");
        return -1;
    }
    unsigned long long v = PyLong_AsUnsignedLongLong(value);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) {
        return -1;
    }
    self->seen = v;
    return 0;
}

static PyGetSetDef ViewBase_getset[] = {
    {"_fast", (getter)ViewBase_get_fast, (setter)ViewBase_set_fast,
     "The mapped records while view[i] may read them directly, else None.", NULL},
    {"_faults_seen", (getter)ViewBase_get_seen, (setter)ViewBase_set_seen,
     "fault_count() when the view last found none of its mappings faulted.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static int
ViewBase_traverse(ViewBase *self, visitproc visit, void *arg)
{
    Py_VISIT(self->fast);
    return 0;
}

static int
ViewBase_clear(ViewBase *self)
{
    Py_CLEAR(self->fast);
    return 0;
}

static void
ViewBase_dealloc(ViewBase *self)
{
    PyObject_GC_UnTrack(self);
    Py_CLEAR(self->fast);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject ViewBaseType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "recview._guard.ViewBase",
    .tp_basicsize = sizeof(ViewBase),
    .tp_dealloc = (destructor)ViewBase_dealloc,
    .tp_as_mapping = &ViewBase_as_mapping,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Base class of recview.View: view[i] in C while the view is mapped.",
    .tp_traverse = (traverseproc)ViewBase_traverse,
    .tp_clear = (inquiry)ViewBase_clear,
    .tp_getset = ViewBase_getset,
    .tp_methods = ViewBase_methods,
    .tp_new = PyType_GenericNew,
};

/* ------------------------------------------------------------------------ */
/* Module functions                                                         */
/* ------------------------------------------------------------------------ */

#define ENSURE_INSTALLED 1
#define ENSURE_UNBLOCKED 2

static PyObject *
guard_ensure(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    int unblock = 1;
    if (nargs > 1) {
        PyErr_Format(PyExc_TypeError, "ensure() takes at most 1 argument (%zd given)",
                     nargs);
        return NULL;
    }
    if (nargs == 1 && (unblock = PyObject_IsTrue(args[0])) < 0) {
        return NULL;
    }
    int installed = ensure_installed();
    if (installed < 0) {
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    int unblocked = unblock ? unblock_in_this_thread() : 0;
    if (unblocked < 0) {
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    return PyLong_FromLong((installed ? ENSURE_INSTALLED : 0) |
                           (unblocked ? ENSURE_UNBLOCKED : 0));
}

static PyObject *
guard_is_installed(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    (void)module;
    struct sigaction cur;
    if (sigaction(SIGBUS, NULL, &cur) != 0) {
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    return PyBool_FromLong(is_ours(&cur));
}

static PyObject *
guard_fault_count(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    (void)module;
    return PyLong_FromUnsignedLongLong((unsigned long long)atomic_load(&total_faults));
}

static PyObject *
guard_live_regions(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    (void)module;
    Py_ssize_t n = 0;
    pthread_mutex_lock(&table_lock);
    for (int i = 0; i < MAX_SLOTS; i++) {
        n += slot_busy[i] != 0;
    }
    pthread_mutex_unlock(&table_lock);
    return PyLong_FromSsize_t(n);
}

static PyMethodDef guard_methods[] = {
    {"ensure", (PyCFunction)(void (*)(void))guard_ensure, METH_FASTCALL,
     "ensure(unblock=True)\n--\n\nInstall the SIGBUS handler unless it is the current "
     "one (the handler found there becomes the one faults outside recview mappings "
     "go to) and, when unblock is true, unblock SIGBUS in the calling thread. "
     "Returns a bit set: ENSURE_INSTALLED when the handler was (re)installed now, "
     "ENSURE_UNBLOCKED when SIGBUS was blocked in this thread."},
    {"is_installed", guard_is_installed, METH_NOARGS,
     "is_installed()\n--\n\nWhether the current SIGBUS handler is ours."},
    {"fault_count", guard_fault_count, METH_NOARGS,
     "fault_count()\n--\n\nSIGBUS faults repaired in all mappings so far."},
    {"set_getitem_doc", guard_set_getitem_doc, METH_O,
     "set_getitem_doc(text)\n--\n\nThe docstring of ViewBase.__getitem__ (the view layer's)."},
    {"live_regions", guard_live_regions, METH_NOARGS,
     "live_regions()\n--\n\nNumber of registered (mapped) regions."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef guard_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "recview._guard",
    .m_doc = "Read-only file mappings guarded against SIGBUS on truncation.",
    .m_size = -1,
    .m_methods = guard_methods,
};

PyMODINIT_FUNC
PyInit__guard(void)
{
    long ps = sysconf(_SC_PAGESIZE);
    page_size = ps > 0 ? (uintptr_t)ps : 4096;
    if (PyType_Ready(&RegionType) < 0 || PyType_Ready(&ViewBaseType) < 0) {
        return NULL;
    }
    str_getitem = PyUnicode_InternFromString("_getitem");
    if (str_getitem == NULL) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&guard_module);
    if (m == NULL) {
        return NULL;
    }
    Py_INCREF(&RegionType);
    if (PyModule_AddObject(m, "Region", (PyObject *)&RegionType) < 0) {
        Py_DECREF(&RegionType);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&ViewBaseType);
    if (PyModule_AddObject(m, "ViewBase", (PyObject *)&ViewBaseType) < 0) {
        Py_DECREF(&ViewBaseType);
        Py_DECREF(m);
        return NULL;
    }
    if (PyModule_AddIntConstant(m, "PAGE_SIZE", (long)page_size) < 0 ||
        PyModule_AddIntConstant(m, "ENSURE_INSTALLED", ENSURE_INSTALLED) < 0 ||
        PyModule_AddIntConstant(m, "ENSURE_UNBLOCKED", ENSURE_UNBLOCKED) < 0 ||
        PyModule_AddIntConstant(m, "MAX_SLOTS", MAX_SLOTS) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
