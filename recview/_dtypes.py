"""Structured dtypes in one canonical form: validation, lookups by dotted path, C alignment.

Every schema's dtype passes through :func:`_canonical` (explicit offsets and
byte orders, no titles or alignment flags, every field checked), so that equal
layouts compare and hash equal whatever spelling produced them. The helpers
here look fields up by dotted path, find unions, validate bitfield storages
and spell a dtype back as a spec. Private to the schema layer.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, TypeGuard

import numpy as np

from recview._bits import Storage
from recview._vocab import NATIVE_ORDER, join_path
from recview.errors import SchemaError

# numpy kinds a record field may have: fixed-size, no Python objects.
_ALLOWED_KINDS = frozenset("biufcSUVMm")
# A schema bigger than this is surely a mistake (and numpy refuses near 2**31).
_MAX_ITEMSIZE = 1 << 30
# Nested records deeper than this are surely a mistake (and recursion has limits).
_MAX_DEPTH = 64


def _to_dtype(spec: Any) -> np.dtype[Any]:
    """np.dtype(spec), with numpy's errors turned into SchemaError naming the field."""
    try:
        dt: np.dtype[Any] = np.dtype(spec)
    except Exception as err:
        field = None
        if isinstance(spec, list):
            for item in spec:
                try:
                    np.dtype([item])
                except Exception:  # noqa: BLE001, PERF203 - only on the error path
                    field = str(item[0]) if isinstance(item, tuple) and item else repr(item)
                    break
        elif isinstance(spec, dict) and isinstance(spec.get("names"), list):
            formats = spec.get("formats")
            if isinstance(formats, list):
                for fname, fmt in zip(spec["names"], formats, strict=False):
                    try:
                        np.dtype(fmt)
                    except Exception:  # noqa: BLE001, PERF203 - only on the error path
                        field = str(fname)
                        break
        where = f"field {field!r}: " if field is not None else ""
        raise SchemaError(f"{where}not a valid numpy dtype spec: {err}", field=field) from err
    return dt


def _canonical(dt: np.dtype[Any], unions: frozenset[str], path: str) -> np.dtype[Any]:
    """Validate ``dt`` and rebuild it in one canonical form (explicit offsets,
    explicit byte orders, no titles/alignment flags), so that equal layouts
    compare and hash equal whatever spelling produced them."""
    if not isinstance(dt, np.dtype):
        raise SchemaError(f"expected a numpy dtype, got {type(dt).__name__}")
    where = f"field {path!r}" if path else "record"
    if dt.names is None:
        raise SchemaError(f"{where}: expected a structured dtype, got {dt}", field=path or None)
    if dt.itemsize > _MAX_ITEMSIZE:
        raise SchemaError(
            f"{where}: record of {dt.itemsize} bytes is too large", field=path or None
        )
    if not dt.names:
        raise SchemaError(f"{where}: structured dtype with no fields", field=path or None)
    if path.count(".") >= _MAX_DEPTH:
        # Deeper would overflow the stack here or in to_json/from_json/to_construct
        # (a RecursionError near 500 levels): refuse it, naming the field.
        raise SchemaError(f"{where}: records nested more than {_MAX_DEPTH} levels deep", field=path)
    names: list[str] = []
    formats: list[Any] = []
    offsets: list[int] = []
    spans: list[tuple[int, int, str]] = []
    for name in dt.names:
        fpath = join_path(path, name)
        if not name or "." in name:
            raise SchemaError(
                f"field {fpath!r}: field names must be non-empty strings without '.'",
                field=fpath,
            )
        fdt, off = _fields(dt)[name][:2]
        fmt = _canonical_field(fdt, unions, fpath)
        names.append(name)
        formats.append(fmt)
        offsets.append(int(off))
        spans.append((int(off), int(off) + fdt.itemsize, fpath))
    if dt.itemsize == 0:
        raise SchemaError(f"{where}: zero-size record", field=path or None)
    if path not in unions:
        spans.sort()
        for (_a0, a1, apath), (b0, _b1, bpath) in itertools.pairwise(spans):
            if b0 < a1:
                raise SchemaError(
                    f"field {bpath!r} at offset {b0} overlaps field {apath!r} "
                    f"(which ends at offset {a1})",
                    field=bpath,
                    offset=b0,
                )
    for start, end, fpath in spans:
        if start < 0 or end > dt.itemsize:
            raise SchemaError(
                f"field {fpath!r} spans bytes {start}..{end}, outside the {dt.itemsize}-byte "
                "record",
                field=fpath,
                offset=start,
            )
    return np.dtype(
        {"names": names, "formats": formats, "offsets": offsets, "itemsize": dt.itemsize}
    )


