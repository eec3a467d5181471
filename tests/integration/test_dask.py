"""recview.dask against real files: partition planning, projections, arrays,
and a real two-process ``dask.distributed`` cluster."""

from __future__ import annotations

import os
import pickle
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import recview as rv
import recview.dask as rvd
from tests.remote_servers import dask_client

SCHEMA = rv.Schema._from_parts(
    np.dtype(
        [
            ("ts", ">u8"),
            ("price", "<f8"),
            ("qty", ">i4"),
            ("side", "u1"),
            ("sym", "S5"),
            ("pos", "<f4", (2,)),
            ("hdr", [("seq", "<u4"), ("flags", ">u2")]),
        ]
    ),
    enums={"side": {1: "BUY", 2: "SELL"}},
)
COUNTS = [1000, 0, 777, 1501]  # records per file; one file has none
HEADERS = [16, 16, 40, 7]  # per-file header bytes


def make_records(n: int, first: int) -> np.ndarray[Any, Any]:
    recs = np.zeros(n, dtype=SCHEMA.dtype)
    idx = np.arange(first, first + n)
    recs["ts"] = idx
    recs["price"] = (idx % 97) * 0.25
    recs["qty"] = idx % 13 - 6
    recs["side"] = 1 + idx % 2
    recs["sym"] = (
        [b"AB", b"XYZ", b"LONGS"][0] if n == 0 else [(b"AB", b"XYZ", b"QQQQQ")[i % 3] for i in idx]
    )
    recs["pos"] = np.stack([idx * 0.5, -idx * 0.5], axis=1)
    recs["hdr"]["seq"] = idx * 3
    recs["hdr"]["flags"] = idx % 7
    return recs


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], np.ndarray[Any, Any]]:
    """Four files with different headers; returns their paths and all records."""
    root = tmp_path_factory.mktemp("dumps")
    paths, chunks, first = [], [], 0
    for i, (n, header) in enumerate(zip(COUNTS, HEADERS, strict=True)):
        recs = make_records(n, first)
        path = root / f"dump{i:02d}.bin"
        with open(path, "wb") as f:
            f.write(bytes([0xEE]) * header)
            recs.tofile(f)
        paths.append(str(path))
        chunks.append(recs)
        first += n
    return paths, np.concatenate(chunks)


# --- planning -------------------------------------------------------------------------


def test_partitions_fall_on_record_boundaries_of_each_file(dataset: Any) -> None:
    paths, _ = dataset
    blocksize = 300 * SCHEMA.itemsize + SCHEMA.itemsize // 2  # rounds down to 300 records
    parts = rvd.partitions(paths, SCHEMA, offset=HEADERS, blocksize=blocksize)
    expected = []
    row = 0
    for i, n in enumerate(COUNTS):
        for start in range(0, n, 300):
            count = min(300, n - start)
            expected.append((paths[i], HEADERS[i], start, count, row, i))
            row += count
    got = [(p.path, p.offset, p.start, p.count, p.row, p.file_index) for p in parts]
    assert got == expected
    # each partition reads exactly its records
    whole = np.concatenate([p.load() for p in parts])
    assert whole.tobytes() == dataset[1].tobytes()


def test_partition_spec_is_small_and_picklable(dataset: Any) -> None:
    paths, _ = dataset
    part = rvd.partitions(paths, SCHEMA, offset=HEADERS)[0]
    blob = pickle.dumps(part)
    assert len(blob) < 2000
    assert pickle.loads(blob) == part


def test_globs_and_blocksize_strings(dataset: Any) -> None:
    paths, _ = dataset
    pattern = os.path.join(os.path.dirname(paths[0]), "dump0[23].bin")
    parts = rvd.partitions(pattern, SCHEMA, offset=[40, 7], blocksize="64KiB")
    assert [p.path for p in parts] == [paths[2], paths[3]]
    assert [p.count for p in parts] == [777, 1501]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"paths": "/nonexistent/dir/*.bin"}, FileNotFoundError, "no files match"),
        ({"paths": []}, ValueError, "no paths given"),
        ({"offset": [16, 16]}, ValueError, "2 offsets for 4 files"),
        ({"blocksize": 0}, ValueError, "blocksize must be a positive"),
        ({"blocksize": 2.5}, ValueError, "blocksize must be a positive"),
        ({"offset": 0}, rv.LayoutError, r"dump00\.bin.*16 stray bytes"),
    ],
)
def test_planning_errors(dataset: Any, kwargs: Any, error: Any, match: str) -> None:
    paths, _ = dataset
    args = {"paths": paths, "offset": HEADERS, **kwargs}
    with pytest.raises(error, match=match):
        rvd.partitions(args.pop("paths"), SCHEMA, **args)


