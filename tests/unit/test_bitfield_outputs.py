"""Bitfields in every output: columns(), pandas, Arrow, Parquet, the CLI's head,
stats, convert (CSV, JSON lines, Parquet, .npy) and inspect.

Two schemas: a declarative one (``rv.bits`` on a big-endian and a
little-endian unit, and inside an array of records) and one from C (GCC's
unnamed storage, a signed bitfield, bitfields in an array of structs). The
expected values come from the raw bytes with Python integers: each
bitfield's storage bytes read as one integer in its byte order, shifted and
masked, sign-extended when signed; nothing of recview's extraction is used.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import recview as rv
from recview import interop
from recview.cli import main as cli_main


class Leg(rv.Record):
    px: rv.f32
    state: rv.bits(rv.u8, live=1, level=3, _=4)


class Segment(rv.Record):
    seq: rv.u32be
    flags: rv.bits(rv.u16be, fin=1, syn=1, rst=1, psh=1, ack=1, urg=1, _=6, off=4)
    legs: rv.array(Leg, 2)
    mix: rv.bits(rv.u32, lo=5, mid=20, hi=7)


C_SOURCE = """
#include <stdint.h>
struct pkt {
    uint8_t kind;
    unsigned int ver : 4, ihl : 4;
    int delta : 6;
    unsigned short tag;
    struct { unsigned char on : 1, mode : 3; } ch[2];
};
"""

SCHEMAS = {"declarative": Segment.schema, "c": rv.Schema.from_c(C_SOURCE)}
N = 40


def bits_of(raw: bytes, itemsize: int, f: rv.FieldInfo) -> np.ndarray:
    """A bitfield's values, shape ``(records, *f.shape)``, from the bytes alone."""
    assert f.bit_offset is not None and f.bit_width is not None
    order = "big" if f.bit_order == ">" else "little"
    n = len(raw) // itemsize
    out = []
    for i in range(n):
        values = []
        for off in f.element_offsets():
            start = i * itemsize + off
            unit = int.from_bytes(raw[start : start + f.dtype.itemsize], order)
            v = (unit >> f.bit_offset) & ((1 << f.bit_width) - 1)
            if f.signed and v >> (f.bit_width - 1):
                v -= 1 << f.bit_width
            values.append(v)
        out.append(values)
    return np.array(out, dtype=np.int64).reshape((n, *f.shape))


def numpy_field(arr: np.ndarray, path: str) -> np.ndarray:
    for part in path.split("."):
        arr = arr[part]
    return arr


def expected(raw: bytes, schema: rv.Schema, f: rv.FieldInfo) -> np.ndarray:
    if f.is_bitfield:
        return bits_of(raw, schema.itemsize, f)
    return numpy_field(np.frombuffer(raw, schema.dtype), f.path)


def cli(*argv: object) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli_main([str(a) for a in argv]) == 0
    return out.getvalue()