def _canonical_field(fdt: np.dtype[Any], unions: frozenset[str], fpath: str) -> np.dtype[Any]:
    if fdt.subdtype is not None:
        base, shape = fdt.subdtype
        # An array of arrays, ((t, (3,)), (2,)), is the layout of (t, (2, 3)),
        # which is how to_json and fields() describe it: one spelling, so that
        # from_construct(Array(2, Array(3, t))) equals from_dtype((t, (2, 3))).
        while base.subdtype is not None:
            base, inner = base.subdtype
            shape = (*shape, *inner)
        if any(k <= 0 for k in shape):
            raise SchemaError(f"field {fpath!r}: array shape {shape} has a zero size", field=fpath)
        return np.dtype((_canonical_field(base, unions, fpath), shape))
    if fdt.names is not None:
        return _canonical(fdt, unions, fpath)
    if fdt.hasobject:
        raise SchemaError(f"field {fpath!r}: object dtypes cannot live in a file", field=fpath)
    if (fdt.kind == "f" and fdt.itemsize > 8) or (fdt.kind == "c" and fdt.itemsize > 16):
        # long double: 80-bit x87 on x86-64, IEEE quad on aarch64: no portable layout
        raise SchemaError(
            f"field {fpath!r}: type {fdt} (long double) has no portable binary layout",
            field=fpath,
        )
    if fdt.kind not in _ALLOWED_KINDS:
        raise SchemaError(f"field {fpath!r}: type {fdt} has no fixed binary layout", field=fpath)
    if fdt.itemsize == 0:
        raise SchemaError(f"field {fpath!r}: type {fdt} has zero size", field=fpath)
    if fdt.byteorder == "=":
        fdt = fdt.newbyteorder(NATIVE_ORDER)
    out: np.dtype[Any] = np.dtype(fdt.str)
    return out


def _check_bitfields(
    dtype: np.dtype[Any], unions: frozenset[str], bitfields: Mapping[str, Storage]
) -> tuple[dict[str, Storage], set[str]]:
    """Validate the bitfields of each storage path against ``dtype``; returns
    them in canonical form (the byte order of an integer storage is its
    dtype's) and the dotted paths of the bitfield leaves."""
    out: dict[str, Storage] = {}
    leaf_paths: set[str] = set()
    taken: dict[str, set[str]] = {}  # parent path -> names used at that level
    for spath, storage in sorted(bitfields.items()):
        if not isinstance(storage, Storage):
            raise SchemaError(f"bitfields of {spath!r} must be a Storage", field=spath)
        sdt = _lookup_base(dtype, spath) if spath else None
        ok = (
            sdt is not None
            and sdt.names is None
            and ((sdt.kind in "iu" and sdt.itemsize in (1, 2, 4, 8)) or sdt.kind == "V")
        )
        if not ok or sdt is None:
            raise SchemaError(
                f"bitfield storage {spath!r} is not an integer (or V<n>) field of the record",
                field=spath,
            )
        if sdt.itemsize == 1:
            order = "<"
        elif sdt.kind == "V":
            if storage.order not in ("<", ">"):
                raise SchemaError(
                    f"bitfield storage {spath!r}: order must be '<' or '>', got {storage.order!r}",
                    field=spath,
                )
            order = storage.order
        else:
            # numpy spells the native order '=': bits are numbered in '<' or '>'
            order = NATIVE_ORDER if sdt.byteorder == "=" else sdt.byteorder
        parent, _, sname = spath.rpartition(".")
        level = parent if storage.anonymous else spath
        names = taken.setdefault(level, set())
        if storage.anonymous and not names:
            pdt = _lookup_base(dtype, parent)
            assert pdt is not None
            assert pdt.names is not None
            names.update(n for n in pdt.names if n != sname)
        if not storage.fields:
            raise SchemaError(f"bitfield storage {spath!r} has no bitfields", field=spath)
        nbits = 8 * sdt.itemsize
        spans: list[tuple[int, int, str]] = []
        for b in storage.fields:
            bpath = join_path(level, b.name)
            if not isinstance(b.name, str) or not b.name or "." in b.name:  # type: ignore[redundant-expr]
                raise SchemaError(
                    f"bitfield {bpath!r}: names must be non-empty strings without '.'", field=bpath
                )
            if b.name in names:
                raise SchemaError(f"bitfield {bpath!r} is declared twice", field=bpath)
            names.add(b.name)
            if not (_is_int(b.width) and _is_int(b.lsb) and isinstance(b.signed, bool)):
                raise SchemaError(f"bitfield {bpath!r}: invalid bit range {b!r}", field=bpath)
            if not (1 <= b.width <= 64 and b.lsb >= 0 and b.lsb + b.width <= nbits):
                raise SchemaError(
                    f"bitfield {bpath!r}: bits {b.lsb}..{b.lsb + b.width - 1} are outside the "
                    f"{nbits}-bit storage {spath!r}",
                    field=bpath,
                )
            spans.append((b.lsb, b.lsb + b.width, bpath))
            leaf_paths.add(bpath)
        if parent not in unions:  # union members may share bits, as C's do
            spans.sort()
            for (_a0, a1, apath), (b0, _b1, bpath) in itertools.pairwise(spans):
                if b0 < a1:
                    raise SchemaError(
                        f"bitfield {bpath!r} (from bit {b0}) overlaps bitfield {apath!r}",
                        field=bpath,
                    )
        # one spelling per layout: bitfields by bit position (lowest first)
        ordered = tuple(sorted(storage.fields, key=lambda b: (b.lsb, b.width, b.name)))
        out[spath] = Storage(ordered, order, storage.anonymous)
    return out, leaf_paths


