"""recview.remote over HTTP: a real Range server on 127.0.0.1, values equal the local bytes."""

from __future__ import annotations

import pickle
import threading
import time

import numpy as np
import pytest

import recview as rv
from recview.remote import (
    RemoteRecords,
    RemoteSource,
    partition_specs,
    read_partition,
    remote_npy_layout,
)
from tests.remote_servers import RangeServer, sample_records, serve_per_test

pytest.importorskip("aiohttp")
pytestmark = pytest.mark.usefixtures("local_env")

SCHEMA = rv.Schema.from_dtype(  # 24-byte records (C alignment pads the tail)
    np.dtype([("ts", "<u8"), ("px", "<f8"), ("qty", "<u4"), ("side", "u1")], align=True)
)
assert SCHEMA.itemsize == 24


def _records(n: int, seed: int = 0) -> np.ndarray:
    return sample_records(SCHEMA.dtype, n, seed, ts_step=7, ts_start=1)


@pytest.fixture
def obj(http_server, request):
    """A fresh object of 5,000 random records; (url, local records)."""
    yield from serve_per_test(http_server, request, lambda seed: _records(5_000, seed))


def test_random_records_and_slices_equal_the_local_ones(obj):
    url, recs = obj
    rng = np.random.default_rng(1)
    with RemoteRecords(url, SCHEMA) as remote:
        assert len(remote) == len(recs)
        for i in rng.integers(-len(recs), len(recs), 40):
            assert remote[int(i)].tobytes() == recs[int(i)].tobytes()
        for _ in range(20):
            a, b = sorted(rng.integers(0, len(recs) + 1, 2))
            got = remote.read(int(a), int(b))
            assert got.dtype == SCHEMA.dtype
            assert not got.flags.writeable
            np.testing.assert_array_equal(got, recs[a:b])
        idx = rng.integers(-len(recs), len(recs), 200)
        np.testing.assert_array_equal(remote.take(idx), recs[idx])
        with pytest.raises(IndexError):
            remote[len(recs)]
        with pytest.raises(IndexError):
            remote.read(10, len(recs) + 1)


def test_small_reads_are_cached_in_blocks(obj):
    url, recs = obj
    source = RemoteSource(url, block_nbytes=4096, cache_blocks=4)
    remote = RemoteRecords(source, SCHEMA)
    before = source.requests
    for i in range(100):  # 100 records of 24 bytes: within one or two 4 KiB blocks
        assert remote[i].tobytes() == recs[i].tobytes()
    assert source.requests - before <= 2
    # a read spanning three uncached blocks is one request
    before = source.requests
    remote.read(1000, 1000 + 3 * 4096 // SCHEMA.itemsize - 10)
    assert source.requests - before == 1


def test_nearby_reads_are_coalesced(obj):
    url, recs = obj
    source = RemoteSource(url, cache_blocks=0)
    size = SCHEMA.itemsize
    ranges = [(i * size, size) for i in (7, 3, 9, 4000, 4002)]
    got = source.preads(ranges, max_gap=1024)
    assert source.requests == 2
    assert got == [recs[i].tobytes() for i in (7, 3, 9, 4000, 4002)]


@pytest.mark.parametrize("readahead", [0, 1, 2, 4])
@pytest.mark.parametrize("records", [None, 333, 5_000, 7_000])
def test_batches_cover_the_records_in_order(obj, readahead, records):
    url, recs = obj
    with RemoteRecords(url, SCHEMA) as remote:
        batches = list(remote.batches(records, readahead=readahead))
        step = records or len(recs)
        assert [len(b) for b in batches[:-1]] == [step] * (len(batches) - 1)
        np.testing.assert_array_equal(np.concatenate(batches), recs)
        tail = list(remote.batches(1000, start=4_500, readahead=readahead))
        np.testing.assert_array_equal(np.concatenate(tail), recs[4_500:])


def test_read_ahead_holds_at_most_readahead_plus_one_ranges(obj):
    url, _ = obj
    source = RemoteSource(url, cache_blocks=0)
    started: list[int] = []
    consumed = [0]
    worst = [0]
    real = source._read_range

    def read_range(offset, nbytes):
        started.append(offset)
        worst[0] = max(worst[0], len(started) - consumed[0])
        return real(offset, nbytes)

    source._read_range = read_range  # type: ignore[method-assign]
    ranges = [(i * 240, 240) for i in range(30)]
    for data in source.iter_ranges(ranges, readahead=2):
        assert len(data) == 240
        time.sleep(0.005)  # a slow consumer: the reader gets ahead as far as allowed
        consumed[0] += 1
    # the range the consumer holds, plus at most two read or being read (and it
    # did read ahead: a loaded machine may keep the reader from the full two)
    assert 2 <= worst[0] <= 3


def _readahead_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("recview read-ahead")]


