"""rv.stream through real pipes, socket pairs, standard input and compressed files.

Writers run in child processes, so reads really are short and arrive as the
kernel delivers them, and every batch is kept until the end to prove that no
buffer was reused while a batch still viewed it.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import zstandard

import recview as rv
from recview.compressed import open_compressed
from recview.pool import BufferPool
from recview.streams import stream

TICK = np.dtype([("ts", "<u8"), ("bid", "<f4"), ("ask", "<f4"), ("venue", "S3")])  # 19 bytes


def ticks(count: int) -> np.ndarray:
    out = np.zeros(count, dtype=TICK)
    out["ts"] = np.arange(count, dtype=np.uint64) * 1_000_003
    out["bid"] = np.arange(count) * 0.5
    out["ask"] = out["bid"] + 0.25
    out["venue"] = [b"XNY", b"XLN", b"XTK"] * (count // 3) + [b"XNY", b"XLN"][: count % 3]
    return out


# A child that copies a file to the fd it is given, in uneven chunks (1 byte to
# 64 KiB, some with a pause), then closes it: the reader sees every kind of
# short read a pipe or socket can produce.
WRITER = textwrap.dedent(
    """
    import os, random, socket, sys, time
    path, fd, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    data = open(path, "rb").read()
    out = socket.socket(fileno=fd) if kind == "socket" else None
    rng = random.Random(1234)
    pos = 0
    while pos < len(data):
        size = rng.choice([1, 2, 7, 19, 20, 100, 4096, 65536])
        chunk = data[pos:pos + size]
        if out is not None:
            out.sendall(chunk)
        else:
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view):]
        pos += size
        if rng.random() < 0.02:
            time.sleep(0.001)
    if out is not None:
        out.close()
    else:
        os.close(fd)
    """
)


def spawn_writer(path: Path, fd: int, kind: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(fd), kind], pass_fds=[fd])


def check_kept(batches: Iterator[np.ndarray], expected: np.ndarray) -> list[np.ndarray]:
    kept = list(batches)
    assert b"".join(batch.tobytes() for batch in kept) == expected.tobytes()
    assert all(batch.dtype == TICK and not batch.flags.writeable for batch in kept)
    return kept


@pytest.fixture
def source(tmp_path: Path) -> tuple[Path, np.ndarray]:
    expected = ticks(60_000)  # about 1.1 MB
    path = tmp_path / "ticks.bin"
    path.write_bytes(b"HEADER" + expected.tobytes())
    return path, expected


@pytest.mark.parametrize("buffering", [0, -1], ids=["raw-fileio", "buffered"])
def test_stream_through_a_real_pipe_from_a_child_process(
    source: tuple[Path, np.ndarray], buffering: int
) -> None:
    path, expected = source
    read_fd, write_fd = os.pipe()
    child = spawn_writer(path, write_fd, "pipe")
    os.close(write_fd)
    pool = BufferPool(buffer_size=19 * 1000, max_buffers=3)
    with open(read_fd, "rb", buffering=buffering) as pipe:
        kept = check_kept(stream(pipe, TICK, pool=pool, offset=6), expected)
    assert child.wait(timeout=60) == 0
    assert len(kept) > 10
    assert pool.stats().overflow > 0  # every batch was kept: the pool ran dry


@pytest.mark.skipif(sys.platform != "linux", reason="F_SETPIPE_SZ is Linux-only")
@pytest.mark.parametrize(("before", "after"), [(64 << 10, 256 << 10), (1 << 20, 1 << 20)])
def test_stream_widens_a_pipe_to_its_buffer_but_never_shrinks_it(before: int, after: int) -> None:
    import fcntl

    read_fd, write_fd = os.pipe()
    fcntl.fcntl(write_fd, fcntl.F_SETPIPE_SZ, before)
    os.write(write_fd, ticks(10).tobytes())
    os.close(write_fd)
    with open(read_fd, "rb", buffering=0) as pipe:
        batches = stream(pipe, TICK)  # default pool: 256 KiB buffers
        assert len(next(batches)) == 10
        assert fcntl.fcntl(read_fd, fcntl.F_GETPIPE_SZ) == after
        assert list(batches) == []


def test_stream_through_a_real_socket_pair(source: tuple[Path, np.ndarray]) -> None:
    path, expected = source
    ours, theirs = socket.socketpair()
    child = spawn_writer(path, theirs.fileno(), "socket")
    theirs.close()
    ours.settimeout(60)  # a bug that waits forever fails instead of hanging
    with ours, ours.makefile("rb") as sockfile:
        check_kept(stream(sockfile, TICK, offset=6), expected)
    assert child.wait(timeout=60) == 0


def test_batches_arrive_before_the_writer_sends_more(tmp_path: Path) -> None:
    # The child sends 10 records, then waits for our acknowledgement before it
    # sends the rest: a stream that waited for a full buffer would deadlock.
    code = textwrap.dedent(
        """
        import socket, sys
        sock = socket.socket(fileno=int(sys.argv[1]))
        data = open(sys.argv[2], "rb").read()
        sock.sendall(data[:190])
        assert sock.recv(1) == b"!"
        sock.sendall(data[190:])
        sock.close()
        """
    )
    expected = ticks(500)
    path = tmp_path / "ticks.bin"
    path.write_bytes(expected.tobytes())
    ours, theirs = socket.socketpair()
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(theirs.fileno()), str(path)], pass_fds=[theirs.fileno()]
    )
    theirs.close()
    ours.settimeout(60)
    with ours, ours.makefile("rb") as sockfile:
        batches = stream(sockfile, TICK)
        first = next(batches)
        ours.sendall(b"!")
        rest = list(batches)
    assert len(first) <= 10
    assert b"".join(b.tobytes() for b in [first, *rest]) == expected.tobytes()
    assert child.wait(timeout=60) == 0


STDIN_READER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from recview.streams import stream
    dtype = np.dtype([("ts", "<u8"), ("bid", "<f4"), ("ask", "<f4"), ("venue", "S3")])
    count, total = 0, 0
    for batch in stream(sys.stdin.buffer, dtype, offset=int(sys.argv[1])):
        count += len(batch)
        total += int(batch["ts"].sum())
    print(count, total)
    """
)


