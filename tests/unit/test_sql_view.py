"""The View methods and the package name behind recview.sql: ``view.to_arrow_reader``,
``view.to_polars`` and ``rv.sql``, checked against numpy on the same records."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

import recview as rv
import recview.sql as rv_sql_module  # noqa: F401 - makes sure the module is imported
from recview import interop

DTYPE = np.dtype([("ts", "<u8"), ("price", ">f8"), ("side", "u1"), ("sym", "S3")])
N = 5000


@pytest.fixture
def view(tmp_path: Path) -> Iterator[rv.View]:
    recs = np.zeros(N, DTYPE)
    i = np.arange(N)
    recs["ts"] = 1_000 + i
    recs["price"] = 10 + (i % 17) * 0.5
    recs["side"] = i % 2
    recs["sym"] = np.where(i % 3 == 0, b"AB", b"XYZ")
    path = tmp_path / "trades.bin"
    recs.tofile(path)
    with rv.open(path, DTYPE) as v:
        yield v


def test_rv_sql_is_the_sql_function_and_exported() -> None:
    assert rv.sql is sys.modules["recview.sql"].sql
    assert "sql" in rv.__all__


def test_rv_sql_group_by_equals_numpy(view: rv.View) -> None:
    got = rv.sql(
        "select side, sum(price) as s, count(*) as n from t group by side order by side", t=view
    )
    price = view["price"].astype("<f8")
    side = view["side"]
    assert got.column("side").to_pylist() == [0, 1]
    assert got.column("s").to_pylist() == [price[side == 0].sum(), price[side == 1].sum()]
    assert got.column("n").to_pylist() == [int((side == 0).sum()), int((side == 1).sum())]


def test_view_to_arrow_reader_streams_batches_equal_to_arrow(view: rv.View) -> None:
    reader = view.to_arrow_reader(2000)
    assert isinstance(reader, pa.RecordBatchReader)
    batches = list(reader)
    assert [b.num_rows for b in batches] == [2000, 2000, 1000]
    assert pa.Table.from_batches(batches, schema=reader.schema).equals(interop.to_arrow(view))


def test_view_to_arrow_reader_passes_options(view: rv.View) -> None:
    table = view.to_arrow_reader(columns=["sym", "ts"], strings="text").read_all()
    assert table.column_names == ["sym", "ts"]
    assert table.column("sym").to_pylist() == [s.decode() for s in view["sym"].tolist()]
    assert table.column("ts").to_pylist() == view["ts"].tolist()


def test_view_to_polars_equals_numpy(view: rv.View) -> None:
    df = view.to_polars()
    assert df.columns == ["ts", "price", "side", "sym"]
    np.testing.assert_array_equal(df["ts"].to_numpy(), view["ts"])
    np.testing.assert_array_equal(df["price"].to_numpy(), view["price"].astype("<f8"))
    # char[3] keeps its exact bytes, NUL padding included (strings="bytes").
    assert df["sym"].to_list() == [s.ljust(3, b"\0") for s in view["sym"].tolist()]
    text = view.to_polars(strings="text", columns=["sym"])
    assert text.columns == ["sym"]
    assert text["sym"].to_list() == [s.decode() for s in view["sym"].tolist()]


@pytest.mark.parametrize(
    ("module", "call", "extra"),
    [
        ("pyarrow", lambda v: v.to_arrow_reader(), "arrow"),
        ("polars", lambda v: v.to_polars(), "polars"),
        ("duckdb", lambda v: rv.sql("select 1", t=v), "sql"),
    ],
)
def test_view_methods_without_the_extra_hint_at_it(
    view: rv.View, monkeypatch: pytest.MonkeyPatch, module: str, call: Any, extra: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ImportError, match=rf"{module} is not installed .*recview\[{extra}\]"):
        call(view)


def test_a_remote_view_has_the_same_export_methods(view: rv.View) -> None:
    # View and RemoteView share one implementation of the four methods
    with rv.open("file://" + view.path, DTYPE) as remote:
        assert isinstance(remote, rv.View) is False
        for name in ("to_pandas", "to_arrow", "to_arrow_reader", "to_polars"):
            assert getattr(type(remote), name) is getattr(rv.View, name), name
        got = pa.Table.from_batches(remote.to_arrow_reader(1000))
        assert got.equals(view.to_arrow())
        assert remote.to_polars()["ts"].to_list() == view.array["ts"].tolist()
        assert remote.to_pandas()["sym"].tolist() == view.to_pandas()["sym"].tolist()
        got = rv.sql("select count(*) as n, sum(ts) as s from t", t=remote).to_pylist()
        assert got == [{"n": N, "s": int(view.array["ts"].sum())}]
