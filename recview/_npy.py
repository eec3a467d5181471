"""This module owns the ``.npy`` layout: a file's header, read by numpy, as a schema.

:func:`npy_layout` reads the header of a ``.npy`` file (format versions 1.0,
2.0 and 3.0) with numpy's own reader and says where the records are: the
schema, the byte offset of the data and the number of records. It reads the
header only (a few hundred bytes), never the data, so ``rv.open(path)``
without a schema stays O(1) in the file size.

Records are rows. An array of shape ``(n, ...)`` is ``n`` records:

- a structured array of shape ``(n,)`` keeps its dtype as the schema (fields,
  offsets, padding and itemsize exactly), so ``view.array`` equals
  ``np.load(path, mmap_mode="r")``;
- anything else (a plain dtype, or more than one dimension) is one field
  ``f0`` holding a row, of shape ``shape[1:]``: ``view["f0"]`` equals
  ``np.load(path, mmap_mode="r")``. A plain ``(n,)`` array is thus ``f0``
  scalars, as ``rv.open(path, "<u4")`` already gives;
- a 0-d array is one record (``view["f0"]`` has shape ``(1,)``; reshape it
  to ``()``), as is any array whose ``shape[0]`` is 1.

:meth:`NpyLayout.unwrap` turns the records back into the array ``np.load``
gives (a zero-copy view of them).
"""

from __future__ import annotations

import ast
import math
import os
import struct
from dataclasses import dataclass
from typing import IO, Any

import numpy as np
import numpy.lib.format as npformat

from recview._vocab import NDArray
from recview.errors import LayoutError, SchemaError
from recview.schema import Schema

__all__ = ["NpyLayout", "npy_layout"]

#: The field that holds a row when the array is not a 1-d structured one.
ROW_FIELD = "f0"


@dataclass(frozen=True)
class NpyLayout:
    """Where the records of a ``.npy`` file are. Made by :func:`npy_layout`.

    Attributes
    ----------
    schema : Schema
        One record (one row of the array).
    offset : int
        Bytes of header before the first record.
    count : int
        Number of records (``shape[0]``; 1 for a 0-d array).
    shape : tuple of int
        The array's shape, as the header gives it.
    dtype : numpy.dtype
        The array's element dtype, as the header gives it.
    version : tuple of int
        The format version, ``(1, 0)``, ``(2, 0)`` or ``(3, 0)``.
    field : str or None
        ``"f0"`` when each record wraps a row in that one field; ``None`` when
        the records are the array's own (1-d structured) elements.
    """

    schema: Schema
    offset: int
    count: int
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    version: tuple[int, int]
    field: str | None

    @property
    def nbytes(self) -> int:
        """Bytes of array data after the header."""
        return self.count * self.schema.itemsize

    def unwrap(self, records: NDArray) -> NDArray:
        """The array ``np.load`` gives, from all the records (a zero-copy view).

        Parameters
        ----------
        records : numpy.ndarray
            ``count`` records of ``schema.dtype`` (e.g. ``view.array``).

        Returns
        -------
        numpy.ndarray
            Of ``shape`` and ``dtype``, viewing ``records``.

        Examples
        --------
        >>> import os, tempfile, numpy as np
        >>> from recview._npy import npy_layout
        >>> path = os.path.join(tempfile.mkdtemp(), "a.npy")
        >>> np.save(path, np.float32(1.5))
        >>> layout = npy_layout(path)
        >>> recs = np.memmap(path, layout.schema.dtype, "r", layout.offset, (layout.count,))
        >>> layout.unwrap(recs).shape, float(layout.unwrap(recs))
        ((), 1.5)
        """
        arr = records if self.field is None else records[self.field]
        return arr.reshape(self.shape)


def npy_layout(
    source: str | os.PathLike[str] | IO[bytes],
    *,
    nbytes: int | None = None,
    name: str | None = None,
    max_header_size: int = 10_000,
) -> NpyLayout:
    """Read a ``.npy`` header: the schema, data offset and record count.

    Parameters
    ----------
    source : str, os.PathLike or binary file object
        The file, or an object positioned at its start with ``read(n)``.
    nbytes : int, optional
        Size of the file in bytes, to check the header against; for a path
        it is ``os.stat``'s, for a file object the default seeks to its end.
    name : str, optional
        What to call the file in messages (default: the path, or the file
        object's ``name``).
    max_header_size : int
        Largest header accepted, in bytes, as in ``numpy.load`` (headers are
        parsed with ``ast.literal_eval``).

    Returns
    -------
    NpyLayout

    Raises
    ------
    FileNotFoundError, IsADirectoryError
        As the operating system reports them.
    SchemaError
        Not a ``.npy`` file or a malformed header, an unknown format version,
        a Fortran-ordered array of two or more dimensions, or an object dtype (nothing to overlay on
        bytes); the message names the file.
    LayoutError
        The file is shorter than the header says its data is (message: the
        file, the sizes expected and found).

    Notes
    -----
    Versions 1.0 and 2.0 are read with ``numpy.lib.format``'s public
    ``read_array_header_1_0``/``read_array_header_2_0``. numpy has no public
    reader for 3.0 (2.0 with UTF-8 field names), so its header is decoded here
    the way numpy does it, then handed to ``numpy.lib.format.descr_to_dtype``.

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from recview._npy import npy_layout
    >>> path = os.path.join(tempfile.mkdtemp(), "grid.npy")
    >>> np.save(path, np.zeros((4, 2, 3), dtype=">f8"))
    >>> layout = npy_layout(path)
    >>> layout.count, layout.offset, layout.schema.dtype
    (4, 128, dtype([('f0', '>f8', (2, 3))]))
    """
    if isinstance(source, (str, os.PathLike)):
        label = name or os.fspath(source)
        with open(source, "rb") as f:
            size = os.fstat(f.fileno()).st_size if nbytes is None else nbytes
            return _read(f, label, size, max_header_size)
    label = name or str(getattr(source, "name", "<file object>"))
    if nbytes is None:
        start = source.tell()
        nbytes = source.seek(0, os.SEEK_END)
        source.seek(start)
    return _read(source, label, nbytes, max_header_size)


