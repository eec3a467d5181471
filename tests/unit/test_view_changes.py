"""Unit tests of View.refresh/follow on files that change under the reader.

What each test pins:

- a fault in *any* mapping of the view (also one replaced by a growth that a
  kept array still views) makes the next check raise ``TruncatedError``, even
  when the file grew back past the view's end in between;
- a shrink between ``fstat`` and ``mmap`` is a ``TruncatedError``, never a bare
  ``ValueError``, also when the file has grown again by the time we look;
- ``refresh()`` only counts (no mapping per poll); the first read maps;
- ``follow()`` yields copies: keeping batches holds no mapping, and a later
  truncation cannot change a batch already yielded;
- ``pread`` stops at a short read from a file that shrank, instead of
  stitching later bytes to earlier ones, and goes on after a short read of a
  file that did not shrink;
- ``columns()`` checks the file size after copying.

Tests that touch pages a truncation took away run in a child interpreter, as
``tests/integration/test_sigbus_guard.py`` does, so that a guard failure can
never kill the test process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import recview as rv
from recview import _guard, _mapping

DT = np.dtype([("seq", "<u8"), ("x", "<u4"), ("y", "<u4"), ("z", "<u8")])  # 24 bytes
PAGE = os.sysconf("SC_PAGESIZE")


def records(a, b):
    r = np.zeros(b - a, DT)
    r["seq"] = np.arange(a, b)
    r["x"] = r["seq"] * 3 + 1
    r["y"] = 7
    r["z"] = r["seq"] ^ 0xABCDEF
    return r


def append(path, recs):
    with open(path, "ab") as f:
        f.write(recs.tobytes())


def run_child(code, *args):
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, (out.returncode, out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


# One child runs every scenario that reads lost pages; each reports its result.
LOST_PAGES_CHILD = r"""
import json, os, sys
import numpy as np
import recview as rv

DT = np.dtype([("seq", "<u8"), ("x", "<u4"), ("y", "<u4"), ("z", "<u8")])
base = sys.argv[1]
out = {}

def recs(a, b):
    r = np.zeros(b - a, DT); r["seq"] = np.arange(a, b); return r

def outcome(fn):
    try:
        return ["ok", fn()]
    except rv.TruncatedError as e:
        return ["TruncatedError", str(e), e.old_nbytes, e.new_nbytes]

# 1. An array from before a growth (an old mapping) reads lost pages; the file
#    then grows back past the view's end: fstat alone cannot see it.
path = os.path.join(base, "old.bin")
recs(0, 1000).tofile(path)
view = rv.open(path, DT)
old = view["seq"]
with open(path, "ab") as f:
    f.write(recs(1000, 2000).tobytes())
view.refresh()
new = view["seq"]                       # maps again: `old` keeps the first mapping
os.truncate(path, 0)
zeros = int(old.sum())                  # faults in the old mapping: zeros
with open(path, "wb") as f:
    f.write(recs(0, 3000).tobytes())    # grown back past the view's end
del old                                 # also when the array is gone by the check
out["old_mapping"] = [zeros, outcome(view.refresh), outcome(lambda: len(view[0:1]))]
view.close()

# 2. The same through the current mapping.
path = os.path.join(base, "cur.bin")
recs(0, 1000).tofile(path)
view = rv.open(path, DT)
arr = view["seq"]
os.truncate(path, 100)
zeros = int(arr[500:].sum())
with open(path, "wb") as f:
    f.write(recs(0, 3000).tobytes())
out["current_mapping"] = [zeros, outcome(view.refresh)]
view.close()

# 3. columns() after a cut that takes whole pages: copies zeros, then refuses.
path = os.path.join(base, "cols.bin")
recs(0, 1000).tofile(path)
view = rv.open(path, DT)
os.truncate(path, 200)
out["columns"] = outcome(lambda: view.columns(["seq"])["seq"].tolist())
view.close()

# 4. A fault in another view's mapping does not taint this one.
a_path, b_path = os.path.join(base, "a.bin"), os.path.join(base, "b.bin")
recs(0, 1000).tofile(a_path); recs(0, 1000).tofile(b_path)
va, vb = rv.open(a_path, DT), rv.open(b_path, DT)
ka, kb = va["seq"], vb["seq"]
os.truncate(a_path, 0)
int(ka.sum())
out["other_view"] = [outcome(va.refresh)[0], outcome(vb.refresh), int(kb.sum())]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def lost_pages(tmp_path_factory):
    return run_child(LOST_PAGES_CHILD, tmp_path_factory.mktemp("lost"))


def test_fault_in_a_replaced_mapping_is_a_truncation_even_after_regrowth(lost_pages):
    zeros, refresh, read = lost_pages["old_mapping"]
    assert zeros == 0
    assert refresh[0] == "TruncatedError"
    assert "lost pages under the mapping" in refresh[1], refresh
    assert "grew again" in refresh[1]
    assert refresh[2:] == [1000 * 24 * 2, 3000 * 24]
    assert read[0] == "TruncatedError"  # and it keeps raising


