"""pandas, Arrow and Parquet conversions of record views and batches.

This module turns what recview hands out -- a :class:`~recview.view.View`, a
structured ndarray (``view.array``, ``view[a:b]``, a batch from
``view.batches()`` or ``rv.stream()``) or a dict of columns
(``view.columns()``) -- into a :class:`pandas.DataFrame`, a
:class:`pyarrow.Table` or a Parquet file. pandas and pyarrow are optional
(extras ``recview[pandas]`` and ``recview[arrow]``) and are imported inside the
functions, never by ``import recview``.

How fields map
--------------
================================  =========================================  ====================================
numpy field (any byte order)      Arrow                                      pandas
================================  =========================================  ====================================
``i1..i8``, ``u1..u8``            ``int8..uint64``                           same numpy dtype
``f2``, ``f4``, ``f8``            ``halffloat``, ``float``, ``double``       same numpy dtype
``?`` (bool)                      ``bool`` (bit-packed: always a copy)       ``bool``
``M8``/``m8`` in s, ms, us, ns    ``timestamp``/``duration`` of that unit    same numpy dtype
``M8``/``m8`` in other units      converted to seconds                       converted to seconds
``c8``, ``c16``                   ``fixed_size_list<float|double>[2]``       same numpy dtype
``S<n>`` (``char[n]``)            ``fixed_size_binary(n)`` (default), or     ``str`` dtype (default), or
                                  ``string`` (``"text"``, ``"str"``)         ``object`` bytes (``"bytes"``)
``U<n>`` (numpy UCS-4 text)       ``string``                                 ``str`` dtype
``V<n>`` (raw bytes)              ``fixed_size_binary(n)``                   ``object`` column of ``bytes``
enum integer (``schema.enums``)   the integer, or ``dictionary<int32,        the integer, or ``category``
                                  string>`` with ``enums="category"``        with ``enums="category"``
nested struct ``hdr``             columns ``hdr.ts``, ``hdr.len`` (default)  columns ``hdr.ts``, ``hdr.len``
                                  or a ``struct`` (``nested="struct"``)
fixed array ``pos[3]``            ``fixed_size_list<...>[3]`` (nested        columns ``pos[0]``, ``pos[1]``,
                                  lists for several dimensions)              ``pos[2]`` (default), or one column
                                                                             of fixed-size lists
                                                                             (``arrays="arrow"``) or of
                                                                             ndarrays (``arrays="object"``)
array of records ``pts[2]``       columns ``pts.x``, ``pts.y``, each         columns ``pts.x[0]``, ``pts.x[1]``,
                                  ``fixed_size_list<...>[2]`` (or one list   ``pts.y[0]``, ``pts.y[1]``
                                  of structs with ``nested="struct"``)
bitfield ``flags.syn``            its column, the smallest integer type      the same
                                  holding it (a ``struct`` member of the
                                  storage with ``nested="struct"``)
================================  =========================================  ====================================

The columns are the leaves of :meth:`recview.Schema.fields` in its order:
one column per leaf where a column holds arrays (Arrow, Parquet), one per
element named as :meth:`recview.FieldInfo.element_names` (``path[i]``,
``path[i][j]``, C order) where a cell holds one value (pandas).

Big-endian (or otherwise non-native) fields are always converted to native
byte order, which is a copy. The members of a C union are each converted
(they are different readings of the same bytes); padding bytes are skipped.

Strings: Arrow and Parquet keep a ``char[n]`` field's exact ``n`` bytes by
default (``strings="bytes"``, trailing NULs included): nothing is lost.
``strings="text"`` decodes it as numpy reads it -- trailing NUL bytes are
stripped (embedded NULs are kept) -- and then as UTF-8, raising
:class:`NotTextError` (naming the field and record) for bytes that are not
UTF-8; ``strings="str"`` replaces each invalid byte sequence by U+FFFD
instead (lossy). pandas defaults to ``"str"``, for display.

Enums: with ``enums="category"`` an integer that is not a member of the enum
becomes a missing value (pandas ``NaN``, Arrow null); keep the default
``enums="int"`` when such values must survive.

When nothing is copied
----------------------
A numpy field of a record array is *strided*: consecutive values are
``itemsize`` bytes apart, with the other fields in between.

- **Arrow** needs contiguous buffers, so a field is wrapped without a copy
  (``pa.py_buffer`` + ``pa.Array.from_buffers``) only when it is contiguous,
  native-order and aligned: a one-field record, any column of
  ``view.columns()``, or a fixed array filling a whole record. Any other
  field is copied once into a contiguous native-order buffer (the copy is
  then wrapped, not copied again). ``bool``, strings, enums as categories and
  complex numbers always produce new buffers.
- **pandas** can hold a strided column, so with the default ``copy=False``
  every native-order numeric, ``bool``, datetime and complex field is a view
  of the source (of the file's mapping, for a :class:`~recview.view.View`).
  ``copy=True`` gives owned, contiguous columns instead. Expanded fixed-array
  elements are views as well.

Arrow arrays and pandas columns that view a mapped file keep the mapping
alive; they stay valid after ``view.close()``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal, Union, cast

import numpy as np

from recview._extras import require
from recview.errors import RecviewError, SchemaError
from recview.schema import FieldInfo, Schema

if TYPE_CHECKING:
    from recview.view import View

__all__ = ["NotTextError", "to_arrow", "to_pandas", "to_parquet"]

NDArray = np.ndarray[Any, np.dtype[Any]]
Source = Union["View", NDArray, Mapping[str, NDArray]]
Strings = Literal["bytes", "text", "str"]
Enums = Literal["int", "category"]
Nested = Literal["flatten", "struct"]
Arrays = Literal["columns", "arrow", "object"]

# Default sizes for to_parquet, in bytes of records: a conversion batch small
# enough that the records it spans stay in cache while each field is copied
# out of them, and row groups of the size pyarrow's own writer aims for.
_BATCH_NBYTES = 1 << 20
_ROW_GROUP_NBYTES = 64 << 20
_ROW_GROUP_MAX_RECORDS = 1 << 20
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
class _Options:
    strings: Strings
    enums: Enums
    enum_map: Mapping[str, Mapping[int, str]]
    schema: Schema | None


@dataclass(frozen=True)
class _Leaf:
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


def _is_view(source: object) -> bool:
    # Duck-typed so that this module never needs recview.view at import time
    # (view.py calls into this module for View.to_pandas / View.to_arrow).
    return hasattr(source, "schema") and hasattr(source, "array") and hasattr(source, "batches")


def _verify(source: Source) -> None:
    """After copying out of a View: a TruncatedError if the file shrank under
    it (pages past a mid-page cut read as zeros without any fault)."""
    verify = getattr(source, "_verify", None) if _is_view(source) else None
    if verify is not None:
        verify()


def _resolve(
    source: Source, schema: Schema | None
) -> tuple[NDArray | Mapping[str, NDArray], Schema | None]:
    """Return the array (or mapping of columns) behind *source* and its schema."""
    if _is_view(source):
        view: Any = source
        return view.array, schema if schema is not None else view.schema
    if isinstance(source, np.ndarray):
        if source.dtype.names is None:
            raise TypeError(
                f"expected a structured ndarray of records, got an array of dtype {source.dtype}"
            )
        if source.ndim != 1:
            raise ValueError(f"expected a 1-D array of records, got shape {source.shape}")
        return source, schema
    if isinstance(source, Mapping):
        lengths = {name: np.shape(col)[0] if np.ndim(col) else None for name, col in source.items()}
        if any(n is None for n in lengths.values()) or len(set(lengths.values())) > 1:
            raise ValueError(f"columns must be arrays of equal length, got lengths {lengths}")
        return source, schema
    raise TypeError(
        "expected a recview View, a structured ndarray or a mapping of columns, "
        f"got {type(source).__name__}"
    )


def _options(schema: Schema | None, strings: str, enums: str) -> _Options:
    if strings not in ("bytes", "text", "str"):
        raise ValueError(f"strings must be 'bytes', 'text' or 'str', got {strings!r}")
    if enums not in ("int", "category"):
        raise ValueError(f"enums must be 'int' or 'category', got {enums!r}")
    enum_map = dict(schema.enums) if schema is not None else {}
    return _Options(strings, enums, enum_map, schema)  # type: ignore[arg-type]


def _top_level(data: NDArray | Mapping[str, NDArray]) -> list[tuple[str, NDArray]]:
    if isinstance(data, np.ndarray):
        return [(name, data[name]) for name in data.dtype.names or ()]
    return [(name, np.asarray(col)) for name, col in data.items()]


def _schema_of(dtype: np.dtype[Any]) -> Schema:
    try:
        return Schema.from_dtype(dtype)
    except SchemaError as err:
        raise TypeError(f"records of dtype {dtype} cannot be converted: {err}") from err


def _leaves(
    data: NDArray | Mapping[str, NDArray],
    schema: Schema | None,
    *,
    expand: bool,
    columns: Sequence[str] | None = None,
) -> list[_Leaf]:
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
                storage = f.storage and f"{key}.{f.storage}"
                found.append((replace(f, path=f"{key}.{f.path}", storage=storage), whole, False))
    leaves: list[_Leaf] = []
    for info, src, direct in found:
        if expand and info.shape:
            leaves.extend(
                _Leaf(name, info, src, idx, direct)
                for name, idx in zip(info.element_names(), np.ndindex(*info.shape), strict=True)
            )
        else:
            leaves.append(_Leaf(info.path, info, src, None, direct))
    names = [leaf.name for leaf in leaves]
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"flattened column names collide: {dupes}")
    if columns is None:
        return leaves
    unknown = [c for c in columns if c not in names]
    if unknown:
        raise KeyError(f"no such column(s) {unknown}; columns are {names}")
    by_name = {leaf.name: leaf for leaf in leaves}
    return [by_name[c] for c in columns]


def _native(dtype: np.dtype[Any]) -> np.dtype[Any]:
    return dtype.newbyteorder("=") if dtype.byteorder not in ("=", "|") else dtype


def _native_time(a: NDArray) -> NDArray:
    """Native order, and seconds when the unit is not one Arrow/pandas hold."""
    unit = np.datetime_data(a.dtype)[0]
    if unit in _TIME_UNITS:
        return a if a.dtype.isnative else a.astype(_native(a.dtype))
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
    dtype = _native(a.dtype)
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


def _arrow_leaf(pa: Any, a: NDArray, key: str, opts: _Options) -> Any:
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
        return pa.array(np.asarray(a, dtype=_native(a.dtype)), type=pa.string())
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
    pa: Any, storage: NDArray, st: _Storage, opts: _Options, bits: Mapping[str, _Storage]
) -> list[tuple[str, Any]]:
    """(name, Arrow array) of each bitfield of a storage field's values."""
    return [
        (f.path.rsplit(".", 1)[-1], _arrow_node(pa, _storage_bits(storage, f), f.path, opts, bits))
        for f in st.leaves
    ]


