"""``construct`` <-> numpy dtype conversions (private helper of :mod:`recview.schema`).

``dtype_from_construct`` walks a fixed-size ``construct.Struct`` and lays its
fields out at the offsets construct itself would read them from (each subcon
advances by its own ``sizeof()``, so ``Padded``/``Aligned``/``Padding`` gaps
come out right). ``construct_from_dtype`` goes the other way.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import construct as c
import numpy as np

from recview._bits import Bit, Storage
from recview._vocab import NATIVE_ORDER, join_path
from recview.errors import SchemaError

_FMT_KIND = {
    "b": "i1", "B": "u1", "h": "i2", "H": "u2", "i": "i4", "I": "u4", "l": "i4", "L": "u4",
    "q": "i8", "Q": "u8", "e": "f2", "f": "f4", "d": "f8", "?": "b1",
}  # fmt: skip
_KIND_FMT = {"i1": "b", "u1": "B", "i2": "h", "u2": "H", "i4": "l", "u4": "L", "i8": "q",
             "u8": "Q", "f2": "e", "f4": "f", "f8": "d"}  # fmt: skip


def _describe(con: Any) -> str:
    return type(con).__name__


def _sizeof(con: Any, path: str) -> int:
    try:
        n = con.sizeof()
    except Exception as err:
        culprit, cpath = _unsized(con, path)
        hint = ""
        if isinstance(culprit, c.Union):
            # construct sizes no Union: its size is the caller's to give
            hint = "; wrap it in Padded(n, Union(...)) to give its size"
        raise SchemaError(
            f"field {cpath!r} ({_describe(culprit)}) has no fixed size{hint}",
            field=cpath or None,
        ) from err
    if n < 0:  # construct sizes Bytes(-1) and Array(-1, ...) as -1
        culprit = con
        while isinstance(culprit, c.Renamed):
            culprit = culprit.subcon
        raise SchemaError(
            f"field {path!r} ({_describe(culprit)}): negative size {n}", field=path or None
        )
    return int(n)


def _unsized(con: Any, path: str) -> tuple[Any, str]:
    """The innermost subcon (and its dotted path) whose size is not fixed."""
    con = _unrenamed(con)
    if isinstance(con, c.Struct):
        for sub in con.subcons:
            try:
                sub.sizeof()
            except Exception:  # noqa: BLE001, PERF203 - only on the error path
                name = sub.name
                return _unsized(sub, join_path(path, name) if name else path)
    elif isinstance(con, c.Subconstruct) and not isinstance(con, c.Array):
        try:
            con.subcon.sizeof()
        except Exception:  # noqa: BLE001
            return _unsized(con.subcon, path)
    return con, path


class _Found(dict[str, dict[int, str]]):
    """Enum names by path (the dict itself), and the bitfields of each
    storage field found on the way (``bits``)."""

    def __init__(self) -> None:
        super().__init__()
        self.bits: dict[str, Storage] = {}


def dtype_from_construct(
    struct: Any,
) -> tuple[np.dtype[Any], dict[str, dict[int, str]], dict[str, Storage]]:
    """Compile a fixed-size ``construct.Struct`` to a structured dtype, enum
    names and bitfields (``BitStruct`` members)."""
    inner = _unrenamed(struct)
    enums = _Found()
    if isinstance(inner, c.Padded) and isinstance(_unrenamed(inner.subcon), c.Union):
        # a union as the record (what Schema.to_construct gives for one)
        dt = _union(_unrenamed(inner.subcon), _sizeof(inner, ""), "", enums)
        return dt, dict(enums), enums.bits
    if not isinstance(inner, c.Struct):
        raise SchemaError(f"from_construct expects a construct.Struct, got {_describe(struct)}")
    found = _struct(inner, "", enums)
    if found is None:
        raise SchemaError("construct.Struct has no named fields")
    return found, dict(enums), enums.bits


def _bitstruct(con: Any) -> tuple[Any, str] | None:
    """``(struct, order)`` when ``con`` is a ``BitStruct`` (big-endian: its
    first bit is the most significant of the value) or a ``ByteSwapped``
    ``BitStruct`` (the same, over the bytes of a little-endian value)."""
    if not isinstance(con, c.Transformed):
        return None
    if con.decodefunc is c.lib.bytes2bits and isinstance(_unrenamed(con.subcon), c.Struct):
        return _unrenamed(con.subcon), ">"
    if con.decodefunc is c.lib.swapbytes:
        inner = _bitstruct(_unrenamed(con.subcon))
        if inner is not None and inner[1] == ">":
            return inner[0], "<"
    return None


def _bits_leaf(struct: Any, order: str, nbytes: int, path: str, found: _Found) -> np.dtype[Any]:
    """The storage dtype of a ``BitStruct`` of ``nbytes`` bytes; its members
    become bitfields of ``path``, numbered from the value's least significant bit."""
    total = 8 * nbytes
    pos = 0  # bits taken so far, from the most significant
    fields: list[Bit] = []
    for sub in struct.subcons:
        name = sub.name
        inner = _unrenamed(sub)
        width = int(sub.sizeof())  # in bits, inside a BitStruct
        bpath = join_path(path, name) if name else path
        if name:
            if name.startswith("_"):
                raise SchemaError(
                    f"bitfield {bpath!r}: names starting with '_' are reserved by construct",
                    field=bpath,
                )
            if isinstance(inner, c.BitsInteger):
                if inner.swapped is not False:
                    raise SchemaError(
                        f"bitfield {bpath!r}: a byte-swapped BitsInteger is not supported",
                        field=bpath,
                    )
                signed = bool(inner.signed)
            elif type(inner).__name__ == "Flag":
                signed = False
            else:
                raise SchemaError(
                    f"bitfield {bpath!r} ({_describe(inner)}): a BitStruct may hold only "
                    "BitsInteger, Flag and Padding",
                    field=bpath,
                )
            if width:
                fields.append(Bit(name, total - pos - width, width, signed))
        pos += width  # Padding and unnamed members are unused bits
    if not fields:
        raise SchemaError(f"field {path!r}: BitStruct has no named bitfields", field=path)
    found.bits[path] = Storage(tuple(fields), order)
    if nbytes in (1, 2, 4, 8):
        return np.dtype(f"{order if nbytes > 1 else '|'}u{nbytes}")
    return np.dtype(f"V{nbytes}")


