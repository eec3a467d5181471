"""C declarations through the public API (``Schema.from_c``)."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

import recview as rv

# ---------------------------------------------------------------------------
# Through the public API
# ---------------------------------------------------------------------------


def test_schema_from_c_carries_unions_and_enums() -> None:
    schema = rv.Schema.from_c(
        """
        enum side { BUY = 1, SELL = 2 };
        struct tick { uint64_t ts; union { double px; int64_t raw; } price; enum side side; };
        """,
        "tick",
        byteorder=">",
    )
    assert schema.itemsize == 24
    assert schema.unions == frozenset({"price"})
    assert dict(schema.enums["side"]) == {1: "BUY", 2: "SELL"}
    assert schema.dtype["ts"].str == ">u8"
    assert pickle.loads(pickle.dumps(schema)) == schema
    assert rv.Schema.from_json(schema.to_json()) == schema


def test_schema_from_c_reads_records_written_as_c_would(tmp_path: Any) -> None:
    schema = rv.Schema.from_c("struct r { char tag; uint32_t n; char name[3]; };")
    raw = b"A\0\0\0" + (7).to_bytes(4, "little") + b"bob\0"
    path = tmp_path / "r.bin"
    path.write_bytes(raw * 3)
    with rv.open(path, schema) as view:
        assert len(view) == 3
        assert view["n"].tolist() == [7, 7, 7]
        assert view["name"][0] == b"bob"
        assert view["tag"][2] == b"A"


def test_schema_from_c_refusals_are_schema_errors() -> None:
    with pytest.raises(rv.SchemaError, match="width of 'x' .* exceeds its type") as info:
        rv.Schema.from_c("struct s { int x : 33; };")
    assert info.value.field == "x"
