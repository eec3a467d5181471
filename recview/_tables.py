"""Conversion of record arrays and columns to Arrow arrays and pandas columns.

This module owns the field mapping that :mod:`recview.interop` documents
(its table "How fields map"), for what needs no view: a structured ndarray of
records or a mapping of columns, with an optional :class:`~recview.schema.Schema`
for enums and bitfields. It walks the leaves of ``Schema.fields()``, converts
each (byte order, strings, enums, times, complex numbers, fixed arrays,
nested records as structs, bitfields) and writes the schema into the Arrow
metadata. Views call it through :mod:`recview._export`; interop, frames and
the streams build on it. The callers import pyarrow and pandas (optional
extras) and pass them in; only ``pyarrow.compute`` and, for
``to_pandas(arrays="arrow")``, pyarrow are imported here, when used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, TypeAlias

import numpy as np

from recview._extras import require
from recview._vocab import NDArray, as_names, join_path, native
from recview.errors import RecviewError, SchemaError
from recview.schema import FieldInfo, Schema

__all__ = [
    "SCHEMA_METADATA_KEY",
    "Arrays",
    "Enums",
    "Leaf",
    "Nested",
    "NotTextError",
    "Options",
    "Records",
    "Strings",
    "arrow_arrays",
    "arrow_metadata",
    "arrow_table",
    "leaves_of",
    "options",
    "pandas_frame",
    "record_count",
    "records",
]

Records: TypeAlias = NDArray | Mapping[str, NDArray]
Strings = Literal["bytes", "text", "str"]
Enums = Literal["int", "category"]
Nested = Literal["flatten", "struct"]
Arrays = Literal["columns", "arrow", "object"]

# Metadata key under which to_parquet/to_arrow store the recview schema JSON.
SCHEMA_METADATA_KEY = b"recview.schema"
_TIME_UNITS = ("s", "ms", "us", "ns")


class NotTextError(RecviewError, ValueError):
    """A ``char[n]`` field converted with ``strings="text"`` holds bytes that
    are not UTF-8.

    Attributes
    ----------
    field : str
        The field's dotted path.
    record : int
        Index of the first such record in the source that was converted.
    offset : int
        Position of the first invalid byte inside that field's value.
    """

    def __init__(self, message: str, *, field: str, record: int, offset: int) -> None:
        super().__init__(message, field=field, offset=offset)
        self.record = record


def _not_text(a: NDArray, key: str) -> NotTextError:
    """The error for the first value of *a* (``S<n>``) that is not UTF-8."""
    values = a.tolist()
    i = next(i for i, v in enumerate(values) if not _is_utf8(v))
    try:
        values[i].decode("utf-8")
    except UnicodeDecodeError as err:
        return NotTextError(
            f"field {key!r}, record {i}: {values[i]!r} is not UTF-8 text "
            f"(invalid byte at {err.start} of the field); keep the exact bytes "
            "with strings='bytes'",
            field=key,
            record=i,
            offset=err.start,
        )
    raise AssertionError("no invalid value")  # pragma: no cover - callers checked


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@dataclass(frozen=True)
class Options:
    """How leaves convert: strings, enums (and each enum field's names), the schema."""

    strings: Strings
    enums: Enums
    enum_map: Mapping[str, Mapping[int, str]]
    schema: Schema | None


@dataclass(frozen=True)
class Leaf:
    """One output column: its name, the leaf of :meth:`Schema.fields` it
    comes from (``info.path`` looks up enums) and, for a column per element
    of an array field, that element's index."""

    name: str
    info: FieldInfo
    source: NDArray  # records info.get reads, or (direct) the values themselves
    index: tuple[int, ...] | None = None
    direct: bool = False

    @property
    def dtype(self) -> np.dtype[Any]:
        """Type of the values (a bitfield's smallest integer type)."""
        return self.info.value_dtype

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one record's value (``()`` for one element)."""
        return () if self.index is not None else self.info.shape

    @property
    def array(self) -> NDArray:
        """The values, shape ``(records, *shape)``: a view of the source for
        a byte field, computed for a bitfield."""
        values = self.source if self.direct else self.info.get(self.source)
        if self.index is not None:
            key: Any = (slice(None), *self.index)
            values = values[key]
        return values


def records(source: object) -> Records:
    """*source* checked as records: a 1-D structured ndarray, or a mapping of
    columns of equal length."""
    if isinstance(source, np.ndarray):
        if source.dtype.names is None:
            raise TypeError(
                f"expected a structured ndarray of records, got an array of dtype {source.dtype}"
            )
        if source.ndim != 1:
            raise ValueError(f"expected a 1-D array of records, got shape {source.shape}")
        return source
    if isinstance(source, Mapping):
        lengths = {name: np.shape(col)[0] if np.ndim(col) else None for name, col in source.items()}
        if any(n is None for n in lengths.values()) or len(set(lengths.values())) > 1:
            raise ValueError(f"columns must be arrays of equal length, got lengths {lengths}")
        return source
    raise TypeError(
        "expected a recview View, a structured ndarray or a mapping of columns, "
        f"got {type(source).__name__}"
    )


def record_count(data: Records) -> int:
    """How many records *data* holds (a mapping: the length of its columns)."""
    if isinstance(data, np.ndarray):
        return len(data)
    for col in data.values():
        return int(np.shape(col)[0])
    return 0


def options(schema: Schema | None, strings: str, enums: str) -> Options:
    """The checked :class:`Options` of a conversion."""
    if strings not in ("bytes", "text", "str"):
        raise ValueError(f"strings must be 'bytes', 'text' or 'str', got {strings!r}")
    if enums not in ("int", "category"):
        raise ValueError(f"enums must be 'int' or 'category', got {enums!r}")
    enum_map = dict(schema.enums) if schema is not None else {}
    return Options(strings, enums, enum_map, schema)  # type: ignore[arg-type]


def _top_level(data: Records) -> list[tuple[str, NDArray]]:
    if isinstance(data, np.ndarray):
        return [(name, data[name]) for name in data.dtype.names or ()]
    return [(name, np.asarray(col)) for name, col in data.items()]


def _schema_of(dtype: np.dtype[Any]) -> Schema:
    try:
        return Schema.from_dtype(dtype)
    except SchemaError as err:
        raise TypeError(f"records of dtype {dtype} cannot be converted: {err}") from err


def leaves_of(
    data: Records,
    schema: Schema | None,
    *,
    expand: bool,
    columns: Sequence[str] | None = None,
) -> list[Leaf]:
    """The output columns of *data*: one per leaf of ``schema.fields()`` (the
    schema's when it describes *data*'s dtype, else the dtype's own), or with
    *expand* one per element of each array leaf, named ``path[i]`` in C order.
    A mapping of columns (``view.columns()``) has a leaf per entry, and
    structured entries are flattened under their key."""
    found: list[tuple[FieldInfo, NDArray, bool]] = []
    if isinstance(data, np.ndarray):
        known = schema is not None and schema.dtype == data.dtype
        fields = (schema if known and schema is not None else _schema_of(data.dtype)).fields()
        found = [(f, data, False) for f in fields]
    else:
        for key, col in _top_level(data):
            if col.dtype.names is None:
                found.append((FieldInfo(key, 0, col.dtype, col.shape[1:]), col, True))
                continue
            # the entry's records as the one field `key` of a record, so that
            # the leaves of its dtype, renamed under `key`, read from it
            whole = col.view(np.dtype([(key, col.dtype)]))
            for f in _schema_of(col.dtype).fields():
                storage = f.storage and join_path(key, f.storage)
                found.append(
                    (replace(f, path=join_path(key, f.path), storage=storage), whole, False)
                )
    leaves: list[Leaf] = []
    for info, src, direct in found:
        if expand and info.shape:
            leaves.extend(
                Leaf(name, info, src, idx, direct)
                for name, idx in zip(info.element_names(), np.ndindex(*info.shape), strict=True)
            )
        else:
            leaves.append(Leaf(info.path, info, src, None, direct))
    names = [leaf.name for leaf in leaves]
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"flattened column names collide: {dupes}")
    columns = as_names(columns)
    if columns is None:
        return leaves
    unknown = [c for c in columns if c not in names]
    if unknown:
        raise KeyError(f"no such column(s) {unknown}; columns are {names}")
    by_name = {leaf.name: leaf for leaf in leaves}
    return [by_name[c] for c in columns]


