"""recview.remote over S3: moto's server on 127.0.0.1, s3fs as the client, no real AWS."""

from __future__ import annotations

import pickle
import time

import numpy as np
import pytest

import recview as rv
from recview.remote import (
    RemoteRecords,
    RemoteSource,
    RemoteSpec,
    partition_specs,
    read_partition,
)
from tests.remote_servers import dask_client, sample_records

pytest.importorskip("s3fs")
pytest.importorskip("moto.server")

SCHEMA = rv.Schema.from_dtype([("ts", "<u8"), ("px", "<f8"), ("qty", "<u4"), ("side", "u1")])
BUCKET = "recview-test"


def _records(n: int, seed: int = 0) -> np.ndarray:
    return sample_records(SCHEMA.dtype, n, seed, ts_start=seed * 1_000_000)


@pytest.fixture(scope="module")
def s3(s3_server):
    s3_server.bucket(BUCKET)
    return s3_server


def _put(s3, key: str, data: bytes) -> str:
    return s3.put(f"s3://{BUCKET}/{key}", data)


def test_records_slices_and_batches_equal_the_local_ones(s3):
    recs = _records(20_000, seed=1)
    url = _put(s3, "ticks.bin", recs.tobytes())
    rng = np.random.default_rng(2)
    with RemoteRecords(url, SCHEMA, storage_options=s3.storage_options) as remote:
        assert len(remote) == len(recs)
        for i in rng.integers(-len(recs), len(recs), 20):
            assert remote[int(i)].tobytes() == recs[int(i)].tobytes()
        for _ in range(10):
            a, b = sorted(rng.integers(0, len(recs) + 1, 2))
            np.testing.assert_array_equal(remote.read(int(a), int(b)), recs[a:b])
        idx = rng.integers(0, len(recs), 100)
        np.testing.assert_array_equal(remote.take(idx), recs[idx])
        for readahead in (0, 2):
            batches = list(remote.batches(3_000, readahead=readahead))
            np.testing.assert_array_equal(np.concatenate(batches), recs)


def test_refresh_after_growth_and_shrink(s3):
    recs = _records(1000, seed=3)
    url = _put(s3, "grow.bin", recs.tobytes())
    remote = RemoteRecords(url, SCHEMA, storage_options=s3.storage_options)
    assert remote[999].tobytes() == recs[999].tobytes()  # caches the last block
    more = np.concatenate([recs, _records(500, seed=4)])
    _put(s3, "grow.bin", more.tobytes() + b"\x01\x02")
    assert remote.refresh() == 1500
    np.testing.assert_array_equal(remote.read(990, 1500), more[990:])  # no stale block
    _put(s3, "grow.bin", recs[:10].tobytes())
    with pytest.raises(rv.TruncatedError, match=rf"{url}: object shrank from at least 31,500"):
        remote.refresh()


def test_short_read_is_a_truncated_error_naming_url_and_range(s3):
    recs = _records(1000, seed=5)
    url = _put(s3, "short.bin", recs.tobytes())
    source = RemoteSource(url, storage_options=s3.storage_options, cache_blocks=0)
    source.size()
    _put(s3, "short.bin", recs.tobytes()[:1500])
    with pytest.raises(rv.TruncatedError) as info:
        source.pread(1024, 1024)
    assert str(info.value) == (
        f"{url}: bytes 1,024-2,047: got only 476 bytes: the object is 1,500 bytes now "
        "(it shrank or was replaced while open; reopen it)"
    )
    with pytest.raises(rv.TruncatedError, match=r"bytes 2,048-3,071: .* 1,500 bytes now"):
        source.pread(2048, 1024)  # S3 answers InvalidRange past the end


def test_missing_object_is_file_not_found(s3):
    url = f"s3://{BUCKET}/nope.bin"
    with pytest.raises(FileNotFoundError) as info:
        RemoteRecords(url, SCHEMA, storage_options=s3.storage_options)
    assert info.value.filename == url