def test_stream_from_standard_input_of_a_child(source: tuple[Path, np.ndarray]) -> None:
    path, expected = source
    done = subprocess.run(
        [sys.executable, "-c", STDIN_READER, "6"],
        input=path.read_bytes(),
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.split() == [b"60000", str(int(expected["ts"].sum())).encode()]


def test_stray_bytes_on_standard_input_are_reported_with_the_stdin_name() -> None:
    done = subprocess.run(
        [sys.executable, "-c", STDIN_READER, "0"],
        input=ticks(3).tobytes() + b"\x00" * 4,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert (
        b"recview.errors.LayoutError: <stdin>: stream ended with 4 stray bytes at offset 57, "
        b'after 3 records of 19 bytes (pass trailing="ignore" or "warn")'
    ) in done.stderr


# ---------------------------------------------------------------------------
# compressed files
# ---------------------------------------------------------------------------


def write_zstd_frames(path: Path, data: bytes, frames: int) -> None:
    compressor = zstandard.ZstdCompressor()
    step = -(-len(data) // frames)
    path.write_bytes(
        b"".join(compressor.compress(data[i : i + step]) for i in range(0, len(data), step))
    )


@pytest.mark.parametrize(
    ("suffix", "write"),
    [
        (".gz", lambda p, d: p.write_bytes(gzip.compress(d))),
        (".bz2", lambda p, d: p.write_bytes(bz2.compress(d))),
        (".xz", lambda p, d: p.write_bytes(lzma.compress(d))),
        (".lzma", lambda p, d: p.write_bytes(lzma.compress(d, format=lzma.FORMAT_ALONE))),
        (".zst", lambda p, d: write_zstd_frames(p, d, 1)),
        (".zstd", lambda p, d: write_zstd_frames(p, d, 3)),  # several frames
        (".bin", lambda p, d: p.write_bytes(d)),
    ],
)
def test_open_compressed_by_suffix_streams_the_records(
    tmp_path: Path, suffix: str, write: object
) -> None:
    expected = ticks(20_000)
    path = tmp_path / f"ticks{suffix}"
    write(path, b"HDR" + expected.tobytes())  # type: ignore[operator]
    pool = BufferPool(buffer_size=19 * 700, max_buffers=4)
    with open_compressed(path) as f:
        check_kept(stream(f, TICK, pool=pool, offset=3), expected)


def test_zstandard_stream_reader_directly(tmp_path: Path) -> None:
    expected = ticks(5000)
    compressed = zstandard.ZstdCompressor().compress(expected.tobytes())
    reader = zstandard.ZstdDecompressor().stream_reader(compressed)
    check_kept(stream(reader, TICK), expected)


def test_gzip_file_trailing_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "ticks.bin.gz"
    path.write_bytes(gzip.compress(ticks(2).tobytes() + b"xy"))
    with open_compressed(path) as f, pytest.raises(rv.LayoutError) as info:
        list(stream(f, TICK))
    assert str(info.value) == (
        f"{path}: stream ended with 2 stray bytes at offset 38, after 2 records of 19 bytes "
        '(pass trailing="ignore" or "warn")'
    )


def test_empty_compressed_file_yields_nothing(tmp_path: Path) -> None:
    path = tmp_path / "empty.xz"
    path.write_bytes(lzma.compress(b""))
    with open_compressed(path) as f:
        assert list(stream(f, TICK)) == []


def test_zst_without_zstandard_gives_an_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ticks.zst"
    path.write_bytes(b"")
    monkeypatch.setitem(sys.modules, "zstandard", None)  # import fails
    with pytest.raises(ImportError, match=r"pip install 'recview\[zstd\]'"):
        open_compressed(path)


def test_open_compressed_missing_file(tmp_path: Path) -> None:
    for name in ("missing.gz", "missing.zst", "missing.bin"):
        with pytest.raises(FileNotFoundError):
            open_compressed(tmp_path / name)


@pytest.mark.skipif(sys.platform != "linux", reason="F_SETPIPE_SZ is Linux-only")
def test_pipe_widening_falls_back_to_the_unprivileged_maximum(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import fcntl

    real_fcntl = fcntl.fcntl
    asked: list[int] = []

    def unprivileged(fd: int, command: int, arg: int = 0) -> int:
        if command == fcntl.F_SETPIPE_SZ:
            asked.append(arg)
            if arg > 1 << 20:
                raise PermissionError(1, "Operation not permitted")
        return real_fcntl(fd, command, arg)

    monkeypatch.setattr(fcntl, "fcntl", unprivileged)
    read_fd, write_fd = os.pipe()
    os.close(write_fd)
    with open(read_fd, "rb", buffering=0) as pipe:
        assert list(stream(pipe, TICK, pool=BufferPool(buffer_size=4 << 20))) == []
        assert real_fcntl(read_fd, fcntl.F_GETPIPE_SZ) == 1 << 20
    assert asked[0] > 1 << 20  # the buffer capacity, refused
    assert asked[1:] == [1 << 20]
