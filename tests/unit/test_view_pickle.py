"""Pickling a View: the copy opens the path again with a descriptor of its own.

What each test pins: the copy has the original's schema, offset, count,
mode and trailing rule; closing or freeing the copy never closes the
original's descriptor (and closing the original never closes the copy's);
the copy works in a process started with ``spawn``; a closed view refuses
to pickle.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import recview as rv
from tests.unit._seq_files import DT, records, write


@pytest.mark.parametrize("touch", [False, True])
def test_pickled_copy_reopens_and_freeing_it_keeps_the_original(tmp_path, mode, touch):
    path = tmp_path / "p.bin"
    write(path, records(0, 20))
    view = rv.open(path, DT, mode=mode, offset=16 * 2, count=10)
    if touch:
        view[0]
    copy = pickle.loads(pickle.dumps(view))
    assert copy is not view
    assert (copy.path, copy.offset, copy.mode, len(copy)) == (view.path, 32, mode, 10)
    assert copy.schema == view.schema
    assert copy._file.fd != view._file.fd
    np.testing.assert_array_equal(copy[:], view[:])
    copy.close()
    del copy
    gc.collect()
    assert view[0]["seq"] == 2 and view[-1]["seq"] == 11
    view.close()


def test_pickled_copy_keeps_trailing_policy_and_count_none(tmp_path):
    path = tmp_path / "p.bin"
    with open(path, "wb") as f:
        f.write(records(0, 5).tobytes() + b"xyz")
    with rv.open(path, DT, trailing="ignore") as view:
        write(path, records(5, 6), "ab")  # after the stray bytes: grows the count
        copy = pickle.loads(pickle.dumps(view))
        with copy:
            assert len(copy) == 6  # count=None: the copy counts what the file holds now


def test_pickled_view_works_in_another_process(tmp_path):
    path = tmp_path / "p.bin"
    write(path, records(0, 50))
    with rv.open(path, DT, mode="pread") as view:
        blob = pickle.dumps(view)
    code = (
        "import pickle, sys; v = pickle.loads(sys.stdin.buffer.read()); print(int(v['seq'].sum()))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], input=blob, capture_output=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.decode().strip() == str(sum(range(50)))


def test_closed_view_refuses_to_pickle(tmp_path):
    path = tmp_path / "p.bin"
    write(path, records(0, 5))
    view = rv.open(path, DT)
    view.close()
    with pytest.raises(rv.ClosedError, match="closed"):
        pickle.dumps(view)


def test_unpickled_copy_outlives_the_original(tmp_path, mode):
    path = tmp_path / "p.bin"
    write(path, records(0, 30))
    view = rv.open(path, DT, mode=mode)
    blob = pickle.dumps(view)
    view.close()  # before the copy exists: it must not need the original's fd
    with pickle.loads(blob) as copy:
        other = os.open(path, os.O_RDONLY)  # takes the number the original freed
        try:
            assert copy[-1]["seq"] == 29
            assert copy["seq"].sum() == sum(range(30))
            assert sum(len(b) for b in copy.batches(7)) == 30
        finally:
            os.close(other)
    copy2 = pickle.loads(blob)
    view2 = pickle.loads(blob)
    copy2.close()  # the copies are independent of each other too
    assert view2[3]["seq"] == 3
    view2.close()


def test_pickled_view_keeps_a_fixed_count(tmp_path):
    path = tmp_path / "p.bin"
    write(path, records(0, 10))
    with rv.open(path, DT, count=4) as view:
        write(path, records(10, 12), "ab")
        with pickle.loads(pickle.dumps(view)) as copy:
            assert len(copy) == 4
            assert copy.refresh() == 4


def _sum_seq(view):
    with view:
        return int(view["seq"].sum()), len(view), view.mode


def test_views_go_to_spawned_worker_processes(tmp_path, mode):
    path = tmp_path / "p.bin"
    write(path, records(0, 1000))
    with rv.open(path, DT, mode=mode, offset=16 * 10) as view:
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(2) as pool:
            got = pool.map_async(_sum_seq, [view, view, view]).get(timeout=120)
        assert got == [(sum(range(10, 1000)), 990, mode)] * 3
        assert view[0]["seq"] == 10  # the original is untouched


def test_pickled_relative_path_reopens_the_same_file_from_another_directory(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write(tmp_path / "a" / "data.bin", records(0, 10))
    write(tmp_path / "b" / "data.bin", records(100, 110))
    monkeypatch.chdir(tmp_path / "a")
    with rv.open("data.bin", DT) as view:
        blob = pickle.dumps(view)
    monkeypatch.chdir(tmp_path / "b")
    with pickle.loads(blob) as copy:
        assert copy[0]["seq"] == 0  # a/data.bin, not b/data.bin
        assert copy.path == str(tmp_path / "a" / "data.bin")


def test_unpickling_after_the_path_was_given_to_another_file_is_an_error(tmp_path):
    path = tmp_path / "log.bin"
    write(path, records(0, 10))
    with rv.open(path, DT) as view:
        blob = pickle.dumps(view)
        os.rename(path, tmp_path / "log.bin.1")
        write(path, records(500, 503))
        with pytest.raises(rv.RecviewError, match=r"log\.bin: the path names another file"):
            pickle.loads(blob)


def test_unpickling_while_a_writer_is_mid_record_counts_whole_records(tmp_path):
    path = tmp_path / "grow.bin"
    write(path, records(0, 5))
    with rv.open(path, DT) as view:  # trailing="error"
        with open(path, "ab") as f:
            f.write(b"\x01\x02\x03")  # a writer mid-record
        assert view.refresh() == 5
        with pickle.loads(pickle.dumps(view)) as copy:
            assert len(copy) == 5
            assert pickle.loads(pickle.dumps(copy))._trailing == "error"
