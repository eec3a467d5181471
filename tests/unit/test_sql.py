"""rv.sql, the streaming Arrow reader and Polars frames (recview.sql), checked
against numpy on the same records, with the conversion instrumented to show
which fields a query decodes."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pytest

import recview as rv
from recview import _export, interop
from recview.sql import SQLError, sql, to_arrow_reader, to_polars

# Eight leaves: little- and big-endian numbers, a char[3], a nested record.
DTYPE = np.dtype(
    [
        ("ts", "<u8"),
        ("price", "<f8"),
        ("qty", "<u4"),
        ("side", "u1"),
        ("venue", "S3"),
        ("seq", ">u8"),
        ("book", [("bid", ">f4"), ("ask", "<f4")]),
    ]
)
LEAVES = ["ts", "price", "qty", "side", "venue", "seq", "book.bid", "book.ask"]
N = 10_000


def records(n: int = N) -> np.ndarray:
    recs = np.zeros(n, DTYPE)
    i = np.arange(n)
    recs["ts"] = 1_700_000_000_000 + i
    recs["price"] = 100 + (i % 97) * 0.25
    recs["qty"] = i % 13 + 1
    recs["side"] = i % 3
    recs["venue"] = np.where(i % 2 == 0, b"XN", b"ARC")
    recs["seq"] = i * 7
    recs["book"]["bid"] = (i % 50) * 0.5
    recs["book"]["ask"] = (i % 50) * 0.5 + 1
    return recs


@pytest.fixture
def trades(tmp_path: Path) -> Iterator[tuple[rv.View, np.ndarray]]:
    recs = records()
    path = tmp_path / "trades.bin"
    recs.tofile(path)
    with rv.open(path, rv.Schema.from_dtype(DTYPE)) as view:
        yield view, recs


@pytest.fixture
def converted(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The column names of every non-empty batch the streams convert (with the
    conversion recview.interop.to_arrow runs)."""
    calls: list[list[str]] = []
    real = _export.to_arrow

    def spy(source: Any, **kwargs: Any) -> Any:
        table = real(source, **kwargs)
        if table.num_rows:
            calls.append(table.column_names)
        return table

    monkeypatch.setattr(_export, "to_arrow", spy)
    return calls


# --- rv.sql: results ----------------------------------------------------------


def test_sql_group_by_equals_numpy(trades: tuple[rv.View, np.ndarray]) -> None:
    view, recs = trades
    table = sql(
        "select side, avg(price) as p, sum(qty) as q, count(*) as n from t group by side "
        "order by side",
        t=view,
    )
    assert isinstance(table, pa.Table)
    sides = np.unique(recs["side"])
    assert table.column("side").to_pylist() == sides.tolist()
    for k, side in enumerate(sides):
        sel = recs[recs["side"] == side]
        assert table.column("p")[k].as_py() == pytest.approx(sel["price"].mean(), rel=1e-12)
        assert table.column("q")[k].as_py() == int(sel["qty"].astype(np.int64).sum())
        assert table.column("n")[k].as_py() == len(sel)


def test_sql_reads_big_endian_and_nested_fields(trades: tuple[rv.View, np.ndarray]) -> None:
    view, recs = trades
    got = sql('select sum(seq) as s, max("book.bid") as b, min("book.ask") as a from t', t=view)
    assert got.column("s")[0].as_py() == int(recs["seq"].astype(np.int64).sum())
    assert got.column("b")[0].as_py() == float(recs["book"]["bid"].max())
    assert got.column("a")[0].as_py() == float(recs["book"]["ask"].min())