@pytest.fixture(params=list(SCHEMAS))
def data(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[rv.Schema, bytes, Path, Path]:
    schema = SCHEMAS[request.param]
    rng = np.random.default_rng(7)
    raw = rng.integers(0, 256, N * schema.itemsize, dtype=np.uint8).tobytes()
    # finite floats: the bytes of px are random otherwise
    arr = np.frombuffer(raw, schema.dtype).copy()
    if "legs" in (schema.names or ()):
        arr["legs"]["px"] = rng.standard_normal((N, 2)).astype(np.float32)
    raw = arr.tobytes()
    path, spec = tmp_path / "d.bin", tmp_path / "s.json"
    path.write_bytes(raw)
    spec.write_text(schema.to_json())
    return schema, raw, path, spec


def bit_leaves(schema: rv.Schema) -> list[rv.FieldInfo]:
    leaves = [f for f in schema.fields() if f.is_bitfield]
    assert (
        leaves
        and any(f.shape for f in leaves)
        and any(f.signed for f in leaves) == (schema is SCHEMAS["c"])
    )
    return leaves


def test_the_schemas_have_the_bitfields_they_claim() -> None:
    assert [f.path for f in bit_leaves(SCHEMAS["declarative"])] == [
        "flags.fin", "flags.syn", "flags.rst", "flags.psh", "flags.ack", "flags.urg",
        "flags.off", "legs.state.live", "legs.state.level", "mix.lo", "mix.mid", "mix.hi",
    ]  # fmt: skip
    # C: the unnamed storage puts them at their parent's level
    assert [f.path for f in bit_leaves(SCHEMAS["c"])] == ["ver", "ihl", "delta", "ch.on", "ch.mode"]
    # by construction: syn is bit 1 of the big-endian u16 value, off its top 4 bits
    a = np.zeros(1, Segment.schema.dtype)
    a["flags"] = 0b1010_0000_0000_0010
    view = {p: int(Segment.schema.get(a, p)[0]) for p in ("flags.syn", "flags.fin", "flags.off")}
    assert (view["flags.syn"], view["flags.fin"], view["flags.off"]) == (1, 0, 0b1010)
    assert bits_of(a.tobytes(), a.itemsize, Segment.schema.field("flags.off")).tolist() == [10]


def test_columns_pandas_arrow_and_parquet(data: Any, tmp_path: Path) -> None:
    schema, raw, path, _ = data
    out = tmp_path / "o.parquet"
    with rv.open(path, schema) as view:
        cols = view.columns()
        some = view.columns([bit_leaves(schema)[0].path])
        df = view.to_pandas()
        table = view.to_arrow()
        interop.to_parquet(view, out, row_group_records=16)
        struct = view.to_arrow(nested="struct")
    back = pq.read_table(out)
    assert (
        back.column_names == table.column_names == list(cols) == [f.path for f in schema.fields()]
    )
    assert list(some) == [bit_leaves(schema)[0].path]
    for f in bit_leaves(schema):
        want = expected(raw, schema, f)
        assert cols[f.path].dtype == f.value_dtype and cols[f.path].flags.writeable
        assert cols[f.path].tolist() == want.tolist(), f.path
        assert table.column(f.path).to_pylist() == want.tolist(), f.path
        assert back.column(f.path).to_pylist() == want.tolist(), f.path
        assert table.schema.field(f.path).type in (
            pa.from_numpy_dtype(f.value_dtype),
            pa.list_(pa.from_numpy_dtype(f.value_dtype), f.shape[0] if f.shape else -1),
        )
        for name, idx in zip(f.element_names(), np.ndindex(*f.shape), strict=True):
            assert df[name].tolist() == want[(slice(None), *idx)].tolist(), name
    # struct mode: a named storage is a struct of its bitfields; C's unnamed
    # storage puts them beside its siblings
    rows = struct.to_pylist()
    if schema is Segment.schema:
        assert set(rows[3]["flags"]) == {"fin", "syn", "rst", "psh", "ack", "urg", "off"}
        assert rows[3]["flags"]["off"] == cols["flags.off"][3]
        assert rows[3]["legs"][1]["state"] == {
            "live": cols["legs.state.live"][3][1], "level": cols["legs.state.level"][3][1]
        }  # fmt: skip
    else:
        assert struct.column_names[:4] == ["kind", "ver", "ihl", "delta"]
        assert not any(name.startswith("_bits") for name in struct.column_names)
        assert rows[5]["ch"][0] == {"on": cols["ch.on"][5][0], "mode": cols["ch.mode"][5][0]}


def test_cli_head_and_convert_csv_jsonl_parquet(data: Any, tmp_path: Path) -> None:
    schema, raw, path, spec = data
    elements = [n for f in schema.fields() for n in f.element_names()]
    head = list(
        csv.DictReader(io.StringIO(cli("head", path, "-s", spec, "-n", 5, "--format", "csv")))
    )
    table = cli("head", path, "-s", spec, "-n", 5).splitlines()
    assert table[0].split() == ["#", *elements]
    assert not any("_bits" in name for name in elements)
    cli("convert", path, "-s", spec, "-o", tmp_path / "o.csv", "-q")
    cli("convert", path, "-s", spec, "-o", tmp_path / "o.jsonl", "-q")
    cli("convert", path, "-s", spec, "-o", tmp_path / "o.parquet", "-q")
    rows = list(csv.DictReader(io.StringIO((tmp_path / "o.csv").read_text())))
    docs = [json.loads(x) for x in (tmp_path / "o.jsonl").read_text().splitlines()]
    back = pq.read_table(tmp_path / "o.parquet")
    assert len(rows) == len(docs) == back.num_rows == N
    for f in bit_leaves(schema):
        want = expected(raw, schema, f)
        assert [d[f.path] for d in docs] == want.tolist(), f.path
        assert back.column(f.path).to_pylist() == want.tolist(), f.path
        for name, idx in zip(f.element_names(), np.ndindex(*f.shape), strict=True):
            column = want[(slice(None), *idx)].tolist()
            assert [int(r[name]) for r in rows] == column, name
            assert [int(r[name]) for r in head] == column[:5], name
        cells = [line.split()[1 + elements.index(f.element_names()[0])] for line in table[2:]]
        assert cells == [str(v) for v in want.reshape(N, -1)[:5, 0].tolist()]


def test_cli_stats_of_bitfields(data: Any) -> None:
    schema, raw, path, spec = data
    doc = json.loads(cli("stats", path, "-s", spec, "--format", "json"))
    for f in bit_leaves(schema):
        want = expected(raw, schema, f)
        got = doc["fields"][f.path]
        assert (got["count"], got["min"], got["max"]) == (want.size, want.min(), want.max())
        assert got["mean"] == pytest.approx(want.mean())
        lo, hi = f.bit_offset, f.bit_offset + f.bit_width - 1  # type: ignore[operator]
        assert got["type"].startswith(f"bit {lo}" if lo == hi else f"bits {lo}-{hi}")
    assert not any(name.startswith("_bits") for name in doc["fields"])


def test_convert_npy_stores_the_storage_unit(data: Any, tmp_path: Path) -> None:
    # .npy has no bitfields: whole records keep every byte; chosen bitfields
    # are written as their storage unit, once, under the storage's name
    schema, raw, path, spec = data
    cli("convert", path, "-s", spec, "-o", tmp_path / "all.npy", "-q")
    whole = np.load(tmp_path / "all.npy")
    assert whole.dtype == schema.dtype and whole.tobytes() == raw
    first, *rest = bit_leaves(schema)
    same_unit = [f.path for f in rest if f.storage == first.storage]
    fields = ",".join([first.path, *same_unit, "kind" if schema is SCHEMAS["c"] else "seq"])
    cli("convert", path, "-s", spec, "--fields", fields, "-o", tmp_path / "some.npy", "-q")
    some = np.load(tmp_path / "some.npy")
    assert some.dtype.names == (first.storage, "kind" if schema is SCHEMAS["c"] else "seq")
    storage = numpy_field(np.frombuffer(raw, schema.dtype), first.storage)
    assert some[first.storage].tobytes() == np.ascontiguousarray(storage).tobytes()
    # and the schema reads the bits back from the stored unit alone
    unit = np.zeros(N, schema.dtype)
    parent, _, last = first.storage.rpartition(".")
    (numpy_field(unit, parent) if parent else unit)[last] = some[first.storage]
    for f in [first, *[schema.field(p) for p in same_unit]]:
        assert f.get(unit).tolist() == expected(raw, schema, f).tolist(), f.path


def test_inspect_prints_each_bitfield_under_its_storage_bytes(data: Any) -> None:
    schema, raw, path, spec = data
    out = cli("inspect", path, "-s", spec, "--record", 3, "--context", 0)
    lines = out.split("> record 3")[1].splitlines()[1:]
    start = 3 * schema.itemsize
    for f in bit_leaves(schema):
        want = expected(raw, schema, f)[3].reshape(-1).tolist()
        for name, off, value in zip(f.element_names(), f.element_offsets(), want, strict=True):
            k = next(i for i, ln in enumerate(lines) if ln.split()[:1] == [name])
            lo, hi = f.bit_offset, f.bit_offset + f.bit_width - 1  # type: ignore[operator]
            bit_range = f"bit {lo}" if lo == hi else f"bits {lo}-{hi}"
            assert lines[k].split()[1:] == [
                *bit_range.split(),
                *(["signed"] if f.signed else []),
                str(value),
            ]
            # under its storage unit: the line above it that holds bytes
            unit = next(ln for ln in reversed(lines[:k]) if ln.lstrip().startswith("+"))
            hexbytes = " ".join(
                f"{b:02x}" for b in raw[start + off : start + off + f.dtype.itemsize]
            )
            assert unit.split()[0] == f"+{off}" and hexbytes in unit, (name, unit)


def test_an_array_gets_its_bitfields_from_the_schema_passed_with_it() -> None:
    schema = SCHEMAS["c"]
    arr = np.frombuffer(bytes(range(3 * schema.itemsize)), schema.dtype)
    with_schema = interop.to_pandas(arr, schema=schema)
    assert list(with_schema.columns) == [n for f in schema.fields() for n in f.element_names()]
    for f in bit_leaves(schema):
        want = bits_of(arr.tobytes(), schema.itemsize, f).reshape(3, -1)[:, 0].tolist()
        assert with_schema[f.element_names()[0]].tolist() == want
    assert interop.to_arrow(arr, schema=schema).column_names == [f.path for f in schema.fields()]
    # the dtype alone has no bitfields: its storage fields are the columns
    plain = interop.to_arrow(arr).column_names
    assert plain == [f.path for f in rv.Schema.from_dtype(schema.dtype).fields()]
    assert {f.storage for f in bit_leaves(schema)} <= set(plain)


def test_inspect_shows_a_units_unused_bits_and_flags_set_ones(tmp_path: Path) -> None:
    # flags: fin..urg are bits 0-5, `_` is bits 6-11, off is 12-15
    a = np.zeros(2, Segment.schema.dtype)
    a["flags"] = [0b0101_0000_0000_0011, 0b0101_0000_0100_0011]  # record 1: bit 6 set
    path, spec = tmp_path / "f.bin", tmp_path / "f.json"
    path.write_bytes(a.tobytes())
    spec.write_text(Segment.schema.to_json())
    for record, note in (
        (0, []),
        (1, ["not", "zero:", "a", "bitfield", "missing", "from", "the", "schema?"]),
    ):
        out = cli("inspect", path, "-s", spec, "--record", record, "--context", 0)
        lines = out.split(f"> record {record}")[1].splitlines()
        k = next(
            i for i, ln in enumerate(lines) if ln.split()[1:3] == ["50", "43" if record else "03"]
        )
        names = [ln.split()[0] for ln in lines[k + 1 : k + 9]]
        assert names == [f"flags.{n}" for n in ("fin", "syn", "rst", "psh", "ack", "urg")] + [
            "(unused)", "flags.off"
        ]  # fmt: skip
        assert lines[k + 7].split()[1:] == ["bits", "6-11", *note]
