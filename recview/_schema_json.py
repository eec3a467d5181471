"""The schema's stable JSON form: parsing (versions 1 and 2) and writing, never evaluating code.

:func:`loads` checks every value of the document against the grammar in
:mod:`recview.schema`'s docstring and gives the parts of a schema (dtype,
unions, enums, bitfields); :func:`dumps` writes them back. Version 2 adds
bitfields; a schema without bitfields is written as version 1.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np

from recview._bits import Bit, Storage
from recview._dtypes import _MAX_ITEMSIZE, _fields, _is_int
from recview._vocab import join_path
from recview.errors import SchemaError

_JSON_FORMAT = "recview.schema"
_JSON_VERSION = 1
# Version 2 adds bitfields ("bits" on a storage field); a schema without
# bitfields is still written as version 1, so older readers keep reading it.
_JSON_VERSION_BITS = 2
_SCALAR_RE = re.compile(
    r"^(?:[<>|=]?(?:b1|[iu][1248]|f[248]|c(?:8|16))|\|?[SV][1-9][0-9]{0,9}"
    r"|[<>=]?U[1-9][0-9]{0,9}|[<>=]?[Mm]8(?:\[[0-9]*[a-zA-Z]{1,2}\])?)$"
)


def _bits_to_json(storage: Storage, fdt: np.dtype[Any], entry: dict[str, Any]) -> None:
    entry["bits"] = [
        {"name": b.name, "lsb": b.lsb, "width": b.width, **({"signed": True} if b.signed else {})}
        for b in storage.fields
    ]
    if storage.anonymous:
        entry["anonymous"] = True
    if fdt.kind == "V" and fdt.itemsize > 1:
        entry["order"] = storage.order


def _bits_from_json(f: dict[str, Any], fpath: str) -> Storage:
    bits = f["bits"]
    if not isinstance(bits, list) or not bits:
        raise SchemaError(f"field {fpath!r}: 'bits' must be a non-empty list", field=fpath)
    out: list[Bit] = []
    for i, b in enumerate(bits):
        ok = (
            isinstance(b, dict)
            and isinstance(b.get("name"), str)
            and _is_int(b.get("lsb"))
            and _is_int(b.get("width"))
            and isinstance(b.get("signed", False), bool)
            and set(b) <= {"name", "lsb", "width", "signed"}
        )
        if not ok:
            raise SchemaError(
                f"field {fpath!r}: bits[{i}] must be an object with 'name', 'lsb', 'width' "
                f"and optionally 'signed', got {b!r}",
                field=fpath,
            )
        out.append(Bit(b["name"], b["lsb"], b["width"], b.get("signed", False)))
    anonymous = f.get("anonymous", False)
    order = f.get("order", "<")
    if not isinstance(anonymous, bool) or order not in ("<", ">"):
        raise SchemaError(
            f"field {fpath!r}: 'anonymous' must be a boolean and 'order' '<' or '>'", field=fpath
        )
    return Storage(tuple(out), order, anonymous)


def _struct_to_json(
    dt: np.dtype[Any], bitfields: Mapping[str, Storage] = MappingProxyType({}), path: str = ""
) -> dict[str, Any]:
    assert dt.names is not None
    fields = []
    for name in dt.names:
        fdt, off = _fields(dt)[name][:2]
        entry: dict[str, Any] = {"name": name, "offset": int(off)}
        shape: tuple[int, ...] = ()
        while fdt.subdtype is not None:
            fdt, sub = fdt.subdtype
            shape += tuple(sub)
        fpath = join_path(path, name)
        entry["type"] = _struct_to_json(fdt, bitfields, fpath) if fdt.names is not None else fdt.str
        if shape:
            entry["shape"] = list(shape)
        if fpath in bitfields:
            _bits_to_json(bitfields[fpath], fdt, entry)
        fields.append(entry)
    return {"itemsize": int(dt.itemsize), "fields": fields}


def _struct_from_json(
    doc: Any, path: str, bitfields: dict[str, Storage] | None = None
) -> np.dtype[Any]:
    """The dtype of a JSON struct object; bitfields found on the way go into
    ``bitfields`` (None: version 1, where "bits" is unknown)."""
    where = f"field {path!r}" if path else "schema JSON"
    if not isinstance(doc, dict):
        raise SchemaError(
            f"{where}: expected an object with 'itemsize' and 'fields'", field=path or None
        )
    itemsize = doc.get("itemsize")
    fields = doc.get("fields")
    if not _is_int(itemsize) or not 0 < itemsize <= _MAX_ITEMSIZE:
        raise SchemaError(
            f"{where}: 'itemsize' must be a positive integer, got {itemsize!r}", field=path or None
        )
    if not isinstance(fields, list) or not fields:
        raise SchemaError(f"{where}: 'fields' must be a non-empty list", field=path or None)
    names: list[str] = []
    formats: list[Any] = []
    offsets: list[int] = []
    for i, f in enumerate(fields):
        if not isinstance(f, dict):
            raise SchemaError(f"{where}: fields[{i}] must be an object", field=path or None)
        name = f.get("name")
        if not isinstance(name, str) or not name:
            raise SchemaError(f"{where}: fields[{i}] needs a non-empty 'name'", field=path or None)
        fpath = join_path(path, name)
        if name in names:
            raise SchemaError(f"field {fpath!r} is declared twice", field=fpath)
        offset = f.get("offset")
        if not _is_int(offset) or not 0 <= offset < _MAX_ITEMSIZE:
            raise SchemaError(
                f"field {fpath!r}: 'offset' must be a non-negative integer, got {offset!r}",
                field=fpath,
            )
        t = f.get("type")
        if isinstance(t, str):
            if not _SCALAR_RE.match(t):
                raise SchemaError(f"field {fpath!r}: unknown type {t!r}", field=fpath)
            fdt = np.dtype(t)
        elif isinstance(t, dict):
            fdt = _struct_from_json(t, fpath, bitfields)
        else:
            raise SchemaError(
                f"field {fpath!r}: 'type' must be a type string or a struct object, got {t!r}",
                field=fpath,
            )
        shape = f.get("shape")
        if shape is not None:
            if (
                not isinstance(shape, list)
                or not shape
                or len(shape) > 32
                or not all(_is_int(k) and 0 < k <= _MAX_ITEMSIZE for k in shape)
            ):
                raise SchemaError(
                    f"field {fpath!r}: 'shape' must be a list of positive integers, got {shape!r}",
                    field=fpath,
                )
            total = fdt.itemsize
            for k in shape:
                total *= k
                if total > _MAX_ITEMSIZE:
                    raise SchemaError(f"field {fpath!r}: array is too large", field=fpath)
            fdt = np.dtype((fdt, tuple(shape)))
        if offset + fdt.itemsize > itemsize:
            raise SchemaError(
                f"field {fpath!r} spans bytes {offset}..{offset + fdt.itemsize}, outside the "
                f"{itemsize}-byte record",
                field=fpath,
                offset=offset,
            )
        if "bits" in f:
            if bitfields is None:
                raise SchemaError(
                    f"field {fpath!r}: 'bits' needs schema JSON version 2", field=fpath
                )
            bitfields[fpath] = _bits_from_json(f, fpath)
        names.append(name)
        formats.append(fdt)
        offsets.append(offset)
    try:
        spec: Any = {"names": names, "formats": formats, "offsets": offsets, "itemsize": itemsize}
        out: np.dtype[Any] = np.dtype(spec)
    except (TypeError, ValueError) as err:
        raise SchemaError(f"{where}: invalid layout: {err}", field=path or None) from err
    return out


def loads(
    text: str | bytes,
) -> tuple[np.dtype[Any], frozenset[str], dict[str, dict[int, str]], dict[str, Storage]]:
    """The parts of a schema (dtype, unions, enums, bitfields) from its JSON form;
    :meth:`Schema._from_parts <recview.schema.Schema>` validates them together."""
    try:
        doc = json.loads(text)
    except (ValueError, TypeError, RecursionError) as err:
        raise SchemaError(f"schema JSON is not valid JSON: {err}") from err
    if not isinstance(doc, dict):
        raise SchemaError(f"schema JSON must be an object, got {type(doc).__name__}")
    fmt = doc.get("format", _JSON_FORMAT)
    if fmt != _JSON_FORMAT:
        raise SchemaError(f"schema JSON 'format' must be {_JSON_FORMAT!r}, got {fmt!r}")
    version = doc.get("version", _JSON_VERSION)
    if version not in (_JSON_VERSION, _JSON_VERSION_BITS) or isinstance(version, bool):
        raise SchemaError(f"unsupported schema JSON version {version!r} (expected 1 or 2)")
    bitfields: dict[str, Storage] = {}
    dtype = _struct_from_json(doc, "", bitfields if version == _JSON_VERSION_BITS else None)
    unions = doc.get("unions", [])
    if not isinstance(unions, list) or not all(isinstance(u, str) for u in unions):
        raise SchemaError("schema JSON 'unions' must be a list of dotted field paths")
    enums_doc = doc.get("enums", {})
    enums: dict[str, dict[int, str]] = {}
    if not isinstance(enums_doc, dict):
        raise SchemaError("schema JSON 'enums' must be an object")
    for path, mapping in enums_doc.items():
        if not isinstance(mapping, dict):
            raise SchemaError(f"enum {path!r}: expected an object of value -> name", field=path)
        entry: dict[int, str] = {}
        for k, v in mapping.items():
            if not isinstance(v, str) or not re.fullmatch(r"-?[0-9]{1,20}", k):
                raise SchemaError(
                    f"enum {path!r}: expected integer keys and string names, got {k!r}: {v!r}",
                    field=path,
                )
            entry[int(k)] = v
        enums[path] = entry
    return dtype, frozenset(unions), enums, bitfields


def dumps(
    dtype: np.dtype[Any],
    unions: frozenset[str],
    enums: Mapping[str, Mapping[int, str]],
    bitfields: Mapping[str, Storage],
    *,
    indent: int | None = None,
) -> str:
    """The JSON form of a schema's parts (version 2 only when it has bitfields)."""
    version = _JSON_VERSION_BITS if bitfields else _JSON_VERSION
    doc: dict[str, Any] = {"format": _JSON_FORMAT, "version": version}
    doc.update(_struct_to_json(dtype, bitfields, ""))
    if unions:
        doc["unions"] = sorted(unions)
    if enums:
        doc["enums"] = {
            k: {str(n): name for n, name in sorted(v.items())} for k, v in sorted(enums.items())
        }
    return json.dumps(doc, indent=indent)