def test_sql_char_field_is_exact_bytes_and_decodes(trades: tuple[rv.View, np.ndarray]) -> None:
    view, recs = trades
    raw = sql("select venue from t limit 2", t=view).column("venue").to_pylist()
    assert raw == [b"XN\x00", b"ARC"]
    counts = sql(
        "select rtrim(decode(venue), chr(0)) as v, count(*) as n from t group by v order by v",
        t=view,
    ).to_pydict()
    assert counts == {"v": ["ARC", "XN"], "n": [int((recs["venue"] == b"ARC").sum()), N // 2]}


def test_sql_where_filters_on_a_column_it_does_not_select(
    trades: tuple[rv.View, np.ndarray], converted: list[list[str]]
) -> None:
    view, recs = trades
    got = sql("select sum(qty) as q from t where side = 1 and seq > 700", t=view)
    sel = recs[(recs["side"] == 1) & (recs["seq"] > 700)]
    assert got.column("q")[0].as_py() == int(sel["qty"].astype(np.int64).sum())
    # The pushed filter's columns are converted too, and nothing else.
    assert converted
    assert {name for call in converted for name in call} == {"qty", "side", "seq"}


def test_sql_two_tables_and_a_self_join(tmp_path: Path, trades: tuple[rv.View, np.ndarray]) -> None:
    view, recs = trades
    ref = np.array([(0, b"BUY "), (1, b"SELL"), (2, b"HOLD")], dtype=[("id", "u1"), ("name", "S4")])
    path = tmp_path / "ref.bin"
    ref.tofile(path)
    with rv.open(path, ref.dtype) as names:
        got = sql(
            "select decode(u.name) as name, count(*) as n from t join u on t.side = u.id "
            "group by name order by name",
            t=view,
            u=names,
        ).to_pydict()
        assert got == {
            "name": ["BUY ", "HOLD", "SELL"],
            "n": [int((recs["side"] == s).sum()) for s in (0, 2, 1)],
        }
        pairs = sql("select count(*) as n from u a join u b on a.id <= b.id", u=names)
        assert pairs.column("n")[0].as_py() == 6


def test_sql_result_outlives_the_view(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    np.arange(100, dtype="<f8").tofile(path)
    with rv.open(path, [("x", "<f8")]) as view:
        table = sql("select x from t where x >= 90 order by x", t=view)
    assert table.column("x").to_pylist() == [float(v) for v in range(90, 100)]


def test_sql_empty_view_and_statement_without_rows(tmp_path: Path) -> None:
    path = tmp_path / "empty.bin"
    path.write_bytes(b"")
    with rv.open(path, DTYPE) as view:
        assert sql("select count(*) as n, sum(price) as s from t", t=view).to_pylist() == [
            {"n": 0, "s": None}
        ]
        assert isinstance(sql("set threads = 1", t=view), pa.Table)


def test_sql_widens_float16_for_duckdb(tmp_path: Path) -> None:
    path = tmp_path / "h.bin"
    recs = np.array([(1.5, 1), (2.25, 2)], dtype=[("h", "<f2"), ("k", "u1")])
    recs.tofile(path)
    with rv.open(path, recs.dtype) as view:
        got = sql("select sum(h) as s, any_value(typeof(h)) as t from t", t=view)
    assert got.to_pylist() == [{"s": 3.75, "t": "FLOAT"}]


# --- rv.sql: projection pushdown ---------------------------------------------


def test_sql_decodes_only_the_two_fields_a_query_reads(
    trades: tuple[rv.View, np.ndarray], converted: list[list[str]]
) -> None:
    view, recs = trades
    got = sql("select side, sum(price) as s from t group by side order by side", t=view)
    assert got.column("s").to_pylist() == pytest.approx(
        [float(recs["price"][recs["side"] == s].sum()) for s in range(3)]
    )
    assert converted, "no batch was converted"
    assert all(sorted(call) == ["price", "side"] for call in converted), converted
    assert sum(1 for _ in converted) >= 1


def test_sql_select_star_converts_every_field(
    trades: tuple[rv.View, np.ndarray], converted: list[list[str]]
) -> None:
    view, _ = trades
    table = sql("select * from t", t=view)
    assert table.column_names == LEAVES
    assert {name for call in converted for name in call} == set(LEAVES)


def test_sql_scans_in_batches_not_the_whole_file(
    trades: tuple[rv.View, np.ndarray], converted: list[list[str]]
) -> None:
    view, _ = trades
    calls = []
    real = view.batches

    def batches(records: int | None = None, **kwargs: Any) -> Iterator[np.ndarray]:
        calls.append(records)
        return real(256, **kwargs)  # small windows: the scan must take many

    view.batches = batches  # type: ignore[method-assign]
    got = sql("select count(*) as n from t", t=view)
    assert got.column("n")[0].as_py() == N
    assert calls == [None]
    assert len(converted) == -(-N // 256)


# --- rv.sql: errors ------------------------------------------------------------


def test_sql_unknown_column_is_sqlerror_listing_tables(
    trades: tuple[rv.View, np.ndarray],
) -> None:
    view, _ = trades
    with pytest.raises(SQLError) as info:
        sql("select nope from t", t=view)
    err = info.value
    assert isinstance(err, rv.RecviewError)
    assert isinstance(err, ValueError)
    assert isinstance(err.__cause__, duckdb.Error)
    assert "nope" in str(err)
    assert "tables: t(ts, price, qty, side, venue, seq, book.bid, book.ask)" in str(err)


def test_sql_syntax_error_and_unknown_table(trades: tuple[rv.View, np.ndarray]) -> None:
    view, _ = trades
    with pytest.raises(SQLError, match="syntax error"):
        sql("selec 1 from t", t=view)
    with pytest.raises(SQLError, match=r"(?s)missing.*tables: t\("):
        sql("select * from missing", t=view)
    with pytest.raises(SQLError, match="no tables were given"):
        sql("select * from t")


def test_sql_does_not_see_python_variables(trades: tuple[rv.View, np.ndarray]) -> None:
    view, _ = trades
    secret = pa.table({"x": [1, 2, 3]})
    assert secret.num_rows == 3
    with pytest.raises(SQLError, match="secret"):
        sql("select * from secret", t=view)


def test_sql_rejects_what_is_not_a_view_or_a_query(trades: tuple[rv.View, np.ndarray]) -> None:
    view, recs = trades
    with pytest.raises(TypeError, match=r"table 'u': expected a recview View .* ndarray"):
        sql("select 1", t=view, u=recs)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="query must be a str"):
        sql(b"select 1", t=view)  # type: ignore[arg-type]


def test_sql_closed_view_is_closederror(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    np.arange(4, dtype="<u8").tofile(path)
    view = rv.open(path, [("n", "<u8")])
    view.close()
    with pytest.raises(rv.ClosedError):
        sql("select sum(n) from t", t=view)


def test_sql_error_while_reading_is_reraised_as_itself(
    trades: tuple[rv.View, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    view, _ = trades
    real = _export.to_arrow
    boom = rv.TruncatedError("trades.bin: shrank under the scan", path="trades.bin")

    def failing(source: Any, **kwargs: Any) -> Any:
        if len(source):
            raise boom
        return real(source, **kwargs)

    monkeypatch.setattr(_export, "to_arrow", failing)
    with pytest.raises(rv.TruncatedError) as info:
        sql("select sum(price) from t", t=view)
    assert info.value is boom
    assert isinstance(info.value.__cause__, duckdb.Error)


# --- to_arrow_reader -------------------------------------------------------------


def test_reader_batches_equal_to_arrow_of_the_view(trades: tuple[rv.View, np.ndarray]) -> None:
    view, _ = trades
    reader = to_arrow_reader(view, 3000)
    assert isinstance(reader, pa.RecordBatchReader)
    sizes = []
    batches = []
    for batch in reader:
        sizes.append(batch.num_rows)
        batches.append(batch)
    assert sizes == [3000, 3000, 3000, 1000]
    whole = interop.to_arrow(view)
    streamed = pa.Table.from_batches(batches, schema=reader.schema)
    assert reader.schema.equals(whole.schema, check_metadata=True)
    assert streamed.equals(whole)


def test_reader_columns_converts_only_those(
    trades: tuple[rv.View, np.ndarray], converted: list[list[str]]
) -> None:
    view, recs = trades
    table = to_arrow_reader(view, 4096, columns=["seq", "book.bid"]).read_all()
    assert table.column_names == ["seq", "book.bid"]
    assert table.column("seq").to_numpy().tolist() == recs["seq"].tolist()
    assert converted == [["seq", "book.bid"]] * 3


def test_reader_struct_columns(trades: tuple[rv.View, np.ndarray]) -> None:
    view, recs = trades
    table = to_arrow_reader(view, columns=["book"], nested="struct").read_all()
    assert table.schema.field("book").type == pa.struct(
        [("bid", pa.float32()), ("ask", pa.float32())]
    )
    assert table.column("book").combine_chunks().field("bid").to_numpy().tolist() == (
        recs["book"]["bid"].tolist()
    )


def test_reader_copies_contiguous_fields_out_of_the_window(tmp_path: Path) -> None:
    # A one-field record is contiguous: to_arrow would wrap the mapping, but
    # a streamed batch must not point into a window that gets released.
    path = tmp_path / "x.bin"
    values = np.arange(1000, dtype="<f8")
    values.tofile(path)
    with rv.open(path, [("x", "<f8")]) as view:
        whole = interop.to_arrow(view).column("x").chunk(0)
        lo = view.array.__array_interface__["data"][0]
        assert lo <= whole.buffers()[1].address < lo + view.nbytes  # to_arrow: zero-copy
        batches = list(to_arrow_reader(view, 300))
        for batch in batches:
            address = batch.column(0).buffers()[1].address
            assert not lo <= address < lo + view.nbytes
        got = np.concatenate([b.column(0).to_numpy() for b in batches])
    np.testing.assert_array_equal(got, values)


def test_reader_errors(trades: tuple[rv.View, np.ndarray], tmp_path: Path) -> None:
    view, recs = trades
    with pytest.raises(KeyError, match=r"\['nope'\]"):
        to_arrow_reader(view, columns=["ts", "nope"])
    with pytest.raises(ValueError, match="at least one"):
        to_arrow_reader(view, columns=[])
    with pytest.raises(ValueError, match="records must be >= 1"):
        to_arrow_reader(view, 0)
    with pytest.raises(TypeError, match="expected a recview View"):
        to_arrow_reader(recs)  # type: ignore[arg-type]
    path = tmp_path / "x.bin"
    np.arange(4, dtype="<u8").tofile(path)
    closed = rv.open(path, [("n", "<u8")])
    closed.close()
    with pytest.raises(rv.ClosedError):
        to_arrow_reader(closed)


# --- to_polars -------------------------------------------------------------------


def test_polars_values_and_types(trades: tuple[rv.View, np.ndarray]) -> None:
    view, recs = trades
    df = to_polars(view)
    assert isinstance(df, pl.DataFrame)
    assert df.columns == LEAVES
    assert df.height == N
    assert df["seq"].dtype == pl.UInt64
    assert df["seq"].to_numpy().tolist() == recs["seq"].tolist()  # big-endian, swapped
    assert df["book.bid"].to_numpy().tolist() == recs["book"]["bid"].tolist()
    assert df["venue"].dtype == pl.Binary
    assert df["venue"][:2].to_list() == [b"XN\x00", b"ARC"]
    text = to_polars(view, strings="text", columns=["venue"])
    assert text.columns == ["venue"]
    assert text["venue"][:2].to_list() == ["XN", "ARC"]


def test_polars_enum_category(tmp_path: Path) -> None:
    dtype = np.dtype([("side", "u1"), ("qty", "<u4")])
    schema = rv.Schema._from_parts(dtype, enums={"side": {0: "BUY", 1: "SELL"}})
    path = tmp_path / "e.bin"
    np.array([(0, 1), (1, 2), (7, 3)], dtype=dtype).tofile(path)
    with rv.open(path, schema) as view:
        assert to_polars(view)["side"].to_list() == [0, 1, 7]
        cat = to_polars(view, enums="category")["side"]
    assert cat.dtype == pl.Categorical
    assert cat.to_list() == ["BUY", "SELL", None]


def test_polars_shares_the_mapping_for_a_contiguous_field(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    np.arange(1000, dtype="<i8").tofile(path)
    with rv.open(path, [("x", "<i8")]) as view:
        x = to_polars(view)["x"].to_numpy()
        assert np.shares_memory(x, view.array)
    assert x.sum() == 999 * 1000 // 2  # still valid: it keeps the mapping alive


def test_polars_shares_the_arrow_copy_of_a_strided_field(
    trades: tuple[rv.View, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    view, _ = trades
    tables = []
    real = _export.to_arrow

    def keep(source: Any, **kwargs: Any) -> Any:
        tables.append(real(source, **kwargs))
        return tables[-1]

    monkeypatch.setattr(_export, "to_arrow", keep)
    df = to_polars(view)
    (table,) = tables
    for name in ("ts", "price", "qty", "seq", "book.ask"):
        arrow_address = table.column(name).chunk(0).buffers()[1].address
        assert df[name].to_numpy().ctypes.data == arrow_address, name
        # A field of a multi-field record is strided: Arrow copied it once.
        assert not np.shares_memory(df[name].to_numpy(), view.array)


def test_sql_limit_stops_early_and_gives_the_first_records(
    trades: tuple[rv.View, np.ndarray], converted: list[list[str]]
) -> None:
    view, recs = trades
    got = sql("select ts, seq from t limit 5", t=view)
    assert got.column("ts").to_pylist() == recs["ts"][:5].tolist()
    assert got.column("seq").to_pylist() == recs["seq"][:5].tolist()
    # A second query on the same view after an abandoned scan still works.
    assert sql("select count(*) as n from t", t=view).column("n")[0].as_py() == N


@pytest.mark.parametrize(
    ("module", "call", "extra"),
    [
        ("duckdb", lambda view: sql("select 1", t=view), "sql"),
        ("polars", to_polars, "polars"),
    ],
)
def test_missing_extra_is_importerror_with_the_install_hint(
    trades: tuple[rv.View, np.ndarray],
    monkeypatch: pytest.MonkeyPatch,
    module: str,
    call: Any,
    extra: str,
) -> None:
    view, _ = trades
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    with pytest.raises(ImportError, match=rf"{module} is not installed .*recview\[{extra}\]"):
        call(view)
