"""recview.dask over URLs: moto S3 and an HTTP Range server on 127.0.0.1, a real LocalCluster.

The partitions hold only a URL, a byte range, the schema JSON and the
storage options; each worker process sends its own ranged requests. The
results must equal numpy over local copies of the objects.
"""

from __future__ import annotations

import os
import pickle
from typing import Any

import numpy as np
import pytest

import recview as rv
from recview.remote import RemoteSpec
from tests.remote_servers import dask_client, sample_records

pytest.importorskip("dask.dataframe")
pd = pytest.importorskip("pandas")
rvd = pytest.importorskip("recview.dask")

SCHEMA = rv.Schema.from_dtype([("ts", ">u8"), ("px", "<f8"), ("qty", "<u4"), ("side", "u1")])
BUCKET = "rv-dask"
HEADER = 64


def _records(n: int, seed: int) -> np.ndarray:
    return sample_records(SCHEMA.dtype, n, seed, ts_start=seed * 1_000_000)


@pytest.fixture(scope="module")
def s3(s3_server):
    s3_server.bucket(BUCKET)
    return s3_server


@pytest.fixture(scope="module")
def objects(s3) -> list[np.ndarray]:
    """Four objects with a 64-byte header each (one of 1 record), and one that does not match."""
    parts = [_records(n, seed=k + 1) for k, n in enumerate((3000, 1, 4500, 2000))]
    for k, p in enumerate(parts):
        s3.put(f"s3://{BUCKET}/day/part-{k}.bin", b"H" * HEADER + p.tobytes())
    s3.put(f"s3://{BUCKET}/day/other.txt", b"not records")
    return parts


GLOB = f"s3://{BUCKET}/day/part-*.bin"


def test_partitions_of_a_glob_are_small_specs_without_data(s3, objects):
    blocksize = 1000 * SCHEMA.itemsize
    specs = rvd.partitions(
        GLOB, SCHEMA, offset=HEADER, blocksize=blocksize, storage_options=s3.storage_options
    )
    assert all(isinstance(s, RemoteSpec) for s in specs)
    assert [s.count for s in specs] == [
        1000,
        1000,
        1000,
        1,
        1000,
        1000,
        1000,
        1000,
        500,
        1000,
        1000,
    ]
    assert [s.url for s in specs][3] == f"s3://{BUCKET}/day/part-1.bin"
    assert specs[0].start == HEADER and specs[0].stop == HEADER + blocksize
    for spec in specs:
        blob = pickle.dumps(spec)
        assert len(blob) < 1024  # a URL, a range, the schema JSON, the options
        assert b"numpy" not in blob
        assert rv.Schema.from_json(spec.schema_json) == SCHEMA


@pytest.mark.slow
def test_read_on_a_local_cluster_equals_numpy(s3, objects):
    want = np.concatenate(objects)
    with dask_client() as client:
        df = rvd.read(
            GLOB,
            SCHEMA,
            offset=HEADER,
            blocksize=1000 * SCHEMA.itemsize,
            storage_options=s3.storage_options,
            path_column="url",
        )
        assert df.npartitions == 11
        totals = df[["ts", "px", "qty"]].sum().compute()
        got = df.compute()
        pids = set(
            df.map_partitions(lambda p: pd.DataFrame({"pid": [os.getpid()]}), meta={"pid": "int64"})
            .compute()["pid"]
            .tolist()
        )
        workers = client.run(os.getpid)
        x = rvd.read_array(
            GLOB,
            SCHEMA,
            offset=HEADER,
            blocksize=1500 * SCHEMA.itemsize,
            storage_options=s3.storage_options,
        )
        qty = int(x["qty"].sum().compute())
    assert pids <= set(workers.values()) and os.getpid() not in pids
    assert int(totals["ts"]) == int(want["ts"].sum())
    assert float(totals["px"]) == pytest.approx(float(want["px"].sum()), rel=1e-12)
    assert int(totals["qty"]) == int(want["qty"].sum())
    assert qty == int(want["qty"].sum())
    assert list(got.index) == list(range(len(want)))
    np.testing.assert_array_equal(got["ts"].to_numpy(), want["ts"])
    np.testing.assert_array_equal(got["side"].to_numpy(), want["side"])
    urls = [f"s3://{BUCKET}/day/part-{k}.bin" for k in range(4)]
    assert got["url"].tolist() == [
        u for u, p in zip(urls, objects, strict=True) for _ in range(len(p))
    ]


def test_read_array_over_http_with_one_offset_per_object(http_server):
    recs = [_records(n, seed=20 + k) for k, n in enumerate((700, 300))]
    http_server.objects["a.bin"] = b"x" * 8 + recs[0].tobytes()
    http_server.objects["b.bin"] = b"y" * 16 + recs[1].tobytes()
    urls = [http_server.url("a.bin"), http_server.url("b.bin")]
    x = rvd.read_array(urls, SCHEMA, offset=[8, 16], blocksize=256 * SCHEMA.itemsize)
    assert x.chunks == ((256, 256, 188, 256, 44),)
    got = x.compute(scheduler="sync")
    want = np.concatenate(recs)
    assert got.dtype == SCHEMA.dtype.newbyteorder("=")
    for name in SCHEMA.names:
        np.testing.assert_array_equal(got[name], want[name])


def test_urls_and_local_paths_do_not_mix(tmp_path):
    path = tmp_path / "a.bin"
    _records(3, seed=1).tofile(path)
    with pytest.raises(ValueError, match="URLs or local paths, not both"):
        rvd.partitions([str(path), "s3://b/k.bin"], SCHEMA)
    with pytest.raises(TypeError, match="storage_options are for URLs"):
        rvd.partitions(str(path), SCHEMA, storage_options={"anon": True})


def test_no_object_matches_names_the_glob(s3: Any) -> None:
    with pytest.raises(FileNotFoundError, match="No objects match"):
        rvd.read(f"s3://{BUCKET}/none-*.bin", SCHEMA, storage_options=s3.storage_options)