def _arrow_node(pa: Any, a: NDArray, key: str, opts: _Options, bits: Mapping[str, _Storage]) -> Any:
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
            path = f"{key}.{n}"
            if path in bits and bits[path].unnamed:
                members.extend(_bit_members(pa, a[n], bits[path], opts, bits))
            else:
                members.append((n, _arrow_node(pa, a[n], path, opts, bits)))
        return pa.StructArray.from_arrays([m[1] for m in members], names=[m[0] for m in members])
    return _arrow_leaf(pa, a, key, opts)


def _arrow_arrays(
    pa: Any,
    data: NDArray | Mapping[str, NDArray],
    opts: _Options,
    nested: str,
    columns: Sequence[str] | None,
) -> tuple[list[str], list[Any]]:
    if nested == "flatten":
        leaves = _leaves(data, opts.schema, expand=False, columns=columns)
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


def _arrow_metadata(schema: Schema | None) -> dict[bytes, bytes] | None:
    if schema is None:
        return None
    return {SCHEMA_METADATA_KEY: schema.to_json().encode()}


def to_arrow(
    source: Source,
    *,
    schema: Schema | None = None,
    nested: Nested = "flatten",
    strings: Strings = "bytes",
    enums: Enums = "int",
    columns: Sequence[str] | None = None,
) -> Any:
    """Convert records to a :class:`pyarrow.Table`, zero-copy where possible.

    Parameters
    ----------
    source : View, structured ndarray or mapping of str to ndarray
        A view, an array of records (``view.array``, ``view[a:b]``, a batch
        from ``view.batches()``) or columns (``view.columns()``).
    schema : Schema, optional
        Supplies the enums, the bitfields (an array of its dtype has one
        column per bitfield, not its storage field) and the
        ``recview.schema`` metadata for an array or mapping; a view's own
        schema is used by default.
    nested : {"flatten", "struct"}
        ``"flatten"``: nested fields become columns with dotted names
        (``hdr.ts``). ``"struct"``: one Arrow ``struct`` column per top-level
        nested field (children are still zero-copy where possible).
    strings : {"bytes", "text", "str"}
        ``char[n]`` fields as the exact ``n`` raw bytes, trailing NULs
        included (``fixed_size_binary(n)``, zero-copy when contiguous; the
        default, which loses nothing); as UTF-8 ``string`` with trailing NULs
        stripped (``"text"``: bytes that are not UTF-8 raise
        :class:`NotTextError`); or as ``string`` with invalid bytes replaced
        by U+FFFD (``"str"``: lossy, for display).
    enums : {"int", "category"}
        Enum fields as their integers, or as ``dictionary<int32, string>``
        (non-members become null).
    columns : sequence of str, optional
        Output columns to convert (flattened names, or top-level names with
        ``nested="struct"``), in this order; default all.

    Returns
    -------
    pyarrow.Table
        With ``b"recview.schema"`` (the schema JSON) in its metadata when a
        schema is known.

    Raises
    ------
    ImportError
        If pyarrow is not installed (``pip install 'recview[arrow]'``).
    TypeError
        For a field Arrow cannot hold (``float128``) or a source of the
        wrong kind.
    KeyError
        For an unknown name in *columns*.

    Notes
    -----
    A column is a zero-copy wrapper around the source memory only when that
    field's values are contiguous, native-order and aligned -- a one-field
    record, a column of ``view.columns()`` or an array filling the record. A
    field of a multi-field record is strided and is copied once (see the
    module docstring for the full table).

    Examples
    --------
    >>> import os, tempfile, numpy as np, recview as rv
    >>> schema = rv.Schema.from_dtype(
    ...     [("ts", ">u8"), ("pos", "<f4", (2,)), ("sym", "S4")])
    >>> path = os.path.join(tempfile.mkdtemp(), "ticks.bin")
    >>> np.array([(1, (0.5, 1.5), b"AB"), (2, (2.5, 3.5), b"XYZ")],
    ...          dtype=schema.dtype).tofile(path)
    >>> from recview.interop import to_arrow
    >>> with rv.open(path, schema) as view:
    ...     table = view.to_arrow()  # the same as recview.interop.to_arrow(view)
    >>> table.schema.types
    [DataType(uint64), FixedSizeListType(fixed_size_list<item: float>[2]), FixedSizeBinaryType(fixed_size_binary[4])]
    >>> table.column("sym").to_pylist(), table.column("ts").to_pylist()
    ([b'AB\\x00\\x00', b'XYZ\\x00'], [1, 2])
    >>> to_arrow(np.fromfile(path, schema.dtype), strings="text").column("sym").to_pylist()
    ['AB', 'XYZ']

    A contiguous column is wrapped, not copied:

    >>> cols = {"x": np.arange(4.0)}
    >>> to_arrow(cols).column("x").chunk(0).buffers()[1].address == cols["x"].ctypes.data
    True
    """
    pa = require("pyarrow", extra="arrow", purpose="recview.interop.to_arrow")
    data, schema = _resolve(source, schema)
    opts = _options(schema, strings, enums)
    names, arrays = _arrow_arrays(pa, data, opts, nested, columns)
    table = pa.Table.from_arrays(arrays, names=names, metadata=_arrow_metadata(schema))
    _verify(source)
    return table


