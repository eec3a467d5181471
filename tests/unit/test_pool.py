"""Unit tests of recview.pool: BufferPool lifetime and counters, stream() semantics."""

from __future__ import annotations

import gc
import io
import threading
import tracemalloc
from collections.abc import Iterator

import numpy as np
import pytest

import recview as rv
from recview.pool import BufferPool, PoolStats
from recview.streams import stream

TRADE = np.dtype([("ts", "<u8"), ("price", "<f8"), ("qty", "<u4")])  # 20 bytes, packed


def trades(count: int, start: int = 0) -> np.ndarray:
    out = np.zeros(count, dtype=TRADE)
    out["ts"] = np.arange(start, start + count)
    out["price"] = out["ts"] * 0.25
    out["qty"] = out["ts"] % 1000
    return out


def address(array: np.ndarray) -> int:
    return int(array.__array_interface__["data"][0])


class Chunked(io.RawIOBase):
    """A raw stream returning at most ``chunk`` bytes per read, recording the targets."""

    def __init__(self, data: bytes, chunk: int) -> None:
        self.data = data
        self.position = 0
        self.chunk = chunk
        self.targets: list[tuple[int, int]] = []  # (address, length) of each readinto

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        view = np.frombuffer(buffer, dtype=np.uint8)
        self.targets.append((address(view), len(view)))
        count = min(self.chunk, len(view), len(self.data) - self.position)
        view[:count] = np.frombuffer(self.data, np.uint8, count, self.position)
        self.position += count
        return count


# ---------------------------------------------------------------------------
# BufferPool
# ---------------------------------------------------------------------------


def test_acquire_returns_writable_uint8_array_of_nbytes() -> None:
    pool = BufferPool(buffer_size=64, max_buffers=2)
    full = pool.acquire()
    part = pool.acquire(10)
    assert full.dtype == np.uint8
    assert full.shape == (64,)
    assert part.shape == (10,)
    assert full.flags.writeable
    assert full.flags.c_contiguous
    assert not np.shares_memory(full, part)


def test_released_buffer_is_reused_at_the_same_address() -> None:
    pool = BufferPool(buffer_size=64, max_buffers=2)
    first = pool.acquire()
    where = address(first)
    del first
    again = pool.acquire()
    assert address(again) == where
    assert pool.stats() == PoolStats(
        hits=1, misses=1, outstanding=1, pooled=1, overflow=0, nbytes=64 + 64
    )


@pytest.mark.parametrize(
    "derive",
    [
        pytest.param(lambda a: a[3:9], id="slice"),
        pytest.param(lambda a: a[:8].view("<u4"), id="view-dtype"),
        pytest.param(lambda a: a[:16].view([("ts", "<u8"), ("n", "<u8")])["ts"], id="field"),
        pytest.param(lambda a: memoryview(a)[2:5], id="memoryview-slice"),
        pytest.param(lambda a: np.frombuffer(memoryview(a), np.uint8), id="frombuffer"),
    ],
)
def test_derived_reference_keeps_buffer_out_of_the_pool(derive: object) -> None:
    pool = BufferPool(buffer_size=64, max_buffers=4)
    raw = pool.acquire()
    raw[:] = 0xAB
    derived = derive(raw)  # type: ignore[operator]
    where = address(raw)
    del raw
    other = pool.acquire()
    assert address(other) != where
    other[:] = 0x11  # must not reach the derived view
    assert bytes(memoryview(derived).cast("B")) == b"\xab" * memoryview(derived).nbytes
    del derived
    assert address(pool.acquire()) == where


@pytest.mark.parametrize("phase", [0, 1, 17, 63, 64, 100])
def test_acquire_places_the_array_at_the_requested_phase(phase: int) -> None:
    pool = BufferPool(buffer_size=256, max_buffers=2)
    for nbytes in (256, 10, 1000):  # pooled, pooled, beyond the pool
        assert address(pool.acquire(nbytes, phase=phase)) % 64 == phase % 64


def test_batches_have_the_alignment_of_their_stream_position() -> None:
    # A buffer starts where the stream is: its address mod 64 equals the
    # stream offset mod 64, so that the kernel's copy is aligned.
    pool = BufferPool(buffer_size=20 * 10, max_buffers=3)
    position = 37
    for batch in stream(io.BytesIO(b"h" * 37 + trades(95).tobytes()), TRADE, offset=37, pool=pool):
        assert address(batch) % 64 == position % 64
        position += batch.nbytes


