"""``recview info``: sizes, record count and the schema as a layout table."""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from recview.cli._common import EXIT_OK
from recview.cli._render import Style, type_text, use_color
from recview.cli._sources import FramesSource, open_source, schema_of
from recview.schema import FieldInfo, Schema


def _type_text(info: FieldInfo, schema: Schema) -> str:
    text = info.dtype.str
    enum = schema.enums.get(info.path)
    if enum:
        text += " enum(" + ", ".join(f"{v}={k}" for k, v in sorted(enum.items())) + ")"
    return text


def _union_of(path: str, schema: Schema) -> str | None:
    parts = path.split(".")
    for k in range(len(parts) - 1, 0, -1):
        prefix = ".".join(parts[:k])
        if prefix in schema.unions:
            return prefix
    return None


def _layout_rows(schema: Schema) -> list[tuple[int, str, str, str, str]]:
    """(offset, size, type, shape, name) per leaf of ``schema.fields()``, in
    byte order, with the bytes no leaf covers as padding rows. A bitfield
    storage unit is one row, its bitfields rows of their own below it (their
    bit ranges for type)."""
    rows: list[tuple[int, str, str, str, str]] = []
    covered = np.zeros(schema.itemsize, dtype=bool)
    units: set[str] = set()

    def shape_text(shape: tuple[int, ...]) -> str:
        if not shape:
            return ""
        return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"

    for f in schema.fields():
        for off in f.element_offsets():
            covered[off : off + f.dtype.itemsize] = True
        union = _union_of(f.path, schema)
        note = f"  [union {union}]" if union else ""
        if f.storage is not None and f.storage not in units:
            units.add(f.storage)
            anonymous = schema.bitfields[f.storage].anonymous
            name = "(bits)" if anonymous else f.storage
            rows.append((f.offset, f"{f.nbytes:,}", f.dtype.str, shape_text(f.shape), name + note))
        if f.storage is not None:
            rows.append((f.offset, "", type_text(f), shape_text(f.shape), f.path + note))
        else:
            text = _type_text(f, schema)
            rows.append((f.offset, f"{f.nbytes:,}", text, shape_text(f.shape), f.path + note))
    edges = np.flatnonzero(np.diff(np.concatenate(([True], covered, [True])).astype(np.int8)))
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        rows.append((int(start), f"{int(stop - start):,}", "", "", "(padding)"))
    # stable: a storage unit before its bitfields, padding after a leaf at its offset
    rows.sort(key=lambda r: r[0])
    return rows


def cmd_info(args: argparse.Namespace) -> int:
    """``recview info``: sizes, record count and the schema as a table."""
    src = open_source(args, trailing=args.trailing or "ignore")
    schema, where = schema_of(args)
    try:
        if not src.seekable:
            for _ in src.batches():
                pass
        records = src.records or 0
        file_nbytes = src.file_nbytes
        used = src.offset + records * schema.itemsize
        trailing = None if file_nbytes is None else file_nbytes - used
        if isinstance(src, FramesSource):
            trailing = src.trailing_nbytes
    finally:
        src.close()
    out = sys.stdout
    if args.format == "json":
        doc = {
            "file": src.name,
            "file_nbytes": file_nbytes,
            "schema_source": where,
            "header_nbytes": src.offset,
            "itemsize": schema.itemsize,
            "records": records,
            "trailing_nbytes": trailing,
            **(
                {"frames": src.what, "frame_header_nbytes": src.header.itemsize}
                if isinstance(src, FramesSource)
                else {}
            ),
            "fields": [
                {
                    "path": f.path,
                    "offset": f.offset,
                    "nbytes": f.nbytes,
                    "type": f.dtype.str,
                    "shape": list(f.shape),
                    **(
                        {
                            "storage": f.storage,
                            "bit_offset": f.bit_offset,
                            "bit_width": f.bit_width,
                            "signed": f.signed,
                        }
                        if f.storage is not None
                        else {}
                    ),
                }
                for f in schema.fields()
            ],
            "schema": json.loads(schema.to_json()),
        }
        out.write(json.dumps(doc, indent=2) + "\n")
        return EXIT_OK
    st = Style(use_color(args.color, out))

    def n(x: int | None) -> str:
        return "n/a" if x is None else f"{x:,}"

    lines = [
        ("file", src.name),
        ("file size", f"{n(file_nbytes)} bytes"),
        ("schema", where),
        ("header", f"{src.offset:,} bytes"),
        *(
            [("frames", src.what), ("frame header", f"{src.header.itemsize:,} bytes")]
            if isinstance(src, FramesSource)
            else [("record size", f"{schema.itemsize:,} bytes")]
        ),
        ("records", f"{records:,}"),
        (
            "trailing",
            f"{n(trailing)} bytes"
            + (" (not whole records: left out)" if trailing and args.count is None else ""),
        ),
    ]
    for key, value in lines:
        out.write(f"{st.bold}{key:<12}{st.reset} {value}\n")
    out.write("\n")
    rows = _layout_rows(schema)
    type_w = max(4, *(len(r[2]) for r in rows))
    shape_w = max(5, *(len(r[3]) for r in rows))
    head = f"{'offset':>6}  {'size':>5}  {'type':<{type_w}}  {'shape':<{shape_w}}  field"
    out.write(f"{st.bold}{head}{st.reset}\n")
    for off, size, typ, shape, name in rows:
        line = f"{off:>6}  {size:>5}  {typ:<{type_w}}  {shape:<{shape_w}}  {name}"
        out.write((f"{st.dim}{line}{st.reset}" if name == "(padding)" else line).rstrip() + "\n")
    return EXIT_OK
