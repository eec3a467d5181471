"""One field model: every consumer names and fills its columns from ``Schema.fields()``.

Outputs whose columns hold arrays (``view.columns()``, Arrow, Parquet, JSON
lines) have one column per leaf, named by its dotted path; outputs whose
cells hold one value (pandas, CSV, the CLI's table) have one column per
element, named as :meth:`recview.FieldInfo.element_names` names it
(``path[i]``, ``path[i][j]``, C order; through an array of records the
member's path first: ``legs.px[1]``). Random schemas come from
:mod:`recview.testing` (nested records, arrays of records, sub-arrays, both
byte orders, bitfield storage units at every level); the values are
checked against numpy's own field indexing, and a bitfield against its bits
taken out of the storage integer in Python.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings, strategies as st

import recview as rv
from recview import interop
from recview.cli import main as cli_main
from tests.strategies import field_specs, record_bytes, records


def numpy_field(arr: np.ndarray, path: str) -> np.ndarray:
    """numpy's own field indexing: ``arr["legs"]["px"]``."""
    for part in path.split("."):
        arr = arr[part]
    return arr


def expected(arr: np.ndarray, f: rv.FieldInfo) -> np.ndarray:
    """A leaf's values from numpy alone; a bitfield's from Python integers:
    the storage value's bits ``lsb .. lsb + width - 1``, sign-extended."""
    if f.storage is None:
        return numpy_field(arr, f.path)
    assert f.bit_offset is not None and f.bit_width is not None
    storage = numpy_field(arr, f.storage)
    unsigned = storage.view(storage.dtype.str.replace("i", "u"))
    mask = (1 << f.bit_width) - 1
    top = 1 << (f.bit_width - 1)

    def one(v: int) -> int:
        x = (v >> f.bit_offset) & mask
        return x - (1 << f.bit_width) if f.signed and x & top else x

    flat = [one(int(v)) for v in unsigned.reshape(-1).tolist()]
    return np.array(flat, dtype=np.int64).reshape(storage.shape)


def python_values(a: np.ndarray) -> list[Any]:
    """Values as Arrow and JSON give them back: ``char[n]`` as its exact bytes,
    floats as floats with NaN spelled out (NaN != NaN)."""
    if a.dtype.kind == "S":
        a = a.view(f"V{a.dtype.itemsize}")
    return canonical(a.tolist())


def canonical(v: Any) -> Any:
    if isinstance(v, list):
        return [canonical(x) for x in v]
    if isinstance(v, float) and math.isnan(v):
        return "nan"
    if isinstance(v, memoryview):
        return bytes(v)
    return float(v) if isinstance(v, (np.floating, float)) else v


def cli(*argv: object) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli_main([str(a) for a in argv]) == 0
    return out.getvalue()


@contextlib.contextmanager
def data_files(directory: Path, schema: rv.Schema, raw: bytes) -> Iterator[tuple[str, str, str]]:
    """(data file, schema JSON file, a folder for outputs), removed afterwards."""
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        data, spec = os.path.join(tmp, "d.bin"), os.path.join(tmp, "s.json")
        Path(data).write_bytes(raw)
        Path(spec).write_text(schema.to_json())
        yield data, spec, tmp


def check_names_and_values(schema: rv.Schema, raw: bytes, directory: Path) -> None:
    arr = np.frombuffer(raw, dtype=schema.dtype)
    leaves = schema.fields()
    paths = [f.path for f in leaves]
    elements = [n for f in leaves for n in f.element_names()]
    with data_files(directory, schema, raw) as (data, spec, tmp), rv.open(data, schema) as view:
        cols = view.columns()
        table = view.to_arrow()
        df = view.to_pandas(strings="bytes")
        out = os.path.join(tmp, "o.parquet")
        interop.to_parquet(view, out)
        back = pq.read_table(out)
        csv_text = cli("convert", data, "-s", spec, "-o", "-", "--to", "csv", "-q")
        jsonl = cli("convert", data, "-s", spec, "-o", "-", "--to", "jsonl", "-q")
        head_csv = cli("head", data, "-s", spec, "-n", 3, "--format", "csv")
        head_table = cli("head", data, "-s", spec, "-n", 3)
    # names: one column per leaf, or per element, in fields() order
    assert list(cols) == paths
    assert table.column_names == paths
    assert back.column_names == paths
    assert list(df.columns) == elements
    rows = list(csv.reader(io.StringIO(csv_text)))
    assert rows[0] == elements
    assert next(csv.reader(io.StringIO(head_csv))) == elements
    assert head_table.splitlines()[0].split() == ["#", *elements]
    docs = [json.loads(line) for line in jsonl.splitlines()]
    assert len(docs) == len(arr)
    assert all(list(d) == paths for d in docs)
    assert back.schema.equals(table.schema)
    # values: numpy's field indexing (a bitfield: its bits in Python)
    for f in leaves:
        want = expected(arr, f)
        got = cols[f.path]
        assert got.shape == (len(arr), *f.shape)
        assert got.dtype == f.value_dtype.newbyteorder("=")
        assert got.tobytes() == want.astype(got.dtype).tobytes(), f.path
        arrow = table.column(f.path).to_pylist()
        assert canonical(arrow) == python_values(want), f.path
        assert canonical(back.column(f.path).to_pylist()) == canonical(arrow), f.path
        if want.dtype.kind != "S":  # JSON has char[n] as display text
            assert same_json([d[f.path] for d in docs], want), f.path
        for name, idx in zip(f.element_names(), np.ndindex(*f.shape), strict=True):
            column = want[(slice(None), *idx)]
            assert canonical(df[name].tolist()) == python_values(column), name
            if column.dtype.kind in "iub":
                cells = [r[elements.index(name)] for r in rows[1:]]
                assert cells == [str(v) for v in column.tolist()], name