def _native_time(a: NDArray) -> NDArray:
    """Native order, and seconds when the unit is not one Arrow/pandas hold."""
    unit = np.datetime_data(a.dtype)[0]
    if unit in _TIME_UNITS:
        return a if a.dtype.isnative else a.astype(native(a.dtype))
    return a.astype(f"{a.dtype.kind}8[s]")


def _check_supported(a: NDArray, name: str) -> None:
    kind = a.dtype.kind
    if (kind == "f" and a.dtype.itemsize > 8) or (kind == "c" and a.dtype.itemsize > 16):
        raise TypeError(f"field {name!r}: {a.dtype} (extended precision) has no Arrow type")
    if kind == "O":
        raise TypeError(f"field {name!r}: dtype {a.dtype} is not a fixed-width record field")


# --- enums ------------------------------------------------------------------


def _enum_codes(a: NDArray, mapping: Mapping[int, str]) -> tuple[NDArray, list[str]]:
    """Codes into the enum's distinct names (in value order), -1 for values
    that are not members."""
    values = np.array(sorted(mapping), dtype=np.int64)
    categories = list(dict.fromkeys(mapping[int(v)] for v in values))
    code_of = np.array([categories.index(mapping[int(v)]) for v in values], dtype=np.int32)
    flat = np.asarray(a, dtype=np.int64)
    if values.size == 0:
        return np.full(flat.shape, -1, dtype=np.int32), categories
    pos = np.clip(np.searchsorted(values, flat), 0, values.size - 1)
    found = values[pos] == flat
    return np.where(found, code_of[pos], np.int32(-1)).astype(np.int32), categories