def test_steady_use_alternates_between_two_warm_buffers() -> None:
    pool = BufferPool(buffer_size=64, max_buffers=6)
    burst = [pool.acquire() for _ in range(6)]  # the pool grows to six buffers
    del burst
    previous = pool.acquire()
    seen = set()
    for _ in range(20):  # as a stream does: the caller holds the previous batch
        current = pool.acquire()
        seen.add(address(current))
        previous = current
    assert len(seen) == 2
    assert previous is current
    assert pool.stats().misses == 6


def test_probe_never_touches_an_exported_buffer() -> None:
    # Regression: bytearray.pop() writes the trailing NUL over the last byte
    # before it notices the export; the probe must not.
    pool = BufferPool(buffer_size=32, max_buffers=1)
    held = pool.acquire()
    held[:] = 0xEE
    for _ in range(5):
        pool.acquire()  # probes `held`'s buffer, then allocates beyond
        pool.stats()  # probes again
    assert (held == 0xEE).all()


def test_when_all_buffers_are_held_acquire_allocates_beyond_the_pool() -> None:
    pool = BufferPool(buffer_size=128, max_buffers=2)
    held = [pool.acquire() for _ in range(5)]
    for i, array in enumerate(held):
        array[:] = i
    assert [int(array[0]) for array in held] == [0, 1, 2, 3, 4]  # all distinct
    stats = pool.stats()
    assert (stats.misses, stats.overflow, stats.pooled, stats.outstanding) == (5, 3, 2, 5)
    assert stats.nbytes == 2 * (128 + 64)  # only its own buffers, with their slack
    del held, array
    gc.collect()
    stats = pool.stats()
    assert (stats.outstanding, stats.pooled) == (0, 2)  # overflow buffers were freed


def test_acquire_larger_than_buffer_size_is_an_overflow_of_exact_size() -> None:
    pool = BufferPool(buffer_size=16, max_buffers=2)
    big = pool.acquire(100)
    assert big.shape == (100,)
    stats = pool.stats()
    assert (stats.misses, stats.overflow, stats.pooled, stats.outstanding) == (1, 1, 0, 1)


