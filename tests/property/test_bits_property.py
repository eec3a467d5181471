"""Bitfield schemas from recview.testing, with construct as the independent encoder.

``field_specs(bits=True)`` draws records with ``rv.bits`` storage units
(signed or not, 1-8 bytes, either byte order, unused gaps) at every level,
inside arrays of records too. construct's ``BitStruct`` (built by hand in
:class:`recview.testing.BitsSpec`, not by ``to_construct``) writes the bytes;
``check_roundtrip`` reads them back through ``rv.open`` and checks every
bitfield against its bits decoded with Python's integers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import given, strategies as st

import recview as rv
from tests.strategies import (
    BitsSpec,
    bits_specs,
    check_roundtrip,
    field_specs,
    record_bytes,
    records,
    records_to_array,
)


@given(data=st.data())
def test_bitfield_records_written_by_construct_read_back(
    data: st.DataObject, hyp_tmp: Path
) -> None:
    spec = data.draw(field_specs(bits=True, max_depth=2))
    schema = spec.schema()
    values = data.draw(st.lists(records(schema), max_size=4))
    raw = record_bytes(spec, values)
    assert records_to_array(schema, values).tobytes() == raw  # numpy alone agrees
    assert check_roundtrip(schema, raw, hyp_tmp) == raw
    assert check_roundtrip(schema, values, hyp_tmp) == raw


@given(spec=field_specs(bits=True, offset_order=True, gaps=False))
def test_bitfield_schemas_round_trip_json_construct_and_records(spec: object) -> None:
    from recview.testing import RecordSpec

    assert isinstance(spec, RecordSpec)
    schema = spec.schema()
    assert rv.Schema.from_json(schema.to_json()) == schema
    assert rv.Schema.from_construct(spec.construct()) == schema
    assert spec.record_class().schema == schema
    bit_leaves = {f.path for f in schema.fields() if f.is_bitfield}
    assert bit_leaves == {
        f"{path}.{name}" for path, b in spec.bitfields().items() for name, _, _ in b.fields()
    }


@given(spec=bits_specs(), raw=st.binary(min_size=8 * 5, max_size=8 * 5))
def test_bits_spec_unpack_is_what_recview_reads(spec: BitsSpec, raw: bytes) -> None:
    class R(rv.Record):
        u: spec.bits_type()

    n = spec.storage.nbytes
    arr = np.frombuffer(raw[: 5 * n], dtype=R.schema.dtype)
    order = "big" if spec.storage.byteorder == ">" else "little"
    for name, _lsb, _w in spec.fields():
        got = R.schema.get(arr, f"u.{name}").tolist()
        want = [
            spec.unpack(int.from_bytes(raw[i * n : (i + 1) * n], order))[name] for i in range(5)
        ]
        assert got == want, name
        parsed = [spec.construct().parse(raw[i * n : (i + 1) * n])[name] for i in range(5)]
        assert got == parsed, name