# --- pandas -------------------------------------------------------------------


def _pandas_bytes(a: NDArray) -> NDArray:
    width = a.dtype.itemsize
    raw = np.ascontiguousarray(a).tobytes()
    out = np.empty(len(a), dtype=object)
    out[:] = [raw[i : i + width] for i in range(0, len(raw), width)]
    return out


def _pandas_leaf(pd: Any, a: NDArray, key: str, opts: _Options, copy: bool) -> Any:
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
        return a.astype(_native(a.dtype))
    return np.array(a) if copy else a


def to_pandas(
    source: Source,
    *,
    schema: Schema | None = None,
    strings: Strings = "str",
    enums: Enums = "int",
    arrays: Arrays = "columns",
    copy: bool = False,
    columns: Sequence[str] | None = None,
) -> Any:
    """Convert records to a :class:`pandas.DataFrame`, zero-copy where possible.

    Parameters
    ----------
    source : View, structured ndarray or mapping of str to ndarray
        A view, an array of records (``view.array``, ``view[a:b]``, a batch
        from ``view.batches()``) or columns (``view.columns()``).
    schema : Schema, optional
        Supplies the enums and the bitfields (as for :func:`to_arrow`) for an
        array or mapping; a view's own schema is used by default.
    strings : {"str", "text", "bytes"}
        ``char[n]`` fields as pandas strings (trailing NULs stripped, UTF-8
        with invalid bytes replaced by U+FFFD: the default, for display), as
        strings that must be UTF-8 (``"text"``: others raise
        :class:`NotTextError`), or as ``bytes`` objects of exactly ``n``
        bytes (lossless).
    enums : {"int", "category"}
        Enum fields as their integers, or as ``category`` (non-members become
        NaN).
    arrays : {"columns", "arrow", "object"}
        Fixed arrays as one column per element (``pos[0]``, ``pos[1]``, in C
        order, also through arrays of records: ``pts.x[1]``), as one column of
        ``pd.ArrowDtype(fixed_size_list)`` (needs pyarrow), or as one
        ``object`` column holding an ndarray per record.
    copy : bool
        ``False``: native-order numeric, ``bool``, datetime and complex
        columns are views of the source, even when strided (the typical
        field of a record). ``True``: every column is an owned, contiguous
        copy, which later pandas operations read faster.
    columns : sequence of str, optional
        Output column names to build, in this order; default all.

    Returns
    -------
    pandas.DataFrame
        Nested fields are flattened into dotted column names (``hdr.ts``);
        the index is a ``RangeIndex`` of record numbers.

    Raises
    ------
    ImportError
        If pandas (or pyarrow, for ``arrays="arrow"``) is not installed.
    KeyError
        For an unknown name in *columns*.

    Notes
    -----
    Big-endian fields, strings, enums as categories and non-native units
    of time are converted, i.e. copied; see the module docstring.

    Examples
    --------
    >>> import os, tempfile, numpy as np, recview as rv
    >>> schema = rv.Schema.from_dtype(
    ...     [("hdr", [("ts", "<u8"), ("kind", "u1")]), ("price", ">f8"), ("sym", "S4")])
    >>> path = os.path.join(tempfile.mkdtemp(), "trades.bin")
    >>> np.array([((1, 0), 9.5, b"AB"), ((2, 1), 9.75, b"XYZ")],
    ...          dtype=schema.dtype).tofile(path)
    >>> with rv.open(path, schema) as view:
    ...     df = view.to_pandas()  # the same as recview.interop.to_pandas(view)
    ...     shared = np.shares_memory(df["hdr.ts"].to_numpy(), view.array)
    >>> df
       hdr.ts  hdr.kind  price  sym
    0       1         0   9.50   AB
    1       2         1   9.75  XYZ
    >>> shared  # little-endian numeric fields view the file's mapping
    True
    """
    pd = require("pandas", extra="pandas", purpose="recview.interop.to_pandas")
    data, schema = _resolve(source, schema)
    opts = _options(schema, strings, enums)
    if arrays not in ("columns", "arrow", "object"):
        raise ValueError(f"arrays must be 'columns', 'arrow' or 'object', got {arrays!r}")
    pa = (
        require("pyarrow", extra="arrow", purpose='to_pandas(arrays="arrow")')
        if (arrays == "arrow")
        else None
    )
    out: dict[str, Any] = {}
    for leaf in _leaves(data, schema, expand=arrays == "columns", columns=columns):
        a = leaf.array
        if a.ndim == 1:
            out[leaf.name] = _pandas_leaf(pd, a, leaf.info.path, opts, copy)
        elif pa is not None:
            arrow = _arrow_node(pa, a, leaf.info.path, opts, {})
            out[leaf.name] = pd.arrays.ArrowExtensionArray(arrow)
        else:
            rows = np.array(a) if copy or not a.dtype.isnative else a
            if not rows.dtype.isnative:
                rows = rows.astype(_native(rows.dtype))
            cells = np.empty(len(rows), dtype=object)
            for i in range(len(rows)):
                cells[i] = rows[i]
            out[leaf.name] = cells
    n = len(data) if isinstance(data, np.ndarray) else _mapping_len(data)
    frame = pd.DataFrame(out, index=pd.RangeIndex(n), copy=False)
    _verify(source)
    return frame