def test_deleted_object_is_a_truncated_error(s3):
    url = _put(s3, "gone.bin", _records(100).tobytes())
    remote = RemoteRecords(url, SCHEMA, storage_options=s3.storage_options)
    s3.client().delete_object(Bucket=BUCKET, Key="gone.bin")
    with pytest.raises(rv.TruncatedError, match="the object is gone"):
        list(remote.batches(10))


def _four_objects(s3) -> tuple[list[np.ndarray], list[RemoteSpec]]:
    parts = [_records(n, seed=10 + k) for k, n in enumerate((3000, 1, 4500, 2000))]
    for k, p in enumerate(parts):
        _put(s3, f"day/part-{k}.bin", p.tobytes())
    specs = partition_specs(
        f"s3://{BUCKET}/day/part-*.bin",
        SCHEMA,
        storage_options=s3.storage_options,
        partition_nbytes=1000 * SCHEMA.itemsize,
    )
    return parts, specs


def test_partition_specs_over_a_glob(s3):
    parts, specs = _four_objects(s3)
    assert [s.url for s in specs][:4] == [f"s3://{BUCKET}/day/part-0.bin"] * 3 + [
        f"s3://{BUCKET}/day/part-1.bin"
    ]
    assert sum(s.count for s in specs) == sum(map(len, parts))
    assert all(len(pickle.dumps(s)) < 1024 for s in specs)
    np.testing.assert_array_equal(
        np.concatenate([read_partition(pickle.loads(pickle.dumps(s))) for s in specs]),
        np.concatenate(parts),
    )
    with pytest.raises(FileNotFoundError, match="No objects match"):
        partition_specs(f"s3://{BUCKET}/none-*.bin", SCHEMA, storage_options=s3.storage_options)


@pytest.mark.slow
def test_distributed_workers_read_their_own_ranges(s3):
    parts, specs = _four_objects(s3)
    with dask_client() as client:
        # the reads, not the cluster's start (two processes: slow on a loaded machine)
        t0 = time.monotonic()
        futures = client.map(read_partition, specs, pure=False)
        got = client.gather(futures)
        took = time.monotonic() - t0
        where = client.run(lambda: True)
    assert len(where) == 2
    np.testing.assert_array_equal(np.concatenate(got), np.concatenate(parts))
    assert took < 20


def test_object_replaced_during_a_scan_is_an_error_not_a_mix(s3):
    old = _records(40_000, seed=7)
    new = _records(40_000, seed=8)
    url = _put(s3, "replaced.bin", old.tobytes())
    with rv.open(url, SCHEMA, storage_options=s3.storage_options) as view:
        got = []

        def scan() -> None:
            for i, batch in enumerate(view.batches(records=8_000, readahead=0)):
                got.append(batch)
                if i == 1:
                    _put(s3, "replaced.bin", new.tobytes())

        with pytest.raises(rv.TruncatedError, match="the object was replaced while open"):
            scan()
        assert len(got) == 4  # the last batch is never handed out
        with pytest.raises(rv.TruncatedError, match="replaced while open"):
            view[0]


def test_same_size_replacement_is_seen_by_refresh(s3):
    url = _put(s3, "same.bin", _records(100, seed=1).tobytes())
    remote = RemoteRecords(url, SCHEMA, storage_options=s3.storage_options)
    assert remote.refresh() == 100  # the same version: fine
    _put(s3, "same.bin", _records(100, seed=2).tobytes())
    with pytest.raises(rv.TruncatedError) as info:
        remote.refresh()
    assert str(info.value).startswith(f"{url}: the object was replaced while open")
    grown = _put(s3, "grown.bin", _records(100, seed=3).tobytes())
    remote = RemoteRecords(grown, SCHEMA, storage_options=s3.storage_options)
    _put(s3, "grown.bin", _records(150, seed=3).tobytes())  # re-uploaded, longer
    assert remote.refresh() == 150
    assert remote.refresh() == 150