def test_breaking_out_early_stops_the_read_ahead_thread(obj):
    url, recs = obj
    with RemoteRecords(url, SCHEMA) as remote:
        it = remote.batches(100, readahead=2)
        first = next(it)
        assert _readahead_threads()
        it.close()
        np.testing.assert_array_equal(first, recs[:100])
    assert not _readahead_threads()


def test_read_ahead_error_reaches_the_consumer_at_its_range(http_server, obj):
    url, recs = obj
    name = url.rsplit("/", 1)[1]
    with RemoteRecords(url, SCHEMA) as remote:
        it = remote.batches(1000, readahead=1)
        np.testing.assert_array_equal(next(it), recs[:1000])
        http_server.objects[name] = recs[:1500].tobytes()  # replaced by a shorter object
        with pytest.raises(rv.TruncatedError, match=rf"{url}: bytes "):
            list(it)
        with pytest.raises(rv.TruncatedError):  # the records stay truncated
            remote.read(0, 1)
    assert not _readahead_threads()


def test_refresh_after_growth(http_server, obj):
    url, recs = obj
    name = url.rsplit("/", 1)[1]
    remote = RemoteRecords(url, SCHEMA)
    assert remote.read(0, 10).tobytes() == recs[:10].tobytes()
    more = _records(300, seed=9)
    http_server.objects[name] = recs.tobytes() + more.tobytes() + b"\x00" * 5  # + partial record
    assert remote.refresh() == len(recs) + 300
    np.testing.assert_array_equal(remote.read(len(recs) - 2, len(recs) + 300)[2:], more)
    np.testing.assert_array_equal(np.concatenate(list(remote.batches(1234))[-1:])[-300:], more)


def test_shrink_is_a_truncated_error(http_server, obj):
    url, recs = obj
    name = url.rsplit("/", 1)[1]
    remote = RemoteRecords(url, SCHEMA)
    http_server.objects[name] = recs[:100].tobytes()
    with pytest.raises(rv.TruncatedError) as info:
        remote.refresh()
    assert str(info.value) == (
        f"{url}: object shrank from at least 120,000 to 2,400 bytes (replaced?) while "
        "5,000 records of it were open (reopen it)"
    )
    with pytest.raises(rv.TruncatedError):
        remote.read(0, 1)


def test_short_read_names_the_url_and_the_byte_range(http_server, obj):
    url, recs = obj
    name = url.rsplit("/", 1)[1]
    source = RemoteSource(url, cache_blocks=0)
    source.size()
    http_server.objects[name] = recs.tobytes()[:2000]
    with pytest.raises(rv.TruncatedError) as info:
        source.pread(1024, 2048)
    assert str(info.value) == (
        f"{url}: bytes 1,024-3,071: got only 976 bytes: the object is 2,000 bytes now "
        "(it shrank or was replaced while open; reopen it)"
    )
    assert (info.value.old_nbytes, info.value.new_nbytes) == (120_000, 2000)
    with pytest.raises(rv.TruncatedError, match=r"bytes 4,000-4,099: the object is 2,000"):
        source.pread(4000, 100)  # past the end now: the server answers 416


def test_missing_object_is_file_not_found_naming_the_url(http_server):
    url = http_server.url("nope.bin")
    with pytest.raises(FileNotFoundError) as info:
        RemoteRecords(url, SCHEMA)
    assert info.value.filename == url
    assert url in str(info.value)