def _mapping_len(data: Mapping[str, NDArray]) -> int:
    for col in data.values():
        return int(np.shape(col)[0])
    return 0


# --- Parquet ------------------------------------------------------------------


def _default_records(itemsize: int, nbytes: int, cap: int) -> int:
    return max(1, min(cap, nbytes // max(1, itemsize)))


def to_parquet(
    source: Source | str | os.PathLike[str],
    out: str | os.PathLike[str] | Any,
    *,
    schema: Schema | None = None,
    offset: int = 0,
    batch_records: int | None = None,
    row_group_records: int | None = None,
    compression: str | None = "snappy",
    nested: Nested = "flatten",
    strings: Strings = "bytes",
    enums: Enums = "int",
    columns: Sequence[str] | None = None,
    **writer_options: Any,
) -> int:
    """Write records to a Parquet file in batches, with bounded memory.

    Parameters
    ----------
    source : View, structured ndarray, mapping of columns, or path
        What to export. A path is opened with ``rv.open(source, schema,
        offset=offset)`` (``schema`` is then required) and closed afterwards.
    out : str, os.PathLike or writable binary file object
        Destination. A partially written *path* is removed if the export fails.
    schema : Schema, optional
        The record schema: required for a path, optional otherwise (for enums
        and the metadata).
    offset : int
        Header bytes before the first record, for a path *source*.
    batch_records : int, optional
        Records converted at a time (default: about 1 MiB of records).
    row_group_records : int, optional
        Records per Parquet row group (default: about 64 MiB of records, at
        most 1,048,576). Every row group but the last holds exactly this many
        records, so row-group boundaries fall on record boundaries at known
        record numbers.
    compression : str or None
        Parquet codec (``"snappy"``, ``"zstd"``, ``"gzip"``, ``None``...).
    nested, strings, enums, columns
        As in :func:`to_arrow`.
    **writer_options
        Passed to :class:`pyarrow.parquet.ParquetWriter`.

    Returns
    -------
    int
        Number of records written.

    Raises
    ------
    ImportError
        If pyarrow is not installed (``pip install 'recview[arrow]'``).
    ValueError
        If *source* is a path and *schema* is missing, or a size is not
        positive.

    Notes
    -----
    Peak memory is about two row groups of converted columns: pyarrow's
    writer encodes a whole row group before flushing it, and the next row
    group is converted in a helper thread meanwhile (both release the GIL,
    so conversion overlaps encoding). The pages of a mapped view are
    released batch by batch (``view.batches()``). The recview schema
    JSON is stored under ``b"recview.schema"`` in the file's key-value
    metadata, so the file records the layout it came from.

    Examples
    --------
    >>> import os, tempfile, numpy as np, recview as rv
    >>> import pyarrow.parquet as pq
    >>> schema = rv.Schema.from_dtype([("ts", "<u8"), ("price", ">f8")])
    >>> tmp = tempfile.mkdtemp()
    >>> path = os.path.join(tmp, "trades.bin")
    >>> with open(path, "wb") as f:
    ...     _ = f.write(b"HDR!")  # a 4-byte file header
    ...     np.array([(i, i / 4) for i in range(10)], dtype=schema.dtype).tofile(f)
    >>> from recview.interop import to_parquet  # also rv.to_parquet
    >>> to_parquet(path, os.path.join(tmp, "t.parquet"), schema=schema, offset=4,
    ...            row_group_records=4)
    10
    >>> meta = pq.ParquetFile(os.path.join(tmp, "t.parquet")).metadata
    >>> [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    [4, 4, 2]
    """
    pa = require("pyarrow", extra="arrow", purpose="recview.to_parquet")
    pq = require("pyarrow.parquet", extra="arrow", purpose="recview.to_parquet")
    opened: Any = None
    if isinstance(source, (str, os.PathLike)):
        if schema is None:
            raise ValueError(f"{os.fspath(source)}: to_parquet needs schema= to read a path")
        from recview.view import open as open_view

        # A URL gives a RemoteView, which answers the same calls as a View.
        source = opened = cast("View", open_view(source, schema, offset=offset))
    try:
        return _write_parquet(
            pa,
            pq,
            source,
            out,
            schema=schema,
            batch_records=batch_records,
            row_group_records=row_group_records,
            compression=compression,
            nested=nested,
            strings=strings,
            enums=enums,
            columns=columns,
            writer_options=writer_options,
        )
    finally:
        if opened is not None:
            opened.close()


def _chunks(
    source: Source, schema: Schema | None, batch: int
) -> tuple[Iterator[NDArray | Mapping[str, NDArray]], NDArray | Mapping[str, NDArray], int]:
    """Record chunks of at most *batch* records, an empty sample, and the total."""
    if _is_view(source):
        view: Any = source
        # batches() releases each window once the next is asked for, which
        # keeps the process's resident memory bounded on huge files.
        return view.batches(batch), view[0:0], len(view)
    data, _ = _resolve(source, schema)
    if isinstance(data, np.ndarray):
        n = len(data)
        return (data[a : a + batch] for a in range(0, n, batch)), data[0:0], n
    n = _mapping_len(data)

    def sliced(a: int, b: int) -> Mapping[str, NDArray]:
        return {name: np.asarray(col)[a:b] for name, col in data.items()}

    return (sliced(a, a + batch) for a in range(0, n, batch)), sliced(0, 0), n


def _itemsize(source: Source) -> int:
    if _is_view(source):
        return int(source.schema.itemsize)  # type: ignore[union-attr]
    if isinstance(source, np.ndarray):
        return int(source.dtype.itemsize)
    if isinstance(source, Mapping):
        return sum(int(np.asarray(c).itemsize * np.prod(np.shape(c)[1:])) for c in source.values())
    return 1


def _write_parquet(
    pa: Any,
    pq: Any,
    source: Source,
    out: Any,
    *,
    schema: Schema | None,
    batch_records: int | None,
    row_group_records: int | None,
    compression: str | None,
    nested: Nested,
    strings: Strings,
    enums: Enums,
    columns: Sequence[str] | None,
    writer_options: Mapping[str, Any],
) -> int:
    for name, value in (("batch_records", batch_records), ("row_group_records", row_group_records)):
        if value is not None and (isinstance(value, bool) or int(value) != value or value < 1):
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if schema is None and _is_view(source):
        schema = source.schema  # type: ignore[union-attr]
    itemsize = _itemsize(source)
    rg = row_group_records or _default_records(itemsize, _ROW_GROUP_NBYTES, _ROW_GROUP_MAX_RECORDS)
    batch = min(rg, batch_records or _default_records(itemsize, _BATCH_NBYTES, rg))
    opts = _options(schema, strings, enums)
    chunks, empty, total = _chunks(source, schema, batch)

    def convert(part: NDArray | Mapping[str, NDArray]) -> Any:
        names, arrays = _arrow_arrays(pa, part, opts, nested, columns)
        got = pa.RecordBatch.from_arrays(arrays, names=names)
        if got.schema.equals(arrow_schema):
            return got
        return got.cast(arrow_schema)  # e.g. large_string in a huge batch

    # The Arrow schema comes from zero records, so that every batch (and an
    # empty export) gets exactly the same types and metadata.
    names, arrays = _arrow_arrays(pa, empty, opts, nested, columns)
    arrow_schema = pa.RecordBatch.from_arrays(arrays, names=names).schema.with_metadata(
        _arrow_metadata(schema)
    )

    def row_groups() -> Iterator[Any]:
        group: list[Any] = []
        filled = 0
        for chunk in chunks:
            n = len(chunk) if isinstance(chunk, np.ndarray) else _mapping_len(chunk)
            a = 0
            while a < n:
                # Cut the chunk where the row group ends: row groups hold
                # exactly `rg` records, whatever the batch size.
                b = min(n, a + rg - filled)
                group.append(convert(_slice(chunk, a, b)))
                filled += b - a
                a = b
                if filled == rg:
                    yield pa.Table.from_batches(group, schema=arrow_schema)
                    group, filled = [], 0
        if group:
            yield pa.Table.from_batches(group, schema=arrow_schema)

    is_path = isinstance(out, (str, os.PathLike))
    writer = pq.ParquetWriter(out, arrow_schema, compression=compression, **writer_options)
    try:
        for table in _prefetched(row_groups()):
            writer.write_table(table, table.num_rows)
    except BaseException:
        writer.close()
        if is_path:
            os.unlink(out)
        raise
    writer.close()
    return total


_DONE = object()


def _prefetched(items: Iterator[Any]) -> Iterator[Any]:
    """Yield from *items*, producing the next item in a thread meanwhile.

    to_parquet converts row group k+1 while pyarrow encodes and writes row
    group k: both release the GIL (numpy copies, Arrow kernels, the Parquet
    writer), so on two cores the conversion costs almost no wall time. At
    most two row groups are alive at once. (The view's SIGBUS guard is
    process-wide, so reading the mapping from that thread is as safe.)
    """
    with ThreadPoolExecutor(1, thread_name_prefix="recview-to-parquet") as pool:
        pending = pool.submit(next, items, _DONE)
        while (item := pending.result()) is not _DONE:
            pending = pool.submit(next, items, _DONE)
            yield item


def _slice(
    chunk: NDArray | Mapping[str, NDArray], a: int, b: int
) -> NDArray | Mapping[str, NDArray]:
    if isinstance(chunk, np.ndarray):
        return chunk if a == 0 and b == len(chunk) else chunk[a:b]
    return {name: np.asarray(col)[a:b] for name, col in chunk.items()}
