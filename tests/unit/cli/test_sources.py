"""Sources of the command line: what a stream's reads are trusted with, and one suffix list."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest

import recview.compressed
from recview.cli import _sources
from tests.unit.cli._helpers import run


class _Reads:
    """A binary stdin whose ``readinto1`` returns the given counts, one per call,
    after filling the buffer with as many bytes of ``data`` (never more than asked)."""

    def __init__(self, data: bytes, counts: list[Any]) -> None:
        self.data = memoryview(data)
        self.counts = counts
        self.at = 0

    def readinto1(self, buffer: Any) -> Any:
        count = self.counts.pop(0) if self.counts else 0
        if type(count) is int or isinstance(count, float):
            k = min(int(count), len(buffer), len(self.data) - self.at)
            memoryview(buffer)[:k] = self.data[self.at : self.at + k]
            self.at += k
        return count

    readinto = readinto1


class _Stdin(io.TextIOBase):
    def __init__(self, buffer: _Reads) -> None:
        self.buffer = buffer


def _head_of(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], counts: list[Any]
) -> tuple[int, str, str]:
    data = np.arange(4, dtype="<u8").tobytes()
    monkeypatch.setattr("sys.stdin", _Stdin(_Reads(data, counts)))
    return run(capsys, "head", "-", "-s", "u8", "--format", "csv")


def test_stdin_counts_are_passed_on_whole(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _head_of(monkeypatch, capsys, [16, 16, 0]) == (0, "f0\n0\n1\n2\n3\n", "")


def test_stdin_with_no_data_ready_is_an_error_not_the_end(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # None is a non-blocking source with nothing yet: taking it for the end
    # would print the first two records as if they were all.
    code, out, err = _head_of(monkeypatch, capsys, [16, None])
    assert code == 1, (out, err)
    assert err.startswith("recview head: error: <stdin>: ") and "non-blocking" in err
    assert err.count("\n") == 1


def test_stdin_float_count_is_an_error_not_truncated(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _head_of(monkeypatch, capsys, [16, 8.5, 0])
    assert code == 1, (out, err)
    assert err.startswith("recview head: error: <stdin>: ") and "returned 8.5" in err


def test_counting_reader_counts_only_the_bytes_handed_out() -> None:
    reader = _sources.CountingReader(_Reads(bytes(10), [4, None, 6]), name="<stdin>")  # type: ignore[arg-type]
    buf = bytearray(8)
    assert [reader.readinto(buf), reader.readinto1(buf), reader.readinto(buf)] == [4, None, 6]
    assert (reader.nbytes, reader.name) == (10, "<stdin>")


def test_compressed_suffixes_are_the_pools_one_list() -> None:
    assert _sources.COMPRESSED_SUFFIXES is recview.compressed.COMPRESSED_SUFFIXES