def test_trailing_partial_record_follows_open(tmp_path: Path) -> None:
    path = tmp_path / "odd.bin"
    with open(path, "wb") as f:
        make_records(10, 0).tofile(f)
        f.write(b"xyz")
    with pytest.raises(rv.LayoutError):
        rvd.partitions(path, SCHEMA)
    assert sum(p.count for p in rvd.partitions(path, SCHEMA, trailing="ignore")) == 10


# --- DataFrame, synchronous scheduler -------------------------------------------------------


def test_read_matches_numpy_and_pandas(dataset: Any) -> None:
    paths, recs = dataset
    df = rvd.read(paths, SCHEMA, offset=HEADERS, blocksize=500 * SCHEMA.itemsize)
    assert df.npartitions == 2 + 2 + 4
    got = df.compute(scheduler="sync")
    want = rv.interop.to_pandas(recs, schema=SCHEMA, copy=True)
    # dask keeps text as string[pyarrow] (its "dataframe.convert-string" option)
    assert got["sym"].dtype == df["sym"].dtype == pd.StringDtype("pyarrow", na_value=pd.NA)
    assert got["sym"].tolist() == want["sym"].tolist()
    pd.testing.assert_frame_equal(got.drop(columns="sym"), want.drop(columns="sym"))
    assert df.divisions == (0, 500, 1000, 1500, 1777, 2277, 2777, 3277, len(recs) - 1)
    pd.testing.assert_series_equal(df.dtypes, got.dtypes)


def test_read_meta_matches_partitions_for_options(dataset: Any) -> None:
    paths, recs = dataset
    df = rvd.read(paths, SCHEMA, offset=HEADERS, enums="category", arrays="arrow", strings="bytes")
    got = df.compute(scheduler="sync")
    pd.testing.assert_frame_equal(got.iloc[:0], df._meta)
    assert list(got["side"].cat.categories) == ["BUY", "SELL"]
    assert got["pos"].iloc[3] == recs["pos"][3].tolist()
    assert got["sym"].iloc[1] == b"XYZ\x00\x00"  # raw bytes stay bytes
    assert str(got["sym"].dtype) == "fixed_size_binary[5][pyarrow]"


