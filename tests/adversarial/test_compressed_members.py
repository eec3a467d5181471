"""Multi-member compressed files: every member is read, and damage in any of them is an error.

``cat a.gz b.gz``, ``pbzip2`` and ``xz --block-size`` style files are several
members (streams) one after another. The standard library's bz2 and lzma
readers swallow any error raised by the first read of a later member ("trailing
data isn't a valid compressed stream; ignore it"), so a corrupt second member
read as a silently shorter file, and their ``readinto`` fills a whole buffer
in one call, so an error lost the records decompressed just before it. These
pin what :func:`recview.compressed.open_compressed` gives instead: the records before
the damage, then a ``LayoutError`` naming the file, the format and the
decompressed offset; zero padding after a member (xz stream padding, tape
blocks) is no error.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import recview as rv
from recview.compressed import open_compressed

N = 1000
FIRST = np.arange(N, dtype="<u8").tobytes()
SECOND = np.arange(N, 2 * N, dtype="<u8").tobytes()
COMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "gz": gzip.compress,
    "bz2": bz2.compress,
    "xz": lzma.compress,
}
FORMAT = {"gz": "gzip", "bz2": "bzip2", "xz": "xz"}
REPO = Path(__file__).resolve().parents[2]


def read_all(path: Path) -> tuple[list[int], BaseException | None]:
    """The record values yielded before the stream ended or raised, and what it raised."""
    got: list[int] = []
    try:
        with open_compressed(path) as f:
            for batch in rv.stream(f, "<u8"):
                got.extend(batch["f0"].tolist())
    except rv.RecviewError as err:
        return got, err
    return got, None


def write(tmp_path: Path, ext: str, data: bytes) -> Path:
    path = tmp_path / f"d.bin.{ext}"
    path.write_bytes(data)
    return path


def flipped(data: bytes, at: int) -> bytes:
    out = bytearray(data)
    out[at] ^= 0xFF
    return bytes(out)


@pytest.mark.parametrize("ext", list(COMPRESS))
def test_concatenated_members_are_all_read(tmp_path: Path, ext: str) -> None:
    c = COMPRESS[ext]
    got, err = read_all(write(tmp_path, ext, c(FIRST) + c(SECOND) + c(b"")))
    assert err is None
    assert got == list(range(2 * N))


@pytest.mark.parametrize("ext", list(COMPRESS))
@pytest.mark.parametrize("where", ["header", "middle"])
def test_a_corrupt_later_member_is_an_error_after_the_good_records(
    tmp_path: Path, ext: str, where: str
) -> None:
    c = COMPRESS[ext]
    second = c(SECOND)
    at = 12 if where == "header" else len(second) // 2
    path = write(tmp_path, ext, c(FIRST) + flipped(second, at))
    got, err = read_all(path)
    assert isinstance(err, rv.LayoutError), f"{ext}: {len(got)} records and no error"
    assert str(path) in str(err) and FORMAT[ext] in str(err)
    assert got[:N] == list(range(N))  # nothing before the damage is lost
    assert got == list(range(len(got)))  # and nothing wrong is handed out in order


@pytest.mark.parametrize("ext", list(COMPRESS))
@pytest.mark.parametrize("junk", [b"garbage!", b"\x00\x00\x00\x00junk", b"\x1f"])
def test_bytes_after_the_last_member_are_an_error(tmp_path: Path, ext: str, junk: bytes) -> None:
    path = write(tmp_path, ext, COMPRESS[ext](FIRST) + junk)
    got, err = read_all(path)
    assert isinstance(err, rv.LayoutError), f"{ext}: trailing {junk!r} ignored"
    assert str(path) in str(err)
    assert got == list(range(N))


@pytest.mark.parametrize("ext", list(COMPRESS))
@pytest.mark.parametrize("pad", [4, 8, 4096])
def test_zero_padding_after_a_member_is_no_error(tmp_path: Path, ext: str, pad: int) -> None:
    c = COMPRESS[ext]
    got, err = read_all(write(tmp_path, ext, c(FIRST) + b"\0" * pad + c(SECOND) + b"\0" * pad))
    assert err is None
    assert got == list(range(2 * N))


@pytest.mark.parametrize("ext", list(COMPRESS))
@pytest.mark.parametrize("keep", [1, 5, 30])
def test_a_cut_member_yields_what_came_before_and_says_how_far(
    tmp_path: Path, ext: str, keep: int
) -> None:
    c = COMPRESS[ext]
    path = write(tmp_path, ext, c(FIRST) + c(SECOND)[:keep])
    got, err = read_all(path)
    assert isinstance(err, rv.LayoutError)
    assert f"truncated {FORMAT[ext]} data" in str(err)
    assert got == list(range(N))
    assert f"after {8 * N:,} decompressed bytes" in str(err)


@pytest.mark.parametrize("ext", list(COMPRESS))
def test_the_cli_fails_on_a_corrupt_second_member(tmp_path: Path, ext: str) -> None:
    c = COMPRESS[ext]
    second = c(SECOND)
    path = write(tmp_path, ext, c(FIRST) + flipped(second, len(second) // 2))
    proc = subprocess.run(
        [sys.executable, "-m", "recview", "stats", str(path), "-s", "<u8"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=False,
    )
    assert proc.returncode == 1, proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and FORMAT[ext] in lines[0]


@pytest.mark.parametrize("ext", list(COMPRESS))
def test_reads_of_every_size_see_the_same_bytes(tmp_path: Path, ext: str) -> None:
    c = COMPRESS[ext]
    path = write(tmp_path, ext, c(FIRST) + c(SECOND))
    for size in (1, 7, 4096, 1 << 20):
        out = bytearray()
        with open_compressed(path) as f:
            while chunk := f.read(size):
                out += chunk
        assert bytes(out) == FIRST + SECOND, size