def _transformed(con: Any, path: str, enums: _Found) -> np.dtype[Any] | None:
    """A ``Transformed`` subcon that is no ``BitStruct``: a ``ByteSwapped``
    scalar is the scalar in the other byte order; any other reordering of the
    bytes (or bits) has no dtype, and is refused rather than read unswapped."""
    inner = _unrenamed(con.subcon)
    if con.decodefunc is c.lib.swapbytes:
        dt = _leaf(inner, path, enums)
        if dt is None or (dt.names is None and dt.subdtype is None and dt.kind in "iufb"):
            return None if dt is None else dt.newbyteorder("S") if dt.itemsize > 1 else dt
    raise SchemaError(
        f"field {path!r} ({_describe(con)} of {_describe(inner)}) reorders its bytes or bits "
        "in a way a numpy dtype cannot express (ByteSwapped is supported around a single "
        "integer, float or flag, and around a BitStruct)",
        field=path or None,
    )


def _fixed_leaf(sub: Any, fpath: str, size: int, enums: _Found) -> np.dtype[Any] | None:
    """The dtype of a named subcon that advances ``size`` bytes, checked to take
    exactly those bytes: ``Pointer`` and ``Peek`` read bytes elsewhere (or again)
    and take no room, which a field at this offset cannot say."""
    inner = _unrenamed(sub)
    if isinstance(inner, (c.Padded, c.Aligned)) and not isinstance(
        _unrenamed(inner.subcon), c.Union
    ):
        # The value first, then padding up to ``size``: the value itself must
        # take exactly its own bytes (no Pointer inside).
        return _fixed_leaf(inner.subcon, fpath, _sizeof(inner.subcon, fpath), enums)
    dt = _leaf(sub, fpath, enums)
    if dt is not None and dt.itemsize != size:
        raise SchemaError(
            f"field {fpath!r} ({_describe(_unrenamed(sub))}) takes no room in the record "
            f"({size} bytes) but reads {dt.itemsize} bytes elsewhere; Pointer and Peek are "
            "not supported: declare the bytes where they are",
            field=fpath,
        )
    return dt