def test_read_columns_are_projected_into_the_reads(
    dataset: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths, recs = dataset
    df = rvd.read(paths, SCHEMA, offset=HEADERS, columns=["hdr.seq", "pos[1]"])
    assert list(df.columns) == ["hdr.seq", "pos[1]"]
    got = df.compute(scheduler="sync")
    np.testing.assert_array_equal(got["pos[1]"].to_numpy(), recs["pos"][:, 1])
    # a later selection is pushed into the tasks by dask's optimizer
    asked: list[Any] = []
    real = rv.interop.to_pandas

    def spy(*args: Any, **kwargs: Any) -> Any:
        asked.append(kwargs["columns"])
        return real(*args, **kwargs)

    monkeypatch.setattr(rv.interop, "to_pandas", spy)
    qty = rvd.read(paths, SCHEMA, offset=HEADERS)["qty"]
    assert int(qty.sum().compute(scheduler="sync")) == int(recs["qty"].astype(np.int64).sum())
    assert asked[-1] == ["qty"]
    assert asked.count(["qty"]) == qty.npartitions


def test_read_path_column_and_loc_by_record_number(dataset: Any) -> None:
    paths, _ = dataset
    df = rvd.read(paths, SCHEMA, offset=HEADERS, path_column="file", blocksize="16KiB")
    counts = df["file"].value_counts().compute(scheduler="sync")
    assert {k: v for k, v in counts.items() if v} == {
        p: n for p, n in zip(paths, COUNTS, strict=True) if n
    }
    row = df.loc[1800:1802].compute(scheduler="sync")
    assert row["ts"].tolist() == [1800, 1801, 1802]
    assert set(row["file"]) == {paths[3]}
    only = rvd.read(paths, SCHEMA, offset=HEADERS, path_column="file")[["file", "ts"]]
    assert list(only.compute(scheduler="sync").columns) == ["file", "ts"]


def test_read_of_files_without_records(tmp_path: Path) -> None:
    path = tmp_path / "empty.bin"
    path.write_bytes(b"H" * 12)
    df = rvd.read(path, SCHEMA, offset=12)
    got = df.compute(scheduler="sync")
    assert len(got) == 0
    assert list(got.columns) == list(rv.interop.to_pandas(make_records(0, 0)).columns)
    x = rvd.read_array(path, SCHEMA, offset=12)
    assert x.shape == (0,)
    assert x.compute(scheduler="sync").dtype == SCHEMA.dtype.newbyteorder("=")


def test_read_array_chunks_and_values(dataset: Any) -> None:
    paths, recs = dataset
    x = rvd.read_array(paths, SCHEMA, offset=HEADERS, blocksize=600 * SCHEMA.itemsize)
    assert x.dtype == SCHEMA.dtype.newbyteorder("=")
    assert x.chunks == ((600, 400, 600, 177, 600, 600, 301),)
    got = x.compute(scheduler="sync")
    assert got.dtype == x.dtype
    assert got.tobytes() == recs.astype(x.dtype).tobytes()
    assert float(x["price"].sum().compute(scheduler="sync")) == pytest.approx(recs["price"].sum())
    assert x[995:1005]["ts"].compute(scheduler="sync").tolist() == list(range(995, 1005))


def test_missing_dask_gives_install_hint(dataset: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dask.dataframe", None)  # makes the import fail
    with pytest.raises(ImportError, match=r"pip install 'recview\[dask\]'"):
        rvd.read(dataset[0], SCHEMA, offset=HEADERS)


# --- a real cluster ----------------------------------------------------------------------


@pytest.fixture
def client() -> Iterator[Any]:
    with dask_client() as c:
        yield c


@pytest.mark.slow
def test_distributed_cluster_reads_several_files_with_headers(dataset: Any, client: Any) -> None:
    paths, recs = dataset
    blocksize = 512 * SCHEMA.itemsize
    df = rvd.read(paths, SCHEMA, offset=HEADERS, blocksize=blocksize)
    x = rvd.read_array(paths, SCHEMA, offset=HEADERS, blocksize=blocksize)
    parts = rvd.partitions(paths, SCHEMA, offset=HEADERS, blocksize=blocksize)
    assert df.npartitions == len(parts) == 2 + 2 + 3

    def bounds(part: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "first": [part.index[0]],
                "last": [part.index[-1]],
                "n": [len(part)],
                "ts0": [part["ts"].iloc[0]],
                "pid": [os.getpid()],
            }
        )

    meta = pd.DataFrame(
        {
            "first": pd.Series(dtype="int64"),
            "last": pd.Series(dtype="int64"),
            "n": pd.Series(dtype="int64"),
            "ts0": pd.Series(dtype="uint64"),
            "pid": pd.Series(dtype="int64"),
        }
    )
    # Submit everything at once; the array (a graph) and the frames (dask
    # expressions) go separately, as dask warns against mixing them.
    frames = client.compute(
        [
            df[["ts", "price", "qty", "hdr.flags"]].sum(),
            df.count(),
            df.map_partitions(bounds, meta=meta),
        ]
    )
    array = client.compute(x["hdr"]["seq"].astype(np.int64).sum())
    sums, counts, edges = client.gather(frames)
    seq = array.result()
    assert sums["ts"] == recs["ts"].sum()
    assert sums["price"] == pytest.approx(recs["price"].sum())
    assert sums["qty"] == recs["qty"].astype(np.int64).sum()
    assert sums["hdr.flags"] == recs["hdr"]["flags"].astype(np.int64).sum()
    assert set(counts) == {len(recs)}
    assert edges["first"].tolist() == [p.row for p in parts]
    assert edges["last"].tolist() == [p.row + p.count - 1 for p in parts]
    assert edges["n"].tolist() == [p.count for p in parts]
    # the first record of each partition is the one numpy finds at that row
    assert edges["ts0"].tolist() == recs["ts"][[p.row for p in parts]].tolist()
    assert os.getpid() not in set(edges["pid"])  # the work ran in the worker processes
    assert int(seq) == int(recs["hdr"]["seq"].astype(np.int64).sum())
