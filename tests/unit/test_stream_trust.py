"""rv.stream never believes a byte count its source returns without checking it.

``io.BufferedReader`` rejects a ``readinto`` count that is negative or larger
than the buffer it passed; ``rv.stream`` does the same (and also rejects
floats and bools), with a recview error naming the source, instead of
yielding stale buffer bytes as records or looping forever. Failures a read
raises become recview errors too, except real I/O errors (an ``OSError``
with an ``errno``), which keep their type and get the source as filename.
"""

from __future__ import annotations

import errno
import io
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import recview as rv
from recview.pool import BufferPool
from recview.streams import stream

REC = np.dtype([("n", "<u8"), ("x", "<f8"), ("k", "<u4")])  # 20 bytes
MAX_CALLS = 10_000  # a fake called more often than this is being looped on
# A pool of 4 KiB buffers: a stream of REC reads 4,080 bytes (204 records) at a time.
ROOM = 4080


def small_pool() -> BufferPool:
    return BufferPool(buffer_size=4096, max_buffers=4)


def records(count: int) -> bytes:
    out = np.zeros(count, dtype=REC)
    out["n"] = np.arange(count)
    out["x"] = out["n"] * 0.5
    out["k"] = out["n"] % 7
    return out.tobytes()


class Lying(io.RawIOBase):
    """Fills each buffer with real data, but returns ``lie(true_count)`` on read number ``at``.

    (A count that lies *within* the buffer cannot be told from the truth by
    anyone, ``io.BufferedReader`` included; one beyond it can.)

    Called more than ``MAX_CALLS`` times, it raises, so that a stream that
    would loop forever on a bad count fails the test instead of hanging it.
    """

    name = "lying-source"

    def __init__(self, data: bytes, lie: Callable[[int], Any], at: int = 0) -> None:
        self.data = data
        self.position = 0
        self.lie = lie
        self.at = at
        self.calls = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> Any:
        self.calls += 1
        if self.calls > MAX_CALLS:
            raise AssertionError("stream kept calling readinto: it would loop forever")
        view = memoryview(buffer).cast("B")
        count = min(len(view), len(self.data) - self.position)
        view[:count] = self.data[self.position : self.position + count]
        self.position += count
        return self.lie(count) if self.calls - 1 == self.at else count


class LyingReadinto1(io.BufferedIOBase):
    """A buffered reader whose own ``readinto1`` (the low-latency path) returns *count*."""

    def __init__(self, data: bytes, count: Any) -> None:
        self.source = Lying(data, lambda n: count)

    def readable(self) -> bool:
        return True

    def readinto1(self, buffer: Any) -> Any:
        return self.source.readinto(buffer)


def drain(batches: Iterator[np.ndarray]) -> int:
    return sum(len(batch) for batch in batches)


BAD_COUNTS = [
    pytest.param(lambda n: n + 8, r"returned 4,088 ", id="8-too-high"),
    pytest.param(lambda n: -1, r"returned -1 ", id="negative"),
    pytest.param(lambda n: 10**12, r"returned 1,000,000,000,000 ", id="10**12"),
    pytest.param(lambda n: float(n), r"returned 4080\.0 ", id="float"),
    pytest.param(lambda n: True, r"returned True ", id="bool"),
    pytest.param(lambda n: "4096", r"returned '4096' ", id="str"),
]


@pytest.mark.parametrize(("lie", "shown"), BAD_COUNTS)
def test_a_bad_readinto_count_is_a_layout_error_naming_the_source(
    lie: Callable[[int], Any], shown: str
) -> None:
    source = Lying(records(1000), lie)
    with pytest.raises(rv.LayoutError, match=rf"^lying-source: readinto\(\) {shown}") as info:
        drain(stream(source, REC, pool=small_pool()))
    message = str(info.value)
    assert "for a 4,080-byte buffer" in message  # what was asked
    assert "expected an int from 0 to 4,080" in message  # what was expected
    assert "stream offset 0" in message  # where
    assert info.value.path == "lying-source"
    assert info.value.offset == 0
    assert source.calls == 1