# --- Arrow --------------------------------------------------------------------


def _wrap(pa: Any, arrow_type: Any, data: NDArray) -> Any:
    """Wrap a contiguous, native, aligned 1-D array without copying."""
    return pa.Array.from_buffers(arrow_type, len(data), [None, pa.py_buffer(data)])


def _contiguous(a: NDArray) -> NDArray:
    """*a* itself when it can be wrapped as is, else one contiguous,
    native-order copy (byte-swapping in the same pass)."""
    dtype = native(a.dtype)
    if a.dtype == dtype and a.flags.c_contiguous and a.flags.aligned:
        return a
    # np.array(copy=True), not ascontiguousarray: that returns a misaligned
    # contiguous array as is, and Arrow buffers must be aligned.
    return np.array(a, dtype=dtype, order="C", copy=True)


def _arrow_strings(pa: Any, a: NDArray, key: str, *, strict: bool) -> Any:
    """``S<n>`` values -> Arrow strings: trailing NULs stripped, UTF-8; an
    invalid sequence is a :class:`NotTextError` (*strict*) or replaced by
    U+FFFD. Done by Arrow kernels (validate, then trim); per-value Python
    only for a batch that holds invalid UTF-8."""
    pc = require("pyarrow.compute", extra="arrow", purpose="recview.interop")
    raw = np.ascontiguousarray(a)
    fixed = pa.Array.from_buffers(pa.binary(a.dtype.itemsize), len(a), [None, pa.py_buffer(raw)])
    # Offsets are 32-bit in Arrow's `string`; beyond 2 GiB use `large_string`.
    small = raw.nbytes < 2**31
    binary_type, string_type = (
        (pa.binary(), pa.string()) if small else (pa.large_binary(), pa.large_string())
    )
    try:
        text = fixed.cast(binary_type).cast(string_type)
    except pa.ArrowInvalid:
        if strict:
            raise _not_text(a, key) from None
        return pa.array([b.decode("utf-8", "replace") for b in a.tolist()], type=string_type)
    return pc.utf8_rtrim(text, characters="\x00")


