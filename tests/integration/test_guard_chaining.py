"""recview's SIGBUS handler next to another library's handler, and signal masks.

A process may hold other libraries with SIGBUS handlers of their own (a JIT, a
database engine, a checkpointing runtime) that repair faults in *their*
mappings. recview's handler must pass such faults on, any number of times,
from any number of threads at once, whether the other handler was installed
before or after recview's. The stand-in is a small C library compiled here
with the system ``cc``: it maps a page of an empty file, touches it (SIGBUS),
repairs the fault by mapping a zero page there, maps the file page back and
starts again, so every fault is at the same address.

Each scenario runs in a fresh child interpreter (a failure is a death by
SIGBUS) that reports one JSON line.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.skipif(
    shutil.which("cc") is None or sys.platform != "linux", reason="needs cc on Linux"
)

FOREIGN_C = r"""
/* A stand-in for another library (a JIT, a database engine) with its own
   SIGBUS handler that repairs faults in its own file mappings by mapping a
   zero page at the faulting address; faults elsewhere go to the handler it
   found (the well-behaved chaining recview expects of others). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MAX_OWN 64
static struct sigaction prev;
static atomic_uintptr_t own_lo[MAX_OWN], own_hi[MAX_OWN];
static atomic_int reserved;
static atomic_long repaired;
static atomic_int arrived;
static int rendezvous; /* the first N faults wait until N threads are inside */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void handler(int sig, siginfo_t *si, void *uc)
{
    uintptr_t a = (uintptr_t)si->si_addr;
    long ps = sysconf(_SC_PAGESIZE);
    for (int i = 0; si->si_code == BUS_ADRERR && i < MAX_OWN; i++) {
        uintptr_t lo = atomic_load(&own_lo[i]);
        if (lo != 0 && a >= lo && a < atomic_load(&own_hi[i])) {
            if (atomic_fetch_add(&arrived, 1) < rendezvous) {
                double t0 = now();
                struct timespec ms = {0, 1000000};
                while (atomic_load(&arrived) < rendezvous && now() - t0 < 3.0) {
                    nanosleep(&ms, NULL);
                }
            }
            mmap((void *)(a & ~(uintptr_t)(ps - 1)), (size_t)ps, PROT_READ,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
            atomic_fetch_add(&repaired, 1);
            return;
        }
    }
    if (prev.sa_flags & SA_SIGINFO) {
        prev.sa_sigaction(sig, si, uc);
    } else if (prev.sa_handler == SIG_DFL || prev.sa_handler == SIG_IGN) {
        signal(sig, SIG_DFL); /* the load retries and kills, as without us */
    } else {
        prev.sa_handler(sig);
    }
}

int foreign_install(int rendezvous_threads)
{
    struct sigaction act;
    memset(&act, 0, sizeof act);
    act.sa_sigaction = handler;
    sigemptyset(&act.sa_mask);
    act.sa_flags = SA_SIGINFO | SA_NODEFER;
    rendezvous = rendezvous_threads;
    return sigaction(SIGBUS, &act, &prev);
}

/* Map one page of an empty file (every touch faults), then `iters` times:
   put the file page back, touch it, let the handler repair it.  Returns the
   number of touches that read the repaired zero page, -1 on setup error. */
long foreign_run(const char *path, int iters)
{
    long ps = sysconf(_SC_PAGESIZE);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    char *p = mmap(NULL, (size_t)ps, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return -1;
    int i = atomic_fetch_add(&reserved, 1);
    if (i >= MAX_OWN) return -1;
    /* published before the first touch */
    atomic_store(&own_hi[i], (uintptr_t)p + (uintptr_t)ps);
    atomic_store(&own_lo[i], (uintptr_t)p);
    long ok = 0;
    for (int k = 0; k < iters; k++) {
        if (mmap(p, (size_t)ps, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED)
            return -1;
        ok += *(volatile char *)p == 0;
    }
    close(fd);
    return ok;
}

long foreign_repaired(void) { return atomic_load(&repaired); }
"""

CHILD = r"""
import ctypes, json, os, resource, sys, threading
import numpy as np

resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a death must not write a core
lib_path, tmp, order = sys.argv[1], sys.argv[2], sys.argv[3]
nthreads, iters = int(sys.argv[4]), int(sys.argv[5])
stray = sys.argv[6] == "stray"
lib = ctypes.CDLL(lib_path)
lib.foreign_run.restype = ctypes.c_long
lib.foreign_run.argtypes = [ctypes.c_char_p, ctypes.c_int]
lib.foreign_repaired.restype = ctypes.c_long
# with several threads, their first faults meet inside the handler
rendezvous = nthreads if nthreads > 1 else 0

if order in ("none", "before"):
    assert lib.foreign_install(rendezvous) == 0
if order != "none":
    from recview import _guard, _mapping
    assert _mapping.GUARD_AVAILABLE, _mapping.GUARD_ERROR
if order in ("after", "after_noensure"):
    assert lib.foreign_install(rendezvous) == 0
if order == "after":
    _mapping.ensure_guard()  # what every open/refresh/batches does
on_top = order != "none" and _guard.is_installed()

results = [None] * nthreads
def work(i):
    path = os.path.join(tmp, f"foreign{i}.bin")
    open(path, "wb").close()  # empty: every touch of its page faults
    results[i] = lib.foreign_run(path.encode(), iters)
threads = [threading.Thread(target=work, args=(i,)) for i in range(nthreads)]
for t in threads:
    t.start()
for t in threads:
    t.join()

ours = None
if order != "none":
    # recview's own mappings are still repaired by recview
    path = os.path.join(tmp, "data.bin")
    with open(path, "wb") as f:
        f.write(b"\x01" * 20 * 4096)
    fd = os.open(path, os.O_RDONLY)
    m = _mapping.Mapping(fd, 0, 20 * 4096, path=path)
    arr = np.frombuffer(m.buffer, dtype=np.uint8)
    os.truncate(path, 4096)
    ours = [int(arr.sum()), m.faulted()]
print(json.dumps({"results": results, "repaired": lib.foreign_repaired(),
                  "ours": ours, "on_top": on_top}), flush=True)
if stray:
    # a lost page that is neither recview's nor the other library's: nobody
    # repairs it, and every handler passing it on must end in death by
    # SIGBUS, not in a loop between the two handlers
    import mmap
    path = os.path.join(tmp, "stray.bin")
    with open(path, "wb") as f:
        f.write(b"\x01" * 4096)
    fd = os.open(path, os.O_RDONLY)
    plain = np.frombuffer(mmap.mmap(fd, 0, access=mmap.ACCESS_READ), dtype=np.uint8)
    os.truncate(path, 0)
    print(int(plain.sum()), flush=True)
    print("survived", flush=True)
"""


@pytest.fixture(scope="module")
def foreign_lib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("foreign")
    (tmp / "foreign.c").write_text(FOREIGN_C)
    lib = tmp / "libforeign.so"
    subprocess.run(
        ["cc", "-shared", "-fPIC", "-O1", "-o", str(lib), str(tmp / "foreign.c")],
        check=True,
        timeout=120,
    )
    return lib


def _child(
    lib: Path, tmp: Path, order: str, nthreads: int, iters: int, stray: bool = False
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any] | None]:
    argv = [str(lib), str(tmp), order, str(nthreads), str(iters), "stray" if stray else "-"]
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    return proc, (json.loads(lines[0]) if lines else None)


ORDERS = ["none", "before", "after", "after_noensure"]


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize(("nthreads", "iters"), [(1, 50), (4, 1), (4, 20)])
def test_a_foreign_handler_repairs_its_own_faults_any_number_of_times(
    foreign_lib: Path, tmp_path: Path, order: str, nthreads: int, iters: int
) -> None:
    # "none" is the control: without recview the process survives too
    proc, rep = _child(foreign_lib, tmp_path, order, nthreads, iters)
    assert proc.returncode != -signal.SIGBUS, f"died of SIGBUS: {proc.stderr}"
    assert proc.returncode == 0, proc.stderr
    assert rep is not None, proc
    assert rep["results"] == [iters] * nthreads
    assert rep["repaired"] == iters * nthreads
    if order != "none":
        assert rep["ours"] == [4096, True]
        # ensure_guard() put recview's handler back on top of the other one
        assert rep["on_top"] is (order != "after_noensure")


@pytest.mark.parametrize("order", ORDERS)
def test_a_fault_nobody_repairs_still_kills_without_looping(
    foreign_lib: Path, tmp_path: Path, order: str
) -> None:
    # with "after", the two handlers each hold the other as previous one
    proc, rep = _child(foreign_lib, tmp_path, order, 2, 3, stray=True)
    assert proc.returncode == -signal.SIGBUS, proc
    assert rep is not None, proc
    assert rep["results"] == [3, 3]
    assert "survived" not in proc.stdout
