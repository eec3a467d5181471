"""open_frames(index=PATH) never replaces what is not its own index: the data
file itself, a file that is no recview frame index, a device or a FIFO (the
reviewer's repros; the CLI's --index guard is test_cli_frames_index_path.py)."""

from __future__ import annotations

import os
import stat
import struct
import subprocess
import sys
from pathlib import Path

import pytest

import recview as rv


def pcap(path: Path, n: int, size: int = 60) -> Path:
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        f.writelines(
            struct.pack("<IIII", i, 0, size, size) + bytes([i % 256]) * size for i in range(n)
        )
    return path


def test_index_path_that_is_the_data_file_does_not_destroy_it(tmp_path: Path) -> None:
    p = pcap(tmp_path / "a.pcap", 100)
    before = p.read_bytes()
    with pytest.raises(rv.RecviewError, match="is the data file"):
        rv.open_frames(p, **rv.formats.pcap(p), index=p)
    assert p.read_bytes() == before


def test_index_path_that_is_a_hard_link_of_the_data_file_is_refused(tmp_path: Path) -> None:
    p = pcap(tmp_path / "a.pcap", 100)
    link = tmp_path / "link.idx"
    os.link(p, link)
    before = p.read_bytes()
    with pytest.raises(rv.RecviewError, match="is the data file"):
        rv.open_frames(p, **rv.formats.pcap(p), index=link)
    assert p.read_bytes() == before and os.path.samefile(p, link)


def test_index_path_naming_a_file_that_is_no_index_is_not_overwritten(tmp_path: Path) -> None:
    p = pcap(tmp_path / "a.pcap", 100)
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    with pytest.raises(rv.RecviewError, match="not a recview frame index") as info:
        rv.open_frames(p, **rv.formats.pcap(p), index=notes)
    assert str(notes) in str(info.value) and info.value.path == str(notes)
    assert notes.read_text() == "my notes\n"


def test_index_path_naming_a_file_too_short_to_be_an_index_is_not_overwritten(
    tmp_path: Path,
) -> None:
    p = pcap(tmp_path / "a.pcap", 10)
    short = tmp_path / "short"
    short.write_bytes(b"RVF")
    with pytest.raises(rv.RecviewError, match="not a recview frame index"):
        rv.open_frames(p, **rv.formats.pcap(p), index=short)
    assert short.read_bytes() == b"RVF"


def test_a_new_path_an_empty_file_and_a_damaged_index_are_written(tmp_path: Path) -> None:
    p = pcap(tmp_path / "a.pcap", 10)
    new, empty = tmp_path / "new.idx", tmp_path / "empty.idx"
    empty.touch()
    for ix in (new, empty):
        rv.open_frames(p, **rv.formats.pcap(p), index=ix).close()
        assert ix.read_bytes().startswith(rv.frames.INDEX_MAGIC)
    new.write_bytes(rv.frames.INDEX_MAGIC + b"\x01")  # an index cut short: rebuilt
    with pytest.warns(rv.LayoutWarning, match="rebuilding it"):
        rv.open_frames(p, **rv.formats.pcap(p), index=new).close()
    assert len(new.read_bytes()) > 16


def test_an_index_path_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    p = pcap(tmp_path / "a.pcap", 10)
    with pytest.raises(rv.RecviewError, match="not a regular file"):
        rv.open_frames(p, **rv.formats.pcap(p), index=tmp_path)


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod of a character device needs root")
def test_an_index_path_that_is_a_device_is_refused_not_replaced(tmp_path: Path) -> None:
    p = pcap(tmp_path / "a.pcap", 10)
    null = tmp_path / "null"  # a private node of /dev/null's device: safe to lose
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    with pytest.raises(rv.RecviewError):
        rv.open_frames(p, **rv.formats.pcap(p), index=null)
    assert stat.S_ISCHR(os.stat(null).st_mode)


def test_an_index_path_that_is_a_fifo_is_refused_not_waited_on(tmp_path: Path) -> None:
    p = pcap(tmp_path / "a.pcap", 10)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    code = (
        f"import recview as rv; p={str(p)!r}\n"
        f"rv.open_frames(p, **rv.formats.pcap(p), index={str(fifo)!r})"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert res.returncode != 0 and "RecviewError" in res.stderr, res.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_an_index_path_in_a_missing_folder_is_an_error_naming_it(tmp_path: Path) -> None:
    p = pcap(tmp_path / "a.pcap", 10)
    ix = tmp_path / "no" / "such" / "a.idx"
    with pytest.raises(FileNotFoundError) as info:
        rv.open_frames(p, **rv.formats.pcap(p), index=ix)
    assert info.value.filename == str(ix)