def test_fault_in_the_current_mapping_is_a_truncation_even_after_regrowth(lost_pages):
    zeros, refresh = lost_pages["current_mapping"]
    assert zeros == 0
    assert refresh[0] == "TruncatedError"


def test_columns_checks_the_file_after_copying(lost_pages):
    assert lost_pages["columns"][0] == "TruncatedError"
    assert "shrank from 24,000 to 200 bytes" in lost_pages["columns"][1]


def test_a_fault_in_another_views_mapping_does_not_taint_this_one(lost_pages):
    a, b, total = lost_pages["other_view"]
    assert a == "TruncatedError"
    assert b == ["ok", 1000]
    assert total == 999 * 1000 // 2


def test_columns_after_a_mid_page_cut_raises_instead_of_returning_zeros(tmp_path):
    # The cut leaves part of the last page in the file: no fault, the bytes
    # past the new end just read as zeros. Only the size tells.
    path = tmp_path / "r.bin"
    records(0, 1000).tofile(path)
    with rv.open(path, DT) as view:
        os.truncate(path, 1000 * 24 - 100)
        with pytest.raises(rv.TruncatedError, match="shrank from 24,000 to 23,900"):
            view.columns()


def test_shrink_between_fstat_and_mmap_is_a_truncation(tmp_path, monkeypatch):
    path = tmp_path / "r.bin"
    records(0, 100).tofile(path)
    view = rv.open(path, DT)
    real = _mapping.Mapping

    def racing(fd, offset, nbytes, *, path=None):
        # The file is cut and regrown between the view's fstat and the mmap:
        # by the time the view looks, it is long enough again.
        os.truncate(view.path, 10)
        append(view.path, records(0, 200))
        return real(fd, offset, 10**9, path=path)  # longer than the file: ValueError

    monkeypatch.setattr(_mapping, "Mapping", racing)
    with pytest.raises(rv.TruncatedError, match="then too short to map 2,400 .*grew again") as info:
        view.array
    assert info.value.old_nbytes == 2400
    monkeypatch.setattr(_mapping, "Mapping", real)
    with pytest.raises(rv.TruncatedError):
        view.refresh()  # and it stays so until reopened
    view.close()


def test_refresh_counts_and_the_first_read_maps(tmp_path):
    path = tmp_path / "r.bin"
    records(0, 10).tofile(path)
    with rv.open(path, DT) as view:
        regions = _guard.live_regions()
        first = view.array
        assert _guard.live_regions() == regions + 1
        for k in range(10, 200, 10):
            append(path, records(k, k + 10))
            assert view.refresh() == k + 10
        assert _guard.live_regions() == regions + 1  # no mmap per refresh
        last = view[-1]
        assert last["seq"] == 199
        assert _guard.live_regions() == regions + 2  # the old one: `first` views it
        np.testing.assert_array_equal(first, records(0, 10))
        np.testing.assert_array_equal(view.array, records(0, 200))


def test_open_maps_nothing(tmp_path):
    path = tmp_path / "r.bin"
    records(0, 10).tofile(path)
    regions = _guard.live_regions()
    with rv.open(path, DT) as view:
        assert _guard.live_regions() == regions
        assert len(view) == 10


@pytest.mark.parametrize("mode", ["mmap", "pread"])
def test_follow_batches_are_copies_kept_batches_hold_no_mapping(tmp_path, mode):
    path = tmp_path / "r.bin"
    records(0, 1).tofile(path)
    kept = []
    with rv.open(path, DT, mode=mode) as view:
        regions = _guard.live_regions()
        it = view.follow(start=0, poll=0.001, timeout=5)
        for k in range(1, 300):
            kept.append(next(it))
            append(path, records(k, k + 1))
        assert _guard.live_regions() == regions
        os.truncate(path, 0)  # cannot reach a batch already yielded
        np.testing.assert_array_equal(np.concatenate(kept), records(0, 299))
        assert not kept[0].flags.writeable
        with pytest.raises(rv.TruncatedError):
            next(it)


def test_follow_timeout_does_not_wait_a_whole_poll_more(tmp_path):
    path = tmp_path / "r.bin"
    records(0, 3).tofile(path)
    with rv.open(path, DT) as view:
        t0 = time.monotonic()
        assert list(view.follow(poll=5.0, timeout=0.05)) == []
        assert time.monotonic() - t0 < 2.0
        with pytest.raises(ValueError, match="timeout"):
            view.follow(timeout=-1)


def test_follow_on_a_view_closed_between_batches_raises_closed_error(tmp_path):
    path = tmp_path / "r.bin"
    records(0, 10).tofile(path)
    view = rv.open(path, DT)
    it = view.follow(start=0, records=4, timeout=1)
    next(it)
    view.close()
    with pytest.raises(rv.ClosedError):
        next(it)