def test_acquire_zero_bytes() -> None:
    pool = BufferPool(buffer_size=16, max_buffers=1)
    assert pool.acquire(0).shape == (0,)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"buffer_size": 0}, ValueError, "buffer_size must be an integer >= 1, got 0"),
        ({"max_buffers": -2}, ValueError, "max_buffers must be an integer >= 1, got -2"),
        ({"buffer_size": 1.5e6}, TypeError, "buffer_size must be an integer, not float"),
        ({"max_buffers": True}, TypeError, "max_buffers must be an integer, not bool"),
    ],
)
def test_invalid_pool_options(kwargs: dict[str, object], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        BufferPool(**kwargs)  # type: ignore[arg-type]


def test_pool_sizes_take_numpy_integers() -> None:
    pool = BufferPool(buffer_size=np.int64(64), max_buffers=np.uint8(2))
    assert (pool.buffer_size, pool.max_buffers) == (64, 2)
    assert type(pool.buffer_size) is int and type(pool.max_buffers) is int
    assert pool.acquire().shape == (64,)


def test_negative_nbytes_is_rejected() -> None:
    with pytest.raises(ValueError, match="nbytes must not be negative, got -1"):
        BufferPool().acquire(-1)


def test_pool_repr_shows_counters() -> None:
    pool = BufferPool(buffer_size=8, max_buffers=3)
    kept = pool.acquire()
    assert repr(pool) == (
        "BufferPool(buffer_size=8, max_buffers=3; hits=0, misses=1, outstanding=1)"
    )
    assert kept.shape == (8,)


def test_pool_is_thread_safe_no_buffer_is_shared_while_held() -> None:
    pool = BufferPool(buffer_size=256, max_buffers=4)
    rounds, threads = 300, 4
    errors: list[str] = []
    barrier = threading.Barrier(threads)

    def work(tag: int) -> None:
        barrier.wait()
        for i in range(rounds):
            array = pool.acquire()
            array[:] = tag
            if i % 7 == 0:
                threading.Event().wait(0.0001)  # let other threads run meanwhile
            if not (array == tag).all():
                errors.append(f"thread {tag} round {i}: buffer shared with another thread")
            del array

    workers = [threading.Thread(target=work, args=(tag,)) for tag in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    stats = pool.stats()
    assert stats.hits + stats.misses == rounds * threads
    assert stats.pooled <= 4
    assert stats.outstanding == 0


# ---------------------------------------------------------------------------
# stream(): results
# ---------------------------------------------------------------------------


def collect(batches: Iterator[np.ndarray]) -> np.ndarray:
    kept = list(batches)
    return np.concatenate(kept) if kept else np.zeros(0, TRADE)


@pytest.mark.parametrize("chunk", [1, 3, 19, 20, 21, 64, 1000, 10**6])
def test_stream_stitches_records_split_across_reads(chunk: int) -> None:
    data = trades(257)
    source = Chunked(data.tobytes(), chunk)
    got = collect(stream(source, TRADE, pool=BufferPool(buffer_size=200, max_buffers=3)))
    assert got.tobytes() == data.tobytes()
    assert got.dtype == TRADE


def test_stream_accepts_schema_record_class_and_dtype_spec() -> None:
    class Trade(rv.Record):
        ts: rv.u64
        price: rv.f64
        qty: rv.u32

    data = trades(10).tobytes()
    for schema in (rv.Schema.from_dtype(TRADE), Trade, TRADE.descr, TRADE):
        (batch,) = stream(io.BytesIO(data), schema)
        assert batch.dtype == TRADE
        assert batch.tobytes() == data


def test_batches_are_read_only_and_cannot_be_made_writable() -> None:
    (batch,) = stream(io.BytesIO(trades(4).tobytes()), TRADE)
    assert not batch.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        batch["qty"][0] = 1
    with pytest.raises(ValueError, match="WRITEABLE"):
        batch.flags.writeable = True


def test_batches_view_the_buffer_the_data_was_read_into() -> None:
    source = Chunked(trades(100).tobytes(), 333)
    pool = BufferPool(buffer_size=20 * 30, max_buffers=4)
    batches = list(stream(source, TRADE, pool=pool))
    assert sum(len(b) for b in batches) == 100
    for batch in batches:
        start = address(batch)
        # The batch's first byte is inside a region some readinto() wrote to:
        # no copy happened between the read and the array.
        assert any(lo <= start < lo + length for lo, length in source.targets)
    assert pool.stats().misses >= 1


def test_records_option_gives_batches_of_exactly_that_many_records() -> None:
    source = Chunked(trades(103).tobytes(), 7)
    sizes = [len(b) for b in stream(source, TRADE, records=10)]
    assert sizes == [10] * 10 + [3]


def test_default_batches_come_per_read_without_waiting_for_a_full_buffer() -> None:
    source = Chunked(trades(10).tobytes(), 40)  # two records per read
    sizes = [len(b) for b in stream(source, TRADE)]
    assert sizes == [2] * 5


@pytest.mark.parametrize(
    ("itemsize", "buffer_size", "expected_records"),
    [
        (24, 256 << 10, 10752),  # 258,048 bytes: 63 pages, the most that fit
        (20, 64 << 10, 3072),  # 61,440 bytes: 15 pages
        (4097, 16 << 10, 3),  # a page multiple would not fit: as many records as fit
        (24, 20000, 833),  # lcm(24, 4096) = 12,288 is over half the buffer: no rounding
    ],
)
def test_buffers_hold_a_whole_number_of_pages_when_they_can(
    itemsize: int, buffer_size: int, expected_records: int
) -> None:
    dtype = np.dtype([("x", f"V{itemsize}")])
    data = bytes(itemsize * expected_records * 3)
    pool = BufferPool(buffer_size=buffer_size, max_buffers=2)
    sizes = [len(batch) for batch in stream(io.BytesIO(data), dtype, pool=pool)]
    assert sizes == [expected_records] * 3


def test_records_larger_than_the_pool_buffer_still_stream() -> None:
    pool = BufferPool(buffer_size=8, max_buffers=2)  # smaller than one 20-byte record
    got = collect(stream(Chunked(trades(5).tobytes(), 3), TRADE, pool=pool))
    assert got.tobytes() == trades(5).tobytes()
    assert pool.stats().overflow >= 5


def test_kept_batches_are_never_overwritten() -> None:
    data = trades(5000)
    pool = BufferPool(buffer_size=20 * 64, max_buffers=3)
    kept = list(stream(Chunked(data.tobytes(), 999), TRADE, pool=pool))
    assert np.concatenate(kept).tobytes() == data.tobytes()
    assert pool.stats().overflow > 0  # the pool ran dry and allocated beyond


def test_released_batches_recycle_a_bounded_set_of_buffers() -> None:
    pool = BufferPool(buffer_size=20 * 100, max_buffers=4)
    total = 0
    for batch in stream(Chunked(trades(20000).tobytes(), 2000), TRADE, pool=pool):
        total += len(batch)
    del batch
    assert total == 20000
    stats = pool.stats()
    assert stats.overflow == 0
    assert stats.misses <= 3  # the stream's buffer, the caller's batch, one spare
    assert stats.hits >= 190
    assert stats.outstanding == 0


def test_pool_memory_stays_bounded_when_batches_are_released() -> None:
    buffer_size = 64 * 1024
    data = trades(100_000).tobytes()  # 2 MB through 64 KiB buffers
    gc.collect()
    tracemalloc.start()
    try:
        pool = BufferPool(buffer_size=buffer_size, max_buffers=4)
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        count = 0
        for batch in stream(io.BytesIO(data), TRADE, pool=pool):
            count += len(batch)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 100_000
    # At most the four pooled buffers (and small objects), not the 2 MB streamed.
    assert peak - before < 4 * buffer_size + 64 * 1024
    assert pool.stats().pooled <= 4


def test_two_streams_can_share_a_pool() -> None:
    pool = BufferPool(buffer_size=20 * 8, max_buffers=4)
    left = stream(Chunked(trades(100).tobytes(), 50), TRADE, pool=pool)
    right = stream(Chunked(trades(100, start=1000).tobytes(), 70), TRADE, pool=pool)
    kept: list[np.ndarray] = []
    while len(kept) < 1000:  # interleave the two streams, batch by batch
        pair = [next(left, None), next(right, None)]
        if pair[0] is None and pair[1] is None:
            break
        kept += [batch for batch in pair if batch is not None]
    got = np.concatenate(kept)
    assert sorted(got["ts"].tolist()) == list(range(100)) + list(range(1000, 1100))


# ---------------------------------------------------------------------------
# stream(): header, end of stream, errors
# ---------------------------------------------------------------------------


def test_header_is_skipped_even_with_one_byte_reads() -> None:
    header = bytes(range(37))
    got = collect(stream(Chunked(header + trades(9).tobytes(), 1), TRADE, offset=37))
    assert got.tobytes() == trades(9).tobytes()


def test_header_larger_than_a_buffer_is_skipped() -> None:
    pool = BufferPool(buffer_size=40, max_buffers=2)
    source = Chunked(b"h" * 1000 + trades(3).tobytes(), 64)
    got = collect(stream(source, TRADE, offset=1000, pool=pool))
    assert got.tobytes() == trades(3).tobytes()


def test_header_longer_than_the_stream_is_a_layout_error() -> None:
    with pytest.raises(rv.LayoutError) as info:
        list(stream(Chunked(b"x" * 10, 3), TRADE, offset=16))
    assert str(info.value) == ("<Chunked>: stream ended after 10 bytes, inside the 16-byte header")
    assert info.value.offset == 10


def test_empty_stream_yields_nothing() -> None:
    assert list(stream(io.BytesIO(b""), TRADE)) == []


def test_empty_stream_with_a_header_is_a_layout_error() -> None:
    with pytest.raises(rv.LayoutError, match="stream ended after 0 bytes, inside the 4-byte"):
        list(stream(io.BytesIO(b""), TRADE, offset=4))


def test_stream_of_only_a_header_yields_nothing() -> None:
    assert list(stream(io.BytesIO(b"HEAD"), TRADE, offset=4)) == []


def test_trailing_error_names_stray_bytes_and_offset_after_yielding_records() -> None:
    source = Chunked(b"HDR" + trades(3).tobytes() + b"\x01\x02\x03\x04\x05", 7)
    batches = stream(source, TRADE, offset=3)
    got = []
    with pytest.raises(rv.LayoutError) as info:
        got.extend(batches)
    assert np.concatenate(got).tobytes() == trades(3).tobytes()
    assert str(info.value) == (
        "<Chunked>: stream ended with 5 stray bytes at offset 63, after 3 records of "
        '20 bytes (pass trailing="ignore" or "warn")'
    )
    assert info.value.offset == 63


def test_trailing_error_uses_the_file_name_when_there_is_one(tmp_path: object) -> None:
    import pathlib

    path = pathlib.Path(str(tmp_path)) / "ticks.bin"
    path.write_bytes(trades(2).tobytes() + b"\0")
    with open(path, "rb") as f, pytest.raises(rv.LayoutError) as info:
        list(stream(f, TRADE))
    assert str(info.value).startswith(f"{path}: stream ended with 1 stray bytes at offset 40")
    assert info.value.path == str(path)


def test_trailing_ignore_drops_the_partial_record() -> None:
    got = collect(stream(io.BytesIO(trades(3).tobytes() + b"xx"), TRADE, trailing="ignore"))
    assert got.tobytes() == trades(3).tobytes()


def test_trailing_warn_drops_the_partial_record_with_a_warning() -> None:
    batches = stream(io.BytesIO(trades(3).tobytes() + b"xx"), TRADE, trailing="warn")
    with pytest.warns(rv.LayoutWarning) as record:
        got = collect(batches)
    assert got.tobytes() == trades(3).tobytes()
    expected = (
        "<BytesIO>: stream ended with 2 stray bytes at offset 60, after 3 records of 20 bytes "
        "(left out)"
    )
    assert [str(w.message) for w in record] == [expected]


def test_a_stream_shorter_than_one_record_follows_trailing() -> None:
    with pytest.raises(rv.LayoutError, match="7 stray bytes at offset 0, after 0 records"):
        list(stream(io.BytesIO(b"1234567"), TRADE))
    assert list(stream(io.BytesIO(b"1234567"), TRADE, trailing="ignore")) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"trailing": "drop"}, "trailing must be one of"),
        ({"offset": -1}, "offset must be an integer >= 0, got -1"),
        ({"records": 0}, "records must be an integer >= 1, got 0"),
    ],
)
def test_invalid_stream_options_fail_at_the_call(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        stream(io.BytesIO(b""), TRADE, **kwargs)  # type: ignore[arg-type]


def test_text_file_is_rejected() -> None:
    with pytest.raises(TypeError, match=r"needs a binary file object \(open\(\.\.\., 'rb'\)\)"):
        stream(io.StringIO("abc"), TRADE)


def test_object_without_read_methods_is_rejected() -> None:
    with pytest.raises(TypeError, match="needs a file object with readinto"):
        stream(object(), TRADE)


class ReadOnly:
    """Only ``read(n)``, returning short pieces, as some wrappers do."""

    def __init__(self, data: bytes) -> None:
        self.source = io.BytesIO(data)

    def read(self, size: int) -> bytes:
        return self.source.read(min(size, 13))


def test_objects_with_only_read_are_supported() -> None:
    got = collect(stream(ReadOnly(trades(50).tobytes()), TRADE))
    assert got.tobytes() == trades(50).tobytes()


def test_read_returning_str_is_rejected() -> None:
    class Texty:
        def read(self, size: int) -> str:
            return "abc"

    with pytest.raises(TypeError, match="needs a binary file object"):
        list(stream(Texty(), TRADE))


class NoRead1(io.BufferedIOBase):
    """A BufferedIOBase with only read(): its inherited readinto1() is unsupported."""

    def __init__(self, data: bytes) -> None:
        self.source = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        return self.source.read(size)


def test_unsupported_readinto1_falls_back_to_readinto() -> None:
    got = collect(stream(NoRead1(trades(30).tobytes()), TRADE))
    assert got.tobytes() == trades(30).tobytes()


def test_non_blocking_source_without_data_is_an_error() -> None:
    class WouldBlock(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> None:  # type: ignore[override]
            return None

    with pytest.raises(ValueError, match=r"no data ready \(non-blocking mode\)"):
        list(stream(WouldBlock(), TRADE))


def test_stream_does_not_close_the_file_object() -> None:
    source = io.BytesIO(trades(2).tobytes())
    list(stream(source, TRADE))
    assert not source.closed