def _struct(con: Any, path: str, enums: _Found) -> np.dtype[Any] | None:
    names: list[str] = []
    formats: list[np.dtype[Any]] = []
    offsets: list[int] = []
    pos = 0
    for i, sub in enumerate(con.subcons):
        name = sub.name
        fpath = join_path(path, name) if name else f"{path}[{i}]".lstrip(".")
        size = _sizeof(sub, fpath)
        if name:
            if name.startswith("_"):  # construct's own context keys: _io, _params...
                raise SchemaError(
                    f"field {fpath!r}: names starting with '_' are reserved by construct",
                    field=fpath,
                )
            if name in names:
                raise SchemaError(
                    f"field {fpath!r} is named twice in one Struct (construct keeps the "
                    "last value only; a record needs distinct names)",
                    field=fpath,
                )
            dt = _fixed_leaf(sub, fpath, size, enums)
            if dt is not None:
                names.append(name)
                formats.append(dt)
                offsets.append(pos)
        # an unnamed subcon (Padding, an unnamed Const...) occupies bytes: a gap
        pos += size
    if not names:
        return None
    return np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": pos})


def _unrenamed(con: Any) -> Any:
    while isinstance(con, c.Renamed):
        con = con.subcon
    return con


def _union(con: Any, size: int, path: str, enums: _Found) -> np.dtype[Any]:
    """A ``Padded(size, Union(...))``: every named member at offset 0."""
    names: list[str] = []
    formats: list[np.dtype[Any]] = []
    for sub in con.subcons:
        if not sub.name:
            continue  # an unnamed member of a union reads nothing anyone can see
        fpath = join_path(path, sub.name)
        n = _sizeof(sub, fpath)
        if n > size:
            raise SchemaError(
                f"field {fpath!r} takes {n} bytes, more than the {size}-byte union", field=fpath
            )
        dt = _fixed_leaf(sub, fpath, n, enums)
        if dt is not None:
            names.append(sub.name)
            formats.append(dt)
    if not names:
        raise SchemaError(f"field {path!r}: Union has no named members", field=path or None)
    return np.dtype(
        {"names": names, "formats": formats, "offsets": [0] * len(names), "itemsize": size}
    )


def _leaf(con: Any, path: str, enums: _Found) -> np.dtype[Any] | None:
    """dtype of one subcon, or None if it is all padding / zero-size."""
    if isinstance(con, c.Renamed):
        return _leaf(con.subcon, path, enums)
    bitstruct = _bitstruct(con)
    if bitstruct is not None:
        return _bits_leaf(*bitstruct, _sizeof(con, path), path, enums)
    if isinstance(con, c.Transformed):
        return _transformed(con, path, enums)
    if isinstance(con, c.Struct):
        return _struct(con, path, enums)
    if isinstance(con, c.Padded) and isinstance(_unrenamed(con.subcon), c.Union):
        return _union(_unrenamed(con.subcon), _sizeof(con, path), path, enums)
    if isinstance(con, c.FormatField):
        endian, char = con.fmtstr[0], con.fmtstr[1:]
        kind = _FMT_KIND.get(char)
        if kind is None:
            raise SchemaError(
                f"field {path!r}: struct format {con.fmtstr!r} has no numpy equivalent", field=path
            )
        return np.dtype((NATIVE_ORDER if endian in "=@" else endian) + kind)
    if isinstance(con, c.BytesInteger):
        if not isinstance(con.length, int) or con.length not in (1, 2, 4, 8):
            raise SchemaError(
                f"field {path!r}: a {con.length!r}-byte integer has no numpy dtype "
                "(1, 2, 4 or 8 bytes)",
                field=path,
            )
        if not isinstance(con.swapped, bool):
            raise SchemaError(
                f"field {path!r}: byte order decided at parse time is not supported", field=path
            )
        return np.dtype(
            ("<" if con.swapped else ">") + ("i" if con.signed else "u") + str(con.length)
        )
    if isinstance(con, c.BitsInteger):
        raise SchemaError(
            f"field {path!r}: a BitsInteger outside a BitStruct has no byte layout", field=path
        )
    if con is c.Flag or type(con).__name__ == "Flag":
        return np.dtype("?")
    if isinstance(con, c.Bytes | c.StringEncoded | c.FixedSized):
        # Bytes(0), like Padding(0) and Array(0, ...), takes no bytes: no field
        n = _sizeof(con, path)
        return np.dtype(f"S{n}") if n else None
    if isinstance(con, c.Array):
        if not isinstance(con.count, int):
            raise SchemaError(f"field {path!r} (Array) has no fixed size", field=path)
        if con.count == 0:
            return None
        sub = _leaf(con.subcon, path, enums)
        return None if sub is None else np.dtype((sub, (con.count,)))
    if isinstance(con, c.Enum):
        dt = _leaf(con.subcon, path, enums)
        enums[path] = {int(k): str(v) for k, v in con.decmapping.items()}
        return dt
    if isinstance(con, c.Subconstruct):  # Const, Default, Padded, Aligned, Adapters...
        return _leaf(con.subcon, path, enums)
    if _sizeof(con, path) == 0:  # Pass, Computed, Check, Probe...
        return None
    raise SchemaError(f"field {path!r} ({_describe(con)}) has no numpy equivalent", field=path)