def _read(f: IO[bytes], name: str, size: int, max_header_size: int) -> NpyLayout:
    try:
        version = npformat.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = npformat.read_array_header_1_0(f, max_header_size)
        elif version == (2, 0):
            shape, fortran, dtype = npformat.read_array_header_2_0(f, max_header_size)
        elif version == (3, 0):
            shape, fortran, dtype = _read_header_3_0(f, max_header_size)
        else:
            raise SchemaError(
                f"{name}: unknown .npy format version {version[0]}.{version[1]} "
                "(recview reads 1.0, 2.0 and 3.0)",
                path=name,
            )
    except (ValueError, SyntaxError, struct.error, EOFError) as err:
        if isinstance(err, SchemaError):
            raise
        raise SchemaError(f"{name}: not a readable .npy header: {err}", path=name) from err
    offset = f.tell()
    # numpy's header readers accept any tuple of ints here (np.load fails later).
    if not all(type(x) is int and x >= 0 for x in shape):
        raise SchemaError(
            f"{name}: .npy header shape {shape!r} is not a shape (expected a tuple of "
            "integers >= 0)",
            path=name,
        )
    # A Fortran-ordered array of one dimension has the C layout (numpy writes
    # fortran_order=False for it, but hand-made headers may say True).
    if fortran and len(shape) > 1:
        raise SchemaError(
            f"{name}: a Fortran-ordered array of shape {shape} has no rows in C order: "
            "records are rows (save it with np.save(path, np.ascontiguousarray(a)))",
            path=name,
        )
    if dtype.hasobject:
        raise SchemaError(
            f"{name}: dtype {dtype} holds Python objects (pickled), not fixed-size records",
            path=name,
        )
    count = shape[0] if shape else 1
    field: str | None = None
    spec: Any = dtype
    if dtype.names is None or len(shape) != 1:
        field, spec = ROW_FIELD, [(ROW_FIELD, dtype, tuple(shape[1:]))]
    try:
        schema = Schema.from_dtype(spec)
    except SchemaError as err:
        raise SchemaError(f"{name}: header dtype {dtype} shape {shape}: {err}", path=name) from err
    need = offset + math.prod(shape) * dtype.itemsize
    if size < need:
        raise LayoutError(
            f"{name}: .npy header says {count:,} records of {schema.itemsize:,} bytes "
            f"(shape {shape}, dtype {dtype}) after the {offset:,}-byte header: expected "
            f"{need:,} bytes, the file has {size:,}",
            path=name,
            offset=size,
        )
    return NpyLayout(schema, offset, count, tuple(shape), dtype, version, field)


def _read_header_3_0(
    f: IO[bytes], max_header_size: int
) -> tuple[tuple[int, ...], bool, np.dtype[Any]]:
    """Version 3.0: version 2.0's header (a 4-byte length), in UTF-8."""
    (length,) = struct.unpack("<I", _read_exactly(f, 4))
    text = _read_exactly(f, length).decode("utf-8")
    if len(text) > max_header_size:
        raise ValueError(f"header of {len(text):,} characters is larger than {max_header_size:,}")
    d = ast.literal_eval(text)
    if not isinstance(d, dict) or set(d) != {"descr", "fortran_order", "shape"}:
        raise ValueError(f"header is not a dict of descr, fortran_order, shape: {text!r}")
    shape, fortran = d["shape"], d["fortran_order"]
    if not isinstance(shape, tuple) or not all(isinstance(x, int) and x >= 0 for x in shape):
        raise ValueError(f"shape is not valid: {shape!r}")
    if not isinstance(fortran, bool):
        # ValueError, as numpy's own readers raise: _read makes it a SchemaError
        raise ValueError(f"fortran_order is not a valid bool: {fortran!r}")  # noqa: TRY004
    try:
        dtype = npformat.descr_to_dtype(d["descr"])
    except TypeError as err:
        raise ValueError(f"descr is not a valid dtype descriptor: {d['descr']!r}") from err
    return shape, fortran, dtype


def _read_exactly(f: IO[bytes], n: int) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise EOFError(f"header ended after {len(data)} of {n} bytes")
    return data
