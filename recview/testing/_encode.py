"""Encoders and comparisons: record values to bytes (construct) and arrays (numpy), back, and compared.

Also :func:`temp_file`, a file of given bytes that is deleted after use.
Public through :mod:`recview.testing`.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

import recview as rv
from recview._vocab import join_path
from recview.testing._specs import RecordSpec


def record_bytes(spec: RecordSpec | Any, values: Iterable[Mapping[str, Any]]) -> bytes:
    """The bytes of ``values`` (records as drawn by :func:`records`), encoded by
    the independent ``construct.Struct`` of ``spec`` (:meth:`RecordSpec.construct`),
    or by ``spec`` itself if it is a ``construct`` struct.

    Parameters
    ----------
    spec : RecordSpec or construct.Struct
        The layout; a :class:`RecordSpec` is encoded by :meth:`RecordSpec.construct`.
    values : iterable of dict
        Records, as :func:`records` draws them.

    Returns
    -------
    bytes
        The records' bytes, one after the other.

    Examples
    --------
    >>> from recview.testing import FieldSpec, RecordSpec, ScalarSpec, record_bytes
    >>> spec = RecordSpec((FieldSpec("a", ScalarSpec("u", 2, ">"), 0),), itemsize=3)
    >>> record_bytes(spec, [{"a": 1}, {"a": 258}])
    b'\\x00\\x01\\x00\\x01\\x02\\x00'
    """
    con = spec.construct() if isinstance(spec, RecordSpec) else spec
    return b"".join(con.build(v) for v in values)


def _to_numpy(
    dt: np.dtype[Any], value: Any, bitfields: Mapping[str, Any] | None = None, path: str = ""
) -> Any:
    """A record value (dicts, lists) in the tuple form numpy assignment takes;
    a bitfield storage's ``{name: value}`` becomes its integer (Python's ``<<``)."""
    if bitfields and path in bitfields:
        out = 0
        for b in bitfields[path].fields:
            out |= (int(value[b.name]) & ((1 << b.width) - 1)) << b.lsb
        return out
    if dt.subdtype is not None:
        base, shape = dt.subdtype
        if base.names is None:
            return value
        return _map_nested(lambda v: _to_numpy(base, v, bitfields, path), value, len(shape))
    if dt.names is not None:
        assert dt.fields is not None
        return tuple(
            _to_numpy(dt.fields[n][0], value[n], bitfields, join_path(path, n)) for n in dt.names
        )
    return value


def _map_nested(fn: Any, value: Any, depth: int) -> Any:
    if depth == 0:
        return fn(value)
    return [_map_nested(fn, v, depth - 1) for v in value]


def records_to_array(
    schema: rv.Schema | RecordSpec | Any, values: Iterable[Mapping[str, Any]]
) -> np.ndarray[Any, Any]:
    """A structured array of ``values``, encoded by numpy alone (padding zeroed).

    The second, construct-free way to get a record's bytes:
    ``records_to_array(schema, values).tobytes()``.

    Parameters
    ----------
    schema : Schema, RecordSpec or anything Schema.from_dtype accepts
        The layout.
    values : iterable of dict
        Records, as :func:`records` draws them.

    Returns
    -------
    numpy.ndarray
        A new structured array of ``schema``'s dtype, one element per record.

    Examples
    --------
    >>> from recview.testing import records_to_array
    >>> arr = records_to_array([("a", ">u2"), ("b", "S2")], [{"a": 1, "b": b"x"}])
    >>> arr.tobytes()
    b'\\x00\\x01x\\x00'
    """
    sch = schema.schema() if isinstance(schema, RecordSpec) else rv.as_schema(schema)
    dt = sch.dtype
    values = list(values)
    out = np.zeros(len(values), dtype=dt)
    for i, v in enumerate(values):
        out[i] = _to_numpy(dt, v, sch.bitfields)
    return out


def from_numpy(
    dtype: np.dtype[Any], value: Any, bitfields: Mapping[str, Any] | None = None, path: str = ""
) -> Any:
    """A numpy record (``np.void``) or field value as plain Python values, in the
    form :func:`records` draws (dicts, lists, int, float, bool, bytes).

    Parameters
    ----------
    dtype : numpy.dtype
        The dtype of ``value`` (a structured dtype for a record, a subarray
        dtype for an array field).
    value : numpy.void, numpy.ndarray or numpy scalar
        The value, e.g. ``view[i]`` or ``view[i]["field"]``.

    Returns
    -------
    dict, list, int, float, bool or bytes

    Examples
    --------
    >>> import numpy as np
    >>> from recview.testing import from_numpy
    >>> dt = np.dtype([("a", "<u2", (2,)), ("b", [("c", "S3")])])
    >>> from_numpy(dt, np.array([([1, 2], (b"hi",))], dt)[0])
    {'a': [1, 2], 'b': {'c': b'hi'}}

    With ``bitfields`` (a schema's :attr:`~recview.Schema.bitfields`), each
    bitfield storage becomes ``{name: value}``, decoded with Python's integers.
    """
    return _from_numpy(dtype, value, bitfields or {}, path)


def _from_numpy(dtype: np.dtype[Any], value: Any, bitfields: Mapping[str, Any], path: str) -> Any:
    if dtype.subdtype is not None:
        base, _shape = dtype.subdtype
        return _array_to_python(base, np.asarray(value), bitfields, path)
    if dtype.names is not None:
        assert dtype.fields is not None
        return {
            n: _from_numpy(dtype.fields[n][0], value[n], bitfields, join_path(path, n))
            for n in dtype.names
        }
    if path in bitfields:
        raw = int(np.asarray(value).item()) & ((1 << (8 * dtype.itemsize)) - 1)
        out = {}
        for b in bitfields[path].fields:
            v = (raw >> b.lsb) & ((1 << b.width) - 1)
            out[b.name] = v - (1 << b.width) if b.signed and v >> (b.width - 1) else v
        return out
    return np.asarray(value).item()


def _array_to_python(
    base: np.dtype[Any], arr: np.ndarray[Any, Any], bitfields: Mapping[str, Any], path: str
) -> Any:
    if arr.ndim == 0:
        return _from_numpy(base, arr[()], bitfields, path)
    # index, not iterate: iterating an S array yields bytes, not 0-d arrays
    return [_array_to_python(base, np.asarray(arr[i]), bitfields, path) for i in range(len(arr))]


def _plain(obj: Any) -> Any:
    """construct's parse result (Container, ListContainer) as plain dicts and lists."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items() if not k.startswith("_")}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    return obj


def same_values(expected: Any, actual: Any, path: str = "") -> str | None:
    """Compare record values exactly; return ``None``, or where and how they differ.

    NaN equals NaN, ``0.0`` differs from ``-0.0``, dicts compare by key and
    lists element-wise, recursively.

    Parameters
    ----------
    expected, actual
        Values in the form :func:`records` draws and :func:`from_numpy` returns.
    path : str
        Where the values sit, for the message (dotted field path).

    Returns
    -------
    str or None
        ``None`` when equal, else the first difference with its field path.

    Examples
    --------
    >>> from recview.testing import same_values
    >>> same_values({"a": [1.0, float("nan")]}, {"a": [1.0, float("nan")]}) is None
    True
    >>> same_values({"a": [1.0, 2.0]}, {"a": [1.0, -2.0]})
    'a[1]: expected 2.0, found -2.0'
    """
    where = path or "record"
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping) or set(expected) != set(actual):
            found = sorted(actual) if isinstance(actual, Mapping) else actual
            return f"{where}: expected fields {sorted(expected)}, found {found!r}"
        for k in expected:
            diff = same_values(expected[k], actual[k], f"{path}.{k}" if path else str(k))
            if diff is not None:
                return diff
        return None
    if isinstance(expected, (list, tuple)):
        if not isinstance(actual, (list, tuple)) or len(actual) != len(expected):
            return f"{where}: expected {len(expected)} items, found {actual!r}"
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            diff = same_values(e, a, f"{path}[{i}]")
            if diff is not None:
                return diff
        return None
    if isinstance(expected, float) or isinstance(actual, float):
        try:
            e, a = float(expected), float(actual)
        except (TypeError, ValueError):
            return f"{where}: expected {expected!r}, found {actual!r}"
        if (math.isnan(e) and math.isnan(a)) or (
            e == a and math.copysign(1.0, e) == math.copysign(1.0, a)
        ):
            return None
        return f"{where}: expected {expected!r}, found {actual!r}"
    if expected != actual or isinstance(expected, bool) != isinstance(actual, bool):
        return f"{where}: expected {expected!r}, found {actual!r}"
    return None


@contextlib.contextmanager
def temp_file(directory: str | os.PathLike[str], content: bytes) -> Iterator[str]:
    """A fresh file holding ``content`` in ``directory``, deleted on exit.

    Property tests run many examples in one directory (hypothesis shares a
    test's fixtures between its examples): each example gets its own file.

    Parameters
    ----------
    directory : str or os.PathLike
        Where to make the file (e.g. a ``tmp_path_factory`` directory).
    content : bytes
        What the file holds.

    Yields
    ------
    str
        The file's path.

    Examples
    --------
    >>> import os, tempfile
    >>> from recview.testing import temp_file
    >>> with temp_file(tempfile.mkdtemp(), b"abc") as path:
    ...     print(os.path.getsize(path))
    3
    >>> os.path.exists(path)
    False
    """
    fd, path = tempfile.mkstemp(suffix=".bin", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        yield path
    finally:
        os.unlink(path)
