"""from_construct on fixed-size constructs it refused or crashed on.

``Padded(n, Int16ul)`` and ``Aligned(n, Int8ul)`` are fixed-size fields (the
value, then padding) but were refused as if they read bytes elsewhere
("takes no room in the record (8 bytes) but reads 2 bytes elsewhere"); a
Struct with two members of one name was a bare numpy ValueError.
"""

from __future__ import annotations

import construct as c
import numpy as np
import pytest

import recview as rv


@pytest.mark.parametrize(
    "struct",
    [
        c.Struct("p" / c.Padded(8, c.Int16ul), "x" / c.Int8ul),
        c.Struct("p" / c.Aligned(4, c.Int8ul), "x" / c.Int32ul),
        c.Struct("a" / c.Int8ul, "p" / c.Padded(6, c.Array(2, c.Int16ub)), "x" / c.Int8ul),
        c.Struct("p" / c.Padded(5, c.Struct("y" / c.Int16ul)), "x" / c.Int8ul),
    ],
)
def test_padded_and_aligned_fields_read_as_construct_parses(struct: c.Struct) -> None:
    schema = rv.Schema.from_construct(struct)
    assert schema.itemsize == struct.sizeof()
    raw = bytes(range(7, 7 + struct.sizeof()))
    parsed = struct.parse(raw)
    rec = np.frombuffer(raw, schema.dtype)
    for f in schema.fields():
        value = parsed
        for part in f.path.split("."):
            value = value[part]
        assert np.asarray(schema.get(rec, f.path)[0]).tolist() == (
            list(value) if isinstance(value, list) else value
        ), f.path


def test_a_padded_pointer_is_still_refused() -> None:
    with pytest.raises(rv.SchemaError, match="Pointer"):
        rv.Schema.from_construct(c.Struct("p" / c.Pointer(8, c.Int32ul), "x" / c.Int8ul))


@pytest.mark.parametrize(
    "struct",
    [
        c.Struct("x" / c.Int8ul, "x" / c.Int16ul),
        c.Struct("h" / c.Struct("a" / c.Int8ul, "a" / c.Int8ul)),
    ],
)
def test_two_members_of_one_name_are_a_schema_error(struct: c.Struct) -> None:
    with pytest.raises(rv.SchemaError, match="'(h\\.)?[xa]'.*twice|twice.*'(h\\.)?[xa]'"):
        rv.Schema.from_construct(struct)
