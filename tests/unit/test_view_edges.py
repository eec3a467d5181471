"""follow(start=None) begins at len(view) as last seen; huge integer keys are IndexErrors; bitfield paths."""

from __future__ import annotations

import numpy as np
import pytest

import recview as rv


@pytest.mark.parametrize("mode", ["mmap", "pread"])
def test_follow_without_start_delivers_records_appended_after_the_last_refresh(tmp_path, mode):
    path = tmp_path / "log.bin"
    np.arange(10, dtype="<u4").tofile(path)
    with rv.open(path, "<u4", mode=mode) as view:
        assert view.refresh() == 10
        with open(path, "ab") as fh:
            np.arange(10, 15, dtype="<u4").tofile(fh)
        got = [int(x) for b in view.follow(timeout=0.2, poll=0.01) for x in b["f0"]]
    assert got == [10, 11, 12, 13, 14]


@pytest.mark.parametrize("mode", ["mmap", "pread"])
@pytest.mark.parametrize("key", [2**63, -(2**63) - 1, 2**64, 10**30])
def test_integer_keys_beyond_int64_are_index_errors(tmp_path, mode, key):
    path = tmp_path / "d.bin"
    np.arange(4, dtype="<u4").tofile(path)
    with rv.open(path, "<u4", mode=mode) as view, pytest.raises(IndexError):
        view[key]


FIFO_SCRIPT = """
import os, sys, recview as rv
path = sys.argv[1]
if sys.argv[2] == "writer":
    w = os.open(path, os.O_RDWR)  # a writer with data in the pipe
    os.write(w, bytes(16))
try:
    rv.open(path, "<u4")
except rv.RecviewError as exc:
    assert "rv.stream" in str(exc) and path in str(exc), exc
    print("refused")
"""


@pytest.mark.parametrize("writer", ["none", "writer"])
def test_open_refuses_a_fifo_at_once_pointing_to_stream(tmp_path, writer):
    import os
    import subprocess
    import sys

    fifo = tmp_path / "p.fifo"
    os.mkfifo(fifo)
    out = subprocess.run(
        [sys.executable, "-c", FIFO_SCRIPT, str(fifo), writer],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "refused"


def test_open_refuses_a_character_device():
    with pytest.raises(rv.LayoutError, match="rv.stream"):
        rv.open("/dev/zero", "<u4")


@pytest.mark.parametrize("mode", ["mmap", "pread"])
def test_a_bitfield_path_reads_its_values(tmp_path, mode):
    class T(rv.Record):
        flags: rv.bits(rv.u16be, fin=1, syn=1, _=14)
        n: rv.u8

    path = tmp_path / "b.bin"
    path.write_bytes(bytes([0, 1, 7, 0, 2, 9]))
    with rv.open(path, T.schema, mode=mode) as view:
        assert view["flags.fin"].tolist() == [1, 0]
        assert view["flags.syn"].tolist() == [0, 1]
        assert view["flags"].tolist() == [1, 2]  # the storage unit itself
        assert view["n"].tolist() == [7, 9]
        with pytest.raises(KeyError, match=r"b\.bin.*no field 'flags\.fim'.*did you mean"):
            view["flags.fim"]
