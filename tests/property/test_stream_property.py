"""Property tests of recview.stream: any schema, any read pattern, same records as rv.open.

A file object that returns random short reads (down to one byte, cycling through
a drawn pattern) must yield exactly the records, in order, that ``np.frombuffer``
and ``rv.open`` give for the same bytes, whatever the pool's buffer size, the
batch size and the header length. Every batch is kept until the end, so a
buffer reused too early would show up as a mismatch.
"""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import recview as rv
from recview.pool import BufferPool
from recview.streams import stream

SCALARS = ["u1", "i1", "<u2", ">i2", "<u4", ">i4", "<f4", "<u8", ">i8", "<f8", ">f8", "S3"]


@st.composite
def record_dtypes(draw: st.DrawFn) -> np.dtype:
    """Structured dtypes with 1-5 fields, optional sub-arrays, gaps and tail padding."""
    count = draw(st.integers(1, 5))
    names, formats, offsets = [], [], []
    position = 0
    for i in range(count):
        base = np.dtype(draw(st.sampled_from(SCALARS)))
        shape = draw(st.sampled_from([(), (), (2,), (3,)]))
        field = np.dtype((base, shape)) if shape else base
        position += draw(st.integers(0, 3))  # a gap before the field
        names.append(f"f{i}")
        formats.append(field)
        offsets.append(position)
        position += field.itemsize
    itemsize = position + draw(st.integers(0, 5))  # tail padding
    return np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": itemsize})


class Pattern(io.RawIOBase):
    """Returns reads of the sizes in *sizes*, cycling, each capped by the target."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self.data = memoryview(data)
        self.position = 0
        self.sizes = itertools.cycle(sizes)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        count = min(next(self.sizes), len(buffer), len(self.data) - self.position)
        buffer[:count] = self.data[self.position : self.position + count]
        self.position += count
        return count


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    dtype=record_dtypes(),
    nrecords=st.integers(0, 60),
    header=st.integers(0, 40),
    stray_seed=st.integers(0, 1000),
    sizes=st.lists(st.integers(1, 200), min_size=1, max_size=8),
    buffer_records=st.integers(1, 12),
    max_buffers=st.integers(1, 4),
    records=st.none() | st.integers(1, 9),
    seed=st.integers(0, 2**32 - 1),
)
def test_stream_yields_the_records_np_frombuffer_and_rv_open_see(
    tmp_path_factory: pytest.TempPathFactory,
    dtype: np.dtype,
    nrecords: int,
    header: int,
    stray_seed: int,
    sizes: list[int],
    buffer_records: int,
    max_buffers: int,
    records: int | None,
    seed: int,
) -> None:
    itemsize = dtype.itemsize
    stray = stray_seed % itemsize
    data = np.random.default_rng(seed).bytes(header + nrecords * itemsize + stray)
    expected = np.frombuffer(data, dtype=dtype, count=nrecords, offset=header)

    pool = BufferPool(buffer_size=buffer_records * itemsize, max_buffers=max_buffers)
    batches = list(
        stream(
            Pattern(data, sizes),
            dtype,
            pool=pool,
            offset=header,
            trailing="ignore",
            records=records,
        )
    )
    # Kept until now: no batch was overwritten by a later read. (Compare bytes,
    # padding included: np.concatenate would drop the padding of the dtype.)
    got = b"".join(batch.tobytes() for batch in batches)
    assert got == expected.tobytes()
    assert all(b.dtype == dtype and len(b) > 0 and not b.flags.writeable for b in batches)
    if records is not None:
        assert all(len(b) == records for b in batches[:-1])

    path = Path(tmp_path_factory.mktemp("prop")) / "records.bin"
    path.write_bytes(data)
    with rv.open(path, dtype, offset=header, trailing="ignore") as view:
        assert view.array.tobytes() == got

    if stray:
        with pytest.raises(rv.LayoutError, match=f"{stray} stray bytes at offset"):
            list(stream(Pattern(data, sizes), dtype, offset=header))


@settings(max_examples=30, deadline=None)
@given(
    nrecords=st.integers(0, 400),
    sizes=st.lists(st.integers(1, 500), min_size=1, max_size=6),
    keep_every=st.integers(1, 5),
)
def test_released_and_kept_batches_mixed(nrecords: int, sizes: list[int], keep_every: int) -> None:
    """Keeping some batches and dropping others never corrupts the kept ones."""
    dtype = np.dtype([("n", "<u4"), ("x", "<f8")])
    source = np.zeros(nrecords, dtype)
    source["n"] = np.arange(nrecords)
    source["x"] = np.arange(nrecords) * 0.5
    pool = BufferPool(buffer_size=16 * 12, max_buffers=3)
    kept, starts = [], []
    seen = 0
    for i, batch in enumerate(stream(Pattern(source.tobytes(), sizes), dtype, pool=pool)):
        if i % keep_every == 0:
            kept.append(batch)
            starts.append(seen)
        seen += len(batch)
    assert seen == nrecords
    for start, batch in zip(starts, kept, strict=True):
        assert batch.tobytes() == source[start : start + len(batch)].tobytes()
    assert pool.stats().pooled <= 3


class Misbehaving(io.RawIOBase):
    """Short reads of the drawn sizes, and on read number ``at`` the drawn bad count."""

    def __init__(self, data: bytes, sizes: list[int], at: int, bad: object) -> None:
        self.data, self.position = data, 0
        self.sizes = itertools.cycle(sizes)
        self.at, self.bad, self.calls = at, bad, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> object:  # type: ignore[override]
        self.calls += 1
        assert self.calls < 100_000, "stream kept reading: it would loop forever"
        view = memoryview(buffer).cast("B")
        count = min(next(self.sizes), len(view), len(self.data) - self.position)
        view[:count] = self.data[self.position : self.position + count]
        self.position += count
        if self.calls - 1 == self.at:
            # The bad count is relative to the buffer: beyond it or below 0.
            return len(view) + self.bad if type(self.bad) is int else self.bad
        return count


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    dtype=record_dtypes(),
    count=st.integers(0, 300),
    sizes=st.lists(st.integers(1, 700), min_size=1, max_size=4),
    at=st.integers(0, 30),
    bad=st.one_of(
        st.integers(1, 10**12),
        st.integers(-(10**12), -1).map(lambda n: n - 10**13),  # far below 0 for any buffer
        st.sampled_from([None, 1.0, True, False, "3", b"", 2.5]),
    ),
    buffer_size=st.integers(1, 4096),
)
def test_a_misbehaving_source_never_yields_bytes_it_did_not_write(
    dtype: np.dtype,
    count: int,
    sizes: list[int],
    at: int,
    bad: object,
    buffer_size: int,
) -> None:
    data = np.random.default_rng(count).integers(0, 256, count * dtype.itemsize, np.uint8)
    source = Misbehaving(data.tobytes(), sizes, at, bad)
    kept: list[np.ndarray] = []
    error = None
    try:
        kept.extend(stream(source, dtype, pool=BufferPool(buffer_size, max_buffers=2)))
    except rv.LayoutError as err:
        error = str(err)
    if error is None:
        assert source.calls <= at  # the stream ended before the bad read
    else:
        assert error.startswith("<Misbehaving>: "), error
        assert source.calls == at + 1  # raised at the bad read, not later
    got = b"".join(batch.tobytes() for batch in kept)
    assert got == data.tobytes()[: len(got)]