def _check_enums(
    dtype: np.dtype[Any], enums: Mapping[str, Mapping[int, str]], bit_leaves: set[str]
) -> dict[str, Mapping[int, str]]:
    """The display names of integer values, checked against ``dtype``: each
    path names an integer field or bitfield (through arrays of records too)."""
    enum_map: dict[str, Mapping[int, str]] = {}
    for path, mapping in enums.items():
        # a path may run through arrays of records ("slots.kind"): it names
        # the field in every element
        leaf = _lookup_base(dtype, path)
        if path in bit_leaves:
            leaf = np.dtype("u1")  # a bitfield: an integer too
        if leaf is None or leaf.names is not None or leaf.kind not in "iub":
            raise SchemaError(
                f"enum names given for {path!r}, which is not an integer field", field=path
            )
        enum_map[path] = MappingProxyType({int(k): str(v) for k, v in mapping.items()})
    return enum_map


def _check_unions(dtype: np.dtype[Any], unions: frozenset[str]) -> None:
    """Each union path names a structured field of ``dtype``."""
    for path in unions:
        if _lookup(dtype, path) is None:
            raise SchemaError(f"union {path!r} is not a structured field", field=path)


def _lookup(dt: np.dtype[Any], path: str) -> np.dtype[Any] | None:
    """The structured dtype at ``path`` (through arrays: a union ``u`` in
    ``u[2]``, or in ``slots[4].u``), or None."""
    found = _lookup_base(dt, path)
    return found if found is not None and found.names is not None else None


def _lookup_base(dt: np.dtype[Any], path: str) -> np.dtype[Any] | None:
    """The dtype of one element of the field at dotted ``path`` (subarrays,
    there and on the way, stripped), or None; ``""`` is the record itself."""
    dt = dt.base
    if not path:
        return dt
    for part in path.split("."):
        if dt.names is None or part not in dt.names:
            return None
        dt = _fields(dt)[part][0].base
    return dt


def _union_paths(dt: np.dtype[Any], path: str) -> set[str]:
    """Dotted paths of the (nested) records whose two or more fields all start
    at offset 0: unions, as C lays them out."""
    dt = dt.base
    if dt.names is None or path.count(".") >= _MAX_DEPTH:
        return set()  # too deep: _canonical refuses it, naming the field
    fields = _fields(dt)
    out = {path} if len(dt.names) > 1 and all(fields[n][1] == 0 for n in dt.names) else set()
    for name in dt.names:
        out |= _union_paths(fields[name][0], join_path(path, name))
    return out


def _dtype_spec(dt: np.dtype[Any]) -> Any:
    if dt.names is None:
        return dt.str
    assert dt.fields is not None
    return {
        "names": list(dt.names),
        "formats": [_fmt_spec(_fields(dt)[n][0]) for n in dt.names],
        "offsets": [int(_fields(dt)[n][1]) for n in dt.names],
        "itemsize": dt.itemsize,
    }


def _fmt_spec(dt: np.dtype[Any]) -> Any:
    if dt.subdtype is not None:
        return (_fmt_spec(dt.subdtype[0]), dt.subdtype[1])
    return _dtype_spec(dt)


def _alignment(dt: np.dtype[Any]) -> int:
    """C alignment of a plain dtype. A nested structured dtype counts as
    naturally aligned (its largest member's alignment) only when its offsets
    and itemsize are consistent with that; otherwise it is packed (1)."""
    if dt.subdtype is not None:
        return _alignment(dt.subdtype[0])
    if dt.names is None:
        return int(dt.alignment)
    fields = _fields(dt)
    al = 1
    for name in dt.names:
        fdt, off = fields[name][:2]
        fal = _alignment(fdt)
        if off % fal:
            return 1
        al = max(al, fal)
    return al if dt.itemsize % al == 0 else 1


def _fields(dt: np.dtype[Any]) -> Mapping[str, Any]:
    fields = dt.fields
    assert fields is not None
    return fields


def _is_int(x: object) -> TypeGuard[int]:
    return isinstance(x, int) and not isinstance(x, bool)
