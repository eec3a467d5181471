"""The one-call round-trip check: :func:`check_roundtrip`, bytes -> file -> recview.open -> the same values and bytes.

Public through :mod:`recview.testing`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import numpy as np

import recview as rv
from recview.testing._encode import _plain, from_numpy, records_to_array, same_values, temp_file


def _fail(message: str) -> None:
    raise AssertionError(message)


def check_roundtrip(
    schema: rv.Schema | Any,
    data: bytes | bytearray | memoryview | Iterable[Mapping[str, Any]],
    tmp_dir: str | os.PathLike[str],
    *,
    header: bytes = b"",
) -> bytes:
    """Write records to a file, read them back with recview, and check everything.

    The loop: records → bytes (numpy alone) → a file (after ``header``) →
    :func:`recview.open` → every record equal to the values given and to
    ``schema.to_construct().parse`` of its bytes → ``to_construct().build``
    of the parsed values → the same bytes. Along the way it checks that
    ``schema.itemsize == schema.to_construct().sizeof()``, that the bytes
    ``to_construct()`` builds from the values equal numpy's, that
    ``view.array``, slices and every field (top-level and dotted leaf paths)
    are read-only and zero-copy (``np.shares_memory(view[f], view.array)``),
    and that they hold the same bytes as ``np.frombuffer`` of the file.

    Parameters
    ----------
    schema : Schema or anything :func:`recview.as_schema` accepts
        The layout under test.
    data : bytes or iterable of dict
        Record values as drawn by :func:`records`, or the records' bytes. Bytes
        must be canonical for the last check (padding zero, bools 0 or 1,
        float16 NaNs canonical): :func:`record_bytes` makes such bytes.
    tmp_dir : str or os.PathLike
        Directory for the file (a ``tmp_path_factory`` directory: each call
        uses, then deletes, a fresh file in it).
    header : bytes
        Bytes written before the records (opened with ``offset=len(header)``).

    Returns
    -------
    bytes
        The records' bytes (without the header).

    Raises
    ------
    AssertionError
        A check failed; the message names the record index and field path.

    Examples
    --------
    >>> import tempfile, recview as rv
    >>> from recview.testing import check_roundtrip
    >>> s = rv.Schema.from_dtype([("id", ">u4"), ("pos", "<f8", (2,)), ("tag", "S4")])
    >>> raw = check_roundtrip(s, [{"id": 7, "pos": [0.5, -1.0], "tag": b"ab"}],
    ...                       tempfile.mkdtemp(), header=b"HDR!")
    >>> len(raw), raw[:4]
    (24, b'\\x00\\x00\\x00\\x07')
    """
    schema = rv.as_schema(schema)
    dt = schema.dtype
    itemsize = schema.itemsize
    con = schema.to_construct()
    if con.sizeof() != itemsize:
        _fail(f"to_construct().sizeof() is {con.sizeof()}, schema.itemsize is {itemsize}")
    values: list[Mapping[str, Any]] | None
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw, values = bytes(data), None
        if len(raw) % itemsize:
            raise ValueError(f"{len(raw)} bytes are not whole records of {itemsize} bytes")
    else:
        values = list(data)
        raw = records_to_array(schema, values).tobytes()
        for i, v in enumerate(values):
            built = con.build(v)
            if built != raw[i * itemsize : (i + 1) * itemsize]:
                _fail(
                    f"record {i}: to_construct().build gives {built!r}, numpy gives "
                    f"{raw[i * itemsize : (i + 1) * itemsize]!r}"
                )
    n = len(raw) // itemsize
    expected = np.frombuffer(raw, dtype=dt)
    with (
        temp_file(tmp_dir, header + raw) as path,
        rv.open(path, schema, offset=len(header)) as view,
    ):
        assert isinstance(view, rv.View)  # a local path, never a URL
        if len(view) != n:
            _fail(f"{path}: len(view) is {len(view)}, expected {n} records")
        _check_arrays(view, expected, n)
        for i in range(n):
            chunk = raw[i * itemsize : (i + 1) * itemsize]
            actual = from_numpy(dt, view[i], schema.bitfields)
            parsed = _plain(con.parse(chunk))
            diff = same_values(parsed, actual)
            if diff is not None:
                _fail(f"record {i}: view vs to_construct().parse: {diff}")
            if values is not None:
                diff = same_values(values[i], actual)
                if diff is not None:
                    _fail(f"record {i}: view vs the values written: {diff}")
            rebuilt = con.build(parsed)
            if rebuilt != chunk:
                _fail(
                    f"record {i}: to_construct().build(parse(b)) gives {rebuilt!r}, "
                    f"not the {chunk!r} read"
                )
    return raw


def _check_arrays(view: rv.View, expected: np.ndarray[Any, Any], n: int) -> None:
    arr = view.array
    if arr.flags.writeable:
        _fail("view.array is writable")
    if arr.tobytes() != expected.tobytes():
        _fail("view.array does not hold the file's bytes")
    for key in (slice(None), slice(1, None, 2), slice(None, None, -1)):
        part = view[key]
        if part.flags.writeable:
            _fail(f"view[{key}] is writable")
        if _bytes_of(part) != _bytes_of(expected[key]):
            _fail(f"view[{key}] differs from the file's records {key}")
    names: list[tuple[str, tuple[str, ...]]] = [(name, (name,)) for name in view.schema.names]
    names.extend(
        (leaf.path, tuple(leaf.path.split(".")))
        for leaf in view.schema.fields()
        if "." in leaf.path and not leaf.is_bitfield
    )
    _check_bitfields(view, expected)
    for label, parts in names:
        got = view[label]
        want = expected
        for p in parts:
            want = want[p]
        if got.flags.writeable:
            _fail(f"view[{label!r}] is writable")
        if n and not np.shares_memory(got, arr):
            _fail(f"view[{label!r}] is a copy, not a view of view.array")
        if got.dtype != want.dtype or got.shape != want.shape:
            _fail(f"view[{label!r}] is {got.dtype} {got.shape}, expected {want.dtype} {want.shape}")
        if _bytes_of(got) != _bytes_of(want):
            _fail(f"view[{label!r}] differs from the file's field {label!r}")


def _check_bitfields(view: rv.View, expected: np.ndarray[Any, Any]) -> None:
    """Every bitfield leaf: read-only, of its value type, and equal to its bits
    taken from the storage bytes with Python's integers."""
    schema = view.schema
    for leaf in schema.fields():
        if not leaf.is_bitfield:
            continue
        assert leaf.storage is not None
        assert leaf.bit_offset is not None
        assert leaf.bit_width is not None
        got = schema.get(view.array, leaf.path)
        if got.flags.writeable:
            _fail(f"bitfield {leaf.path!r} is writable")
        if got.dtype != leaf.value_dtype:
            _fail(f"bitfield {leaf.path!r} is {got.dtype}, expected {leaf.value_dtype}")
        storage = expected
        for p in leaf.storage.split("."):
            storage = storage[p]
        order: Literal["big", "little"] = "big" if leaf.bit_order == ">" else "little"
        mask = (1 << leaf.bit_width) - 1
        cells = np.ascontiguousarray(storage).view(np.uint8).reshape(-1, leaf.dtype.itemsize)
        want = []
        for row in cells:
            v = (int.from_bytes(row.tobytes(), order) >> leaf.bit_offset) & mask
            if leaf.signed and v >> (leaf.bit_width - 1):
                v -= 1 << leaf.bit_width
            want.append(v)
        if np.asarray(got).reshape(-1).tolist() != want:
            _fail(f"bitfield {leaf.path!r} differs from its bits in the file")


def _bytes_of(x: np.ndarray[Any, Any]) -> bytes:
    """The bytes of each element in order, padding included. (Copying a strided
    structured array does not copy its padding bytes: no ``tobytes()`` there.)"""
    if x.dtype.names is None:
        return np.ascontiguousarray(x).tobytes()
    return b"".join(x[idx].tobytes() for idx in np.ndindex(x.shape))
