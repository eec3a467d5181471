"""recview: zero-copy numpy views over fixed-width binary record files.

This file pulls together the friendly public API, by re-exporting names from
the modules that own them. The layout, lowest layer first (a module imports
only from its own layer and the ones above it in this list; see
``tests/unit/test_layout.py``)::

    errors.py      RecviewError tree (a leaf); _extras.py: optional imports + hints
    _bits.py       bitfield storage units and extraction
    pool.py        BufferPool: reusable read buffers, reused only when unviewed
    schema.py      Schema, Record, type atoms, fields() -> one structured dtype
                   (_c/: C declarations, with #include and cc -E; _construct.py:
                   construct; _npy.py: .npy headers; formats.py: presets)
    view.py        open(), View: zero-copy views over mapped files, or pread copies
                   (_mapping.py: mmap, madvise, the native SIGBUS guard;
                   _readers.py: the mapped and pread readers; _region.py,
                   remote.py, _remote_view.py: fsspec URLs; _tables.py: records
                   to Arrow and pandas; _export.py: the views' to_arrow & co.)
    streams.py     stream(): pipes, sockets, decompressors into pooled buffers
                   (compressed.py: .gz/.bz2/.xz/.zst readers, COMPRESSED_SUFFIXES)
    frames.py      open_frames(), Frames: variable-size framed records, indexed once
                   (_frame_file.py: the file, its mapping and index; _frame_walk.py,
                   _frames.c: the index pass; _frame_index.py: the index file)
    interop.py     pandas, Arrow, Parquet; sql.py: DuckDB, Arrow streams, Polars;
                   dask.py; testing.py: schema strategies and helpers
    cli/           the ``recview`` command (parser and main in cli/__init__.py)

``rv.sql`` is the function recview.sql.sql: import the module's other names
from it (``from recview.sql import to_polars``).
"""

from recview import formats as formats
from recview.errors import (
    ClosedError as ClosedError,
    GuardWarning as GuardWarning,
    LayoutError as LayoutError,
    LayoutWarning as LayoutWarning,
    RecviewError as RecviewError,
    SchemaError as SchemaError,
    TruncatedError as TruncatedError,
)
from recview.frames import Frames as Frames, open_frames as open_frames
from recview.interop import to_parquet as to_parquet
from recview.pool import BufferPool as BufferPool
from recview.schema import (
    FieldInfo as FieldInfo,
    Record as Record,
    Schema as Schema,
    array as array,
    as_schema as as_schema,
    bits as bits,
    bytes_ as bytes_,
    f2 as f2,
    f2be as f2be,
    f2le as f2le,
    f4 as f4,
    f4be as f4be,
    f4le as f4le,
    f8 as f8,
    f8be as f8be,
    f8le as f8le,
    f16 as f16,
    f16be as f16be,
    f16le as f16le,
    f32 as f32,
    f32be as f32be,
    f32le as f32le,
    f64 as f64,
    f64be as f64be,
    f64le as f64le,
    i8 as i8,
    i8be as i8be,
    i8le as i8le,
    i16 as i16,
    i16be as i16be,
    i16le as i16le,
    i32 as i32,
    i32be as i32be,
    i32le as i32le,
    i64 as i64,
    i64be as i64be,
    i64le as i64le,
    pad as pad,
    u8 as u8,
    u8be as u8be,
    u8le as u8le,
    u16 as u16,
    u16be as u16be,
    u16le as u16le,
    u32 as u32,
    u32be as u32be,
    u32le as u32le,
    u64 as u64,
    u64be as u64be,
    u64le as u64le,
)
from recview.sql import sql as sql
from recview.streams import stream as stream
from recview.view import View as View, open as open

__version__ = "0.1.0"

__all__ = [
    "BufferPool",
    "ClosedError",
    "FieldInfo",
    "Frames",
    "GuardWarning",
    "LayoutError",
    "LayoutWarning",
    "Record",
    "RecviewError",
    "Schema",
    "SchemaError",
    "TruncatedError",
    "View",
    "array",
    "as_schema",
    "bits",
    "bytes_",
    "f16",
    "f16be",
    "f16le",
    "f2",
    "f2be",
    "f2le",
    "f32",
    "f32be",
    "f32le",
    "f4",
    "f4be",
    "f4le",
    "f64",
    "f64be",
    "f64le",
    "f8",
    "f8be",
    "f8le",
    "formats",
    "i16",
    "i16be",
    "i16le",
    "i32",
    "i32be",
    "i32le",
    "i64",
    "i64be",
    "i64le",
    "i8",
    "i8be",
    "i8le",
    "open",
    "open_frames",
    "pad",
    "sql",
    "stream",
    "to_parquet",
    "u16",
    "u16be",
    "u16le",
    "u32",
    "u32be",
    "u32le",
    "u64",
    "u64be",
    "u64le",
    "u8",
    "u8be",
    "u8le",
]
