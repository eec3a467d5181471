"""The field model: :class:`FieldInfo`, one leaf of a schema, and the walk that finds every leaf.

A leaf is a scalar (or scalar-array) field reached through nested records and
arrays of records, or a bitfield of a storage field; :meth:`Schema.fields
<recview.schema.Schema.fields>` lists them and every consumer (columns,
interop, the CLI) reads its names and values from them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np

from recview._bits import Storage, extract, value_dtype
from recview._dtypes import _fields
from recview._vocab import join_path


@dataclasses.dataclass(frozen=True)
class FieldInfo:
    """One leaf field of a schema: what a consumer needs to read its values.

    A byte field is a scalar or an array of scalars at a byte offset. A
    bitfield is ``bit_width`` bits from bit ``bit_offset`` (least significant
    bit = 0) of its *storage* field's value; its ``offset`` and ``dtype`` are
    the storage's. Through arrays of records (``legs: Leg[2]``) a leaf is the
    member in every element (``legs.px``, shape ``(2,)``), and ``offset`` is
    that of the first element.

    Attributes
    ----------
    path : str
        Dotted path (``"hdr.ts"``, ``"legs.px"``, ``"flags.syn"``).
    offset : int
        Byte offset from the start of the record (of the first element, and
        of the storage unit for a bitfield).
    dtype : numpy.dtype
        Scalar type of one element (of the storage unit for a bitfield: an
        integer type, or ``V<n>`` for a C run of another length).
    shape : tuple of int
        Array shape (``()`` for a scalar field): the shapes of the arrays of
        records on the way, then the field's own, combined in that order.
    bit_offset : int or None
        For a bitfield, its lowest bit in the storage value; None otherwise.
    bit_width : int or None
        For a bitfield, its width in bits; None for a byte field.
    signed : bool
        For a bitfield, whether its values are sign-extended.
    storage : str or None
        For a bitfield, the dotted dtype path of its storage field (``"flags"``,
        or a hidden ``"_bits@4"`` for C bitfields); None otherwise.
    bit_order : str or None
        For a bitfield, the byte order in which the storage bytes form the
        value its bits are numbered in (``"<"`` or ``">"``).
    strides : tuple of int or None
        Bytes between elements along each axis of ``shape`` within one record
        (an array of records steps by its record size); None means C-contiguous.
        Leaves inside arrays of records are *not* contiguous: their
        ``nbytes`` are spread over :meth:`element_offsets`.
    """

    path: str
    offset: int
    dtype: np.dtype[Any]
    shape: tuple[int, ...]
    bit_offset: int | None = None
    bit_width: int | None = None
    signed: bool = False
    storage: str | None = None
    bit_order: str | None = None
    strides: tuple[int, ...] | None = None

    @property
    def nbytes(self) -> int:
        """Bytes the field takes in each record (its storage's, for a bitfield)."""
        return int(self.dtype.itemsize * int(np.prod(self.shape, dtype=np.int64)))

    @property
    def is_bitfield(self) -> bool:
        """Whether this leaf is a bitfield (values computed, not viewed)."""
        return self.bit_width is not None

    @property
    def bit_bytes(self) -> tuple[int, int] | None:
        """For a bitfield, the record bytes ``(start, stop)`` that hold its bits
        (of the first element; a subset of the storage's ``offset`` ..
        ``offset + dtype.itemsize``); None for a byte field. What ``inspect``
        prints a bitfield under.

        Examples
        --------
        >>> import recview as rv
        >>> s = rv.Schema.from_c("struct t { uint32_t id; uint16_t lo:4, mid:8, hi:4; };")
        >>> [(f.path, f.bit_offset, f.bit_bytes) for f in s.fields()][1:]
        [('lo', 0, (4, 5)), ('mid', 4, (4, 6)), ('hi', 12, (5, 6))]
        >>> s = rv.Schema.from_c("struct t { uint32_t id; uint16_t lo:4, mid:8, hi:4; };", byteorder=">")
        >>> [(f.path, f.bit_offset, f.bit_bytes) for f in s.fields()][1:]
        [('hi', 0, (5, 6)), ('mid', 4, (4, 6)), ('lo', 12, (4, 5))]
        """
        if self.bit_offset is None or self.bit_width is None:
            return None
        n = self.dtype.itemsize
        lo, hi = self.bit_offset // 8, (self.bit_offset + self.bit_width - 1) // 8
        if self.bit_order == ">":  # value byte k is storage byte n - 1 - k
            lo, hi = n - 1 - hi, n - 1 - lo
        return self.offset + lo, self.offset + hi + 1

    @property
    def value_dtype(self) -> np.dtype[Any]:
        """The type :meth:`get` returns: ``dtype``, or for a bitfield the
        smallest native integer type holding ``bit_width`` bits."""
        if self.bit_width is None:
            return self.dtype
        return value_dtype(self.bit_width, self.signed)

    def element_names(self) -> list[str]:
        """One name per scalar cell, in C order: ``path`` for a scalar field,
        ``path[i]`` or ``path[i][j]`` for an array (the column names of CSV,
        pandas and CLI tables).

        Examples
        --------
        >>> import recview as rv
        >>> s = rv.Schema.from_dtype([("legs", [("px", "<f8")], (2,)), ("m", "<u1", (2, 2))])
        >>> [f.element_names() for f in s.fields()]
        [['legs.px[0]', 'legs.px[1]'], ['m[0][0]', 'm[0][1]', 'm[1][0]', 'm[1][1]']]
        """
        if not self.shape:
            return [self.path]
        return [self.path + "".join(f"[{i}]" for i in idx) for idx in np.ndindex(*self.shape)]

    def element_offsets(self) -> list[int]:
        """Byte offset from the record start of each element, in C order (the
        order of :meth:`element_names`); each element takes ``dtype.itemsize``
        bytes.

        Examples
        --------
        >>> import recview as rv
        >>> s = rv.Schema.from_dtype([("t", "<u2"), ("x", [("a", "<u2"), ("b", ">f4")], (2,))])
        >>> [(f.path, f.element_offsets()) for f in s.fields()]
        [('t', [0]), ('x.a', [2, 8]), ('x.b', [4, 10])]
        """
        strides = self.strides
        if strides is None:
            strides = _c_strides(self.shape, self.dtype.itemsize)
        return [
            self.offset + sum(i * k for i, k in zip(idx, strides, strict=True))
            for idx in np.ndindex(*self.shape)
        ]

    def get(self, arr: Any) -> np.ndarray[Any, Any]:
        """This field's values in ``arr``, a structured array (or record) of
        the schema's dtype: shape ``arr.shape + self.shape``.

        A byte field gives a zero-copy strided view of ``arr``; a bitfield, a
        read-only array of :attr:`value_dtype` computed in one vectorized pass.

        Examples
        --------
        >>> import numpy as np, recview as rv
        >>> s = rv.Schema.from_dtype([("legs", [("px", "<f8"), ("qty", "<u4")], (2,))])
        >>> a = np.zeros(3, s.dtype)
        >>> px = s.fields()[0].get(a)
        >>> px.shape, np.shares_memory(px, a)
        ((3, 2), True)
        """
        values = _walk(arr, self.storage or self.path)
        if self.bit_width is None:
            view: np.ndarray[Any, Any] = values
            return view
        assert self.bit_offset is not None
        return extract(
            values, self.dtype, self.bit_order or "<", self.bit_offset, self.bit_width, self.signed
        )


def _c_strides(shape: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    out: list[int] = []
    step = itemsize
    for k in reversed(shape):
        out.append(step)
        step *= k
    return tuple(reversed(out))


def _walk(arr: Any, path: str) -> Any:
    """``arr["a"]["b"]...`` for a dotted dtype path: a strided view (numpy's
    field indexing reaches through arrays of records, adding their axes)."""
    for part in path.split("."):
        arr = arr[part]
    return arr


def _leaves(
    dt: np.dtype[Any],
    path: str,
    base: int,
    shape: tuple[int, ...],
    bitfields: Mapping[str, Storage] = MappingProxyType({}),
    strides: tuple[int, ...] = (),
) -> Iterator[FieldInfo]:
    """Leaves of the record ``dt`` at dotted ``path``, byte offset ``base``,
    inside arrays of records of combined ``shape`` (and byte ``strides``), in
    declaration order."""
    assert dt.names is not None
    if len(strides) != len(shape):
        strides = _c_strides(shape, dt.itemsize)
    for name in dt.names:
        fdt, off = _fields(dt)[name][:2]
        fpath = join_path(path, name)
        fshape = shape
        fstrides = strides
        while fdt.subdtype is not None:
            fdt, sub = fdt.subdtype
            fshape = fshape + tuple(sub)
            fstrides = fstrides + _c_strides(tuple(sub), fdt.itemsize)
        storage = bitfields.get(fpath)
        if fdt.names is not None:
            # arrays of records too: each member is a leaf in every element
            yield from _leaves(fdt, fpath, base + int(off), fshape, bitfields, fstrides)
        elif storage is not None:
            parent = path if storage.anonymous else fpath
            for b in storage.fields:
                yield FieldInfo(
                    join_path(parent, b.name),
                    base + int(off),
                    fdt,
                    fshape,
                    bit_offset=b.lsb,
                    bit_width=b.width,
                    signed=b.signed,
                    storage=fpath,
                    bit_order=storage.order,
                    strides=fstrides,
                )
        else:
            yield FieldInfo(fpath, base + int(off), fdt, fshape, strides=fstrides)