def test_deleted_object_is_a_truncated_error(http_server, obj):
    url, _ = obj
    remote = RemoteRecords(RemoteSource(url, cache_blocks=0), SCHEMA)
    cached = RemoteRecords(RemoteSource(url, block_nbytes=4096), SCHEMA)
    del http_server.objects[url.rsplit("/", 1)[1]]
    with pytest.raises(rv.TruncatedError, match=r"bytes 24-24,023: the object is gone"):
        remote.read(1, 1001)
    with pytest.raises(rv.TruncatedError, match=r"bytes 4,096-8,191: the object is gone"):
        cached.read(200, 201)  # the error names the request: the block


def test_layout_errors_name_the_url(http_server, obj):
    url, recs = obj
    with pytest.raises(rv.LayoutError, match=r"stray bytes"):
        RemoteRecords(url, SCHEMA, offset=5)
    with pytest.raises(rv.LayoutError, match=r"too short for 6,000 records"):
        RemoteRecords(url, SCHEMA, count=6000)
    with RemoteRecords(url, SCHEMA, offset=24, count=10) as remote:
        np.testing.assert_array_equal(remote.read(0, 10), recs[1:11])


def test_server_that_ignores_range_is_an_error_not_wrong_bytes():
    recs = _records(1000)
    with RangeServer(ignore_range=True) as srv:
        srv.objects["a.bin"] = recs.tobytes()
        url = srv.url("a.bin")
        remote = RemoteRecords(RemoteSource(url, block_nbytes=4096), SCHEMA)
        with pytest.raises(rv.RecviewError) as info:
            remote.read(10, 20)
        assert str(info.value).startswith(  # the request was for the first 4 KiB block
            f"{url}: bytes 0-4,095: server ignored the Range header (it sent 24,000 bytes "
            "for a request of 4,096)"
        )
        with pytest.raises(rv.RecviewError, match="server ignored the Range header"):
            list(remote.batches(100))
        # the whole object is the one request whose answer is right anyway
        np.testing.assert_array_equal(remote.read(0, 1000), recs)


def test_npy_header_over_http(http_server):
    arr = np.arange(60, dtype=">f4").reshape(20, 3)
    import io

    buf = io.BytesIO()
    np.save(buf, arr)
    http_server.objects["a.npy"] = buf.getvalue()
    source = RemoteSource(http_server.url("a.npy"))
    layout = remote_npy_layout(source)
    with RemoteRecords(source, layout.schema, offset=layout.offset, count=layout.count) as r:
        np.testing.assert_array_equal(layout.unwrap(r.read(0, len(r))), arr)


def test_closed_source_raises_closed_error(obj):
    url, _ = obj
    source = RemoteSource(url)
    remote = RemoteRecords(source, SCHEMA)
    it = remote.batches(10, readahead=2)
    next(it)
    source.close()
    with pytest.raises(rv.ClosedError, match=rf"{url}: the source is closed"):
        for _ in it:
            pass
    with pytest.raises(rv.ClosedError):
        remote.read(0, 1)


def test_source_pickles_as_its_url(obj):
    url, recs = obj
    source = RemoteSource(url, block_nbytes=1000)
    source.pread(0, 10)
    copy = pickle.loads(pickle.dumps(source))
    assert copy.url == url and copy.nbytes is None
    assert copy.pread(24, 24) == recs[1].tobytes()


def test_partition_specs_are_small_and_read_back_the_records(http_server):
    parts = [_records(n, seed=n) for n in (1000, 10, 2500)]
    for k, p in enumerate(parts):
        http_server.objects[f"parts/p{k}.bin"] = p.tobytes()
    specs = partition_specs(
        [http_server.url(f"parts/p{k}.bin") for k in range(3)], SCHEMA, partition_nbytes=24_000
    )
    assert [s.count for s in specs] == [1000, 10, 1000, 1000, 500]
    assert [s.row for s in specs] == [0, 1000, 1010, 2010, 3010]
    assert all(len(pickle.dumps(s)) < 1024 for s in specs)
    np.testing.assert_array_equal(
        np.concatenate([read_partition(pickle.loads(pickle.dumps(s))) for s in specs]),
        np.concatenate(parts),
    )
    assert read_partition(specs[0]).flags.writeable


def test_missing_fsspec_is_an_import_error_with_the_install_hint(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "fsspec", None)  # import fsspec now fails
    with pytest.raises(ImportError, match=r"pip install 'recview\[remote\]'"):
        RemoteSource("s3://bucket/key")