def same_json(got: list[Any], want: np.ndarray) -> bool:
    """JSON values (null for NaN and infinities, floats as their shortest
    text) against numpy's, compared in numpy's own type."""
    if want.dtype.kind != "f":
        return canonical(got) == python_values(want)
    nulls = np.vectorize(lambda v: math.nan if v is None else v, otypes=[float])
    back = nulls(np.array(got, dtype=object)).astype(want.dtype)
    finite = np.where(np.isfinite(want), want, np.nan)
    return bool(np.array_equal(back, finite, equal_nan=True))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_every_consumer_names_and_fills_columns_from_fields(
    hyp_tmp: Path, data: st.DataObject
) -> None:
    spec = data.draw(field_specs(max_depth=2, max_fields=4, bits=True), label="spec")
    values = data.draw(st.lists(records(spec), min_size=1, max_size=5), label="values")
    check_names_and_values(spec.schema(), record_bytes(spec, values), hyp_tmp)


class Leg(rv.Record):
    px: rv.f64
    qty: rv.u32
    flags: rv.bits(rv.u8, buy=1, level=3, _=4)


class Order(rv.Record):
    id: rv.u32
    hdr: type("Hdr", (rv.Record,), {"__annotations__": {"ts": rv.u64, "sym": rv.bytes_(4)}})
    legs: rv.array(Leg, 2)
    grid: rv.array(rv.i16, (2, 3))
    tcp: rv.bits(rv.u16be, fin=1, syn=1, _=14)


def test_the_naming_rule_on_nested_records_arrays_of_records_subarrays_and_chars(
    tmp_path: Path,
) -> None:
    schema = Order.schema
    per_leaf = [
        "id", "hdr.ts", "hdr.sym", "legs.px", "legs.qty", "legs.flags.buy", "legs.flags.level",
        "grid", "tcp.fin", "tcp.syn",
    ]  # fmt: skip
    per_element = [
        "id", "hdr.ts", "hdr.sym",
        "legs.px[0]", "legs.px[1]", "legs.qty[0]", "legs.qty[1]",
        "legs.flags.buy[0]", "legs.flags.buy[1]", "legs.flags.level[0]", "legs.flags.level[1]",
        "grid[0][0]", "grid[0][1]", "grid[0][2]", "grid[1][0]", "grid[1][1]", "grid[1][2]",
        "tcp.fin", "tcp.syn",
    ]  # fmt: skip
    assert [f.path for f in schema.fields()] == per_leaf
    assert [n for f in schema.fields() for n in f.element_names()] == per_element
    arr = np.zeros(4, schema.dtype)
    arr["id"] = np.arange(4)
    arr["hdr"]["sym"] = b"AB"
    arr["legs"]["px"] = [[0.5, 1.5]] * 4
    arr["legs"]["flags"] = [[0b1011, 0b0110]] * 4  # buy 1, level 5; buy 0, level 3
    arr["grid"] = np.arange(24).reshape(4, 2, 3)
    arr["tcp"] = 0b10  # syn
    check_names_and_values(schema, arr.tobytes(), tmp_path)
    with data_files(tmp_path, schema, arr.tobytes()) as (data, spec, _):
        rec = json.loads(cli("head", data, "-s", spec, "-n", 1, "--format", "jsonl"))
        table = cli("head", data, "-s", spec, "-n", 1).splitlines()
    assert rec["legs.flags.level"] == [5, 3] and rec["tcp.syn"] == 1 and rec["tcp.fin"] == 0
    assert rec["grid"] == [[0, 1, 2], [3, 4, 5]]
    assert table[0].split() == ["#", *per_element]
    row = dict(zip(per_element, table[2].split()[1:], strict=True))
    assert (row["legs.flags.buy[0]"], row["legs.flags.level[1]"], row["grid[1][2]"]) == (
        "1",
        "3",
        "5",
    )
