"""Corrupt or truncated compressed input is an error, never a shorter result.

For each of gzip, bzip2, xz and zstd: a file cut short, a file with flipped
bytes, and a file that is not in the format at all, read through
``open_compressed`` (and the CLI) and through the standard library's own file
objects passed to ``rv.stream``. Each error is a ``LayoutError`` naming the
file, the format and how many decompressed bytes were read before it.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np
import pytest
import zstandard

import recview as rv
from recview.compressed import COMPRESSED_SUFFIXES, open_compressed
from recview.streams import stream

REC = np.dtype([("n", "<u8"), ("x", "<f8"), ("k", "<u4"), ("tag", "S4")])  # 24 bytes
COUNT = 31_250  # 750,000 bytes: several buffers, several zstd/bz2 blocks
REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 120


def payload(count: int = COUNT) -> bytes:
    rng = np.random.default_rng(7)
    out = np.zeros(count, dtype=REC)
    out["n"] = np.arange(count)
    out["x"] = rng.normal(size=count)  # not too compressible: several blocks
    out["k"] = rng.integers(0, 1000, size=count)
    out["tag"] = b"ABCD"
    return out.tobytes()


def zstd_frames(data: bytes, frames: int = 1) -> bytes:
    # write_checksum: as the zstd command line writes files (flipped bytes
    # are then always caught, as with gzip/bz2/xz's CRCs).
    compressor = zstandard.ZstdCompressor(write_checksum=True)
    step = max(1, -(-len(data) // frames))
    pieces = [data[i : i + step] for i in range(0, len(data), step)] or [b""]
    return b"".join(compressor.compress(piece) for piece in pieces)


COMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "gz": gzip.compress,
    "bz2": bz2.compress,
    "xz": lzma.compress,
    "zst": zstd_frames,
}
FORMAT = {"gz": "gzip", "bz2": "bzip2", "xz": "xz", "zst": "zstd"}
SUFFIXES = list(COMPRESS)


def write(tmp_path: Path, suffix: str, blob: bytes) -> Path:
    path = tmp_path / f"data.bin.{suffix}"
    path.write_bytes(blob)
    return path


def read_all(fileobj: IO[bytes] | Any) -> int:
    return sum(len(batch) for batch in stream(fileobj, REC))


def flipped(blob: bytes, at: int) -> bytes:
    return blob[:at] + bytes([blob[at] ^ 0xFF]) + blob[at + 1 :]


# ---------------------------------------------------------------------------
# through open_compressed
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("keep", [0.5, 0.999])
def test_a_truncated_file_is_an_error_naming_file_format_and_progress(
    tmp_path: Path, suffix: str, keep: float
) -> None:
    blob = COMPRESS[suffix](payload())
    path = write(tmp_path, suffix, blob[: int(len(blob) * keep)])
    with open_compressed(path) as f, pytest.raises(rv.LayoutError) as info:
        read_all(f)
    message = str(info.value)
    assert message.startswith(f"{path}: truncated {FORMAT[suffix]} data: "), message
    assert "decompressed bytes" in message
    assert info.value.path == str(path)
    assert info.value.offset is not None
    assert 0 <= info.value.offset < COUNT * REC.itemsize


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("cut", [1, 2, 5, 11])
def test_a_file_cut_inside_its_first_header_is_an_error(
    tmp_path: Path, suffix: str, cut: int
) -> None:
    path = write(tmp_path, suffix, COMPRESS[suffix](payload(10))[:cut])
    with open_compressed(path) as f, pytest.raises(rv.LayoutError, match=rf"^{path}: "):
        read_all(f)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_flipped_bytes_are_an_error_naming_file_and_format(tmp_path: Path, suffix: str) -> None:
    blob = COMPRESS[suffix](payload())
    for at in (len(blob) // 3, len(blob) // 2, len(blob) - 5):
        path = write(tmp_path, suffix, flipped(blob, at))
        with open_compressed(path) as f, pytest.raises(rv.LayoutError) as info:
            read_all(f)
        message = str(info.value)
        assert message.startswith(f"{path}: "), message
        assert f" {FORMAT[suffix]} data: " in message
        assert "decompressed bytes" in message
        assert info.value.__cause__ is not None  # the decompressor's own error, chained


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_a_file_not_in_the_format_is_an_error_naming_it(tmp_path: Path, suffix: str) -> None:
    path = write(tmp_path, suffix, b"garbage, not compressed at all\n" * 10)
    with open_compressed(path) as f, pytest.raises(rv.LayoutError) as info:
        read_all(f)
    assert str(info.value).startswith(f"{path}: corrupt {FORMAT[suffix]} data: ")
    assert "(after 0 decompressed bytes)" in str(info.value)


def test_a_non_gzip_gz_file_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "gz", b"garbage")
    with open_compressed(path) as f, pytest.raises(rv.LayoutError) as info:
        read_all(f)
    assert str(info.value) == (
        f"{path}: corrupt gzip data: Not a gzipped file (b'ga') (after 0 decompressed bytes)"
    )


def test_a_truncated_zstd_file_is_an_error_not_16384_records(tmp_path: Path) -> None:
    blob = zstd_frames(payload())
    path = write(tmp_path, "zst", blob[: len(blob) // 2])
    with open_compressed(path) as f, pytest.raises(rv.LayoutError) as info:
        read_all(f)
    assert "truncated zstd data: the file ends inside a frame (after " in str(info.value)


def test_a_zstd_file_cut_inside_a_later_frame_is_an_error(tmp_path: Path) -> None:
    frames = [zstd_frames(payload()[i : i + 240_000]) for i in range(0, COUNT * 24, 240_000)]
    path = write(tmp_path, "zst", b"".join(frames[:2]) + frames[2][:-3])  # checksum cut
    with open_compressed(path) as f, pytest.raises(rv.LayoutError, match="ends inside a frame"):
        read_all(f)


def test_zstd_frames_of_every_kind_still_read_whole(tmp_path: Path) -> None:
    # Several frames, with and without checksums and content sizes, raw and
    # RLE blocks, an empty frame and skippable frames between them.
    data = payload()
    parts = [
        zstandard.ZstdCompressor(write_checksum=True).compress(data[:100_000]),
        b"\x50\x2a\x4d\x18" + (7).to_bytes(4, "little") + b"skipped",
        zstandard.ZstdCompressor(write_content_size=False).compress(data[100_000:300_000]),
        zstandard.ZstdCompressor(level=-5).compress(b"\0" * 240_000),  # RLE blocks
        zstandard.ZstdCompressor().compress(b""),
        b"\x5f\x2a\x4d\x18" + (0).to_bytes(4, "little"),
        zstandard.ZstdCompressor(level=1).compress(data[300_000:]),
    ]
    chunks = io.BytesIO()
    with zstandard.ZstdCompressor().stream_writer(chunks, closefd=False) as writer:
        writer.write(data[:50_000])  # a frame without a content size, several flushes
        writer.flush()
        writer.write(data[50_000:72_000])
    path = write(tmp_path, "zst", b"".join(parts) + chunks.getvalue())
    expected = data[:300_000] + b"\0" * 240_000 + data[300_000:] + data[:72_000]
    with open_compressed(path) as f:
        got = b"".join(batch.tobytes() for batch in stream(f, REC))
    assert got == expected


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_whole_and_empty_files_still_read(tmp_path: Path, suffix: str) -> None:
    path = write(tmp_path, suffix, COMPRESS[suffix](payload()))
    with open_compressed(path) as f:
        assert read_all(f) == COUNT
    path = write(tmp_path, suffix, COMPRESS[suffix](b""))
    with open_compressed(path) as f:
        assert read_all(f) == 0


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_open_compressed_reader_is_named_and_raises_for_any_reader(
    tmp_path: Path, suffix: str
) -> None:
    blob = COMPRESS[suffix](payload())
    path = write(tmp_path, suffix, blob[: len(blob) // 2])
    with open_compressed(path) as f:
        assert f.name == str(path)
        with pytest.raises(rv.LayoutError, match=rf"^{path}: truncated "):
            f.read()
    assert f.closed


def test_compressed_suffixes_are_the_ones_open_compressed_decompresses(tmp_path: Path) -> None:
    assert COMPRESSED_SUFFIXES == (".gz", ".bz2", ".xz", ".lzma", ".zst", ".zstd")
    for suffix in COMPRESSED_SUFFIXES:
        path = tmp_path / f"x.bin{suffix.upper()}"
        path.write_bytes(b"not compressed")
        with open_compressed(path) as f, pytest.raises(rv.LayoutError):
            f.read()


# ---------------------------------------------------------------------------
# through the standard library's (and zstandard's) own file objects
# ---------------------------------------------------------------------------

# (Each is used as a context manager by the tests.)
OPENERS: dict[str, Callable[[Path], Any]] = {
    "gz": lambda p: gzip.open(p, "rb"),  # noqa: SIM115
    "bz2": lambda p: bz2.open(p, "rb"),  # noqa: SIM115
    "xz": lambda p: lzma.open(p, "rb"),  # noqa: SIM115
    "zst": lambda p: zstandard.ZstdDecompressor().stream_reader(open(p, "rb"), closefd=True),  # noqa: SIM115
}
PLAIN_FORMAT = {"gz": "gzip", "bz2": "bzip2", "xz": "lzma", "zst": "zstd"}


@pytest.mark.parametrize("suffix", ["gz", "bz2", "xz"])
def test_truncated_input_from_a_plain_file_object_is_a_layout_error(
    tmp_path: Path, suffix: str
) -> None:
    # (zstandard's own reader ends a truncated frame quietly, with no error
    # to translate: use open_compressed for .zst files.)
    blob = COMPRESS[suffix](payload())
    path = write(tmp_path, suffix, blob[: len(blob) // 2])
    with OPENERS[suffix](path) as f, pytest.raises(rv.LayoutError) as info:
        read_all(f)
    message = str(info.value)
    assert f": truncated {PLAIN_FORMAT[suffix]} data: " in message
    assert "whole records of 24 bytes)" in message
    assert isinstance(info.value.__cause__, EOFError)
    if suffix == "gz":
        assert message.startswith(f"{path}: ")  # GzipFile has a name
    else:
        assert message.startswith(("<BZ2File>: ", "<LZMAFile>: ", f"{path}: "))


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_corrupt_input_from_a_plain_file_object_is_a_layout_error(
    tmp_path: Path, suffix: str
) -> None:
    blob = COMPRESS[suffix](payload())
    path = write(tmp_path, suffix, flipped(blob, len(blob) // 2))
    with OPENERS[suffix](path) as f, pytest.raises(rv.LayoutError) as info:
        read_all(f)
    message = str(info.value)
    assert f": corrupt {PLAIN_FORMAT[suffix]} data: " in message
    assert "decompressed bytes, " in message
    assert info.value.__cause__ is not None


def test_a_plain_gzip_file_object_of_non_gzip_data_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "gz", b"garbage")
    with gzip.open(path, "rb") as f, pytest.raises(rv.LayoutError) as info:
        read_all(f)
    assert str(info.value) == (
        f"{path}: corrupt gzip data: Not a gzipped file (b'ga') "
        "(after 0 decompressed bytes, 0 whole records of 24 bytes)"
    )


def test_corrupt_input_while_skipping_a_header_is_a_layout_error(tmp_path: Path) -> None:
    path = write(tmp_path, "gz", gzip.compress(payload())[:1000])
    with gzip.open(path, "rb") as f, pytest.raises(rv.LayoutError, match="inside the 10,000-byte"):
        list(stream(f, REC, offset=10_000))


# ---------------------------------------------------------------------------
# the command line
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_cli_stats_on_a_truncated_file_exits_1_with_one_line_naming_it(
    tmp_path: Path, suffix: str
) -> None:
    blob = COMPRESS[suffix](payload())
    path = write(tmp_path, suffix, blob[: len(blob) // 2])
    done = subprocess.run(
        [sys.executable, "-m", "recview", "stats", str(path), "-s", "u8,f8,u4,S4"],
        cwd=REPO,
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    lines = done.stderr.decode().splitlines()
    assert done.returncode == 1, done.stderr.decode()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"recview stats: error: {path}: truncated {FORMAT[suffix]} data")


def test_an_empty_read_inside_a_zstd_frame_is_not_a_truncation(tmp_path: Path) -> None:
    path = write(tmp_path, "zst", zstd_frames(payload()))
    with open_compressed(path) as f:
        head = f.read(1000)
        assert f.read(0) == b""
        assert head + f.read() == payload()
