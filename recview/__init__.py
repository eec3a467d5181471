"""recview: zero-copy numpy views over fixed-width binary record files.

This file pulls together the friendly public API, by re-exporting names from
the modules that own them. The layout (imports point one way)::

    errors.py    RecviewError tree (a leaf)
    schema.py    Schema, Record, type atoms -> one numpy structured dtype
                 (_construct.py, _cdecl.py: construct and C declarations)
    view.py      open(), View: zero-copy views over mapped files
                 (_mapping.py: mmap, madvise, the native SIGBUS guard)
    pool.py      BufferPool, stream(): pipes, sockets, compressed files
    cli.py       the ``recview`` command; interop.py, dask.py on top
"""

from recview.errors import (
    ClosedError as ClosedError,
    GuardWarning as GuardWarning,
)
from recview.errors import (
    LayoutError as LayoutError,
)
from recview.errors import (
    LayoutWarning as LayoutWarning,
)
from recview.errors import (
    RecviewError as RecviewError,
)
from recview.errors import (
    SchemaError as SchemaError,
)
from recview.errors import (
    TruncatedError as TruncatedError,
)
from recview.pool import BufferPool as BufferPool
from recview.pool import stream as stream
from recview.schema import (
    FieldInfo as FieldInfo,
)
from recview.schema import (
    Record as Record,
)
from recview.schema import (
    Schema as Schema,
)
from recview.schema import (
    array as array,
)
from recview.schema import (
    as_schema as as_schema,
)
from recview.schema import (
    bytes_ as bytes_,
)
from recview.schema import (
    f2 as f2,
)
from recview.schema import (
    f4 as f4,
)
from recview.schema import (
    f4be as f4be,
)
from recview.schema import (
    f4le as f4le,
)
from recview.schema import (
    f8 as f8,
)
from recview.schema import (
    f8be as f8be,
)
from recview.schema import (
    f8le as f8le,
)
from recview.schema import (
    f16 as f16,
)
from recview.schema import (
    f16be as f16be,
)
from recview.schema import (
    f16le as f16le,
)
from recview.schema import (
    f32 as f32,
)
from recview.schema import (
    f32be as f32be,
)
from recview.schema import (
    f32le as f32le,
)
from recview.schema import (
    f64 as f64,
)
from recview.schema import (
    f64be as f64be,
)
from recview.schema import (
    f64le as f64le,
)
from recview.schema import (
    i8 as i8,
)
from recview.schema import (
    i8be as i8be,
)
from recview.schema import (
    i8le as i8le,
)
from recview.schema import (
    i16 as i16,
)
from recview.schema import (
    i16be as i16be,
)
from recview.schema import (
    i16le as i16le,
)
from recview.schema import (
    i32 as i32,
)
from recview.schema import (
    i32be as i32be,
)
from recview.schema import (
    i32le as i32le,
)
from recview.schema import (
    i64 as i64,
)
from recview.schema import (
    i64be as i64be,
)
from recview.schema import (
    i64le as i64le,
)
from recview.schema import (
    pad as pad,
)
from recview.schema import (
    u8 as u8,
)
from recview.schema import (
    u8be as u8be,
)
from recview.schema import (
    u8le as u8le,
)
from recview.schema import (
    u16 as u16,
)
from recview.schema import (
    u16be as u16be,
)
from recview.schema import (
    u16le as u16le,
)
from recview.schema import (
    u32 as u32,
)
from recview.schema import (
    u32be as u32be,
)
from recview.schema import (
    u32le as u32le,
)
from recview.schema import (
    u64 as u64,
)
from recview.schema import (
    u64be as u64be,
)
from recview.schema import (
    u64le as u64le,
)
from recview.view import View as View
from recview.view import open as open

__version__ = "0.1.0"

__all__ = [
    "BufferPool",
    "ClosedError",
    "FieldInfo",
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
    "bytes_",
    "f16",
    "f16be",
    "f16le",
    "f2",
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
    "pad",
    "stream",
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
