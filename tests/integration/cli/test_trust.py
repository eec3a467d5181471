"""The command line never destroys, hides or invents data.

- ``convert`` never writes over its own input (same file, hard link or
  symlink), writes through a temporary file beside the output that is renamed
  at the end, and never removes anything it did not create (a FIFO, a device
  node, a symlink, an existing file);
- records lost to a file shrinking during ``convert``/``stats`` are an error,
  never zeros;
- FIFOs, process substitution (``<(zcat x.gz)``) and ``/dev/fd/N`` are read
  as streams, not as empty files.

Anything that could hang (a FIFO) runs under a timeout.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from recview.cli import _sources
from tests.integration.cli._run import REPO, TIMEOUT, recview
from tests.unit.cli._helpers import run


def _dump(path: Path, n: int = 100) -> np.ndarray:
    a = np.arange(1, n + 1, dtype="<u8")  # no zeros: a zero record would be a lost one
    a.tofile(path)
    return a


def _short_gz(tmp_path: Path, n: int = 10) -> Path:
    """A compressed input whose convert fails after the output is opened
    (``--count`` asks for more records than the stream holds)."""
    path = tmp_path / "short.bin.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(np.arange(1, n + 1, dtype="<u8").tobytes())
    return path


def _leftovers(folder: Path, *keep: Path) -> list[str]:
    names = {p.name for p in keep}
    return sorted(p.name for p in folder.iterdir() if p.name not in names)


# ---------------------------------------------------------------------------
# convert never writes over its input
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["same", "hardlink", "symlink", "symlink-dir"])
def test_convert_onto_its_own_input_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, how: str
) -> None:
    src = tmp_path / "in.bin"
    _dump(src)
    before = src.read_bytes()
    if how == "same":
        out = src
    elif how == "hardlink":
        out = tmp_path / "hard.csv"
        os.link(src, out)
    elif how == "symlink":
        out = tmp_path / "soft.csv"
        out.symlink_to(src)
    else:  # the same file reached through a symlinked folder
        (tmp_path / "alias").symlink_to(tmp_path)
        out = tmp_path / "alias" / "in.bin"
    code, stdout, err = run(capsys, "convert", src, "-s", "u8", "-o", out, "--to", "csv")
    assert code == 2 and stdout == ""
    assert err.count("\n") == 1 and str(out) in err and "input" in err, err
    assert src.read_bytes() == before


def test_convert_onto_its_input_given_as_stdin_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "in.bin"
    _dump(src)
    before = src.read_bytes()
    with open(src, "rb") as fh:
        res = subprocess.run(
            [
                sys.executable,
                "-m",
                "recview",
                "convert",
                "-",
                "-s",
                "u8",
                "-o",
                str(src),
                "--to",
                "csv",
            ],
            stdin=fh,
            capture_output=True,
            timeout=TIMEOUT,
            check=False,
            cwd=REPO,
        )
    assert res.returncode == 2, res.stderr
    assert src.read_bytes() == before


# ---------------------------------------------------------------------------
# convert writes atomically and removes only what it created
# ---------------------------------------------------------------------------


def test_failed_convert_leaves_an_existing_output_as_it_was(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    src = _short_gz(tmp_path)
    out = tmp_path / "out.csv"
    out.write_text("precious\n")
    code, _, err = run(capsys, "convert", src, "-s", "u8", "--count", 50, "-o", out)
    assert code == 1 and "--count asked for 50" in err
    assert out.read_text() == "precious\n"
    assert _leftovers(tmp_path, src, out) == []  # no temporary file left behind


def test_failed_convert_to_a_new_output_leaves_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    src = _short_gz(tmp_path)
    out = tmp_path / "new.npy"
    code, _, _ = run(capsys, "convert", src, "-s", "u8", "--count", 50, "-o", out)
    assert code == 1
    assert _leftovers(tmp_path, src) == []


def test_failed_convert_keeps_a_symlink_and_its_target(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    src = _short_gz(tmp_path)
    target = tmp_path / "target.csv"
    target.write_text("precious\n")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    code, _, _ = run(capsys, "convert", src, "-s", "u8", "--count", 50, "-o", link)
    assert code == 1
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == "precious\n"
    assert _leftovers(tmp_path, src, target, link) == []


def test_convert_through_a_symlink_writes_its_target(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    src = tmp_path / "in.bin"
    a = _dump(src, 5)
    target = tmp_path / "target.csv"
    target.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    code, _, err = run(capsys, "convert", src, "-s", "u8", "-o", link)
    assert code == 0, err
    assert link.is_symlink()
    assert target.read_text().split() == ["f0", *map(str, a.tolist())]


def test_convert_overwrites_an_existing_output_keeping_its_mode(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    src = tmp_path / "in.bin"
    a = _dump(src, 5)
    out = tmp_path / "out.csv"
    out.write_text("old\n")
    out.chmod(0o640)
    code, _, err = run(capsys, "convert", src, "-s", "u8", "-o", out)
    assert code == 0, err
    assert out.read_text().split() == ["f0", *map(str, a.tolist())]
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    assert _leftovers(tmp_path, src, out) == []


def test_a_new_output_gets_the_usual_mode_bits(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    src = tmp_path / "in.bin"
    _dump(src, 5)
    old = os.umask(0o027)
    try:
        code, _, err = run(capsys, "convert", src, "-s", "u8", "-o", tmp_path / "new.jsonl")
    finally:
        os.umask(old)
    assert code == 0, err
    assert stat.S_IMODE((tmp_path / "new.jsonl").stat().st_mode) == 0o640  # 0o666 & ~0o027


def _drain_fifo(path: Path, sink: list[bytes]) -> threading.Thread:
    def read() -> None:
        with open(path, "rb") as fh:
            sink.append(fh.read())

    t = threading.Thread(target=read, daemon=True)
    t.start()
    return t


def test_convert_writes_into_a_fifo_and_never_removes_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    src = tmp_path / "in.bin"
    a = _dump(src, 5)
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = _drain_fifo(fifo, got)
    code, _, err = run(capsys, "convert", src, "-s", "u8", "-o", fifo, "--to", "csv")
    reader.join(TIMEOUT)
    assert code == 0, err
    assert got[0].decode().split() == ["f0", *map(str, a.tolist())]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)

    got.clear()
    reader = _drain_fifo(fifo, got)
    src_gz = _short_gz(tmp_path)
    code, _, err = run(
        capsys, "convert", src_gz, "-s", "u8", "--count", 50, "-o", fifo, "--to", "csv"
    )
    reader.join(TIMEOUT)
    assert code == 1, err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # still there: recview did not create it


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod of a device needs root")
def test_failed_convert_never_removes_a_device_node(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    null = tmp_path / "null"
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # a private /dev/null
    src = _short_gz(tmp_path)
    code, _, _ = run(capsys, "convert", src, "-s", "u8", "--count", 50, "-o", null, "--to", "csv")
    assert code == 1
    assert stat.S_ISCHR(os.lstat(null).st_mode)


def test_convert_to_dev_null_and_dev_stdout(tmp_path: Path) -> None:
    src = tmp_path / "in.bin"
    a = _dump(src, 5)
    res = recview("convert", src, "-s", "u8", "-o", "/dev/null", "--to", "csv")
    assert res.returncode == 0, res.stderr
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    res = recview("convert", src, "-s", "u8", "-o", "/dev/stdout", "--to", "csv", "-q")
    assert res.returncode == 0, res.stderr
    assert res.stdout.decode().split() == ["f0", *map(str, a.tolist())]


# ---------------------------------------------------------------------------
# a file that shrinks during the scan: an error, never zeros
# ---------------------------------------------------------------------------


@pytest.fixture
def shrinking(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[Path, int]:
    """A file of 10,000 records that loses its last 5 records (inside its last
    page, so no fault: the lost bytes read as zeros) once the first batch has
    been read."""
    path = tmp_path / "shrink.bin"
    _dump(path, 10_000)
    size = path.stat().st_size
    assert size % 4096 > 5 * 8  # the cut stays inside the last page
    original = _sources.Source.batches

    def batches(self: Any, **kwargs: Any) -> Iterator[np.ndarray]:
        for i, batch in enumerate(original(self, **kwargs)):
            yield batch
            if i == 0:
                os.truncate(path, size - 5 * 8)

    monkeypatch.setattr(_sources.Source, "batches", batches)
    return path, 5


@pytest.mark.parametrize("fmt", ["csv", "npy", "parquet", "jsonl"])
def test_convert_of_a_file_that_shrank_fails_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, shrinking: tuple[Path, int], fmt: str
) -> None:
    path, lost = shrinking
    out = tmp_path / f"out.{fmt}"
    code, _, err = run(capsys, "convert", path, "-s", "u8", "-o", out, "--batch-nbytes", 8192)
    assert code == 1, err
    assert err.count("\n") == 1 and str(path) in err and f"{lost} records" in err, err
    assert not out.exists()
    assert _leftovers(tmp_path, path) == []


def test_stats_of_a_file_that_shrank_fails(
    capsys: pytest.CaptureFixture[str], shrinking: tuple[Path, int]
) -> None:
    path, lost = shrinking
    code, out, err = run(capsys, "stats", path, "-s", "u8", "--batch-nbytes", 8192)
    assert code == 1, err
    assert out == ""  # no table with a min of 0
    assert err.count("\n") == 1 and str(path) in err and f"{lost} records" in err, err


# ---------------------------------------------------------------------------
# FIFOs, process substitution, /dev/fd/N: streams
# ---------------------------------------------------------------------------


def test_stats_of_a_process_substitution_reads_the_records(tmp_path: Path) -> None:
    src = tmp_path / "in.bin.gz"
    a = np.arange(1, 1001, dtype="<u8")
    with gzip.open(src, "wb") as fh:
        fh.write(a.tobytes())
    cmd = (
        f'"{sys.executable}" -m recview stats <(zcat "{src}") -s "[(\'n\', \'<u8\')]" --format json'
    )
    res = subprocess.run(
        ["bash", "-c", cmd], capture_output=True, timeout=TIMEOUT, check=False, cwd=REPO
    )
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["records"] == 1000
    assert doc["fields"]["n"]["min"] == 1 and doc["fields"]["n"]["max"] == 1000


def test_a_fifo_is_read_as_a_stream(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    a = np.arange(1, 201, dtype="<u8")
    fifo = tmp_path / "in.fifo"
    for argv in (
        ["head", fifo, "-s", "u8", "-n", 3, "--format", "csv"],
        ["convert", fifo, "-s", "u8", "-o", "-", "--to", "csv"],
        ["info", fifo, "-s", "u8", "--format", "json"],
    ):
        os.mkfifo(fifo)

        def write() -> None:
            with contextlib.suppress(BrokenPipeError), open(fifo, "wb") as fh:
                fh.write(a.tobytes())

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        code, out, err = run(capsys, *argv)
        if writer.is_alive():  # the reader gave up early: let the writer finish
            os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
        writer.join(TIMEOUT)
        assert code == 0, err
        if argv[0] == "head":
            assert out.split() == ["f0", "1", "2", "3"]
        elif argv[0] == "convert":
            assert out.split() == ["f0", *map(str, a.tolist())]
        else:
            assert json.loads(out)["records"] == 200
        fifo.unlink()


def test_dev_fd_is_read_as_a_stream(tmp_path: Path) -> None:
    a = np.arange(1, 101, dtype="<u8")
    r, w = os.pipe()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "recview", "tail", f"/dev/fd/{r}", "-s", "u8", "-n", "2",
             "--format", "csv"],
            pass_fds=(r,), stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
        )  # fmt: skip
        os.close(r)
        with os.fdopen(w, "wb") as fh:
            w = -1
            fh.write(a.tobytes())
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if w >= 0:
            os.close(w)
    assert proc.returncode == 0, err
    assert out.decode().split() == ["f0", "99", "100"]


def test_guess_reads_a_fifo(tmp_path: Path) -> None:
    rec = np.zeros(500, dtype=[("n", "<u8"), ("x", "<f8")])
    rec["n"] = np.arange(500)
    rec["x"] = np.linspace(1.0, 2.0, 500)
    src = tmp_path / "d.bin"
    rec.tofile(src)
    res = subprocess.run(
        ["bash", "-c", f'"{sys.executable}" -m recview guess <(cat "{src}") --format json'],
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
        cwd=REPO,
    )
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["itemsize"] == 16 and doc["records"] == 500


# ---------------------------------------------------------------------------
# Parquet keeps every byte of char[N] fields
# ---------------------------------------------------------------------------


def _every_byte(path: Path) -> list[bytes]:
    values = [bytes([i, (i + 7) % 256, 0, i]) + b"\x00" * (i % 3) for i in range(256)]
    values += [b"\xff\xfe\x00\x01abc", b"ab", b"", b"\x00" * 7 + b"x"]
    a = np.zeros(len(values), dtype=[("n", "<u4"), ("s", "S8")])
    a["n"] = np.arange(len(values))
    a["s"] = values
    a.tofile(path)
    return [bytes(v) for v in a["s"].view("V8").tolist()]  # with their trailing NULs


def test_parquet_keeps_every_byte_of_char_fields(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import pyarrow.parquet as pq

    src = tmp_path / "b.bin"
    want = _every_byte(src)
    out = tmp_path / "b.parquet"
    code, _, err = run(capsys, "convert", src, "-s", "u4,S8", "-o", out, "--batch-nbytes", 512)
    assert code == 0, err
    assert pq.read_table(out).column("f1").to_pylist() == want


def test_parquet_strings_text_decodes_or_fails_naming_the_record(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import pyarrow.parquet as pq

    src = tmp_path / "t.bin"
    a = np.zeros(300, dtype=[("n", "<u4"), ("s", "S8")])
    a["s"] = b"caf\xc3\xa9"
    a.tofile(src)
    out = tmp_path / "t.parquet"
    argv = ("convert", src, "-s", "u4,S8", "-o", out, "--strings", "text", "--batch-nbytes", 480)
    code, _, err = run(capsys, *argv)
    assert code == 0, err
    assert set(pq.read_table(out).column("f1").to_pylist()) == {"café"}
    out.unlink()
    a["s"][250] = b"\xff\xfeab"
    a.tofile(src)
    code, _, err = run(capsys, *argv)
    assert code == 1
    assert err.count("\n") == 1 and "Traceback" not in err
    assert str(src) in err and "record 250" in err and "'f1'" in err
    assert f"byte offset {250 * 12 + 4:,}" in err
    assert not out.exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["tail", "-n", 3],
        ["slice", "--rows=-3:"],
        ["head", "-n", 10_000],
        ["inspect", "--record=-1"],
    ],
)
def test_printing_records_of_a_file_that_shrank_fails(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    argv: list[Any],
) -> None:
    path = tmp_path / "shrink.bin"
    _dump(path, 10_000)
    size = path.stat().st_size
    original = _sources.Source.__init__

    def opened(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        os.truncate(path, size - 5 * 8)  # inside the last page: reads as zeros

    monkeypatch.setattr(_sources.Source, "__init__", opened)
    code, _, err = run(capsys, argv[0], path, "-s", "u8", *argv[1:])
    assert code == 1, err
    assert err.count("\n") == 1 and str(path) in err and "5 records" in err, err