def test_a_count_too_high_never_yields_stale_bytes_as_records() -> None:
    # The bad count comes on the 3rd read, after two good ones: the records
    # already read are yielded, then the error; never stale bytes as records.
    source = Lying(records(1000), lambda n: n + 8, at=2)
    got: list[np.ndarray] = []

    def keep_all() -> None:
        for batch in stream(source, REC, pool=small_pool()):
            got.append(batch.copy())

    with pytest.raises(rv.LayoutError, match=r"returned 4,088 .* at stream offset 8,160"):
        keep_all()
    assert b"".join(b.tobytes() for b in got) == records(1000)[: 2 * ROOM]


def test_a_count_larger_than_the_whole_source_is_rejected() -> None:
    source = Lying(b"x" * 24, lambda n: 10**12)
    with pytest.raises(rv.LayoutError, match="returned 1,000,000,000,000 for a 245,760-byte"):
        drain(stream(source, REC))


def test_numpy_integer_counts_are_accepted_like_buffered_reader_does() -> None:
    source = Lying(records(1000), np.int64, at=1)
    got = np.concatenate(list(stream(source, REC)))
    assert got.tobytes() == records(1000)


def test_a_bad_count_while_skipping_the_header_is_rejected() -> None:
    for lie in (lambda n: -1, lambda n: n + 1, lambda n: 2.0):
        source = Lying(b"H" * 100 + records(10), lie)
        with pytest.raises(rv.LayoutError, match=r"^lying-source: readinto\(\) returned .* header"):
            drain(stream(source, REC, offset=100))
        assert source.calls == 1


@pytest.mark.parametrize("count", [-5, 21, 2**40, 3.5, False])
def test_a_bad_readinto1_count_is_rejected(count: Any) -> None:
    source = LyingReadinto1(records(1), count)
    with pytest.raises(rv.LayoutError, match=r"^<LyingReadinto1>: readinto1\(\) returned"):
        drain(stream(source, REC, pool=BufferPool(buffer_size=20, max_buffers=2)))


def test_read_returning_more_than_asked_is_rejected() -> None:
    class Generous:
        def read(self, size: int) -> bytes:
            return b"\0" * (size + 1)

    with pytest.raises(rv.LayoutError, match=r"^<Generous>: read\(4080\) returned 4,081 bytes"):
        drain(stream(Generous(), REC, pool=small_pool()))


def test_a_buffered_io_base_read_returning_too_much_is_a_recview_error() -> None:
    # io.BufferedIOBase's generic readinto() checks the length itself (with a
    # ValueError); the stream reports it as a recview error naming the source.
    class TooMuch(io.BufferedIOBase):
        def readable(self) -> bool:
            return True

        def read(self, size: int | None = -1) -> bytes:
            return b"\0" * ((size or 0) + 3)

    with pytest.raises(rv.LayoutError, match=r"^<TooMuch>: read failed: .*too much data"):
        drain(stream(TooMuch(), REC))


def test_no_data_from_a_non_blocking_source_is_a_layout_error() -> None:
    # None is BufferedReader's "no data right now" (non-blocking): stream()
    # has nothing to yield and cannot wait, so it is an error, not an end.
    source = Lying(records(10), lambda n: None, at=1)
    with pytest.raises(rv.LayoutError, match=r"^lying-source: .*no data ready") as info:
        drain(stream(source, REC))
    assert isinstance(info.value, ValueError)  # as documented before
    assert info.value.offset == 200


def test_a_closed_source_is_a_recview_error_naming_it() -> None:
    source = io.BytesIO(records(3))
    source.close()
    with pytest.raises(rv.LayoutError, match=r"^<BytesIO>: read failed: .*closed file"):
        drain(stream(source, REC))


def test_a_real_io_error_keeps_its_type_and_names_the_source() -> None:
    class Reset(io.RawIOBase):
        name = "peer-socket"

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            raise ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")

    with pytest.raises(ConnectionResetError) as info:
        drain(stream(Reset(), REC))
    assert info.value.filename == "peer-socket"
    assert info.value.errno == errno.ECONNRESET


def test_an_os_error_without_errno_is_a_recview_error() -> None:
    class Broken(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            raise OSError("Invalid data stream")

    with pytest.raises(rv.LayoutError, match=r"^<Broken>: read failed: .*Invalid data stream") as e:
        drain(stream(Broken(), REC))
    assert isinstance(e.value.__cause__, OSError)
