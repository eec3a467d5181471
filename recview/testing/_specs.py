"""The intermediate description of a record the strategies draw: ScalarSpec, BitsSpec, FieldSpec, RecordSpec.

One description, two independent encoders: :meth:`RecordSpec.schema` (and
:meth:`RecordSpec.record_class`) through recview, :meth:`RecordSpec.construct`
through a ``construct.Struct`` built by hand. Public through :mod:`recview.testing`.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping
from typing import Any, Literal

import construct as c
import numpy as np

import recview as rv

ScalarKind = Literal["i", "u", "f", "b", "S"]
ByteOrder = Literal["<", ">", "|"]


@dataclasses.dataclass(frozen=True)
class ScalarSpec:
    """One scalar type: ``kind`` (numpy's letter: ``i u f b S``), size, byte order.

    Examples
    --------
    >>> from recview.testing import ScalarSpec
    >>> ScalarSpec("u", 4, ">").dtype.str, ScalarSpec("S", 3, "|").dtype.str
    ('>u4', '|S3')
    """

    kind: ScalarKind
    nbytes: int
    byteorder: ByteOrder = "<"

    @property
    def dtype(self) -> np.dtype[Any]:
        """The numpy dtype of this scalar."""
        return np.dtype(f"{self.byteorder}{self.kind}{self.nbytes}")

    def construct(self) -> Any:
        """The ``construct`` subcon of this scalar, built without recview."""
        little = self.byteorder != ">"
        if self.kind in "iu":
            # BytesInteger packs with int.to_bytes: another code path than the
            # struct-module FormatField that Schema.to_construct() uses.
            return c.BytesInteger(self.nbytes, signed=self.kind == "i", swapped=little)
        if self.kind == "f":
            return getattr(c, f"Float{self.nbytes * 8}{'l' if little else 'b'}")
        if self.kind == "b":
            return c.Flag
        return _NulPadded(c.Bytes(self.nbytes))


class _NulPadded(c.Adapter):  # type: ignore[misc]  # construct is untyped
    """``S<n>`` as numpy has it: NUL-padded on build, trailing NULs stripped on parse."""

    def _decode(self, obj: bytes, context: Any, path: Any) -> bytes:
        return obj.rstrip(b"\0")

    def _encode(self, obj: bytes, context: Any, path: Any) -> bytes:
        return obj.ljust(self.subcon.length, b"\0")


@dataclasses.dataclass(frozen=True)
class BitsSpec:
    """One integer storage unit split into bitfields, as ``rv.bits`` declares it.

    ``bits`` are ``(name, width)`` pairs from the least significant bit of the
    storage value up; names starting with ``_`` are unused bits. The bitfields
    are signed when the storage is (``kind == "i"``).

    Examples
    --------
    >>> from recview.testing import BitsSpec, ScalarSpec
    >>> spec = BitsSpec(ScalarSpec("u", 2, ">"), (("fin", 1), ("syn", 1), ("_", 14)))
    >>> spec.dtype.str, spec.construct().parse(b"\\x00\\x02")
    ('>u2', Container(syn=1, fin=0))
    """

    storage: ScalarSpec
    bits: tuple[tuple[str, int], ...]

    @property
    def dtype(self) -> np.dtype[Any]:
        """The storage's dtype, unsigned (the bitfields carry the signedness)."""
        return np.dtype(self.storage.dtype.str.replace("i", "u"))

    @property
    def signed(self) -> bool:
        """Whether the bitfields are sign-extended."""
        return self.storage.kind == "i"

    def fields(self) -> list[tuple[str, int, int]]:
        """The named bitfields as ``(name, lsb, width)``."""
        out, pos = [], 0
        for name, width in self.bits:
            if not name.startswith("_"):
                out.append((name, pos, width))
            pos += width
        return out

    def construct(self) -> Any:
        """A ``BitStruct`` (most significant bit first, ``ByteSwapped`` for a
        little-endian unit), built without recview."""
        subs: list[Any] = []
        top = 8 * self.storage.nbytes - sum(width for _name, width in self.bits)
        if top:
            subs.append(c.Padding(top))
        for name, width in reversed(self.bits):
            if name.startswith("_"):
                subs.append(c.Padding(width))
            else:
                subs.append(name / c.BitsInteger(width, signed=self.signed))
        con = c.BitStruct(*subs)
        return c.ByteSwapped(con) if self.storage.byteorder == "<" else con

    def bits_type(self) -> Any:
        """The ``rv.bits(...)`` annotation of this unit."""
        return rv.bits(self.storage.dtype, **dict(self.bits))

    def pack(self, value: Mapping[str, int]) -> int:
        """The storage value (unsigned) holding the bitfield values of ``value``."""
        out = 0
        for name, lsb, width in self.fields():
            out |= (int(value[name]) & ((1 << width) - 1)) << lsb
        return out

    def unpack(self, storage_value: int) -> dict[str, int]:
        """The bitfield values of a storage value, with Python's integers."""
        out = {}
        for name, lsb, width in self.fields():
            v = (int(storage_value) >> lsb) & ((1 << width) - 1)
            if self.signed and v >> (width - 1):
                v -= 1 << width
            out[name] = v
        return out


@dataclasses.dataclass(frozen=True)
class FieldSpec:
    """One field of a :class:`RecordSpec`: a name, a type, an array shape, an offset.

    ``type`` is a :class:`ScalarSpec`, a :class:`BitsSpec` (then ``shape`` is
    ``()``) or a nested :class:`RecordSpec`; ``shape`` is ``()`` for a single
    value, else the shape of a fixed array (any rank); ``offset`` is the byte
    offset from the start of the enclosing record.
    """

    name: str
    type: ScalarSpec | BitsSpec | RecordSpec
    offset: int
    shape: tuple[int, ...] = ()

    @property
    def dtype(self) -> np.dtype[Any]:
        """The numpy dtype of the field (a subarray dtype if ``shape``)."""
        base = self.type.dtype
        return np.dtype((base, self.shape)) if self.shape else base

    @property
    def nbytes(self) -> int:
        """Bytes the field takes in the record."""
        return self.type.dtype.itemsize * math.prod(self.shape)

    def construct(self) -> Any:
        """The ``construct`` subcon of the field, built without recview."""
        con = self.type.construct()
        for k in reversed(self.shape):
            con = c.Array(k, con)
        return con


@dataclasses.dataclass(frozen=True)
class RecordSpec:
    """A record layout as a plain field list, compiled independently to numpy,
    :class:`recview.Record` and ``construct``.

    ``fields`` are in declaration order (numpy's ``names`` order, which need
    not be offset order); ``itemsize`` may exceed the end of the last field
    (trailing padding) and bytes between fields are padding.

    Examples
    --------
    >>> import recview as rv
    >>> from recview.testing import FieldSpec, RecordSpec, ScalarSpec
    >>> spec = RecordSpec((FieldSpec("ts", ScalarSpec("u", 8, ">"), 0),
    ...                    FieldSpec("xy", ScalarSpec("f", 4), 12, (2,))), itemsize=24)
    >>> spec.schema() == rv.Schema.from_dtype(spec.dtype), spec.construct().sizeof()
    (True, 24)
    >>> spec.record_class().schema == spec.schema()
    True
    """

    fields: tuple[FieldSpec, ...]
    itemsize: int

    def __post_init__(self) -> None:
        if not self.fields:
            raise ValueError("a RecordSpec needs at least one field")
        spans = sorted((f.offset, f.offset + f.nbytes, f.name) for f in self.fields)
        for (_a, end, name), (start, _b, other) in itertools.pairwise(spans):
            if start < end:
                raise ValueError(f"field {other!r} at offset {start} overlaps {name!r}")
        if spans[0][0] < 0 or max(end for _s, end, _n in spans) > self.itemsize:
            raise ValueError(f"a field lies outside the {self.itemsize}-byte record")
        if len({f.name for f in self.fields}) != len(self.fields):
            raise ValueError("field names must be unique")

    @property
    def dtype(self) -> np.dtype[Any]:
        """The numpy structured dtype (dict spelling: names, formats, offsets, itemsize)."""
        return np.dtype(
            {
                "names": [f.name for f in self.fields],
                "formats": [f.dtype for f in self.fields],
                "offsets": [f.offset for f in self.fields],
                "itemsize": self.itemsize,
            }
        )

    @property
    def in_offset_order(self) -> bool:
        """Whether fields are declared in offset order, here and in every nested record
        (a ``construct.Struct`` or a :class:`recview.Record` can only say that)."""
        offsets = [f.offset for f in self.fields]
        return offsets == sorted(offsets) and all(
            f.type.in_offset_order for f in self.fields if isinstance(f.type, RecordSpec)
        )

    def schema(self) -> rv.Schema:
        """The recview schema, through :meth:`recview.Schema.from_dtype` (and the
        bitfields of each :class:`BitsSpec` field)."""
        bits = self.bitfields()
        if not bits:
            return rv.Schema.from_dtype(self.dtype)
        from recview._bits import Bit, Storage

        storages = {
            path: Storage(
                tuple(Bit(n, lsb, w, spec.signed) for n, lsb, w in spec.fields()),
                ">" if spec.storage.byteorder == ">" else "<",
            )
            for path, spec in bits.items()
        }
        base = rv.Schema.from_dtype(self.dtype)
        return rv.Schema._from_parts(base.dtype, unions=base.unions, bitfields=storages)

    def bitfields(self, path: str = "") -> dict[str, BitsSpec]:
        """The :class:`BitsSpec` of each bitfield storage, by dotted field path."""
        out: dict[str, BitsSpec] = {}
        for f in self.fields:
            fpath = f"{path}.{f.name}" if path else f.name
            if isinstance(f.type, BitsSpec):
                out[fpath] = f.type
            elif isinstance(f.type, RecordSpec):
                out.update(f.type.bitfields(fpath))
        return out

    def construct(self) -> Any:
        """An equivalent ``construct.Struct``, built field by field without recview:
        fields in offset order, gaps as ``Padding``."""
        subcons: list[Any] = []
        pos = 0
        for f in sorted(self.fields, key=lambda f: f.offset):
            if f.offset > pos:
                subcons.append(c.Padding(f.offset - pos))
            subcons.append(f.name / f.construct())
            pos = f.offset + f.nbytes
        if self.itemsize > pos:
            subcons.append(c.Padding(self.itemsize - pos))
        return c.Struct(*subcons)

    def record_class(self, name: str = "Rec") -> type[rv.Record]:
        """An equivalent declarative :class:`recview.Record` subclass (``rv.pad`` for
        gaps, ``rv.array`` for arrays, nested subclasses for nested records).

        Raises
        ------
        ValueError
            The fields are not declared in offset order (see :attr:`in_offset_order`),
            which a ``Record`` cannot express.
        """
        if not self.in_offset_order:
            raise ValueError("a Record lays fields out in declaration order")
        annotations: dict[str, Any] = {}
        pos = 0
        for i, f in enumerate(self.fields):
            if f.offset > pos:
                annotations[f"_gap{i}"] = rv.pad(f.offset - pos)
            t: Any
            if isinstance(f.type, RecordSpec):
                t = f.type.record_class(f"{name}_{i}")
            elif isinstance(f.type, BitsSpec):
                t = f.type.bits_type()
            elif f.type.kind == "S":
                t = rv.bytes_(f.type.nbytes)
            elif f.type.kind == "b":
                t = np.dtype("?")
            else:
                suffix = "be" if f.type.byteorder == ">" else ""
                t = getattr(rv, f"{f.type.kind}{f.type.nbytes * 8}{suffix}")
            annotations[f.name] = rv.array(t, f.shape) if f.shape else t
            pos = f.offset + f.nbytes
        if self.itemsize > pos:
            annotations["_tail"] = rv.pad(self.itemsize - pos)
        return type(name, (rv.Record,), {"__annotations__": annotations})