def _arrow_leaf(pa: Any, a: NDArray, key: str, opts: Options) -> Any:
    """A 1-D array of one scalar dtype -> an Arrow array."""
    _check_supported(a, key)
    kind = a.dtype.kind
    if opts.enums == "category" and kind in "iu" and key in opts.enum_map:
        codes, categories = _enum_codes(a, opts.enum_map[key])
        indices = pa.array(codes, mask=codes < 0, type=pa.int32())
        return pa.DictionaryArray.from_arrays(indices, pa.array(categories, type=pa.string()))
    if kind in "iuf":
        data = _contiguous(a)
        return _wrap(pa, pa.from_numpy_dtype(data.dtype), data)
    if kind in "Mm":
        data = _contiguous(_native_time(a))
        nat = np.isnat(data)
        if not nat.any():
            return _wrap(pa, pa.from_numpy_dtype(data.dtype), data)
        # NaT is null, never the date its sentinel value would be (1677-09-21)
        valid = pa.py_buffer(np.packbits(~nat, bitorder="little"))
        return pa.Array.from_buffers(
            pa.from_numpy_dtype(data.dtype), len(data), [valid, pa.py_buffer(data)]
        )
    if kind == "b":
        return pa.array(np.ascontiguousarray(a), type=pa.bool_())
    if kind == "c":
        pairs = _contiguous(a).view(np.dtype(f"f{a.dtype.itemsize // 2}"))
        values = _wrap(pa, pa.from_numpy_dtype(pairs.dtype), pairs)
        return pa.FixedSizeListArray.from_arrays(values, 2)
    if kind == "S" and opts.strings != "bytes":
        return _arrow_strings(pa, a, key, strict=opts.strings == "text")
    if kind == "U":  # numpy's UCS-4 text: trailing NULs are stripped by numpy
        return pa.array(np.asarray(a, dtype=native(a.dtype)), type=pa.string())
    # Raw bytes (S with strings="bytes", or V): exactly itemsize bytes each,
    # trailing NULs included (zero-copy when contiguous).
    raw = np.ascontiguousarray(a)
    return pa.Array.from_buffers(pa.binary(a.dtype.itemsize), len(a), [None, pa.py_buffer(raw)])


@dataclass(frozen=True)
class _Storage:
    """A storage field's bitfield leaves; ``unnamed`` for C's storage, whose
    bitfields are members of the record that holds it."""

    leaves: list[FieldInfo]
    unnamed: bool


def _storages(schema: Schema | None) -> dict[str, _Storage]:
    """The bitfields of each storage field of *schema*, by its dtype path."""
    if schema is None:
        return {}
    leaves: dict[str, list[FieldInfo]] = {}
    for f in schema.fields():
        if f.storage is not None:
            leaves.setdefault(f.storage, []).append(f)
    return {p: _Storage(v, schema.bitfields[p].anonymous) for p, v in leaves.items()}


def _storage_bits(storage: NDArray, info: FieldInfo) -> NDArray:
    """The bitfield *info*'s values from its storage field's values."""
    one = storage.view(np.dtype([("s", storage.dtype)]))
    return replace(info, storage="s").get(one)


def _bit_members(
    pa: Any, storage: NDArray, st: _Storage, opts: Options, bits: Mapping[str, _Storage]
) -> list[tuple[str, Any]]:
    """(name, Arrow array) of each bitfield of a storage field's values."""
    return [
        (f.path.rsplit(".", 1)[-1], _arrow_node(pa, _storage_bits(storage, f), f.path, opts, bits))
        for f in st.leaves
    ]


def _arrow_node(pa: Any, a: NDArray, key: str, opts: Options, bits: Mapping[str, _Storage]) -> Any:
    """An array of shape ``(records, *shape)`` -> Arrow (lists, structs, leaves).
    A storage field in ``bits`` becomes a struct of its bitfields (unnamed
    storage: they take its place among its siblings)."""
    if a.ndim > 1:
        # A view when the block is contiguous (a whole-record array), else a copy.
        inner = _arrow_node(pa, a.reshape(-1), key, opts, bits)
        for dim in reversed(a.shape[1:]):
            inner = pa.FixedSizeListArray.from_arrays(inner, dim)
        return inner
    if key in bits:
        names, children = zip(*_bit_members(pa, a, bits[key], opts, bits), strict=True)
        return pa.StructArray.from_arrays(list(children), names=list(names))
    if a.dtype.names is not None:
        members: list[tuple[str, Any]] = []
        for n in a.dtype.names:
            path = join_path(key, n)
            if path in bits and bits[path].unnamed:
                members.extend(_bit_members(pa, a[n], bits[path], opts, bits))
            else:
                members.append((n, _arrow_node(pa, a[n], path, opts, bits)))
        return pa.StructArray.from_arrays([m[1] for m in members], names=[m[0] for m in members])
    return _arrow_leaf(pa, a, key, opts)