def test_follow_resumes_at_a_persisted_index_after_partial_records(tmp_path):
    path = tmp_path / "r.bin"
    raw = records(0, 50).tobytes()
    with open(path, "wb") as f:
        f.write(raw[:100])  # 4 records and 4 bytes of the 5th
    with rv.open(path, DT, trailing="ignore") as view:
        got = list(view.follow(start=0, poll=0.001, timeout=0.05))
    pos = sum(len(b) for b in got)
    assert pos == 4
    with open(path, "ab") as f:
        f.write(raw[100:1001])
    with rv.open(path, DT, trailing="ignore") as view:
        got.extend(view.follow(start=pos, poll=0.001, timeout=0.05))
    np.testing.assert_array_equal(np.concatenate(got), records(0, 1001 // 24))


def test_batches_keep_one_mapping_while_refresh_extends_the_view(tmp_path):
    path = tmp_path / "r.bin"
    records(0, 1000).tofile(path)
    with rv.open(path, DT) as view:
        it = view.batches(100)
        got = [next(it)]
        append(path, records(1000, 2000))
        assert view.refresh() == 2000
        got.extend(it)  # the scan covers the records there were when it began
        np.testing.assert_array_equal(np.concatenate(got), records(0, 1000))
        np.testing.assert_array_equal(view[1000:], records(1000, 2000))


def test_pread_goes_on_after_a_read_cut_short_by_the_kernel_cap(tmp_path, monkeypatch):
    # Linux returns at most ~2 GiB from one read; pretend the cap is 256 bytes.
    from recview import _readers as view_module

    real = os.preadv
    calls = []

    def capped(fd, buffers, offset):
        calls.append(offset)
        (buf,) = buffers  # an array of records, or of bytes after the first read
        return real(fd, [np.asarray(buf).reshape(-1).view(np.uint8)[:256]], offset)

    path = tmp_path / "r.bin"
    records(0, 100).tofile(path)
    monkeypatch.setattr(view_module, "_MAX_READ_NBYTES", 256)
    monkeypatch.setattr(os, "preadv", capped)
    with rv.open(path, DT, mode="pread") as view:
        np.testing.assert_array_equal(view[10:90], records(10, 90))
    assert len(calls) == -(-80 * 24 // 256)


def test_pread_stops_at_a_short_read_even_if_the_file_grew_back(tmp_path, monkeypatch):
    real = os.preadv
    path = tmp_path / "r.bin"
    records(0, 100).tofile(path)

    def shrinking(fd, buffers, offset):
        # the file is cut to 5 records and grown back to 100 around this read
        os.truncate(path, 5 * 24)
        got = real(fd, buffers, offset)
        append(path, records(5, 100))
        return got

    with rv.open(path, DT, mode="pread") as view:
        monkeypatch.setattr(os, "preadv", shrinking)
        # the size alone would pass: the short read itself must end the view
        with pytest.raises(rv.TruncatedError, match="ended at byte 120 during a read"):
            view[2:90]
        monkeypatch.setattr(os, "preadv", real)
        with pytest.raises(rv.TruncatedError):
            view.refresh()


FAULTHANDLER_CHILD = r"""
import faulthandler, json, os, resource, sys
import numpy as np
import recview as rv

resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
path = os.path.join(sys.argv[1], "fh.bin")
np.arange(10_000, dtype="<u8").tofile(path)
view = rv.open(path, "<u8")
kept = view["f0"]
os.truncate(path, 0)
faulthandler.enable()  # replaces recview's SIGBUS handler
try:
    view.refresh()     # puts it back, even though it raises
except rv.TruncatedError:
    pass
print(json.dumps({"sum": int(kept.sum())}))  # reads lost pages: zeros, no death
"""


def test_refresh_reinstalls_the_guard_even_when_it_raises(tmp_path):
    assert run_child(FAULTHANDLER_CHILD, tmp_path) == {"sum": 0}


def test_pread_scans_reuse_pooled_buffers_and_never_overwrite_kept_batches(tmp_path, monkeypatch):
    from recview import _readers as view_module

    monkeypatch.setattr(view_module, "_POOL_MIN_NBYTES", 1024)  # pool every batch
    path = tmp_path / "r.bin"
    records(0, 10_000).tofile(path)
    with rv.open(path, DT, mode="pread") as view:
        addresses = set()
        for batch in view.batches(100):  # the caller drops each batch
            addresses.add(batch.__array_interface__["data"][0])
        assert len(addresses) <= 3  # two buffers alternate
        kept = list(view.batches(100))
        assert not kept[0].flags.writeable
        np.testing.assert_array_equal(np.concatenate(kept), records(0, 10_000))
        follow = list(view.follow(start=0, timeout=0, records=100))
        np.testing.assert_array_equal(np.concatenate(follow), records(0, 10_000))


def test_pread_batches_default_to_one_mib(tmp_path):
    path = tmp_path / "r.bin"
    n = (3 << 20) // 24
    records(0, n).tofile(path)
    with rv.open(path, DT, mode="pread") as view:
        sizes = [len(b) for b in view.batches()]
    assert sizes[0] == (1 << 20) // 24
    assert sum(sizes) == n
