"""follow() across log rotation: rename the file, create a new one at the path.

What each test pins: ``follow(rotate=True)`` delivers every record of the
old file (also those the writer appended after the rename), then every
record of the new one, exactly once, waiting for the new file's header;
without ``rotate`` the rotation is reported once with a
``FileReplacedWarning`` and the iterator stays on the old file;
``copytruncate`` (the file cut in place) still raises ``TruncatedError``.
"""

from __future__ import annotations

import os
import threading
import time
import warnings

import numpy as np
import pytest

import recview as rv
from recview import view as view_mod
from tests.unit._seq_files import DT, records, write


def test_follow_rotate_finishes_the_old_file_then_follows_the_new_one(tmp_path, mode):
    path = tmp_path / "log.bin"
    write(path, records(0, 10))
    with rv.open(path, DT, mode=mode) as view:
        os.rename(path, tmp_path / "log.bin.1")
        write(tmp_path / "log.bin.1", records(10, 13), "ab")  # the writer had not switched yet
        write(path, records(13, 20))
        got = np.concatenate(list(view.follow(start=0, poll=0.01, timeout=0.3, rotate=True)))
        assert got["seq"].tolist() == list(range(20))


def test_follow_rotate_waits_for_the_new_files_header(tmp_path):
    path = tmp_path / "log.bin"
    header = b"H" * 8
    with open(path, "wb") as f:
        f.write(header + records(0, 3).tobytes())
    with rv.open(path, DT, offset=8) as view:
        os.rename(path, tmp_path / "log.bin.1")
        with open(path, "wb") as f:
            f.write(header[:4])  # header not complete yet
        it = view.follow(start=0, poll=0.01, timeout=0.3, rotate=True)
        assert next(it)["seq"].tolist() == [0, 1, 2]
        with open(path, "ab") as f:
            f.write(header[4:] + records(3, 5).tobytes())
        assert np.concatenate(list(it))["seq"].tolist() == [3, 4]


def test_follow_without_rotate_warns_once_and_stays_on_the_open_file(tmp_path):
    path = tmp_path / "log.bin"
    write(path, records(0, 4))
    with rv.open(path, DT) as view:
        os.rename(path, tmp_path / "log.bin.1")
        write(path, records(100, 110))
        with pytest.warns(view_mod.FileReplacedWarning, match="log.bin") as caught:
            got = np.concatenate(list(view.follow(start=0, poll=0.01, timeout=0.2)))
        assert got["seq"].tolist() == [0, 1, 2, 3]
        assert len([w for w in caught if w.category is view_mod.FileReplacedWarning]) == 1


def test_follow_rotate_still_raises_on_copytruncate(tmp_path):
    path = tmp_path / "log.bin"
    write(path, records(0, 10))
    with rv.open(path, DT) as view:
        it = view.follow(start=0, poll=0.01, timeout=1, rotate=True)
        next(it)
        os.truncate(path, 0)
        with pytest.raises(rv.TruncatedError):
            next(it)


def _open_fds():
    return len(os.listdir("/proc/self/fd"))


def test_follow_rotate_across_several_rotations_by_a_writer_thread(tmp_path, mode):
    path = tmp_path / "log.bin"
    write(path, records(0, 5))
    chunks = [(5, 40), (40, 41), (41, 90), (90, 200)]
    fds = _open_fds()

    def writer():
        for i, (a, b) in enumerate(chunks):
            time.sleep(0.02)
            write(path, records(a, (a + b) // 2), "ab")  # the writer still has the old file
            os.rename(path, tmp_path / f"log.bin.{i}")
            write(tmp_path / f"log.bin.{i}", records((a + b) // 2, b), "ab")
            write(path, records(0, 0))  # the new file, empty at first
        time.sleep(0.02)
        write(path, records(200, 210), "ab")

    t = threading.Thread(target=writer)
    with rv.open(path, DT, mode=mode) as view:
        it = view.follow(start=0, poll=0.005, timeout=1.0, rotate=True)
        t.start()
        got = np.concatenate(list(it))
        t.join(10)
        assert len(view) == 40  # the view itself stays on the file it opened (log.bin.0)
    assert got["seq"].tolist() == list(range(210))
    assert _open_fds() == fds  # the rotated-in files were closed


def test_closing_the_view_ends_a_rotated_follow_and_closes_the_new_file(tmp_path):
    path = tmp_path / "log.bin"
    write(path, records(0, 3))
    fds = _open_fds()
    view = rv.open(path, DT)
    it = view.follow(start=0, poll=0.005, timeout=5, rotate=True)
    assert next(it)["seq"].tolist() == [0, 1, 2]
    os.rename(path, tmp_path / "log.bin.1")
    write(path, records(3, 4))
    assert next(it)["seq"].tolist() == [3]  # now on the new file
    view.close()
    write(path, records(4, 5), "ab")
    with pytest.raises(rv.ClosedError):
        next(it)
    assert _open_fds() == fds


def test_follow_rotate_reports_a_partial_record_left_in_the_old_file(tmp_path):
    path = tmp_path / "log.bin"
    write(path, records(0, 2))
    with rv.open(path, DT) as view:
        with open(path, "ab") as f:
            f.write(b"\x01" * 5)  # the writer died mid-record
        os.rename(path, tmp_path / "log.bin.1")
        write(path, records(2, 4))
        with pytest.warns(rv.LayoutWarning, match=r"5 bytes of a partial record at offset 32"):
            got = np.concatenate(list(view.follow(start=0, poll=0.01, timeout=0.2, rotate=True)))
    assert got["seq"].tolist() == [0, 1, 2, 3]


def test_follow_rotate_waits_while_the_path_is_missing(tmp_path):
    path = tmp_path / "log.bin"
    write(path, records(0, 2))
    with rv.open(path, DT) as view:
        it = view.follow(start=0, poll=0.005, timeout=2, rotate=True)
        assert len(next(it)) == 2
        os.rename(path, tmp_path / "log.bin.1")  # no new file for a while
        threading.Timer(0.1, write, (path, records(2, 3))).start()
        assert next(it)["seq"].tolist() == [2]
        it.close()


def test_rotation_warning_names_the_option(tmp_path):
    path = tmp_path / "log.bin"
    write(path, records(0, 1))
    with rv.open(path, DT) as view:
        os.unlink(path)
        write(path, records(0, 1))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            list(view.follow(start=0, poll=0.01, timeout=0.05))
    assert [w.category for w in caught] == [view_mod.FileReplacedWarning]
    assert "rotate=True" in str(caught[0].message)


def test_rotation_warnings_point_at_the_callers_loop(tmp_path):
    # Both warnings of follow() name the line that iterates, as warnings do
    # (the partial-record one used to point past the caller, at "sys").
    path = tmp_path / "log.bin"
    write(path, records(0, 1))
    with rv.open(path, DT) as view:
        with open(path, "ab") as f:
            f.write(b"\x01" * 5)
        os.rename(path, tmp_path / "log.bin.1")
        write(path, records(1, 2))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            list(view.follow(start=0, poll=0.01, timeout=0.05, rotate=True))
            os.rename(path, tmp_path / "log.bin.2")
            write(path, records(2, 3))
            list(view.follow(start=0, poll=0.01, timeout=0.05))
    assert sorted(w.category.__name__ for w in caught) == ["FileReplacedWarning", "LayoutWarning"]
    assert {w.filename for w in caught} == {__file__}
