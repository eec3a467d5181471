"""Hypothesis strategies and a round-trip check for property-testing schemas.

This module is public so that users can property-test their own record
layouts the way recview tests itself. It needs :mod:`hypothesis`, which is
imported here (and only here): ``import recview`` never imports it.

The strategies draw one intermediate description of a record, a
:class:`RecordSpec` (a list of :class:`FieldSpec`: names, explicit offsets,
gaps, nested records, fixed arrays of any rank, both byte orders, integers,
floats, bools and ``S<n>`` bytes). From that one description two encoders are
built *independently*:

- :meth:`RecordSpec.schema` compiles it to a :class:`recview.Schema` through a
  numpy dtype (:meth:`recview.Schema.from_dtype`), and
  :meth:`RecordSpec.record_class` through a declarative :class:`recview.Record`;
- :meth:`RecordSpec.construct` builds a ``construct.Struct`` by hand (it does
  **not** use :meth:`recview.Schema.to_construct`), so bytes written with it
  (:func:`record_bytes`) test recview against an outside encoder.

:func:`records` draws values valid for a schema (NaNs canonical, ``S<n>``
values without trailing NULs, which numpy would strip), and
:func:`check_roundtrip` runs the whole loop in one call: bytes → file →
:func:`recview.open` → fields equal → ``schema.to_construct()`` parse and
build → the same bytes.

Examples
--------
>>> import tempfile
>>> from hypothesis import given, settings, strategies as st
>>> from recview.testing import check_roundtrip, field_specs, record_bytes, records
>>> tmp = tempfile.mkdtemp()
>>> @settings(max_examples=10, deadline=None, database=None)
... @given(st.data())
... def test_roundtrip(data):
...     spec = data.draw(field_specs())
...     schema = spec.schema()
...     values = data.draw(st.lists(records(schema), max_size=4))
...     raw = record_bytes(spec, values)      # written by the independent construct.Struct
...     assert check_roundtrip(schema, values, tmp) == raw
>>> test_roundtrip()
"""

from __future__ import annotations

from recview.testing._encode import (
    _plain as _plain,  # the tests compare construct's results through it
    from_numpy,
    record_bytes,
    records_to_array,
    same_values,
    temp_file,
)
from recview.testing._roundtrip import check_roundtrip
from recview.testing._specs import (
    BitsSpec,
    ByteOrder as ByteOrder,  # the type aliases of ScalarSpec's fields
    FieldSpec,
    RecordSpec,
    ScalarKind as ScalarKind,
    ScalarSpec,
)
from recview.testing._strategies import (
    bits_specs,
    field_names,
    field_specs,
    records,
    scalar_specs,
    schemas,
)

__all__ = [
    "BitsSpec",
    "FieldSpec",
    "RecordSpec",
    "ScalarSpec",
    "check_roundtrip",
    "bits_specs",
    "field_names",
    "field_specs",
    "from_numpy",
    "record_bytes",
    "records",
    "records_to_array",
    "same_values",
    "scalar_specs",
    "schemas",
    "temp_file",
]
