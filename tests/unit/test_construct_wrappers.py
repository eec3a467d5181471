"""Schema.from_construct around byte-reordering and out-of-line subcons.

construct is the oracle: for each struct it accepts, recview must read what
``struct.parse`` gives from the same random bytes, leaf by leaf; what recview
cannot express exactly must be a SchemaError naming the field (FINDINGS [B]:
ByteSwapped was dropped, Pointer/Peek were laid out in line).
"""

from __future__ import annotations

from typing import Any

import construct as c
import numpy as np
import pytest

import recview as rv

RAW = bytes(range(1, 41))


def leaf_values(parsed: Any, path: str) -> Any:
    for part in path.split("."):
        parsed = parsed[part]
    return parsed


@pytest.mark.parametrize(
    "struct",
    [
        c.Struct("a" / c.ByteSwapped(c.Int32ub)),
        c.Struct("a" / c.ByteSwapped(c.Int32ul)),
        c.Struct("a" / c.ByteSwapped(c.Int64sl), "b" / c.Int8ub),
        c.Struct("a" / c.ByteSwapped(c.Float32b)),
        c.Struct("a" / c.ByteSwapped(c.Int8ub)),
        c.Struct("a" / c.ByteSwapped(c.BytesInteger(2)), "b" / c.ByteSwapped(c.Int16sb)),
        c.Struct("a" / c.ByteSwapped(c.ByteSwapped(c.Int32ub))),
    ],
)
def test_byteswapped_scalars_read_what_construct_parses(struct: Any) -> None:
    schema = rv.Schema.from_construct(struct)
    assert schema.itemsize == struct.sizeof()
    raw = RAW[: schema.itemsize]
    parsed = struct.parse(raw)
    arr = np.frombuffer(raw, dtype=schema.dtype)
    for f in schema.fields():
        got = schema.get(arr, f.path)[0]
        want = leaf_values(parsed, f.path)
        assert got == want or (np.isnan(got) and np.isnan(want)), f.path
    assert schema.to_construct().parse(raw) == struct.parse(raw)


@pytest.mark.parametrize(
    ("struct", "field"),
    [
        (c.Struct("a" / c.ByteSwapped(c.Bytes(4))), "a"),
        (c.Struct("s" / c.ByteSwapped(c.Struct("a" / c.Int16ub, "b" / c.Int16ub))), "s"),
        (c.Struct("x" / c.Int8ub, "a" / c.ByteSwapped(c.Array(2, c.Int16ub))), "a"),
        (c.Struct("a" / c.BitsSwapped(c.Int8ub)), "a"),
        (c.Struct("a" / c.Bitwise(c.Array(8, c.Bit))), "a"),
    ],
)
def test_byte_reordering_recview_cannot_express_is_refused(struct: Any, field: str) -> None:
    with pytest.raises(rv.SchemaError, match="reorders") as info:
        rv.Schema.from_construct(struct)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("struct", "field"),
    [
        (c.Struct("a" / c.Int8ub, "p" / c.Pointer(6, c.Int8ub), c.Padding(7)), "p"),
        (c.Struct("a" / c.Int8ub, "p" / c.Pointer(6, c.Int8ub)), "p"),
        (c.Struct("a" / c.Int8ub, "pk" / c.Peek(c.Int16ul)), "pk"),
        (c.Struct("a" / c.Int8ub, "pk" / c.Peek(c.Int16ul), "b" / c.Int16ul), "pk"),
    ],
)
def test_out_of_line_subcons_are_refused_not_laid_out_in_line(struct: Any, field: str) -> None:
    with pytest.raises(rv.SchemaError, match="takes no room") as info:
        rv.Schema.from_construct(struct)
    assert info.value.field == field


def test_pointer_in_a_union_is_refused() -> None:
    union = c.Padded(4, c.Union(0, "a" / c.Int32ul, "p" / c.Pointer(8, c.Int16ul)))
    with pytest.raises(rv.SchemaError, match="takes no room") as info:
        rv.Schema.from_construct(c.Struct("u" / union))
    assert info.value.field == "u.p"
