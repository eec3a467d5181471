"""Helpers for the C declaration tests: layouts compared with ``ctypes``, refusals."""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from recview._c import CLayout, parse_c
from recview.errors import SchemaError


def fields_of(dt: np.dtype[Any], prefix: str = "", base: int = 0) -> Iterator[tuple[str, int, int]]:
    """(dotted path, absolute offset, itemsize) of every field, nested ones too
    (inside arrays: the first element)."""
    assert dt.names is not None
    for name in dt.names:
        fdt, offset = dt.fields[name][:2]
        path = f"{prefix}.{name}" if prefix else name
        yield path, base + offset, fdt.itemsize
        inner = fdt.subdtype[0] if fdt.subdtype is not None else fdt
        if inner.names is not None:
            yield from fields_of(inner, path, base + offset)


def ctypes_fields(cls: Any, prefix: str = "", base: int = 0) -> Iterator[tuple[str, int, int]]:
    for name, ctype, *_ in cls._fields_:
        desc = getattr(cls, name)
        path = f"{prefix}.{name}" if prefix else name
        yield path, base + desc.offset, desc.size
        inner = ctype
        while issubclass(inner, ctypes.Array):
            inner = inner._type_
        if issubclass(inner, (ctypes.Structure, ctypes.Union)):
            yield from ctypes_fields(inner, path, base + desc.offset)


def assert_same_layout(layout: CLayout, cls: Any) -> None:
    assert layout.dtype.itemsize == ctypes.sizeof(cls)
    assert sorted(fields_of(layout.dtype)) == sorted(ctypes_fields(cls))


def c_struct(fields: list[tuple[str, Any]], *, pack: int = 0, union: bool = False) -> Any:
    base = ctypes.Union if union else ctypes.Structure
    namespace: dict[str, Any] = {"_fields_": fields}
    if pack:
        namespace["_pack_"] = pack
        namespace["_layout_"] = "ms" if sys.platform == "win32" else "gcc-sysv"
    return type("S", (base,), namespace)


def refusal(source: str, name: str | None = None, **kwargs: Any) -> SchemaError:
    with pytest.raises(SchemaError) as info:
        parse_c(source, name, **kwargs)
    return info.value