def construct_from_dtype(
    dt: np.dtype[Any],
    unions: frozenset[str],
    path: str = "",
    bitfields: Mapping[str, Storage] = MappingProxyType({}),
) -> Any:
    """The ``construct.Struct`` that parses and builds exactly ``dt``'s bytes
    (a storage field with bitfields becomes a ``BitStruct``)."""
    assert dt.names is not None
    assert dt.fields is not None
    members = sorted(
        ((int(dt.fields[n][1]), n, dt.fields[n][0]) for n in dt.names), key=lambda m: m[0]
    )
    if path in unions:
        subs = []
        for off, name, fdt in members:
            fpath = join_path(path, name)
            con = _con(fdt, unions, fpath, bitfields)
            if off:
                con = c.Struct(c.Padding(off), "value" / con)
            subs.append(name / con)
        return c.Padded(dt.itemsize, c.Union(0, *subs))
    fields: list[Any] = []
    pos = 0
    for off, name, fdt in members:
        if off > pos:
            fields.append(c.Padding(off - pos))
        fpath = join_path(path, name)
        fields.append(name / _con(fdt, unions, fpath, bitfields))
        pos = off + fdt.itemsize
    if dt.itemsize > pos:
        fields.append(c.Padding(dt.itemsize - pos))
    return c.Struct(*fields)


def _bitstruct_of(storage: Storage, nbytes: int, path: str) -> Any:
    """A ``BitStruct`` (``ByteSwapped`` for a little-endian value) reading the
    bitfields of one storage unit: most significant bits first, gaps as ``Padding``."""
    top = 8 * nbytes
    subs: list[Any] = []
    for b in sorted(storage.fields, key=lambda b: -b.lsb):
        if b.lsb + b.width > top:
            raise SchemaError(
                f"field {path!r}: overlapping bitfields have no construct form", field=path
            )
        if top > b.lsb + b.width:
            subs.append(c.Padding(top - b.lsb - b.width))
        subs.append(b.name / c.BitsInteger(b.width, signed=b.signed))
        top = b.lsb
    if top:
        subs.append(c.Padding(top))
    con = c.BitStruct(*subs)
    return c.ByteSwapped(con) if storage.order == "<" and nbytes > 1 else con


def _con(
    fdt: np.dtype[Any],
    unions: frozenset[str],
    path: str,
    bitfields: Mapping[str, Storage] = MappingProxyType({}),
) -> Any:
    if fdt.subdtype is not None:
        base, shape = fdt.subdtype
        con = _con(base, unions, path, bitfields)
        for k in reversed(shape):
            con = c.Array(k, con)
        return con
    if fdt.names is not None:
        return construct_from_dtype(fdt, unions, path, bitfields)
    if path in bitfields:
        return _bitstruct_of(bitfields[path], fdt.itemsize, path)
    key = f"{fdt.kind}{fdt.itemsize}"
    if fdt.kind == "b":
        return c.Flag
    if key in _KIND_FMT:
        order = "<" if fdt.byteorder in "<|" else ">" if fdt.byteorder == ">" else NATIVE_ORDER
        return c.FormatField(order, _KIND_FMT[key])
    if fdt.kind == "S":
        # numpy reads S<n> with trailing NULs stripped and writes it NUL-padded
        return c.FixedSized(fdt.itemsize, c.NullStripped(c.GreedyBytes))
    return c.Bytes(fdt.itemsize)  # complex, datetime, U, V: raw bytes