def arrow_arrays(
    pa: Any,
    data: Records,
    opts: Options,
    nested: str,
    columns: Sequence[str] | None,
) -> tuple[list[str], list[Any]]:
    if nested == "flatten":
        leaves = leaves_of(data, opts.schema, expand=False, columns=columns)
        return [x.name for x in leaves], [
            _arrow_node(pa, x.array, x.info.path, opts, {}) for x in leaves
        ]
    if nested != "struct":
        raise ValueError(f"nested must be 'flatten' or 'struct', got {nested!r}")
    top = _top_level(data)
    if columns is not None:
        by_name = dict(top)
        unknown = [c for c in columns if c not in by_name]
        if unknown:
            raise KeyError(f"no such column(s) {unknown}; columns are {list(by_name)}")
        top = [(c, by_name[c]) for c in columns]
    schema = opts.schema
    known = isinstance(data, np.ndarray) and schema is not None and schema.dtype == data.dtype
    bits = _storages(schema if known else None)
    members: list[tuple[str, Any]] = []
    for name, col in top:
        if name in bits and bits[name].unnamed:
            members.extend(_bit_members(pa, col, bits[name], opts, bits))
        else:
            members.append((name, _arrow_node(pa, col, name, opts, bits)))
    return [m[0] for m in members], [m[1] for m in members]


def arrow_metadata(schema: Schema | None) -> dict[bytes, bytes] | None:
    if schema is None:
        return None
    return {SCHEMA_METADATA_KEY: schema.to_json().encode()}


def arrow_table(
    pa: Any,
    data: Records,
    schema: Schema | None,
    *,
    nested: Nested,
    strings: Strings,
    enums: Enums,
    columns: Sequence[str] | None,
) -> Any:
    """*data* as a ``pyarrow.Table`` (see :func:`recview.interop.to_arrow`)."""
    opts = options(schema, strings, enums)
    names, arrays = arrow_arrays(pa, data, opts, nested, columns)
    return pa.Table.from_arrays(arrays, names=names, metadata=arrow_metadata(schema))


# --- pandas -------------------------------------------------------------------


def _pandas_bytes(a: NDArray) -> NDArray:
    width = a.dtype.itemsize
    raw = np.ascontiguousarray(a).tobytes()
    out = np.empty(len(a), dtype=object)
    out[:] = [raw[i : i + width] for i in range(0, len(raw), width)]
    return out


def _pandas_leaf(pd: Any, a: NDArray, key: str, opts: Options, copy: bool) -> Any:
    """A 1-D array of one scalar dtype -> a pandas column (ndarray/extension array)."""
    kind = a.dtype.kind
    if opts.enums == "category" and kind in "iu" and key in opts.enum_map:
        codes, categories = _enum_codes(a, opts.enum_map[key])
        return pd.Categorical.from_codes(codes, categories=categories)
    if kind == "S" and opts.strings == "str":
        return np.char.decode(a, "utf-8", "replace")
    if kind == "S" and opts.strings == "text":
        try:
            return np.char.decode(a, "utf-8", "strict")
        except UnicodeDecodeError:
            raise _not_text(a, key) from None
    if kind in "SV":
        return _pandas_bytes(a)
    if kind in "Mm":
        a = _native_time(a)
    if not a.dtype.isnative:
        return a.astype(native(a.dtype))
    return np.array(a) if copy else a


def pandas_frame(
    pd: Any,
    data: Records,
    schema: Schema | None,
    *,
    strings: Strings,
    enums: Enums,
    arrays: Arrays,
    copy: bool,
    columns: Sequence[str] | None,
) -> Any:
    """*data* as a ``pandas.DataFrame`` (see :func:`recview.interop.to_pandas`)."""
    opts = options(schema, strings, enums)
    if arrays not in ("columns", "arrow", "object"):
        raise ValueError(f"arrays must be 'columns', 'arrow' or 'object', got {arrays!r}")
    pa = (
        require("pyarrow", extra="arrow", purpose='to_pandas(arrays="arrow")')
        if (arrays == "arrow")
        else None
    )
    out: dict[str, Any] = {}
    for leaf in leaves_of(data, schema, expand=arrays == "columns", columns=columns):
        a = leaf.array
        if a.ndim == 1:
            out[leaf.name] = _pandas_leaf(pd, a, leaf.info.path, opts, copy)
        elif pa is not None:
            arrow = _arrow_node(pa, a, leaf.info.path, opts, {})
            out[leaf.name] = pd.arrays.ArrowExtensionArray(arrow)
        else:
            rows = np.array(a) if copy or not a.dtype.isnative else a
            if not rows.dtype.isnative:
                rows = rows.astype(native(rows.dtype))
            cells = np.empty(len(rows), dtype=object)
            for i in range(len(rows)):
                cells[i] = rows[i]
            out[leaf.name] = cells
    return pd.DataFrame(out, index=pd.RangeIndex(record_count(data)), copy=False)
